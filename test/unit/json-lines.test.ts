import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonLines } from '../../src/util/json-lines.js';
import { OneKey } from '../../src/util/one-key.js';

// --json output is printed a line at a time (a plan of 1,000,000 tags is more text than
// one V8 string holds): the lines must be JSON.stringify(value, null, 2), byte for byte.

const same = (v: unknown, what: string) => assert.equal([...jsonLines(v)].join('\n'), JSON.stringify(v, null, 2), what);

test('jsonLines gives the lines of JSON.stringify(value, null, 2)', () => {
  same({ a: 1, b: [1, 'two', null, true, { c: [] }], d: {}, e: [[], [{}]], f: -0, g: 1e21, h: 0.1 }, 'nesting, empty containers, numbers');
  same([], 'an empty array alone');
  same({}, 'an empty object alone');
  same('a string alone', 'a scalar alone');
  same(null, 'null alone');
  same({ 'q"uote': 'back\\slash', nl: 'line\nbreak\t\u0001', u: 'ünïcode ✓ \ud83d\ude00', lone: '\ud800x', key: { '': 'empty key' } }, 'escapes, unicode, a lone surrogate');
  same({ skipped: undefined, fn: () => 1, kept: 1, arr: [undefined, () => 1, 2] }, 'undefined and functions: left out of an object, null in an array');
  same({ last: undefined }, 'an object whose only key is left out');
  // What JSON.parse makes of a registry's data: an own key named __proto__.
  same(JSON.parse('{"tags":{"__proto__":{"digest":"sha256:x"},"v1":{}}}'), 'an own __proto__ key');
  const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`dev-${i}`, { digest: `sha256:${i}`, size: i, created: null }]));
  same({ snapshot: { reg: { app: { tags: wide } } } }, 'a snapshot of 1,000 tags');
});

test('a OneKey is printed as the one-key record it stands for, as JSON.stringify prints it', () => {
  const v = { actions: [{ tags: ['v1'], reasons: new OneKey('v1', 'why') }, { reasons: new OneKey('__proto__', 'a tag named so') }, { reasons: new OneKey('q"uote\n', '\ud800') }, { gone: new OneKey('k', undefined) }], top: new OneKey('k', { nested: new OneKey('n', [1]) }) };
  same(v, 'OneKeys in arrays, as values, nested, with an escaped or __proto__ key');
  assert.equal([...jsonLines(new OneKey('__proto__', 1))].join('\n'), '{\n  "__proto__": 1\n}');
});
