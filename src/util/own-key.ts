// Objects keyed by names from a registry (tags): `o[tag] = v` with the tag `__proto__`
// (valid in the distribution grammar) sets o's prototype instead of a key, and `o[tag]`
// reads Object.prototype where there is no such key. The plan's and the state's records
// go through these two instead.

/** Sets an own, enumerable key, whatever its name. */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  else o[key] = value;
}

/** A record of each item's value by its key (a loop: fromEntries makes an array per item). */
export function ownRecord<T, V>(items: Iterable<T>, key: (t: T) => string, value: (t: T) => V): Record<string, V> {
  const out: Record<string, V> = {};
  for (const t of items) setOwn(out, key(t), value(t));
  return out;
}

/** The value of an own key, or undefined (never an inherited one). */
export function getOwn<T>(o: Record<string, T> | undefined, key: string): T | undefined {
  return o !== undefined && Object.hasOwn(o, key) ? o[key] : undefined;
}
