import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bytesCopied, bytesFreed, humanBytes } from '../../src/plan/bytes.js';
import type { ManifestSizes } from '../../src/oci/manifest-facts.js';
import type { Digest } from '../../src/oci/names.js';

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}` as Digest;
const image = (size: number, ...blobs: Array<[string, number]>): ManifestSizes => ({ size, blobs: blobs.flatMap(([b, n]) => [d(b), n]) });

// The shapes of the garbage-collection test, as pure data: a manifest's own bytes count,
// each blob once, and what a kept manifest references stays.
const sizes = new Map<Digest, ManifestSizes>([
  [d('pair'), image(100, ['cfg-pair', 10], ['layer-pair', 1000])],
  [d('dev-base'), image(100, ['cfg-dev-base', 10], ['base', 5000], ['dev-only', 300])],
  [d('v1'), image(100, ['cfg-v1', 10], ['base', 5000], ['kept-only', 700])],
  [d('dev-two'), image(100, ['cfg-two-a', 10], ['in-two', 2000])],
  [d('keep-b'), image(100, ['cfg-two-b', 10], ['in-two', 2000])],
  [d('index'), { size: 400, blobs: [], children: [d('amd64'), d('arm64')] }],
  [d('amd64'), image(100, ['cfg-amd64', 10], ['kept-only', 700])],
  [d('arm64'), image(100, ['cfg-arm64', 10], ['kept-only', 700])],
  [d('dev-samecfg'), image(100, ['one-config', 10], ['samecfg-dev', 40])],
  [d('v2'), image(100, ['one-config', 10], ['samecfg-kept', 40])],
]);
const tags = (entries: Array<[string, string]>) => entries.map(([, digest]) => ({ digest: d(digest) }));
const app = tags([['dev-pair-a', 'pair'], ['dev-pair-b', 'pair'], ['dev-base', 'dev-base'], ['v1', 'v1'], ['dev-two', 'dev-two'], ['dev-multi', 'index'], ['dev-samecfg', 'dev-samecfg'], ['v2', 'v2']]);
const other = tags([['keep-b', 'keep-b']]);
const deletes = ['pair', 'dev-base', 'dev-two', 'index', 'dev-samecfg'].map((x) => ({ registry: 'r', repository: 'gc/app', digest: d(x) }));

test('bytes freed: each blob once, shared layers and configs stay, an index frees its own bytes (its platform manifests stay), another repository keeps what it references', () => {
  const all = bytesFreed({ tags: new Map([['r', new Map([['gc/app', app], ['gc/other', other]])]]), sizes, deletes, partial: new Map([['r', undefined]]) });
  // pair 100+10+1000 (two tags, counted once); dev-base 100+10+300 (base shared);
  // dev-two 100+10 (in-two kept by gc/other); index 400; dev-samecfg 100+40 (config shared).
  assert.equal(all.freed, 1110 + 410 + 110 + 400 + 140);
  assert.equal(all.shared, 5000 + 2000 + 10);
  assert.equal(all.exact, true);
  assert.deepEqual(all.repositories, { r: { 'gc/app': { freed: all.freed, shared: all.shared } } });
  // What deleting each alone frees leaves out what a kept manifest references too (base, in-two, one-config).
  assert.deepEqual(JSON.parse(JSON.stringify(all.alone)), Object.fromEntries([['pair', 1110], ['dev-base', 410], ['dev-two', 110], ['index', 400], ['dev-samecfg', 140]].map(([x, n]) => [`r/gc/app@${d(x as string)}`, n])));

  // Only gc/app read: its layer in gc/other looks free; the figure is a bound, and says why.
  const one = bytesFreed({ tags: new Map([['r', new Map([['gc/app', app]])]]), sizes, deletes, partial: new Map([['r', 'the config lists its repositories']]) });
  assert.equal(one.freed, all.freed + 2000);
  assert.equal(one.exact, false);
  assert.deepEqual(one.why, ['r: the config lists its repositories']);

  // A manifest that could not be sized makes the figure a bound too.
  const gap = new Map(sizes);
  gap.delete(d('dev-two'));
  assert.match(bytesFreed({ tags: new Map([['r', new Map([['gc/app', app], ['gc/other', other]])]]), sizes: gap, deletes, partial: new Map() }).why!.join(), /1 manifest could not be sized/);
});

test('bytes freed: a blob a manifest names twice counts once, in the total and in what deleting that manifest alone frees, short list or long', () => {
  // Long: past the 64 blobs below which the earlier ones are looked through instead of a set.
  const many: Array<[string, number]> = Array.from({ length: 70 }, (_, i) => [`many-${i}`, 1]);
  const sized = new Map<Digest, ManifestSizes>([
    [d('twice'), image(100, ['cfg-twice', 10], ['layer-twice', 1000], ['layer-twice', 1000])],
    [d('long'), image(100, ['cfg-long', 10], ...many, ['many-3', 1], ['many-69', 1])],
    [d('kept'), image(100, ['cfg-kept', 10])],
  ]);
  const gone = ['twice', 'long'].map((x) => ({ registry: 'r', repository: 'a', digest: d(x) }));
  const r = bytesFreed({ tags: new Map([['r', new Map([['a', tags([['dev-twice', 'twice'], ['dev-long', 'long'], ['v1', 'kept']])]])]]), sizes: sized, deletes: gone, partial: new Map() });
  assert.equal(r.freed, 1110 + 180);
  assert.deepEqual(JSON.parse(JSON.stringify(r.alone)), { [`r/a@${d('twice')}`]: 1110, [`r/a@${d('long')}`]: 180 });
});

test('human units as du -h: binary, one decimal below 10', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024, 5 * 1024 ** 3 + 1].map(humanBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '10 KiB', '5.0 GiB']);
});

test('bytes copied: per target repository, blobs it lacks are sent, blobs any of its manifests references are there; each once', () => {
  const r = bytesCopied({
    copies: [
      { registry: 't', repository: 'mirror/app', digest: d('dev-base') }, // base is there (v1 in the target), dev-only is not
      { registry: 't', repository: 'mirror/app', digest: d('index') }, // the index, its two platform manifests, their configs, kept-only (there)
      { registry: 't', repository: 'mirror/empty', digest: d('pair') },
    ],
    targets: new Map([['t', new Map([['mirror/app', [{ digest: d('v1') }]]])]]),
    sizes,
  });
  assert.deepEqual(r.repositories.t['mirror/app'], { transfer: 100 + 10 + 300 + 400 + (100 + 10) * 2, present: 5000 + 700 });
  assert.deepEqual(r.repositories.t['mirror/empty'], { transfer: 1110, present: 0 });
  assert.equal(r.transfer, 1030 + 1110);
  assert.equal(r.exact, true);
});

test('bytes freed: a blob two deleted manifests share counts once, whether it goes or a kept one keeps it', () => {
  const sized = new Map<Digest, ManifestSizes>([
    [d('dev-a'), image(100, ['cfg-a', 10], ['both-go', 1000], ['kept-layer', 5000])],
    [d('dev-b'), image(100, ['cfg-b', 10], ['both-go', 1000], ['kept-layer', 5000])],
    [d('v1'), image(100, ['cfg-v1', 10], ['kept-layer', 5000])],
  ]);
  const gone = ['dev-a', 'dev-b'].map((x) => ({ registry: 'r', repository: 'a', digest: d(x) }));
  const r = bytesFreed({ tags: new Map([['r', new Map([['a', tags([['dev-a', 'dev-a'], ['dev-b', 'dev-b'], ['v1', 'v1']])]])]]), sizes: sized, deletes: gone, partial: new Map() });
  assert.equal(r.freed, 110 + 110 + 1000);
  assert.equal(r.shared, 5000);
  assert.deepEqual(r.repositories, { r: { a: { freed: 1220, shared: 5000 } } });
  // Deleting either alone frees its own bytes and config, not the layer the other also has.
  assert.deepEqual(JSON.parse(JSON.stringify(r.alone)), { [`r/a@${d('dev-a')}`]: 110, [`r/a@${d('dev-b')}`]: 110 });
});
