import type { Digest } from '../oci/names.js';

/** What the policy decided for one tag, and why in words a reviewer reads. */
export type TagVerdict = 'delete' | 'keep' | 'blocked' | 'copy' | 'up-to-date' | 'skip';

export interface TagDecision {
  tag: string;
  digest: Digest;
  verdict: TagVerdict;
  reason: string;
}

export interface DeleteAction {
  type: 'delete';
  registry: string;
  repository: string;
  digest: Digest;
  mediaType: string;
  /** Every tag that points at the digest; all of them are removed. */
  tags: string[];
  /** 'manifest': DELETE by digest (removes every tag on it). */
  method: 'manifest';
  reasons: Record<string, string>;
}

export interface BlockedItem {
  type: 'delete';
  registry: string;
  repository: string;
  digest: Digest;
  /** Tags the policy wanted deleted. */
  tags: string[];
  /** Kept tags (or indexes) that deleting the digest would take with it. */
  wouldLose: Array<{ tag: string; reason: string }>;
  reason: string;
}

export interface CopyAction {
  type: 'copy';
  source: { registry: string; repository: string; tag: string; digest: Digest; mediaType: string };
  target: { registry: string; repository: string; tag: string; digestAtPlan: Digest | null };
  reason: string;
}
