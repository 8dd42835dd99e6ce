import type { Plan } from '../plan/model.js';
import type { State, StateSnapshot } from './model.js';

/**
 * Why a plan may not be applied against the current state, or undefined when it may.
 * A plan is current when the state is still the one it was made from, or when the state
 * was last written by an apply of this very plan that started from that same state (so
 * an interrupted apply can resume). Two plans made from the same state, including from
 * no state at all, can therefore never both be applied.
 */
export function staleReason(plan: Plan, state: State | undefined): string | undefined {
  const made = plan.state.lineage === null ? 'no state' : `state ${plan.state.lineage} serial ${plan.state.serial}`;
  if (!state) {
    return plan.state.lineage === null ? undefined : `stale plan: it was made from ${made}, but there is no state file now; re-run plan`;
  }
  const sameLineage = plan.state.lineage === null || plan.state.lineage === state.lineage;
  const resuming = state.apply?.plan_sha256 === plan.sha256 && state.apply.plan_created_at === plan.created_at && state.apply.base_serial === plan.state.serial;
  if (resuming && sameLineage) return undefined;
  if (plan.state.lineage === state.lineage && plan.state.serial === state.serial) return undefined;
  const by = state.written_by === 'apply' ? `an apply${state.apply ? ` of plan ${state.apply.plan_sha256.slice(0, 12)}` : ''}` : 'state refresh';
  return `stale plan: it was made from ${made}, but the state is now serial ${state.serial}, written by ${by} at ${state.written_at}; re-run plan`;
}

/**
 * What the registries hold after the plan's finished actions, starting from `base`
 * (the recorded state with the plan's reads laid over it). Pure.
 */
export function applyDone(base: StateSnapshot, plan: Plan, done: ReadonlySet<string>, restored: ReadonlyMap<string, ReadonlySet<string>> = new Map()): StateSnapshot {
  const out: StateSnapshot = structuredClone(base);
  for (const a of plan.actions) {
    if (!done.has(a.id)) continue;
    if (a.type === 'copy') {
      const repo = ((out[a.target.registry] ??= {})[a.target.repository] ??= {});
      repo[a.target.tag] = { digest: a.source.digest, media_type: a.source.media_type };
    } else {
      const repo = out[a.registry]?.[a.repository];
      if (repo) for (const t of a.tags) delete repo[t];
      // A tag moved onto the digest during apply, lost to the DELETE and put back.
      for (const t of restored.get(a.id) ?? []) ((out[a.registry] ??= {})[a.repository] ??= {})[t] = { digest: a.digest, media_type: a.media_type };
    }
  }
  return out;
}
