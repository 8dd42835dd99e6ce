import type { Plan, PlanCopy, PlanDelete } from '../plan/model.js';

/**
 * The actions of `plan` that the config's policy, evaluated again on live data, no
 * longer wants, each with why: apply carries out only the rest, never more than the
 * plan. This keeps count- and age-based rules right when two plans were made from the
 * same data, or a runner has no state to tell a stale plan. What moved under a tag
 * (another digest, a tag gone) is left to each action's own check, which says it more
 * precisely. Pure.
 */
export function policyDrift(plan: Plan, fresh: Plan): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of plan.actions) {
    const reason = a.type === 'copy' ? copyUnwanted(a, fresh) : deleteUnwanted(a, fresh);
    if (reason) out.set(a.id, reason);
  }
  return out;
}

function copyUnwanted(a: PlanCopy, fresh: Plan): string | undefined {
  const repo = fresh.decisions.sync[a.source.registry]?.[a.source.repository];
  const d = repo && Object.hasOwn(repo, a.source.tag) ? repo[a.source.tag] : undefined;
  // Gone from the source: the copy's own check reports it.
  if (!d || d.verdict === 'copy' || d.verdict === 'up-to-date') return undefined;
  return `the policy no longer copies ${a.source.tag}: ${d.reason}`;
}

function deleteUnwanted(a: PlanDelete, fresh: Plan): string | undefined {
  if (a.prune) {
    // Prune needs the live source's word: a tag back in the source, or a sync that no
    // longer covers this repository, stops it (a tag gone from the target is the step's).
    const repo = fresh.decisions.prune?.[a.registry]?.[a.repository];
    const present = fresh.snapshot[a.registry]?.[a.repository]?.tags ?? {};
    const stop = a.tags.flatMap((t) => {
      if (!Object.hasOwn(present, t)) return [];
      const d = repo && Object.hasOwn(repo, t) ? repo[t] : undefined;
      if (!d) return [`${t} is no longer covered by sync-policy.prune`];
      return d.verdict === 'delete' ? [] : [`${t} is now ${d.verdict === 'blocked' ? 'blocked' : 'kept'}: ${d.reason}`];
    });
    return stop.length ? `the sync policy no longer prunes this: ${stop.join('; ')}` : undefined;
  }
  const repo = fresh.decisions.delete[a.registry]?.[a.repository] ?? {};
  const kept = a.tags.flatMap((t) => {
    const d = Object.hasOwn(repo, t) ? repo[t] : undefined;
    return d && d.verdict !== 'delete' ? [`${t} is now ${d.verdict === 'blocked' ? 'blocked' : d.verdict === 'skip' ? 'not selected' : 'kept'}: ${d.reason}`] : [];
  });
  return kept.length ? `the policy no longer deletes this: ${kept.join('; ')}` : undefined;
}
