import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StringIndex } from '../../src/util/string-index.js';
import { seededRandom } from '../helpers/random.js';

// The bytes count's sets of digests: StringIndex must answer as a Set numbering its
// strings in the order they came, through its growth from a table sized too small.
test('StringIndex numbers each string once, in the order added, as a Set holds them, through growth', () => {
  const rand = seededRandom(5);
  for (const expected of [0, 3, 1000]) {
    const index = new StringIndex(expected);
    const set = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      // Digests that differ in one character only, a few of them many times.
      const s = `sha256:${'a'.repeat(60)}${String(rand(i % 7 === 0 ? 20 : 3000)).padStart(4, '0')}`;
      const want = set.get(s) ?? set.set(s, set.size).get(s)!;
      assert.equal(index.add(s), want);
      assert.equal(index.size, set.size);
    }
    for (const [s, n] of set) {
      assert.equal(index.indexOf(s), n);
      assert.equal(index.at(n), s);
      assert.ok(index.has(s));
    }
    for (const s of ['', 'sha256:', `sha256:${'a'.repeat(60)}9999x`]) {
      assert.equal(index.indexOf(s), -1);
      assert.equal(index.has(s), false);
    }
  }
});
