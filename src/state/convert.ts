import type { Repository } from '../oci/names.js';
import type { RegistrySnapshot } from '../snapshot/model.js';
import type { StateSnapshot } from './model.js';

// Two shapes of "what a registry holds": as read (RegistrySnapshot), and as the state
// records it. A plan's own shape is converted in plan/state-view.ts.

export function fromRegistries(snaps: readonly RegistrySnapshot[]): StateSnapshot {
  const out: StateSnapshot = {};
  for (const r of snaps) {
    out[r.name] = {};
    for (const repo of r.repositories) out[r.name][repo.repository] = Object.fromEntries(repo.tags.map((t) => [t.tag, { digest: t.digest, media_type: t.mediaType }]));
  }
  return out;
}

/** Sorted, in the shape `list` renders. */
export function toRegistries(snap: StateSnapshot): RegistrySnapshot[] {
  const sorted = (o: object) => Object.keys(o).sort();
  return sorted(snap).map((name) => ({
    name,
    source: 'config' as const,
    repositories: sorted(snap[name]).map((repo) => ({
      repository: repo as Repository,
      tags: sorted(snap[name][repo]).map((tag) => ({ tag, digest: snap[name][repo][tag].digest, mediaType: snap[name][repo][tag].media_type })),
    })),
  }));
}
