import { setOwn } from './own-key.js';

/** Object keys sorted at every depth, so equal data serialises to equal bytes. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      // setOwn: a key named __proto__ (a tag) is a key like any other.
      if (v !== undefined) setOwn(out, k, canonical(v));
    }
    return out;
  }
  return value;
}
