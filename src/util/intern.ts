/**
 * One string for equal values: each returns the first copy it was given, for up to `max`
 * distinct values (past that, a value is returned as it is, so memory stays bounded).
 * For strings kept by the hundred thousand (digests, reasons) that arrive as fresh copies.
 */
export function interner<T extends string>(max: number): (s: T) => T {
  const known = new Map<T, T>();
  return (s) => {
    const k = known.get(s);
    if (k !== undefined) return k;
    if (known.size < max) known.set(s, s);
    return s;
  };
}
