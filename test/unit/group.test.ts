import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupBy, Groups } from '../../src/util/group.js';
import { seededRandom } from '../helpers/random.js';

// The delete policy groups a repository's tags by digest with Groups: it must answer
// exactly as groupBy's Map does (keys in first-seen order, items in their order).
test('Groups answers as groupBy: keys in first-seen order, each key its items in order, one-item keys too; forEach and forEachFirst too', () => {
  const rand = seededRandom(7);
  for (let round = 0; round < 200; round++) {
    const items = Array.from({ length: rand(40) }, (_, i) => ({ i, k: `d${rand(round % 3 === 0 ? 3 : 30)}` }));
    const want = groupBy(items, (x) => x.k);
    const got = new Groups(items, (x) => x.k);
    assert.deepEqual([...got], [...want]);
    const each: Array<[string, readonly object[]]> = [];
    got.forEach((list, k) => each.push([k, list]));
    assert.deepEqual(each, [...want]);
    const firsts: Array<[string, object]> = [];
    got.forEachFirst((first, k) => firsts.push([k, first]));
    assert.deepEqual(firsts, [...want].map(([k, list]) => [k, list[0]]));
    firsts.forEach(([k, first]) => assert.equal(first, want.get(k)![0]));
    for (const k of ['d0', 'd1', 'd2', 'd29', 'none']) {
      assert.equal(got.has(k), want.has(k));
      assert.deepEqual(got.get(k), want.get(k));
    }
  }
  const one = { tag: 'only' };
  const g = new Groups([one], (): string => 'k');
  assert.deepEqual(g.get('k'), [one]);
  assert.equal(g.get('k')![0], one);
  assert.equal(g.get('other'), undefined);
});
