import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentCache, loadCache } from '../../src/snapshot/content-cache.js';
import type { Digest } from '../../src/oci/names.js';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as Digest;

// The file is written entry by entry (never one string): it must still be exactly the
// JSON document it was, and read back whole.
test('the content cache is written in pieces as one JSON document, and read back entry for entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-cache-'));
  try {
    const file = join(dir, 'content-v2.json');
    const cache = new ContentCache(file);
    cache.setCreated(d(1), '2024-01-01T00:00:00.000Z');
    cache.setCreated(d(2), null);
    cache.setChildren(d(3), [d(4), d(5)]);
    cache.setSizes(d(4), { size: 10, blobs: [d(6), 20] });
    cache.setSizes(d(3), { size: 5, blobs: [], children: [d(4), d(5)], unsized: true });
    cache.markSeen('http://127.0.0.1:5000/team/"odd"');
    // Enough entries to span several 64 KiB pieces.
    for (let i = 100; i < 3100; i++) cache.setCreated(d(i), `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`);
    cache.save(() => assert.fail('save warned'));
    const written = JSON.parse(readFileSync(file, 'utf8'));
    // Each entry a pair: a digest as an object key is interned by V8 as it is parsed.
    assert.deepEqual(written, {
      version: 2,
      created: [...cache.created],
      children: [[d(3), [d(4), d(5)]]],
      sizes: [
        [d(4), { size: 10, blobs: [[d(6), 20]] }],
        [d(3), { size: 5, blobs: [], children: [d(4), d(5)], unsized: true }],
      ],
      seen: ['http://127.0.0.1:5000/team/"odd"'],
    });
    // One entry a line, so that loading never holds the whole text.
    assert.equal(readFileSync(file, 'utf8').split('\n').length, 1 + 3002 + 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1);
    // Read line by line (as regmgr does), and parsed whole.
    for (const wholeUnder of [0, Infinity]) {
      const back = loadCache(file, () => assert.fail('load warned'), wholeUnder);
      assert.deepEqual([...back.created], [...cache.created]);
      assert.deepEqual([...back.children], [...cache.children]);
      assert.deepEqual([...back.sizes], [...cache.sizes]);
      assert.deepEqual([...back.seen], [...cache.seen]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cache written whole (before one entry a line) is still read; one cut short is ignored whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-cache-'));
  try {
    const file = join(dir, 'content-v1.json');
    const whole = { version: 1, created: { [d(1)]: '2024-01-01T00:00:00.000Z' }, children: { [d(3)]: [d(4)] }, sizes: { [d(4)]: { size: 10, blobs: [[d(6), 20]] } }, seen: ['http://127.0.0.1:5000/app'] };
    writeFileSync(file, JSON.stringify(whole));
    const old = loadCache(file, () => assert.fail('load warned'));
    assert.deepEqual([...old.created], [[d(1), '2024-01-01T00:00:00.000Z']]);
    assert.deepEqual([...old.sizes], [[d(4), { size: 10, blobs: [d(6), 20] }]]);
    assert.deepEqual([...old.seen], ['http://127.0.0.1:5000/app']);
    // Saved again: one entry a line; then cut in the middle of its sizes.
    old.setCreated(d(2), null);
    old.save(() => assert.fail('save warned'));
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(loadCache(file, () => {}, 0).created.size, 2);
    writeFileSync(file, text.slice(0, text.indexOf('"sizes"') + 30));
    for (const wholeUnder of [0, Infinity]) {
      const cut = loadCache(file, () => {}, wholeUnder);
      assert.deepEqual([cut.created.size, cut.children.size, cut.sizes.size, cut.seen.size], [0, 0, 0, 0]);
    }
    // Which way a file was read shows in one that is JSON, in the line layout's first
    // line, but not in its order: parsed whole it is read; line by line it is refused.
    writeFileSync(file, `{"version":1,"created":{\n"${d(1)}":null\n},"seen":[\n"x"\n],"children":{},"sizes":{}}\n`);
    assert.equal(loadCache(file, () => {}, Infinity).created.size, 1);
    assert.equal(loadCache(file, () => {}).created.size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cache of version 1 (content-v1.json, one key an entry) is read while there is no content-v2.json, and replaced by it at the next save', () => {
  for (const wholeUnder of [0, Infinity]) {
    const dir = mkdtempSync(join(tmpdir(), 'regmgr-cache-'));
    try {
      const legacy = join(dir, 'content-v1.json');
      const file = join(dir, 'content-v2.json');
      // As a regmgr of version 1 wrote it: one entry a line.
      writeFileSync(legacy, `{"version":1,"created":{\n"${d(1)}":"2024-01-01T00:00:00.000Z"\n,"${d(2)}":null\n},"children":{\n"${d(3)}":["${d(4)}"]\n},"sizes":{\n"${d(4)}":{"size":10,"blobs":[["${d(6)}",20]]}\n},"seen":[\n"http://127.0.0.1:5000/app"\n]}\n`);
      const old = loadCache(file, () => assert.fail('load warned'), wholeUnder);
      assert.deepEqual([...old.created], [[d(1), '2024-01-01T00:00:00.000Z'], [d(2), null]]);
      assert.deepEqual([...old.children], [[d(3), [d(4)]]]);
      assert.deepEqual([...old.sizes], [[d(4), { size: 10, blobs: [d(6), 20] }]]);
      assert.deepEqual([...old.seen], ['http://127.0.0.1:5000/app']);
      // Nothing new was learnt, and still it is saved in the new layout, the old file gone.
      old.save(() => assert.fail('save warned'));
      assert.equal(existsSync(legacy), false, 'content-v1.json is removed once its entries are in content-v2.json');
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).version, 2);
      const back = loadCache(file, () => assert.fail('load warned'), wholeUnder);
      assert.deepEqual([[...back.created], [...back.children], [...back.sizes], [...back.seen]], [[...old.created], [...old.children], [...old.sizes], [...old.seen]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a cache of version 2 drops an entry of the wrong shape, entry by entry; a line that is not a pair makes the file ignored whole when read line by line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-cache-'));
  try {
    const file = join(dir, 'content-v2.json');
    const text = (created: string[]) => `{"version":2,"created":[\n${created.join('\n,')}\n],"children":[\n],"sizes":[\n],"seen":[\n]}\n`;
    const good = `["${d(1)}","2024-01-01T00:00:00.000Z"]`;
    // A time that is not one, a digest that is not one, a key that is not a string.
    writeFileSync(file, text([`["${d(2)}","yesterday"]`, good, `["not-a-digest","2024-01-01T00:00:00.000Z"]`, `[7,null]`]));
    for (const wholeUnder of [0, Infinity]) assert.deepEqual([...loadCache(file, () => {}, wholeUnder).created], [[d(1), '2024-01-01T00:00:00.000Z']]);
    // Not a pair: not what save() writes.
    writeFileSync(file, text([good, `{"${d(2)}":null}`]));
    assert.equal(loadCache(file, () => {}).created.size, 0);
    assert.equal(loadCache(file, () => {}, Infinity).created.size, 1, 'parsed whole, the pairs are read and the rest passed over');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
