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
  walkCanonical(value, pieces(sink), indent);
}

/**
 * Both texts of a value in one walk: the indented one to `sink` (a plan's file) and the
 * compact one to `compact` (its hash), each the same as writeCanonical would write. The
 * walk is what costs (at 200,000 tags a plan's hash and its file were each ~2.5 s of a
 * profile); the two texts differ only in the space between values. `leaveOut`: keys of
 * the top-level record left out of the compact text (a plan's hash is over its body
 * without `sha256` and `created_at`). `reached(key)` runs when the indented text has
 * been handed to `sink` up to a top-level key's value, which comes next.
 */
export function writeCanonicalPair(value: unknown, sink: (piece: string) => void, indent: string, compact: { sink: (piece: string) => void; leaveOut: ReadonlySet<string>; reached?: (key: string) => void }): void {
  walkCanonical(value, pieces(sink), indent, { out: pieces(compact.sink), leaveOut: compact.leaveOut, reached: compact.reached });
}

type Pieces = ReturnType<typeof pieces>;

/**
 * `keys.sort()`'s order (by UTF-16 code units), in place. A few keys (a decision's
 * verdict and reason, an action's ten) by insertion: sort() copies the array into work
 * space of its own, ~2 KB of garbage a tag in a plan whose per-tag records are out of
 * order (docs/performance.md, a nineteenth pass). Many keys (a map of tags) by sort().
 */
export function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > k) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = k;
  }
}

function walkCanonical(value: unknown, p: Pieces, indent: string, also?: { out: Pieces; leaveOut: ReadonlySet<string>; reached?: (key: string) => void }): void {
  const colon = indent ? ': ' : ':';
  // What starts a line at each depth (a newline and the indent, or nothing when compact),
  // made once per depth, not once per value: at 20,000 tags the writer's small strings
  // and closures made it ~3x JSON.stringify's time.
  const lines: string[] = [];
  const line = (depth: number) => lines[depth] ?? (lines[depth] = indent ? `\n${indent.repeat(depth)}` : '');
  // The compact copy, when one is made: undefined while a value left out of it is walked.
  let c = also?.out;
  const both = (s: string) => {
    c?.put(s);
    p.put(s);
  };
  // `key` is what JSON.stringify hands a toJSON(): an array's index made a string only for one.
  const walk = (value: unknown, depth: number, key: string | number): void => {
    if (typeof value === 'string') return both(str(value));
    if (value === null || typeof value !== 'object') {
      // undefined (an array's hole) is null, as JSON.stringify writes it.
      return both(value === undefined ? 'null' : JSON.stringify(value));
    }
    const inner = line(depth + 1);
    if (value instanceof OneKey) {
      // The record it stands for, written without making it: each would get a hidden
      // class of its own, one a delete, each time the plan is hashed and written.
      if (!isJsonValue(value.value)) return both('{}');
      const k = str(value.key);
      c?.put(`{${k}:`);
      p.put(`{${inner}${k}${colon}`);
      walk(value.value, depth + 1, value.key);
      c?.put('}');
      return p.put(`${line(depth)}}`);
    }
    if (value instanceof KeyedNumbers) {
      // The record, by key, one key made at a time (keyed-numbers.ts).
      if (!value.size) return both('{}');
      let sep = '{';
      for (const [k, n] of value.sorted()) {
        const q = str(k);
        const v = JSON.stringify(n);
        c?.put(`${sep}${q}:${v}`);
        p.put(`${sep}${inner}${q}${colon}${v}`);
        sep = ',';
      }
      c?.put('}');
      return p.put(`${line(depth)}}`);
    }
    const v = asJson(value, typeof key === 'number' ? String(key) : key);
    if (v === null || typeof v !== 'object') return walk(v, depth, key);
    if (Array.isArray(v)) {
      if (!v.length) return both('[]');
      c?.put('[');
      p.put(`[${inner}`);
      const next = `,${inner}`;
      for (let i = 0; i < v.length; i++) {
        if (i) {
          c?.put(',');
          p.put(next);
        }
        walk(v[i], depth + 1, i);
      }
      c?.put(']');
      return p.put(`${line(depth)}]`);
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    // Most records are built in key order already: a look costs less than sorting.
    for (let i = 1; i < keys.length; i++) {
      if (keys[i - 1] > keys[i]) {
        sortKeys(keys);
        break;
      }
    }
    // Each text's separator apart: a key left out of the compact text is not written there.
    let sep = '{';
    let csep = '{';
    const top = depth === 0 && also !== undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const x = o[k];
      if (x === undefined) continue;
      const q = str(k);
      const shared = c;
      if (top && also.leaveOut.has(k)) c = undefined;
      c?.put(`${csep}${q}:`);
      if (c) csep = ',';
      p.put(`${sep}${inner}${q}${colon}`);
      sep = ',';
      if (top && also.reached) {
        p.end();
        also.reached(k);
      }
      walk(x, depth + 1, k);
      c = shared;
    }
    if (csep === '{') c?.put('{}');
    else c?.put('}');
    p.put(sep === '{' ? '{}' : `${line(depth)}}`);
  };
  walk(value, 0, '');
  also?.out.end();
  p.end();
}

// Most strings here (tags, digests, reasons) need no escape: quoting them directly is
// several times faster than JSON.stringify, and gives the same bytes.
const str = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

// What JSON.stringify escapes: quote, backslash, control characters, lone surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
