import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    const file = join(dir, 'content-v1.json');
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
    assert.deepEqual(written, {
      version: 1,
      created: Object.fromEntries(cache.created),
      children: { [d(3)]: [d(4), d(5)] },
      sizes: { [d(4)]: { size: 10, blobs: [[d(6), 20]] }, [d(3)]: { size: 5, blobs: [], children: [d(4), d(5)], unsized: true } },
      seen: ['http://127.0.0.1:5000/team/"odd"'],
    });
    const back = loadCache(file, () => assert.fail('load warned'));
    assert.deepEqual([...back.created], [...cache.created]);
    assert.deepEqual([...back.children], [...cache.children]);
    assert.deepEqual([...back.sizes], [...cache.sizes]);
    assert.deepEqual([...back.seen], [...cache.seen]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
