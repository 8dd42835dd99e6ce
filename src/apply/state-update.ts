import type { Plan } from '../plan/model.js';
import type { DeletedTags, StateSnapshot } from '../state/model.js';
import { setOwn } from '../util/own-key.js';

// What an apply adds to the state: the snapshot after its finished actions, the
// repositories it changed, the tags it deleted. Pure.

/**
 * What the registries hold after the plan's finished actions, starting from `base`
 * (the recorded state with the plan's reads laid over it).
 */
export function applyDone(base: StateSnapshot, plan: Plan, done: ReadonlySet<string>, restored: ReadonlyMap<string, ReadonlySet<string>> = new Map()): StateSnapshot {
  const out: StateSnapshot = structuredClone(base);
  for (const a of plan.actions) {
    if (!done.has(a.id)) continue;
    if (a.type === 'copy') {
      const repo = ((out[a.target.registry] ??= {})[a.target.repository] ??= {});
      setOwn(repo, a.target.tag, { digest: a.source.digest, media_type: a.source.media_type });
    } else {
      const repo = out[a.registry]?.[a.repository];
      if (repo) for (const t of a.tags) delete repo[t];
      // A tag moved onto the digest during apply, lost to the DELETE and put back.
      for (const t of restored.get(a.id) ?? []) setOwn(((out[a.registry] ??= {})[a.repository] ??= {}), t, { digest: a.digest, media_type: a.media_type });
    }
  }
  return out;
}

/** `registry/repository` of every repository a finished action changed. */
export function changedBy(plan: Plan, done: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const a of plan.actions) if (done.has(a.id)) out.add(a.type === 'copy' ? `${a.target.registry}/${a.target.repository}` : `${a.registry}/${a.repository}`);
  return [...out].sort();
}

/** The tags the finished deletes removed. */
export function deletedBy(plan: Plan, done: ReadonlySet<string>): DeletedTags {
  const out: DeletedTags = {};
  for (const a of plan.actions) if (a.type === 'delete' && done.has(a.id)) ((out[a.registry] ??= {})[a.repository] ??= []).push(...a.tags);
  for (const repos of Object.values(out)) for (const tags of Object.values(repos)) tags.sort();
  return out;
}
