import { StringIndex } from './string-index.js';

/** Items by key, in first-seen order; each list in the items' order. */
export function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}

/**
 * Items by key, in first-seen order, as groupBy gives them, for many keys of mostly one
 * item each (a repository's digests: most are one tag's). A key's only item is held as
 * it is; a list is made when a second comes (of two: a list grown by push holds room for
 * 17). At 1,000,000 tags the lists were ~50 MiB of the evaluation's peak. The keys are
 * a StringIndex sized from the items, not V8's Map: its table, grown by doubling, lived
 * until a full collection (12 MiB of one evaluation at 200,000 tags in V8's sampling
 * heap profile; 7 now, string-index.ts). `get` and the
 * iteration hand a one-item key a new list of it each time. Items must not be arrays.
 */
export class Groups<K extends string, T extends object> implements Iterable<[K, readonly T[]]> {
  readonly #keys: StringIndex;
  /** By the key's number: its only item, or its list once a second came. */
  readonly #items: Array<T | T[]> = [];

  constructor(items: readonly T[], key: (t: T) => K) {
    this.#keys = new StringIndex(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const n = this.#keys.add(key(it));
      if (n === this.#items.length) this.#items.push(it);
      else {
        const had = this.#items[n];
        if (Array.isArray(had)) had.push(it);
        else this.#items[n] = [had, it];
      }
    }
  }

  has(k: K): boolean {
    return this.#keys.has(k);
  }

  get(k: K): readonly T[] | undefined {
    const n = this.#keys.indexOf(k);
    return n < 0 ? undefined : this.#list(n);
  }

  *[Symbol.iterator](): Iterator<[K, readonly T[]]> {
    for (let n = 0; n < this.#items.length; n++) yield [this.#key(n), this.#list(n)];
  }

  /** Each key's items, in first-seen order, without the iterator's objects (a result and a pair per key). */
  forEach(f: (items: readonly T[], key: K) => void): void {
    for (let n = 0; n < this.#items.length; n++) f(this.#list(n), this.#key(n));
  }

  /** Each key's first item, in first-seen order: no list made for a key of one. */
  forEachFirst(f: (first: T, key: K) => void): void {
    for (let n = 0; n < this.#items.length; n++) {
      const v = this.#items[n];
      f(Array.isArray(v) ? v[0] : v, this.#key(n));
    }
  }

  #key(n: number): K {
    return this.#keys.at(n) as K;
  }

  #list(n: number): readonly T[] {
    const v = this.#items[n];
    return Array.isArray(v) ? v : [v];
  }
}
