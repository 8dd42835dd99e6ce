import type { Plan, PlanCopy, PlanDelete } from '../plan/model.js';
import type { Clients } from '../registry/connect.js';
import type { Digest, Repository } from '../oci/names.js';
import { manifestFacts } from '../oci/manifest-facts.js';
import { mapLimit } from '../util/limit.js';
import { groupBy } from '../util/group.js';
import type { Journal } from './journal.js';
import type { SkopeoRunner } from './skopeo.js';
import type { Outcome } from './steps.js';
import { copyLane, type Guard } from './copy-lane.js';
import { deleteStep } from './delete-step.js';
import { untagStep } from './untag-step.js';
import { LiveView, MAX_VIEW_AGE_MS } from './live-view.js';
import { ManifestSaver, saveManifest } from './manifest-saver.js';
import { RefusedByRegistry, RegistryError } from '../registry/errors.js';

export interface ApplyReport {
  outcomes: Outcome[];
  /** Actions the journal already recorded as done: not touched again. */
  alreadyDone: number;
  interrupted: boolean;
}

export interface ExecOptions {
  parallelism: number;
  /** Aborted: no new action starts (the first Ctrl-C). */
  signal: AbortSignal;
  /** Aborted: actions in flight (copies) stop too (the second Ctrl-C). */
  killSignal?: AbortSignal;
  onOutcome?: (o: Outcome, done: number, total: number) => void;
  onStart?: (id: string) => void;
  /** The floor of the age bound of the tag digests a DELETE is checked against (tests: 0 or Infinity). */
  maxViewAgeMs?: number;
  /** Per-repository figures of the delete checks, for --debug and the benchmark. */
  debug?: (msg: string) => void;
  /** Actions the current policy no longer wants (recheck.ts), with why: left alone. */
  policyDrift?: ReadonlyMap<string, string>;
  /** The registries as the policy re-check read them just before: the deletes' first view. */
  freshRead?: FreshRead;
}

