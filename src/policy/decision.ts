import type { Digest } from '../oci/names.js';
import type { Keyed } from '../util/one-key.js';
import type { Reason } from './reason.js';

/** What the policy decided for one tag, and why in words a reviewer reads. */
export type TagVerdict = 'delete' | 'keep' | 'blocked' | 'copy' | 'up-to-date' | 'skip';

export interface TagDecision {
  tag: string;
  verdict: TagVerdict;
  /** Words, or a RankedReason held as its parts (String() gives its text). */
  reason: Reason;
}

export interface DeleteAction {
  type: 'delete';
  registry: string;
  repository: string;
  digest: Digest;
  mediaType: string;
  /** manifest: every tag that points at the digest (all removed); untag/oci: the one tag removed. */
  tags: string[];
  /**
   * manifest: DELETE by digest (removes every tag on it). untag: PUT a unique empty
   * manifest to the tag, then DELETE that. oci: DELETE by tag. The last two keep the digest.
   */
  method: 'manifest' | 'untag' | 'oci';
  /** untag/oci: the tags (or indexes) that keep the digest. */
  keptBy?: string[];
  /** For an attachment: its subject, and whether the subject was already gone (orphaned). */
  attachmentOf?: { subject: Digest; orphaned: boolean };
  /**
   * A deleted index's platform manifests that go with it: no tag and no kept index of the
   * repository references them (distribution's garbage collection keeps every manifest of
   * a repository, so left alone they would keep their layers for ever).
   */
  children?: Digest[];
  /**
   * Untagged manifests whose `subject` is this digest, one of its children, or another
   * of these (OCI 1.1 referrers: signatures, SBOMs, attestations), deleted with it.
   */
  referrers?: Array<{ digest: Digest; subject: Digest; artifactType: string }>;
  /** Each tag's reason: one key (most deletes) held as a OneKey. */
  reasons: Keyed<Reason>;
}

export interface BlockedItem {
  type: 'delete';
  registry: string;
  repository: string;
  digest: Digest;
  /** Tags the policy wanted deleted. */
  tags: string[];
  /** Kept tags (or indexes) that deleting the digest would take with it. */
  wouldLose: Array<{ tag: string; reason: Reason }>;
  reason: string;
}

export interface CopyAction {
  type: 'copy';
  source: { registry: string; repository: string; tag: string; digest: Digest; mediaType: string };
  target: { registry: string; repository: string; tag: string; digestAtPlan: Digest | null };
  reason: string;
}
