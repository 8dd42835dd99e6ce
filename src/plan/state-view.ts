import type { Plan } from './model.js';
import type { StateSnapshot } from '../state/model.js';

/** A plan's snapshot as the state records one (tags and digests, no creation times). */
export function stateViewOf(snapshot: Plan['snapshot']): StateSnapshot {
  const out: StateSnapshot = {};
  for (const [reg, repos] of Object.entries(snapshot)) {
    out[reg] = {};
    for (const [repo, r] of Object.entries(repos)) {
      out[reg][repo] = Object.fromEntries(Object.entries(r.tags).map(([t, v]) => [t, { digest: v.digest, media_type: v.media_type, ...(v.size !== undefined ? { size: v.size } : {}) }]));
    }
  }
  return out;
}

/** `registry/repository` of every repository an action of the plan reads or changes. */
export function reliedOn(plan: Pick<Plan, 'actions'>): Set<string> {
  return new Set(plan.actions.flatMap((a) => (a.type === 'copy' ? [`${a.source.registry}/${a.source.repository}`, `${a.target.registry}/${a.target.repository}`] : [`${a.registry}/${a.repository}`])));
}
