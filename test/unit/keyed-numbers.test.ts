import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aloneTable, type BytesInput } from '../../src/plan/bytes.js';
import { canonical, canonicalHash, writeCanonical } from '../../src/plan/canonical.js';
import { jsonLines } from '../../src/util/json-lines.js';
import { keyedNumber } from '../../src/util/keyed-numbers.js';
import type { Digest } from '../../src/oci/names.js';
import { seededRandom } from '../helpers/random.js';

const text = (v: unknown, indent?: string) => {
  const parts: string[] = [];
  writeCanonical(v, (s) => parts.push(s), indent);
  return parts.join('');
};

// The plan's `bytes.alone` is held as KeyedNumbers and must be written as the record the
// bytes count assigned before, item by item: the same bytes in the file (sorted), in
// --json (the record's own order), in the hash, and the same number looked up. Names
// that are prefixes of each other ('a', 'a-b', 'a/b'; 'r', 'r.x') order differently as
// parts than as whole keys; a key given twice keeps its first place and its last number.
test('KeyedNumbers is written and read as the record assigned item by item: sorted, in its own order, hashed, looked up', () => {
  const rand = seededRandom(11);
  const registries = ['r', 'r.x', 'r-1', 'q'];
  const repositories = ['a', 'a-b', 'a/b', 'ab', 'a.b', 'b'];
  for (let round = 0; round < 300; round++) {
    const n = rand(round % 10 === 0 ? 2 : 40);
    const items: BytesInput['deletes'][number][] = [];
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      items.push({ registry: registries[rand(round % 2 ? 1 : 4)], repository: repositories[rand(6)], digest: `sha256:${String(rand(round % 3 ? 30 : 4)).padStart(64, 'f')}` as Digest });
      values[i] = rand(10) === 0 ? NaN : rand(100_000);
    }
    const plain: Record<string, number> = {};
    for (let i = 0; i < n; i++) if (!Number.isNaN(values[i])) plain[`${items[i].registry}/${items[i].repository}@${items[i].digest}`] = values[i];
    const table = aloneTable(items, values);
    assert.equal(table.size, Object.keys(plain).length);
    assert.equal(JSON.stringify(table), JSON.stringify(plain));
    const held = { bytes: { freed: 1, alone: table }, n: [table] };
    const want = { bytes: { freed: 1, alone: plain }, n: [plain] };
    for (const indent of ['', '  ']) assert.equal(text(held, indent), JSON.stringify(canonical(want), null, indent));
    assert.equal([...jsonLines(held)].join('\n'), JSON.stringify(want, null, 2));
    assert.equal(canonicalHash(held), canonicalHash(want));
    for (const k of Object.keys(plain)) assert.equal(keyedNumber(table, k), plain[k]);
    assert.equal(keyedNumber(table, `q/none@sha256:${'0'.repeat(64)}`), undefined);
  }
});

test('a record read from a file answers for its own keys only', () => {
  const r = JSON.parse('{"r/a@sha256:1": 5}') as Record<string, number>;
  assert.equal(keyedNumber(r, 'r/a@sha256:1'), 5);
  assert.equal(keyedNumber(r, 'constructor'), undefined);
  assert.equal(keyedNumber(undefined, 'r/a@sha256:1'), undefined);
});
