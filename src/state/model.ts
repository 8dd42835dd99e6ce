import type { Digest } from '../oci/names.js';

export const STATE_FORMAT_VERSION = 1;

/** registry -> repository -> tag -> what regmgr last saw there (and the image's size, where a plan read it). */
export type StateSnapshot = Record<string, Record<string, Record<string, { digest: Digest; media_type: string; size?: number }>>>;

/** registry -> repository -> names of tags regmgr deleted there, oldest first. */
export type DeletedTags = Record<string, Record<string, string[]>>;

/** How many writes the history keeps, and how many deleted tag names per repository. */
export const HISTORY_LIMIT = 100;
export const DELETED_TAGS_LIMIT = 1000;

/**
 * One write of the state. An apply names its plan and the repositories it changed, so a
 * later apply or `plan --check` can say which apply changed what a plan relied on.
 */
export interface StateEvent {
  serial: number;
  written_by: 'apply' | 'refresh' | 'restore';
  written_at: string;
  plan_sha256?: string;
  plan_created_at?: string;
  finished?: boolean;
  /** `registry/repository` of every repository the write changed (applies and restores). */
  changed?: string[];
}

/**
 * What regmgr believes the registries hold, and what it did to them. `lineage` names this
 * state's history (random, fixed at creation); `serial` grows on every write. A plan
 * records both for review; apply does not refuse a plan for them (it re-checks every
 * action on live data instead) but uses `history` to say which apply changed what the
 * plan relied on.
 */
export interface State {
  format_version: number;
  lineage: string;
  serial: number;
  regmgr_version: string;
  written_at: string;
  written_by: 'apply' | 'refresh' | 'restore';
  /** The apply that wrote this state (kept for `state show`; `history` has them all). */
  apply?: { plan_sha256: string; plan_created_at: string; base_serial: number | null; finished: boolean };
  registries: Record<string, { url: string }>;
  snapshot: StateSnapshot;
  /** The last HISTORY_LIMIT writes, oldest first (states written before 0.2 have none). */
  history?: StateEvent[];
  /**
   * Tags regmgr deleted: lets `plan` tell a rule that has nothing left to match because
   * regmgr deleted what it matched (a finished cleanup) from one that never matched (a typo).
   */
  deleted_tags?: DeletedTags;
}

/** One difference between a recorded and a live (or newer) view of a tag. */
export interface TagChange {
  registry: string;
  repository: string;
  tag: string;
  change: 'added' | 'removed' | 'moved';
  before: Digest | null;
  after: Digest | null;
}
