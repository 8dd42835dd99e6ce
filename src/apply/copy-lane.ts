import type { PlanCopy } from '../plan/model.js';
import type { Clients } from '../registry/connect.js';
import { groupBy } from '../util/group.js';
import type { Journal } from './journal.js';
import { SkopeoError, syncNames, type SkopeoRunner } from './skopeo.js';
import { copyCheck, copyImage, copyStep, readImage, tagStep, type Outcome, type SeenDigest } from './steps.js';
import type { FreshRead } from './executor.js';

/** How the executor runs one action: records its outcome; `inFlight`: runs even after the first Ctrl-C. */
export type Guard = (id: string, fn: () => Promise<Outcome | undefined>, inFlight?: boolean) => Promise<void>;

export interface LaneContext {
  clients: Clients;
  journal: Journal;
  skopeo: SkopeoRunner;
  guard: Guard;
  /** Aborted by the first Ctrl-C: nothing new starts. */
  signal: AbortSignal;
  /** Aborted by the second Ctrl-C: skopeo is stopped. */
  killSignal: AbortSignal;
  /** Records that the apply stopped short. */
  interrupt: () => void;
  debug?: (msg: string) => void;
  /** The policy re-check's read of the registries, and how old it may be to stand in for a copy's HEADs. */
  fresh?: { read: FreshRead; maxAgeMs: number };
}

/** Images one skopeo sync carries at most: a Ctrl-C waits for one batch, and a batch's checks stay fresh. */
export const BATCH = 32;

/**
 * The copies into one target repository, in plan order, one skopeo process at a time
 * (distribution 2.8 answers 500 when two pushes link the same layer into a repository
 * at once). Each copy is checked as a lone copy is; the ready ones of a chunk go
 * through one `skopeo sync` pinned to their digests, then each is tagged (tagStep).
 * Whatever the sync did not bring is copied alone, so a batch only ever saves work.
 */
export async function copyLane(group: readonly PlanCopy[], ctx: LaneContext): Promise<void> {
  const { clients, journal, skopeo, guard } = ctx;
  for (let i = 0; i < group.length; i += BATCH) {
    if (ctx.signal.aborted) return ctx.interrupt();
    const chunk = group.slice(i, i + BATCH);
    // The checks of a batch are reads: they run together (the client bounds how many at
    // once), and their outcomes are recorded in plan order.
    const seen = recheckRead(ctx.fresh);
    const checks = new Map(chunk.filter((a) => syncNames(a.source.repository, a.target.repository)).map((a) => [a, copyCheck(a, clients, journal, seen).catch((e: Error) => e)]));
    const ready: PlanCopy[] = [];
    for (const a of chunk) {
      const check = checks.get(a);
      if (!check) await guard(a.id, () => copyStep(a, clients, journal, skopeo, ctx.killSignal));
      else {
        await guard(a.id, async () => {
          const o = await check;
          if (o instanceof Error) throw o;
          return o ?? void ready.push(a);
        }, true);
      }
    }
    for (const batch of groupBy(ready, (a) => a.source.registry).values()) {
      // A lone image goes by `skopeo copy`, which sets the tag itself: its check must be
      // live (a HEAD just before), not the re-check's read, as for a copy outside a batch.
      if (batch.length === 1) await guard(batch[0].id, () => (seen ? copyStep : copyImage)(batch[0], clients, journal, skopeo, ctx.killSignal));
      else if (!(await syncBatch(batch, ctx))) return;
    }
  }
}

/** The re-check's read while it is within the age bound (from the start of that read), else undefined. */
function recheckRead(fresh: LaneContext['fresh']): SeenDigest | undefined {
  if (!fresh || performance.now() - fresh.read.at > fresh.maxAgeMs) return undefined;
  const { snapshot } = fresh.read;
  return (registry, repository, tag) => {
    const repo = Object.hasOwn(snapshot, registry) && Object.hasOwn(snapshot[registry], repository) ? snapshot[registry][repository] : undefined;
    if (!repo) return undefined;
    if (repo.missing) return null;
    return Object.hasOwn(repo.tags, tag) ? repo.tags[tag].digest : null;
  };
}

/** Copies checked images of one source registry with one skopeo sync, then tags them. False: interrupted. */
async function syncBatch(batch: readonly PlanCopy[], ctx: LaneContext): Promise<boolean> {
  const { clients, journal, skopeo, guard } = ctx;
  if (ctx.signal.aborted) return (ctx.interrupt(), false);
  for (const a of batch) journal.append(a.id, 'start');
  const first = batch[0];
  try {
    await journal.durable();
    await skopeo.syncDigests(
      {
        endpoint: clients.get(first.source.registry).endpoint,
        credentials: clients.credentials(first.source.registry),
        images: new Map([...groupBy(batch, (a) => a.source.repository)].map(([repo, as]) => [repo, [...new Set(as.map((a) => a.source.digest))]])),
      },
      { endpoint: clients.get(first.target.registry).endpoint, credentials: clients.credentials(first.target.registry), repository: first.target.repository },
      ctx.killSignal,
    );
  } catch (e) {
    if (ctx.killSignal.aborted) return (ctx.interrupt(), false);
    // skopeo's own failure (an image it could not copy): each image is checked below.
    // Anything else is regmgr's, and is not papered over by copying alone.
    if (!(e instanceof SkopeoError)) {
      for (const a of batch) await guard(a.id, () => Promise.reject(e), true);
      return true;
    }
    ctx.debug?.(`${first.target.registry}/${first.target.repository}: ${e.message}; what it did not copy is copied alone`);
  }
  // The images' manifests are read together (the client bounds how many at once); then
  // the tags are set one at a time, each checked right before its PUT. A client that
  // reacts to one new tag by setting another is then seen, and left alone, not
  // overwritten by a PUT whose check ran before it. (One at a time also keeps 2.8 from
  // reading a digest's revision link empty while another PUT of that digest rewrites it.)
  // An image the batch did not bring is copied alone, in plan order, after them.
  const images = new Map(batch.map((a) => [a, readImage(a, clients)]));
  const tagged = new Map<PlanCopy, Promise<Outcome | 'absent' | Error>>();
  let previous: Promise<unknown> = Promise.resolve();
  for (const a of batch) {
    const step = previous.then(() => tagStep(a, clients, journal, images.get(a))).catch((e: Error) => e);
    tagged.set(a, step);
    previous = step;
  }
  await Promise.all(tagged.values());
  for (const a of batch) {
    await guard(a.id, async () => {
      const o = await tagged.get(a)!;
      if (o instanceof Error) throw o;
      return o === 'absent' ? copyStep(a, clients, journal, skopeo, ctx.killSignal) : o;
    }, true);
  }
  return true;
}
