import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { printPlan } from '../../src/commands/plan.js';
import { renderText } from '../../src/plan/render.js';
import { drained } from '../../src/util/drained.js';
import type { IO } from '../../src/commands/io.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';
import type { Digest } from '../../src/oci/names.js';

// Behind a slow reader (a CI log, `| less`) node queues in memory what stdout cannot
// take yet: printing a large plan must wait for each piece to drain, never queue it whole.

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

/** A plan of `n` deletes (~100 bytes of text each): several 64 KiB pieces. */
function plan(n: number): Plan {
  const actions: PlanDelete[] = Array.from({ length: n }, (_, i) => ({
    id: `delete reg/app@${d(i)}`,
    type: 'delete',
    registry: 'reg',
    repository: 'app',
    digest: d(i),
    media_type: 'application/vnd.oci.image.manifest.v1+json',
    tags: [`dev-${i}`],
    method: 'manifest',
    reasons: { [`dev-${i}`]: 'matches include key "dev"; beyond mix-count 10' },
  }));
  return {
    format_version: 1,
    regmgr_version: 'test',
    created_at: '2025-01-01T00:00:00.000Z',
    config: { file: 'c.yml', sha256: '0'.repeat(64) },
    state: { lineage: null, serial: null },
    registries: { reg: { url: 'http://127.0.0.1:1', insecure: true } },
    policies: { delete: ['reg'], sync: null, target: null },
    snapshot: {},
    decisions: { delete: {}, sync: {} },
    changed_outside: [],
    skipped: [],
    actions,
    blocked: [],
    warnings: [],
    summary: { copy: 0, delete: n, tags_deleted: n, blocked: 0 },
    sha256: '0'.repeat(64),
  };
}

function io(drain: () => Promise<void>): IO & { pieces: string[] } {
  const pieces: string[] = [];
  return { pieces, out: (t) => void pieces.push(t), err: () => {}, drained: drain, env: {}, tty: false, color: false, logger: { debug() {}, info() {}, warn() {} } };
}

test('printPlan sends the next piece only once the last one has drained, and the text is whole', async () => {
  const p = plan(3000);
  let release: (() => void) | undefined;
  let waiting: (() => void) | undefined;
  const waited = () => new Promise<void>((r) => (waiting = r));
  const sink = io(() => new Promise<void>((r) => ((release = r), waiting?.())));
  let next = waited();
  const done = printPlan(p, {}, sink);
  // Whichever comes first: a printer that does not wait finishes with every piece out.
  await Promise.race([next, done]);
  assert.equal(sink.pieces.length, 1, 'one piece out while the reader has not taken it');
  next = waited();
  release!();
  await Promise.race([next, done]);
  assert.equal(sink.pieces.length, 2, 'the second piece only after the first drained');
  // The reader keeps up from here.
  sink.drained = () => Promise.resolve();
  release!();
  await done;
  assert.ok(sink.pieces.length > 3, `a plan of 3,000 deletes is several pieces (${sink.pieces.length})`);
  assert.equal(sink.pieces.join(''), renderText(p, { color: false }));
});

test('drained() waits for a stream to drain, and gives up on one that closes', async () => {
  const callbacks: Array<() => void> = [];
  const slow = new Writable({ highWaterMark: 4, write: (_chunk, _enc, cb) => void callbacks.push(cb) });
  assert.equal(slow.write('more than four bytes'), false);
  let resolved = false;
  const wait = drained(slow).then(() => (resolved = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false, 'still queued: no drain yet');
  callbacks.shift()!();
  await wait;
  assert.equal(slow.listenerCount('drain') + slow.listenerCount('close') + slow.listenerCount('error'), 0, 'no listener left behind');

  const stuck = new Writable({ highWaterMark: 4, write: () => {} });
  stuck.on('error', () => {});
  stuck.write('more than four bytes');
  const gaveUp = drained(stuck);
  stuck.destroy();
  await gaveUp;
  assert.equal(await drained(new Writable({ write: (_c, _e, cb) => cb() })), undefined, 'nothing queued: resolves at once');
});

test('printPlan --json: the same bytes as JSON.stringify, a piece at a time', async () => {
  const p = plan(3000);
  let waits = 0;
  const sink = io(async () => void waits++);
  await printPlan(p, { json: true }, sink);
  assert.equal(sink.pieces.join(''), JSON.stringify(p, null, 2) + '\n');
  assert.ok(sink.pieces.length > 3 && waits >= sink.pieces.length - 1, `${sink.pieces.length} pieces, ${waits} waits for the reader`);
});
