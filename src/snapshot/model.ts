import type { Digest, Repository } from '../oci/names.js';

/** What a registry held when it was read: the only input the pure policy code sees. */
export interface TagEntry {
  tag: string;
  digest: Digest;
  mediaType: string;
  /** Image creation time, read only where a decision needs it (mix-count ordering). */
  /** null: read, but the image has no readable creation time. */
  created?: string | null;
}

export interface RepoSnapshot {
  repository: Repository;
  /** Sorted by tag name. */
  tags: TagEntry[];
  /** The registry answered NAME_UNKNOWN: the repository does not exist (yet). */
  missing?: boolean;
}

export interface RegistrySnapshot {
  name: string;
  /** Where the repository list came from. */
  source: 'config' | 'catalog';
  /** Sorted by repository name. */
  repositories: RepoSnapshot[];
}

export interface Snapshot {
  registries: RegistrySnapshot[];
}

export function byName<T extends { tag: string } | { repository: string } | { name: string }>(a: T, b: T): number {
  const ka = 'tag' in a ? a.tag : 'repository' in a ? a.repository : a.name;
  const kb = 'tag' in b ? b.tag : 'repository' in b ? b.repository : b.name;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
