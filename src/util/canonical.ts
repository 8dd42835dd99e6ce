import { setOwn } from './own-key.js';
import { OneKey } from './one-key.js';
import { KeyedNumbers } from './keyed-numbers.js';
import { pieces } from './pieces.js';

/**
 * What JSON.stringify writes for a value: its toJSON()'s result where it has one. The
 * plan holds some records and reasons in a smaller form that says how it is written
 * (one-key.ts, policy/reason.ts); data read from a file has no functions, so this
 * changes nothing for it.
 */
export function asJson(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(k: string): unknown }).toJSON(key) : value;
}

/** Whether JSON.stringify writes an object's key with this value (it leaves out undefined, functions, symbols). */
export function isJsonValue(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
}

/** Object keys sorted at every depth, so equal data serialises to equal bytes. */
export function canonical(value: unknown, key = ''): unknown {
  value = asJson(value, key);
  if (Array.isArray(value)) return value.map((v, i) => canonical(v, String(i)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      // setOwn: a key named __proto__ (a tag) is a key like any other.
      if (v !== undefined) setOwn(out, k, canonical(v, k));
    }
    return out;
  }
  return value;
}

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
  const walk = (value: unknown, pad: string, key: string): void => {
    if (value instanceof OneKey) {
      // The record it stands for, written without making it: each would get a hidden
      // class of its own, one a delete, each time the plan is hashed and written.
      if (!isJsonValue(value.value)) return put('{}');
      put(`{${nl}${pad + indent}${str(value.key)}${colon}`);
      walk(value.value, pad + indent, value.key);
      return put(`${nl}${pad}}`);
    }
    if (value instanceof KeyedNumbers) {
      // The record, by key, one key made at a time (keyed-numbers.ts).
      if (!value.size) return put('{}');
      let sep = '{';
      for (const [k, n] of value.sorted()) {
        put(`${sep}${nl}${pad + indent}${str(k)}${colon}${JSON.stringify(n)}`);
        sep = ',';
      }
      return put(`${nl}${pad}}`);
    }
    const v = asJson(value, key);
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
        walk(x, inner, String(i));
      });
      return put(`${nl}${pad}]`);
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    if (!keys.length) return put('{}');
    put('{');
    keys.forEach((k, i) => {
      put(`${i ? ',' : ''}${nl}${inner}${str(k)}${colon}`);
      walk(o[k], inner, k);
    });
    put(`${nl}${pad}}`);
  };
  walk(value, '', '');
  end();
}

// What JSON.stringify escapes: quote, backslash, control characters, lone surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
