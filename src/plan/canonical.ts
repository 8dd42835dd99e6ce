import { createHash } from 'node:crypto';
import type { Plan } from './model.js';
import { writeCanonical } from '../util/canonical.js';

export { canonical, writeCanonical } from '../util/canonical.js';

/** sha256 over the canonical body without `sha256` and `created_at`. */
export function planHash(plan: Omit<Plan, 'sha256'> | Plan): string {
  const { sha256: _h, created_at: _c, ...body } = plan as Plan;
  return canonicalHash(body);
}

/** The keys planHash leaves out, for a hash made as the file is written (writeNewPlanFile). */
export const PLAN_HASH_LEAVES_OUT: ReadonlySet<string> = new Set(['sha256', 'created_at']);

/**
 * sha256 of a value's canonical JSON, made in pieces: two values are compared by it
 * where the text of one (a million tags' actions) may be longer than a string holds.
 */
export function canonicalHash(value: unknown): string {
  const hash = createHash('sha256');
  writeCanonical(value, (s) => hash.update(s));
  return hash.digest('hex');
}

/** The plan file's text, in pieces. */
export function writePlanText(plan: Plan, sink: (piece: string) => void): void {
  writeCanonical(plan, sink, '  ');
  sink('\n');
}
