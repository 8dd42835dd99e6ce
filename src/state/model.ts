import type { Digest } from '../oci/names.js';

export const STATE_FORMAT_VERSION = 1;

/** registry -> repository -> tag -> what regmgr last saw there. */
export type StateSnapshot = Record<string, Record<string, Record<string, { digest: Digest; media_type: string }>>>;

/**
 * What regmgr believes the registries hold. `lineage` names this state's history (random,
 * fixed at creation); `serial` grows on every write. A plan records both, and apply
 * refuses a plan made from another lineage or serial (a stale plan).
 */
export interface State {
  format_version: number;
  lineage: string;
  serial: number;
  regmgr_version: string;
  written_at: string;
  written_by: 'apply' | 'refresh' | 'restore';
  /**
   * The apply that wrote this state, with the serial its plan was made from: lets that
   * same plan file resume after an interruption while every other plan from `base_serial`
   * counts as stale (`plan_created_at` tells apart two plans of identical content).
   */
  apply?: { plan_sha256: string; plan_created_at: string; base_serial: number | null; finished: boolean };
  registries: Record<string, { url: string }>;
  snapshot: StateSnapshot;
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
