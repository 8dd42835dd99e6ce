import type { Secret } from '../util/secret.js';
import type { RepoSelector } from '../oci/names.js';
import type { CompiledRegex, TagRules } from '../policy/matchers.js';

export type TagDeleteMethod = 'untag' | 'oci' | 'never';

/** A registry as regmgr uses it: an origin, its TLS choice and limits; never a credential. */
export interface RegistryEndpoint {
  name: string;
  /** Origin only, e.g. `https://harbor.example.com:8443`. */
  origin: string;
  /** `host[:port]` as auth files and skopeo name it. */
  host: string;
  plainHttp: boolean;
  insecure: boolean;
  /** ca-file: CA certificates (PEM) to trust for this registry, read at load. */
  ca?: { file: string; pem: string };
  concurrency: number;
  /** The whole of one request (connect, headers, body) may take this long. */
  timeoutMs: number;
  /** Most tags one repository (or repositories one catalog) may list. */
  maxTags: number;
  /** How a tag is removed while its digest stays (tag-delete): auto follows the registry's probed capabilities. */
  tagDelete: TagDeleteMethod | 'auto';
  /** registry: bytes freed are counted over every repository of the catalog, not only those planned. */
  reclaimScope: 'repositories' | 'registry';
  /** The registry's dialect (registry/dialects.ts): the OCI API alone, or a vendor's API beside it. */
  kind?: 'oci' | 'harbor' | 'ghcr' | 'gitlab';
  /** The vendor API's base URL (kind harbor, ghcr). */
  api?: string;
  /** kind ghcr: whose packages are listed; kind gitlab: the group or project whose repositories are. */
  owner?: string;
  /** allow-empty-repository: plans may delete every tag of a repository here. */
  allowEmpty?: boolean;
  /** Explicit repository selection; undefined means "read the catalog". */
  repositories?: RepoSelector[];
  /** username/password as written in the config (after ${VAR}); auth files are read later. */
  configured?: { username: string; password?: Secret };
}

/** An age as written (`30d`) and in milliseconds. */
export interface Duration {
  text: string;
  ms: number;
}

/** One retention rule: a group of candidates, by tag selector (and repository globs). */
export interface RetentionRule {
  /** 1-based, as reasons and messages name it. */
  number: number;
  tags: TagRules;
  /** Repository globs, compiled; undefined: every selected repository. */
  repositories?: CompiledRegex[];
  keepNewest?: number;
  keepWithin?: Duration;
}

export interface DeletePolicy {
  registries: string[];
  start: number;
  dryRun: boolean;
  /** For candidates no rule claims (the seed's pool). */
  mixCount: number;
  keepWithin?: Duration;
  rules: RetentionRule[];
  semVer: boolean;
  include: TagRules;
  exclude: TagRules;
  /** allow-empty-repository. */
  allowEmpty: boolean;
  /** keep-in-use: files saying what is deployed, resolved against the config's folder. */
  keepInUse: string[];
}

export interface ReplaceRule {
  old: string;
  new: string;
}

export interface SyncPolicy {
  from: string;
  to: string;
  start: number;
  dryRun: boolean;
  force: boolean;
  replace: ReplaceRule[];
  /** Empty means every tag. */
  filters: CompiledRegex[];
  /** Delete target tags (matching the filters) that are gone from the source. */
  prune: boolean;
  allowEmpty: boolean;
}

export interface Config {
  /** The path as the user gave it, for messages. */
  file: string;
  registries: Map<string, RegistryEndpoint>;
  deletePolicy?: DeletePolicy;
  syncPolicy?: SyncPolicy;
  statePath: string;
  /** Where the state and the lock live: a file (default) or PostgreSQL. */
  stateBackend: { kind: 'file' } | { kind: 'pg'; workspace: string; connectionEnv: string };
  /** Things worth telling the user about how the config was read (printed on stderr). */
  notices?: string[];
}
