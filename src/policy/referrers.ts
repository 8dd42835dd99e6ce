import type { Digest } from '../oci/names.js';
import type { DeleteAction } from './decision.js';
import type { Evaluation, RepoMap } from './evaluate.js';

/** A referrer as the registry listed it: what the plan needs of it. */
export interface FoundReferrer {
  digest: Digest;
  artifactType: string;
}

/** Referrers read so far, by `registry/repository`, then subject digest. */
export type ReferrersFound = ReadonlyMap<string, ReadonlyMap<Digest, readonly FoundReferrer[]>>;

/** How deep a chain of referrers is followed (a signature of an SBOM of an image: 2). */
export const REFERRER_DEPTH = 3;

/**
 * Untagged attachments (OCI 1.1 `subject`) follow their subject: a manifest delete takes
 * along every untagged manifest that refers to its digest or to one of the platform
 * manifests it takes, and their referrers in turn. Pure: it returns the subjects whose
 * referrers it still needs (where the registry answers the referrers API), and fills
 * each action's `referrers` only once it has them all. A referrer that any tag points at
 * is not taken: its tags decide (cosign's tag names already follow their subject; any
 * other tag keeps it). Kept images' referrers are never asked for: they stay.
 */
export function attachReferrers(evaluation: Evaluation, repos: RepoMap, hasApi: (registry: string) => boolean, found: ReferrersFound): Array<{ registry: string; repository: string; digest: Digest }> {
  const needs: Array<{ registry: string; repository: string; digest: Digest }> = [];
  const plans: Array<{ a: DeleteAction; list: NonNullable<DeleteAction['referrers']> }> = [];
  for (const d of [...evaluation.deletes, ...evaluation.prunes]) {
    if (!hasApi(d.registry)) continue;
    const key = `${d.registry}/${d.repository}`;
    const known = found.get(key);
    const tagged = new Set((repos.get(d.registry)?.get(d.repository)?.tags ?? []).map((t) => t.digest));
    const deleted = new Set(d.result.actions.filter((a) => a.method === 'manifest').flatMap((a) => [a.digest, ...(a.children ?? [])]));
    const claimed = new Set<Digest>();
    for (const a of d.result.actions) {
      if (a.method !== 'manifest') continue;
      const list: NonNullable<DeleteAction['referrers']> = [];
      let level: Digest[] = [a.digest, ...(a.children ?? [])];
      for (let depth = 0; level.length && depth < REFERRER_DEPTH; depth++) {
        const next: Digest[] = [];
        for (const subject of level) {
          const refs = known?.get(subject);
          if (!refs) {
            needs.push({ registry: d.registry, repository: d.repository, digest: subject });
            continue;
          }
          for (const r of refs) {
            if (tagged.has(r.digest) || deleted.has(r.digest) || claimed.has(r.digest)) continue;
            claimed.add(r.digest);
            list.push({ digest: r.digest, subject, artifactType: r.artifactType });
            next.push(r.digest);
          }
        }
        level = next;
      }
      plans.push({ a, list });
    }
  }
  if (needs.length) return needs;
  for (const { a, list } of plans) if (list.length) a.referrers = list;
  return [];
}
