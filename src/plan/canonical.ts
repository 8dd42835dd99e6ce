import { createHash } from 'node:crypto';
import type { Plan } from './model.js';
import { pieces } from '../util/pieces.js';

export { canonical } from '../util/canonical.js';

/**
 * The bytes of JSON.stringify(canonical(value), null, indent), written in pieces of
 * about 64 KiB to `sink`, without the sorted copy or the whole text in memory: a plan of
 * 100,000 tags was three copies of itself (object, text, pretty text) at its peak.
 */
export function writeCanonical(value: unknown, sink: (piece: string) => void, indent = ''): void {
  const { put, end } = pieces(sink);
  // Most strings here (tags, digests, reasons) need no escape: quoting them directly
  // is several times faster than JSON.stringify, and gives the same bytes.
  const str = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);
  const nl = indent ? '\n' : '';
  const colon = indent ? ': ' : ':';
  const walk = (v: unknown, pad: string): void => {
    if (v === null || typeof v !== 'object') {
      // undefined (an array's hole) is null, as JSON.stringify writes it.
      put(v === undefined ? 'null' : typeof v === 'string' ? str(v) : JSON.stringify(v));
      return;
    }
    const inner = pad + indent;
    if (Array.isArray(v)) {
      if (!v.length) return put('[]');
      put('[');
      v.forEach((x, i) => {
        put(`${i ? ',' : ''}${nl}${inner}`);
        walk(x, inner);
      });
      return put(`${nl}${pad}]`);
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    if (!keys.length) return put('{}');
    put('{');
    keys.forEach((k, i) => {
      put(`${i ? ',' : ''}${nl}${inner}${str(k)}${colon}`);
      walk(o[k], inner);
    });
    put(`${nl}${pad}}`);
  };
  walk(value, '');
  end();
}

// What JSON.stringify escapes: quote, backslash, control characters, lone surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** sha256 over the canonical body without `sha256` and `created_at`. */
export function planHash(plan: Omit<Plan, 'sha256'> | Plan): string {
  const { sha256: _h, created_at: _c, ...body } = plan as Plan;
  const hash = createHash('sha256');
  writeCanonical(body, (s) => hash.update(s));
  return hash.digest('hex');
}

/** The plan file's text, in pieces. */
export function writePlanText(plan: Plan, sink: (piece: string) => void): void {
  writeCanonical(plan, sink, '  ');
  sink('\n');
}
