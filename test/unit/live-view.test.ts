import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveView } from '../../src/apply/live-view.js';
import { ManifestSaver, SAVE_AHEAD } from '../../src/apply/manifest-saver.js';
import type { RegistryClient } from '../../src/registry/client.js';
import type { Digest, Repository } from '../../src/oci/names.js';
import type { Journal, SavedManifest } from '../../src/apply/journal.js';
import type { PlanDelete } from '../../src/plan/model.js';

const D1 = `sha256:${'1'.repeat(64)}` as Digest;
const D2 = `sha256:${'2'.repeat(64)}` as Digest;

/** A promise and its resolver: the test decides when each registry answer arrives. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A registry whose every answer the test releases by hand, in the order it chooses. */
function handClient() {
  const pending: Array<{ what: string; answer: (v: unknown) => void }> = [];
  const asked = (what: string) => {
    const d = deferred<unknown>();
    pending.push({ what, answer: d.resolve });
    return d.promise;
  };
  const client = {
    endpoint: { concurrency: 8 },
    listTags: () => asked('list'),
    headManifest: (_repo: string, ref: string) => asked(`head ${ref}`),
    getManifest: (_repo: string, digest: string) => asked(`get ${digest}`),
  } as unknown as RegistryClient;
  /**
   * Waits until a request matching `what` was sent, and returns its answer function. The
   * view sends without real I/O, a few turns of the event loop after what caused it: a
   * request not sent in 10,000 turns never will be, and the test fails instead of spinning.
   */
  const next = async (what: string) => {
    for (let turn = 0; turn < 10_000; turn++) {
      const i = pending.findIndex((p) => p.what === what);
      if (i !== -1) return pending.splice(i, 1)[0].answer;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`no '${what}' request was sent (pending: ${pending.map((p) => p.what).join(', ') || 'none'})`);
  };
  return { client, pending, next };
}

test('a background re-read sent before a repair never overwrites what the repair set', async () => {
  let clock = 0;
  const { client, next } = handClient();
  const view = new LiveView(client, 'app' as Repository, 1_000, () => clock);
  view.seed([['k01', D1]], 0, 10);
  clock = 600; // half the bound: the background read starts at once
  view.startBackground();
  (await next('list'))(['k01']);
  const head = await next('head k01'); // sent at 600, answer held back
  // Meanwhile the DELETE chain put k01 back on D2 and verified it (at 700).
  clock = 700;
  view.set('k01', D2, 700);
  head(undefined); // the older answer: k01 was gone while the DELETE had taken it
  await view.stop();
  assert.equal(view.tags.get('k01'), D2);
  // An answer to a later request does count.
  view.drop('k01', 800);
  assert.equal(view.tags.has('k01'), false);
});

