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
 * 17). At 1,000,000 tags the lists were ~50 MiB of the evaluation's peak. `get` and the
 * iteration hand a one-item key a new list of it each time. Items must not be arrays.
 */
export class Groups<K, T extends object> implements Iterable<[K, readonly T[]]> {
  readonly #by = new Map<K, T | T[]>();

  constructor(items: Iterable<T>, key: (t: T) => K) {
    for (const it of items) {
      const k = key(it);
      const had = this.#by.get(k);
      if (had === undefined) this.#by.set(k, it);
      else if (Array.isArray(had)) had.push(it);
      else this.#by.set(k, [had, it]);
    }
  }

  has(k: K): boolean {
    return this.#by.has(k);
  }

  get(k: K): readonly T[] | undefined {
    const v = this.#by.get(k);
    return v === undefined ? undefined : Array.isArray(v) ? v : [v];
  }

  *[Symbol.iterator](): Iterator<[K, readonly T[]]> {
    for (const [k, v] of this.#by) yield [k, Array.isArray(v) ? v : [v]];
  }

  /**
   * Each key's items, in first-seen order, without the iterator's objects: the iteration
   * makes a result, an entry and a pair per key (with the one-item list, ~300 bytes a
   * digest each time a repository of 1,000,000 tags is gone through; the delete policy
   * goes through it twice).
   */
  forEach(f: (items: readonly T[], key: K) => void): void {
    this.#by.forEach((v, k) => f(Array.isArray(v) ? v : [v], k));
  }

  /** Each key's first item, in first-seen order: no list made for a key of one. */
  forEachFirst(f: (first: T, key: K) => void): void {
    this.#by.forEach((v, k) => f(Array.isArray(v) ? v[0] : v, k));
  }
}
