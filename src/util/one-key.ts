import { getOwn, setOwn } from './own-key.js';

/**
 * `{ [key]: value }`, held as two fields and written as that record (its toJSON, which
 * the plan's writers follow as JSON.stringify does). Why: V8 gives an object a hidden
 * class per set of key names, and a record keyed by a tag has a key no other object
 * has, so each one carried a class of its own. A plan's deletes are mostly one tag each
 * (`reasons: { "dev-1": "..." }`): at 100,000 tags those classes were 11 MiB of the
 * plan's ~85, ~180 bytes a delete against ~20 for this (a Map or a null-prototype
 * object is no smaller: they are tables of their own).
 */
export class OneKey<V> {
  constructor(
    readonly key: string,
    readonly value: V,
  ) {}

  toJSON(): Record<string, V> {
    const out: Record<string, V> = {};
    setOwn(out, this.key, this.value);
    return out;
  }
}

/** A record as read from a file, or one key held as a OneKey. */
export type Keyed<V> = Record<string, V> | OneKey<V>;

/** The value of an own key, or undefined (never an inherited one). */
export function keyedGet<V>(r: Keyed<V> | undefined, key: string): V | undefined {
  if (r instanceof OneKey) return r.key === key ? r.value : undefined;
  return getOwn(r, key);
}

/** `r` with `key` set to `value`: a record once there are two keys. */
export function keyedSet<V>(r: Keyed<V>, key: string, value: V): Keyed<V> {
  if (r instanceof OneKey) {
    if (r.key === key) return new OneKey(key, value);
    r = r.toJSON();
  }
  setOwn(r, key, value);
  return r;
}
