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

/**
 * Object keys sorted at every depth, so equal data serialises to equal bytes. A copy
 * made of objects lists keys that look like array indexes ("9", "10") first, in numeric
 * order, whatever order they are set in: its JSON.stringify is writeCanonical's text
 * except for such keys.
 */
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
 * The text of a plan's hash and of its file: JSON.stringify's bytes for every value, the
 * keys of every record in code-unit order (a tag "10" before "9", which canonical()'s copy
 * cannot keep), written in pieces of about 64 KiB to `sink`, without a sorted copy or the
 * whole text in memory: a plan of 100,000 tags was three copies of itself (object, text,
 * pretty text) at its peak.
 */
export function writeCanonical(value: unknown, sink: (piece: string) => void, indent = ''): void {
  const { put, end } = pieces(sink);
  const colon = indent ? ': ' : ':';
  // What starts a line at each depth (a newline and the indent, or nothing when compact),
  // made once per depth, not once per value: the writer walks every value of a plan
  // twice (its hash, its file), and at 20,000 tags its small strings and closures made
  // it ~3x JSON.stringify's time.
  const lines: string[] = [];
  const line = (depth: number) => lines[depth] ?? (lines[depth] = indent ? `\n${indent.repeat(depth)}` : '');
  // `key` is what JSON.stringify hands a toJSON(): an array's index made a string only for one.
  const walk = (value: unknown, depth: number, key: string | number): void => {
    if (typeof value === 'string') return put(str(value));
    if (value === null || typeof value !== 'object') {
      // undefined (an array's hole) is null, as JSON.stringify writes it.
      return put(value === undefined ? 'null' : JSON.stringify(value));
    }
    const inner = line(depth + 1);
    if (value instanceof OneKey) {
      // The record it stands for, written without making it: each would get a hidden
      // class of its own, one a delete, each time the plan is hashed and written.
      if (!isJsonValue(value.value)) return put('{}');
      put(`{${inner}${str(value.key)}${colon}`);
      walk(value.value, depth + 1, value.key);
      return put(`${line(depth)}}`);
    }
    if (value instanceof KeyedNumbers) {
      // The record, by key, one key made at a time (keyed-numbers.ts).
      if (!value.size) return put('{}');
      let sep = '{';
      for (const [k, n] of value.sorted()) {
        put(`${sep}${inner}${str(k)}${colon}${JSON.stringify(n)}`);
        sep = ',';
      }
      return put(`${line(depth)}}`);
    }
    const v = asJson(value, typeof key === 'number' ? String(key) : key);
    if (v === null || typeof v !== 'object') return walk(v, depth, key);
    if (Array.isArray(v)) {
      if (!v.length) return put('[]');
      put(`[${inner}`);
      const next = `,${inner}`;
      for (let i = 0; i < v.length; i++) {
        if (i) put(next);
        walk(v[i], depth + 1, i);
      }
      return put(`${line(depth)}]`);
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    // Most records are built in key order already: a look costs less than sort()'s call.
    for (let i = 1; i < keys.length; i++) {
      if (keys[i - 1] > keys[i]) {
        keys.sort();
        break;
      }
    }
    let sep = '{';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const x = o[k];
      if (x === undefined) continue;
      put(`${sep}${inner}${str(k)}${colon}`);
      sep = ',';
      walk(x, depth + 1, k);
    }
    put(sep === '{' ? '{}' : `${line(depth)}}`);
  };
  walk(value, 0, '');
  end();
}

// Most strings here (tags, digests, reasons) need no escape: quoting them directly is
// several times faster than JSON.stringify, and gives the same bytes.
const str = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

// What JSON.stringify escapes: quote, backslash, control characters, lone surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
