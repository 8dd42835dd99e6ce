import { getOwn, setOwn } from './own-key.js';

/**
 * A record of numbers with many keys, each key made of parts other objects already
 * hold: the bytes each deleted manifest frees alone (`registry/repository@digest` ->
 * bytes). Held as a record, each key was a string of its own and a slot in the record's
 * table (~180 bytes a delete: 8 MiB at 100,000 tags, held from the bytes count to the
 * end); here it is the caller's list of items, a number each and their order by key
 * (~20 bytes), and a key is made when it is written or looked up. The plan's writers
 * write it as the record it stands for (canonical.ts, json-lines.ts), and toJSON makes
 * that record. Keys must not look like array indexes (a record lists those first).
 */
export class KeyedNumbers {
  /** The items with a value, by key; one item per key. */
  private readonly byKey: Uint32Array;
  private index?: Map<string, number>;

  /**
   * `values[i]` is item i's number, NaN for none; `keyAt(i)` its key; `compare(i, j)`
   * orders two items as their keys compare (0: the same key). A key given twice keeps
   * its first place and its last number, as a record assigned in item order does.
   */
  constructor(
    private readonly keyAt: (i: number) => string,
    private readonly values: Float64Array,
    compare: (i: number, j: number) => number,
  ) {
    let n = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) n++;
    const order = new Uint32Array(n);
    n = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) order[n++] = i;
    order.sort((i, j) => compare(i, j) || i - j);
    let kept = 0;
    for (let k = 0; k < order.length; k++) {
      let last = k;
      while (last + 1 < order.length && compare(order[k], order[last + 1]) === 0) last++;
      // The first place, the last number; the others go.
      values[order[k]] = values[order[last]];
      for (let d = k + 1; d <= last; d++) values[order[d]] = NaN;
      order[kept++] = order[k];
      k = last;
    }
    this.byKey = order.subarray(0, kept);
  }

  get size(): number {
    return this.byKey.length;
  }

  /** Each key and its number, by key (as the plan file and its hash write them). */
  *sorted(): Generator<[string, number], void, undefined> {
    for (const i of this.byKey) yield [this.keyAt(i), this.values[i]];
  }

  /** Each key and its number in the order the record holds them (as JSON.stringify writes it). */
  *inserted(): Generator<[string, number], void, undefined> {
    for (let i = 0; i < this.values.length; i++) if (!Number.isNaN(this.values[i])) yield [this.keyAt(i), this.values[i]];
  }

  /** A key's number; the first look-up makes a map of them all (only the text renderings look up). */
  get(key: string): number | undefined {
    if (!this.index) {
      this.index = new Map();
      for (const [k, n] of this.inserted()) this.index.set(k, n);
    }
    return this.index.get(key);
  }

  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of this.inserted()) setOwn(out, k, n);
    return out;
  }
}

/** A record as read from a file, or one held as KeyedNumbers: a key's number, never an inherited one. */
export function keyedNumber(r: Record<string, number> | KeyedNumbers | undefined, key: string): number | undefined {
  return r instanceof KeyedNumbers ? r.get(key) : getOwn(r, key);
}
