import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baselineWasmOnly } from '../../src/util/wasm-tiering.js';

// setFlagsFromString prints an error for a flag V8 does not know: the flag is set only on
// the V8 versions known to have it (Node 20, 22, 24), and this node is one of them.
test('--liftoff-only is set on the V8 versions known to have it, and on no other', () => {
  assert.equal(baselineWasmOnly('10.2.154.26-node.26'), false);
  assert.equal(baselineWasmOnly('14.1.0'), false);
  assert.equal(baselineWasmOnly('not a version'), false);
  assert.equal(baselineWasmOnly(), true, `this node's V8 (${process.versions.v8})`);
});
