import type { Digest, Repository } from '../oci/names.js';
import type { Capabilities } from './capabilities.js';
import type { Referrer } from './client.js';

/** The repositories a registry's config selects, and where the list came from. */
export interface RepositoryList {
  repositories: Repository[];
  /** catalog: the registry's own full list (its catalog, or a vendor API's listing). */
  source: 'config' | 'catalog';
}

/**
 * What differs between registries. The OCI distribution API does everything it can
 * (oci-dialect.ts); a vendor whose OCI API falls short (no catalog, no DELETE) would
 * answer these through its own API. The rest of regmgr (reads of tags and manifests,
 * copies with skopeo) is plain OCI everywhere. Policy, plan and apply see what a dialect
 * answers and its capabilities, never which one it is.
 */
export interface Dialect {
  /** How it talks to the registry, for messages only ("the OCI distribution API"). */
  readonly via: string;
  /** The repositories the config selects: its explicit list, else every one the registry lists. */
  listRepositories(): Promise<RepositoryList>;
  /** Every repository the registry lists to these credentials, whatever the config selects. */
  allRepositories(): Promise<Repository[]>;
  /** What the registry can do, probed with requests that change nothing. */
  capabilities(repo: Repository): Promise<Capabilities>;
  /** Untagged manifests that name `digest` as subject; only where capabilities say `referrers`. */
  attachments(repo: Repository, digest: Digest): Promise<Referrer[]>;
  /**
   * Deletes a manifest by digest (every tag on it goes with it). `expectTags`: the tags
   * the caller saw on it just before; a dialect whose API lists an image's tags refuses
   * when they differ (RefusedByRegistry), since its delete may not be the OCI one.
   */
  deleteImage(repo: Repository, digest: Digest, expectTags?: readonly string[]): Promise<'deleted' | 'absent'>;
  /** Deletes one tag, its manifest staying; 'unsupported' where the registry cannot. */
  deleteTag(repo: Repository, tag: string): Promise<'deleted' | 'absent' | 'unsupported'>;
  /**
   * Puts a deleted image back through the registry's own API, where the registry keeps
   * deleted images (GHCR: 30 days): 'restored', or 'unavailable' (restore then PUTs the
   * journal's saved manifest, as everywhere else).
   */
  restoreImage?(repo: Repository, digest: Digest): Promise<'restored' | 'unavailable'>;
  close(): Promise<void>;
}
