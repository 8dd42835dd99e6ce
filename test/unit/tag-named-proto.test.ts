import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffSnapshots } from '../../src/state/diff.js';
import { applyDone } from '../../src/apply/state-update.js';
import type { StateSnapshot } from '../../src/state/model.js';
import type { Plan } from '../../src/plan/model.js';

// `__proto__` is a valid tag; as a key of a plain object it is the prototype's accessor.
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const M = 'application/vnd.oci.image.manifest.v1+json';
// JSON.parse makes `__proto__` an own key, as reading a state or plan file does.
const snap = (tags: Record<string, string>): StateSnapshot => JSON.parse(JSON.stringify({ r: { app: Object.fromEntries(Object.entries(tags).map(([t, d]) => [t, { digest: d, media_type: M }])) } }));

test('a tag named __proto__ that is gone, or new, is a change like any other', () => {
  const withIt = JSON.parse(`{"r":{"app":{"__proto__":{"digest":"${D1}","media_type":"${M}"},"v1":{"digest":"${D2}","media_type":"${M}"}}}}`) as StateSnapshot;
  const without = snap({ v1: D2 });
  assert.deepEqual(diffSnapshots(withIt, without), [{ registry: 'r', repository: 'app', tag: '__proto__', change: 'removed', before: D1, after: null }]);
  assert.deepEqual(diffSnapshots(without, withIt), [{ registry: 'r', repository: 'app', tag: '__proto__', change: 'added', before: null, after: D1 }]);
});

test('a copy to the tag __proto__ is recorded in the state as that tag', () => {
  const plan = { actions: [{ id: 'copy r/app:__proto__', type: 'copy', source: { registry: 's', repository: 'app', tag: 'x', digest: D1, media_type: M }, target: { registry: 'r', repository: 'app', tag: '__proto__', digest_at_plan: null }, reason: '' }] } as unknown as Plan;
  const out = applyDone(snap({ v1: D2 }), plan, new Set(['copy r/app:__proto__']));
  assert.deepEqual(Object.keys(out.r.app).sort(), ['__proto__', 'v1']);
  assert.equal(Object.getPrototypeOf(out.r.app), Object.prototype);
  assert.equal(JSON.parse(JSON.stringify(out)).r.app.__proto__.digest, D1);
});