test('a DELETE that needs fresh digests waits for the background read in flight instead of sending its own', async () => {
  let clock = 0;
  const { client, pending, next } = handClient();
  const view = new LiveView(client, 'app' as Repository, 1_000, () => clock);
  view.seed([['a', D1], ['b', D1]], 0, 10);
  clock = 600;
  view.startBackground();
  (await next('list'))(['a', 'b']);
  const headA = await next('head a');
  clock = 1_200; // now older than the bound: the chain must wait
  let fresh = false;
  const waiting = view.ensureFresh().then(() => (fresh = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(fresh, false);
  headA({ digest: D2 });
  // One request at a time: b is asked only after a was answered.
  (await next('head b'))({ digest: D1 });
  await waiting;
  assert.equal(view.age, 600);
  assert.equal(view.namesCurrent, false, 'the chain lists again after waiting');
  assert.deepEqual([...view.tags], [['a', D2], ['b', D1]]);
  // No read of its own; the background's next round waits until the view is half its
  // bound old (8 x the 600 ms read: 2.4 s), and stop() ends that wait.
  assert.equal(view.nextReadIn, 1_800);
  await view.stop();
  assert.equal(pending.length, 0);
});

test('a seeded view that is fresh enough sends nothing; bound 0 reads before every DELETE; Infinity never', async () => {
  let clock = 0;
  const { client, pending, next } = handClient();
  const seeded = new LiveView(client, 'app' as Repository, 2_000, () => clock);
  seeded.seed([['a', D1]], 0, 1_500);
  clock = 2_900; // under twice the seeding read's time
  await seeded.ensureFresh();
  assert.equal(pending.length, 0);

  const never = new LiveView(client, 'app' as Repository, Infinity, () => clock);
  never.seed([['a', D1]], 0, 10);
  never.startBackground();
  clock = 1e9;
  await never.ensureFresh();
  assert.equal(pending.length, 0);

  const always = new LiveView(client, 'app' as Repository, 0, () => clock);
  always.seed([['a', D1]], clock, 10);
  clock += 1;
  const read = always.ensureFresh();
  (await next('list'))(['a']);
  (await next('head a'))({ digest: D2 });
  await read;
  assert.equal(always.tags.get('a'), D2);
});

test('in a large repository the background re-reads idle three times as long as a read takes: a quarter of the time at most', async () => {
  let clock = 0;
  const { client, next } = handClient();
  // A floor of 1 s; the policy re-check's read of the repository took 10 s.
  const view = new LiveView(client, 'app' as Repository, 1_000, () => clock);
  view.seed([['a', D1]], 0, 10_000);
  clock = 10_000; // the read just ended
  assert.equal(view.maxAgeMs, 80_000);
  assert.equal(view.nextReadIn, 30_000);
  // A read of the view's own counts the same way: this one takes 20 s.
  const read = view.fullRead();
  (await next('list'))(['a']);
  clock = 30_000;
  (await next('head a'))({ digest: D1 });
  await read;
  assert.equal(view.maxAgeMs, 160_000);
  assert.equal(view.nextReadIn, 60_000, 'busy 20 s, then idle 60 s');
  // A small repository keeps the floor: read in 100 ms, re-read at half of 1 s.
  const small = new LiveView(client, 'app' as Repository, 1_000, () => clock);
  small.seed([['a', D1]], clock, 100);
  assert.equal(small.maxAgeMs, 1_000);
  assert.equal(small.nextReadIn, 500);
});

/** A journal as the saver uses it: what was saved, in order. */
function fakeJournal() {
  const saved = new Map<string, SavedManifest>();
  return { journal: { saved, save: (id: string, m: SavedManifest) => saved.set(id, m) } as unknown as Journal, saved };
}

test(`the saver saves manifests in plan order, one GET at a time, at most ${SAVE_AHEAD} actions ahead of the DELETEs`, async () => {
  const { client, pending, next } = handClient();
  const view = new LiveView(client, 'app' as Repository, Infinity);
  const { journal, saved } = fakeJournal();
  const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as Digest;
  const actions = Array.from({ length: SAVE_AHEAD + 10 }, (_, i) => ({ id: `a${i}`, repository: 'app', digest: digest(i) }) as PlanDelete);
  const saver = new ManifestSaver(view, journal, actions);
  saver.start();
  for (let i = 0; i <= SAVE_AHEAD; i++) {
    (await next(`get ${digest(i)}`))({ bytes: Buffer.from(`m${i}`), mediaType: 'x' });
    assert.ok(pending.length <= 1);
  }
  await saver.settled(`a${SAVE_AHEAD}`);
  // The chain is still at action 0: nothing further is asked.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(pending.length, 0);
  assert.deepEqual([...saved.keys()], actions.slice(0, SAVE_AHEAD + 1).map((a) => a.id));
  saver.reached(1);
  (await next(`get ${digest(SAVE_AHEAD + 1)}`))(undefined); // gone: nothing saved, the step finds out itself
  await saver.settled(`a${SAVE_AHEAD + 1}`);
  assert.equal(saved.has(`a${SAVE_AHEAD + 1}`), false);
  await saver.stop();
  saver.reached(actions.length);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(pending.length, 0, 'nothing is asked after stop');
});
