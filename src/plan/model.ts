import type { Digest } from '../oci/names.js';
import type { TagVerdict } from '../policy/decision.js';
import type { TagChange } from '../state/model.js';
import type { BytesCopied, BytesFreed } from './bytes.js';
import type { Capabilities } from '../registry/capabilities.js';
import type { Keyed } from '../util/one-key.js';
import type { Reason } from '../policy/reason.js';

// The plan file's shape (schema/plan.schema.json documents it for users). Only
// `actions` drives apply; `snapshot`, `decisions`, `blocked` and `summary` are for
// review and must not influence what apply does.

export const FORMAT_VERSION = 1;

export interface PlanCopy {
  id: string;
  type: 'copy';
  source: { registry: string; repository: string; tag: string; digest: Digest; media_type: string };
  target: { registry: string; repository: string; tag: string; digest_at_plan: Digest | null };
  reason: string;
}

export interface PlanDelete {
  id: string;
  type: 'delete';
  registry: string;
  repository: string;
  digest: Digest;
  media_type: string;
  /** manifest: every tag on the digest; untag/oci: the one tag removed (the digest stays). */
  tags: string[];
  method: 'manifest' | 'untag' | 'oci';
  /** untag/oci: the tags (or multi-arch indexes) that keep the digest. */
  kept_by?: string[];
  /** An attachment (signature, attestation, SBOM): its subject; orphaned when that was gone. */
  attachment_of?: { subject: Digest; orphaned: boolean };
  /** manifest, of an index: its platform manifests that go with it (no tag or kept index uses them). */
  children?: Digest[];
  /** manifest: untagged manifests that name it (or a child, or one of these) as subject (OCI 1.1 referrers), deleted after it. */
  referrers?: Array<{ digest: Digest; subject: Digest; artifact_type: string }>;
  /** sync-policy.prune: a tag of the sync target that is gone from the source. */
  prune?: true;
  /** Each tag's reason. Read from a file, a record of strings; built by plan, one tag's is a OneKey, and a reason may be a RankedReason: both are written as that record. */
  reasons: Keyed<Reason>;
}

export type PlanAction = PlanCopy | PlanDelete;

export interface PlanBlocked {
  type: 'delete';
  registry: string;
  repository: string;
  digest: Digest;
  tags: string[];
  would_lose: Array<{ tag: string; reason: Reason }>;
  reason: string;
}

export interface SnapshotTag {
  digest: Digest;
  media_type: string;
  created?: string | null;
  /** What the image stores, each blob once (manifest, config, layers, platform manifests), where it was read. */
  size?: number;
}

export interface SnapshotRepo {
  missing?: boolean;
  tags: Record<string, SnapshotTag>;
}

export interface Plan {
  format_version: number;
  regmgr_version: string;
  /** Not covered by sha256: two plans of the same data differ only here. */
  created_at: string;
  config: { file: string; sha256: string };
  state: { lineage: string | null; serial: number | null };
  registries: Record<string, { url: string; insecure: boolean }>;
  policies: { delete: string[] | null; sync: { from: string; to: string } | null; target: string[] | null };
  snapshot: Record<string, Record<string, SnapshotRepo>>;
  /** keep-in-use / --in-use: what said which images are deployed, and how old it was. */
  in_use?: Array<{ file: string; format: string; references: number; modified_at: string; age_seconds: number }>;
  /** Every tag's decision per policy: `decisions.delete[registry][repo][tag]`. */
  decisions: { delete: Record<string, Record<string, Record<string, { verdict: TagVerdict; reason: Reason }>>>; sync: Record<string, Record<string, Record<string, { verdict: TagVerdict; reason: Reason }>>>; prune?: Record<string, Record<string, Record<string, { verdict: TagVerdict; reason: Reason }>>> };
  /** Tags that changed since the recorded state, i.e. outside regmgr (display only). */
  changed_outside: TagChange[];
  skipped: Array<{ policy: 'delete' | 'sync'; registry: string; repository: string; reason: string }>;
  actions: PlanAction[];
  blocked: PlanBlocked[];
  /** What selected nothing (a missing repository, a rule matching no tag...): for review. */
  warnings?: string[];
  /** A tag selector with nothing left to match because regmgr deleted what it matched: for review. */
  notes?: string[];
  summary: { copy: number; delete: number; tags_deleted: number; blocked: number };
  /** What the deletes free once garbage collection runs (plans with a delete-policy). For review. */
  bytes?: BytesFreed;
  /** What the copies send: blobs each target repository lacks, and those it has. For review. */
  transfer?: BytesCopied;
  /** What each delete registry can do, as probed when the plan was made. For review: apply does not read it. */
  capabilities?: Record<string, Capabilities>;
  sha256: string;
}

/** A manifest delete is named by its digest; a tag-only removal by its tag (one each). */
export function deleteId(a: { registry: string; repository: string; digest: string; method: string; tags: readonly string[] }): string {
  return a.method === 'manifest' ? `delete ${a.registry}/${a.repository}@${a.digest}` : `delete ${a.registry}/${a.repository}:${a.tags[0]}`;
}
