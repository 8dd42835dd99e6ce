import { createHash } from 'node:crypto';
import type { Plan } from './model.js';

/** Object keys sorted at every depth, so equal data serialises to equal bytes. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/** sha256 over the canonical body without `sha256` and `created_at`. */
export function planHash(plan: Omit<Plan, 'sha256'> | Plan): string {
  const { sha256: _h, created_at: _c, ...body } = plan as Plan;
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest('hex');
}

export function serialisePlan(plan: Plan): string {
  return JSON.stringify(canonical(plan), null, 2) + '\n';
}
