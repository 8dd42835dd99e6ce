import type { Plan, PlanCopy, PlanDelete } from '../plan/model.js';
import type { Clients } from '../registry/connect.js';
import type { Repository } from '../registry/names.js';
import { mapLimit } from '../util/limit.js';
import type { Journal } from './journal.js';
import type { SkopeoRunner } from './skopeo.js';
import { copyStep, deleteStep, readTagMap, refreshTagMap, type Outcome } from './steps.js';

const FULL_REREAD_MS = 10_000;

export interface ApplyReport {
  outcomes: Outcome[];
  /** Actions the journal already recorded as done: not touched again. */
  alreadyDone: number;
  interrupted: boolean;
}

export interface ExecOptions {
  parallelism: number;
  signal: AbortSignal;
  onOutcome?: (o: Outcome, done: number, total: number) => void;
  onStart?: (id: string) => void;
}

/**
 * Carries out exactly the plan's actions: copies first, then deletes. Deletes of one
 * repository run one after another against a live view of its tags (re-listed before
 * each), repositories in parallel. A delete whose source image failed to copy is held.
 */
export async function execute(plan: Plan, clients: Clients, journal: Journal, skopeo: SkopeoRunner, opts: ExecOptions): Promise<ApplyReport> {
  const todo = plan.actions.filter((a) => !journal.isDone(a.id));
  const report: ApplyReport = { outcomes: [], alreadyDone: plan.actions.length - todo.length, interrupted: false };
  const total = todo.length;
  const record = (o: Outcome) => {
    report.outcomes.push(o);
    opts.onOutcome?.(o, report.outcomes.length, total);
  };
  const guard = async (id: string, fn: () => Promise<Outcome>) => {
    if (opts.signal.aborted) {
      report.interrupted = true;
      return;
    }
    opts.onStart?.(id);
    try {
      record(await fn());
    } catch (e) {
      if (opts.signal.aborted) {
        // Left as started in the journal: the next apply re-checks it against the registry.
        report.interrupted = true;
        return;
      }
      const detail = `${id}: ${(e as Error).message}`;
      journal.append(id, 'failed', detail);
      record({ id, result: 'failed', detail });
    }
  };

  const copies = todo.filter((a): a is PlanCopy => a.type === 'copy');
  await mapLimit(copies, opts.parallelism, (a) => guard(a.id, () => copyStep(a, clients, journal, skopeo, opts.signal)));

  // Never delete an image whose copy just failed: it may be the only one left.
  const failedSources = new Set(
    report.outcomes
      .filter((o) => o.result === 'failed')
      .map((o) => copies.find((c) => c.id === o.id)!)
      .map((c) => `${c.source.registry}/${c.source.repository}@${c.source.digest}`),
  );
  const deletes = todo.filter((a): a is PlanDelete => a.type === 'delete');
  const groups = new Map<string, PlanDelete[]>();
  for (const d of deletes) groups.set(`${d.registry}/${d.repository}`, [...(groups.get(`${d.registry}/${d.repository}`) ?? []), d]);
  await mapLimit([...groups.values()], opts.parallelism, async (group) => {
    if (opts.signal.aborted) return void (report.interrupted = true);
    const client = clients.get(group[0].registry);
    const repo = group[0].repository as Repository;
    const current = await readTagMap(client, repo).catch((e: Error) => e);
    let fullReadAt = Date.now();
    for (const [i, a] of group.entries()) {
      if (current instanceof Error) {
        await guard(a.id, () => Promise.reject(current));
        continue;
      }
      if (failedSources.has(`${a.registry}/${a.repository}@${a.digest}`)) {
        const detail = `${a.registry}/${a.repository}@${a.digest}: its copy failed in this apply; not deleted`;
        await guard(a.id, async () => (journal.append(a.id, 'blocked', detail), { id: a.id, result: 'blocked', detail }));
        continue;
      }
      await guard(a.id, async () => {
        // The first action uses the fresh read; later ones re-list to catch new tags, and
        // re-read every tag when the view is older than FULL_REREAD_MS, which bounds how
        // stale the check before a DELETE can be (the registry has no conditional delete).
        if (i > 0) {
          const all = Date.now() - fullReadAt > FULL_REREAD_MS;
          await refreshTagMap(client, repo, current, all);
          if (all) fullReadAt = Date.now();
        }
        return deleteStep(a, client, current, journal);
      });
    }
  });
  return report;
}

export function countResults(r: ApplyReport) {
  const n = (k: Outcome['result']) => r.outcomes.filter((o) => o.result === k).length;
  return { copied: n('copied'), present: n('present'), deleted: n('deleted'), drifted: n('drifted'), blocked: n('blocked'), failed: n('failed') };
}
