import { test } from 'node:test';
import assert from 'node:assert/strict';
import { naturalCompare } from '../../src/util/natural-order.js';
import { seededRandom } from '../helpers/random.js';

// naturalCompare orders most pairs itself and the rest through Intl.Collator: every pair
// must come out in the collator's order, or the plan's text changes order.
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });
const same = (a: string, b: string) => assert.equal(Math.sign(naturalCompare(a, b)), Math.sign(collator.compare(a, b)), `${JSON.stringify(a)} against ${JSON.stringify(b)}`);

test('pairs that differ inside a number: ordered by value, as the collator orders them', () => {
  const pairs: Array<[string, string]> = [
    ['dev-2', 'dev-10'],
    ['dev-1', 'dev-12'],
    ['dev-12', 'dev-1x'],
    ['dev-12x', 'dev-12y'],
    ['v1.0.0', 'v1.0.1'],
    ['v1.9.0', 'v1.10.0'],
    ['untag dev-1234 (sha256:aaa)', 'untag dev-98 (sha256:bbb)'],
    ['a0', 'a1'],
    ['a0', 'a10'],
    ['a01', 'a1'],
    ['a001', 'a01'],
    ['a007', 'a7b'],
    ['12', '9'],
    ['x١2', 'x١3'],
    ['x12٣', 'x13'],
    ['x1\u0301', 'x2'],
    ['x2', 'x1\u0661'],
    ['App-2', 'app-10'],
    ['app-2', 'App-10'],
    ['tag 5', 'tag 5 '],
    ['', '1'],
  ];
  // Past 254 digits ICU reads a run as more than one number: longer is not larger.
  for (const [la, lb] of [[254, 255], [255, 256], [300, 260], [254, 254], [509, 300]]) {
    pairs.push([`x${'9'.repeat(la)}`, `x${'1'.repeat(lb)}`], [`x${'1'.repeat(la)}`, `x${'9'.repeat(lb)}`]);
  }
  for (const [a, b] of pairs) {
    same(a, b);
    same(b, a);
  }
});

test('random strings of digits, letters, punctuation and non-ASCII digits and marks: always the collator\'s order', () => {
  const rand = seededRandom(2812);
  const alphabet = ['0', '0', '1', '2', '9', '5', 'a', 'B', 'z', '-', '.', '_', ' ', '(', ')', ',', ':', '↳', 'é', '\u0301', '\u0661', '\u0660', '\uff11'];
  const word = () => {
    let s = '';
    for (let n = rand(8); n >= 0; n--) s += alphabet[rand(alphabet.length)];
    return s;
  };
  for (let i = 0; i < 30000; i++) {
    // A shared beginning, as lines of one plan have: then each its own end.
    const shared = rand(3) ? word() : '';
    same(shared + word(), shared + word());
  }
});