/** A plan's snapshot read at `at` (performance.now()) in `took` ms. */
export interface FreshRead {
  snapshot: Plan['snapshot'];
  at: number;
  took: number;
  /** Per delete action id, the platform manifests the live policy also lets go with the index. */
  children?: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Carries out exactly the plan's actions: copies first, then deletes. Copies into one
 * target repository (in batches, copy-lane.ts), and deletes of one repository, run one
 * after another (deletes against a live view of its tags: names re-listed after every
 * DELETE, digests re-read in the background within the view's bound, manifests saved
 * ahead); repositories run in parallel. A delete whose source image failed to copy is held. The first view of a
 * repository is the policy re-check's read when there was one; the age bound decides,
 * as for any read, whether it is still fresh enough when the deletes begin.
 */
export async function execute(plan: Plan, clients: Clients, journal: Journal, skopeo: SkopeoRunner, opts: ExecOptions): Promise<ApplyReport> {
  const pending = plan.actions.filter((a) => !journal.isDone(a.id));
  const report: ApplyReport = { outcomes: [], alreadyDone: plan.actions.length - pending.length, interrupted: false };
  const todo = pending.filter((a) => !opts.policyDrift?.has(a.id));
  const total = pending.length;
  const record = (o: Outcome) => {
    report.outcomes.push(o);
    opts.onOutcome?.(o, report.outcomes.length, total);
  };
  for (const a of pending) {
    const reason = opts.policyDrift?.get(a.id);
    if (reason === undefined) continue;
    const detail = `${a.id}: ${reason}; left alone`;
    journal.append(a.id, 'drifted', detail);
    record({ id: a.id, result: 'drifted', detail });
  }
  const interrupt = () => void (report.interrupted = true);
  const guard: Guard = async (id, fn, inFlight = false) => {
    if (opts.signal.aborted && !inFlight) return interrupt();
    opts.onStart?.(id);
    try {
      const o = await fn();
      if (o) record(o);
    } catch (e) {
      if (opts.killSignal?.aborted ?? opts.signal.aborted) {
        // Left as started in the journal: the next apply re-checks it against the registry.
        return interrupt();
      }
      const detail = `${id}: ${(e as Error).message}`;
      // The registry's own rule said no (an immutable tag, a protected version): blocked.
      const result = e instanceof RefusedByRegistry ? 'blocked' : 'failed';
      journal.append(id, result, detail);
      record({ id, result, detail });
    }
  };

  // One lane per target repository (copy-lane.ts), repositories in parallel.
  const copies = todo.filter((a): a is PlanCopy => a.type === 'copy');
  const byTarget = groupBy(copies, (c) => `${c.target.registry}/${c.target.repository}`);
  const fresh = opts.freshRead ? { read: opts.freshRead, maxAgeMs: opts.maxViewAgeMs ?? MAX_VIEW_AGE_MS } : undefined;
  const lane = { clients, journal, skopeo, guard, signal: opts.signal, killSignal: opts.killSignal ?? opts.signal, interrupt, debug: opts.debug, fresh };
  await mapLimit([...byTarget.values()], opts.parallelism, (group) => copyLane(group, lane));

  // Never delete an image whose copy just failed: it may be the only one left.
  const failedSources = new Set(
    report.outcomes
      .filter((o) => o.result === 'failed')
      .map((o) => copies.find((c) => c.id === o.id)!)
      .map((c) => `${c.source.registry}/${c.source.repository}@${c.source.digest}`),
  );
  const deletes = todo.filter((a): a is PlanDelete => a.type === 'delete');
  const groups = groupBy(deletes, (d) => `${d.registry}/${d.repository}`);
  await mapLimit([...groups.values()], opts.parallelism, async (group) => {
    if (opts.signal.aborted) return interrupt();
    const client = clients.get(group[0].registry);
    const repo = group[0].repository as Repository;
    const view = new LiveView(client, repo, opts.maxViewAgeMs ?? MAX_VIEW_AGE_MS);
    view.dialect = clients.dialect(group[0].registry);
    // A tag lost to a concurrent re-tag is put back at once, which takes push: prove it
    // before the first DELETE rather than find out with a tag missing.
    const seen = opts.freshRead?.snapshot[group[0].registry]?.[repo];
    const ready = await mountableBlob(group[0], view, journal)
      .then((blob) => client.probePush(repo, blob))
      .then(() => (seen ? view.seed(Object.entries(seen.tags).map(([t, s]) => [t, s.digest]), opts.freshRead!.at, opts.freshRead!.took) : view.fullRead()))
      .catch((e: Error) => (e instanceof RegistryError && (e.kind === 'auth' || e.kind === 'denied') && e.method === 'POST' ? pushRefused(e, group[0]) : e));
    // Saves and re-reads run beside the chain of DELETEs (reads only, off the chain).
    const saver = new ManifestSaver(view, journal, group);
    if (!(ready instanceof Error)) {
      saver.start();
      view.startBackground();
    }
    try {
      for (const [i, a] of group.entries()) {
        saver.reached(i);
        if (ready instanceof Error) {
          await guard(a.id, () => Promise.reject(ready));
          continue;
        }
        if (failedSources.has(`${a.registry}/${a.repository}@${a.digest}`)) {
          const detail = `${a.registry}/${a.repository}@${a.digest}: its copy failed in this apply; not deleted`;
          await guard(a.id, async () => (journal.append(a.id, 'blocked', detail), { id: a.id, result: 'blocked', detail }));
          continue;
        }
        await guard(a.id, () => (a.method === 'manifest' ? deleteStep(a, view, journal, saver, opts.freshRead?.children ? (opts.freshRead.children.get(a.id) ?? new Set()) : undefined) : untagStep(a, view, journal, saver)));
      }
    } finally {
      await Promise.all([saver.stop(), view.stop()]);
    }
    if (view.fullReads.length) {
      const longest = Math.round(Math.max(...view.fullReads));
      opts.debug?.(`${group[0].registry}/${repo}: ${group.length} deletes checked; ${view.fullReads.length} full reads of up to ${view.tags.size} tags (longest ${longest} ms); digests at most ${Math.round(view.oldestChecked)} ms old at a DELETE`);
    }
  });
  return report;
}

export function countResults(r: ApplyReport) {
  const n = (k: Outcome['result']) => r.outcomes.filter((o) => o.result === k).length;
  return { copied: n('copied'), present: n('present'), deleted: n('deleted') + n('restored'), gone: n('gone'), restored: n('restored'), drifted: n('drifted'), blocked: n('blocked'), failed: n('failed') };
}

function pushRefused(e: RegistryError, a: PlanDelete): Error {
  return new Error(
    `${a.registry}/${a.repository}: no delete was sent: regmgr needs push permission here as well as delete, so that a tag another client moves onto a digest while it is deleted can be put back at once; the registry refused a push (${e.status ?? e.kind}${e.codes.length ? ` ${e.codes.join(',')}` : ''}). Grant push on this repository to these credentials`,
  );
}

/**
 * A blob the repository holds, for the push probe to mount without leaving anything
 * behind: the config of the first action's image (its manifest is saved on the way, as
 * the DELETE needs it anyway), or of an index's first platform manifest.
 */
async function mountableBlob(a: PlanDelete, view: LiveView, journal: Journal): Promise<Digest | undefined> {
  if (!(await saveManifest(a, view, journal))) return undefined;
  const m = view.manifests.get(a.digest)!;
  let facts;
  try {
    facts = manifestFacts(JSON.parse(m.bytes.toString('utf8')), m.mediaType);
  } catch {
    return undefined; // not JSON: the probe falls back to an upload it cancels
  }
  const child = facts.platformChild ?? facts.children?.[0];
  if (!facts.config && child) {
    const c = await view.client.getManifest(a.repository as Repository, child);
    if (!c) return undefined;
    facts = manifestFacts(c.json, c.mediaType);
  }
  return facts.config;
}
