/**
 * An image config's `created`, as regmgr keeps it: an RFC 3339 time of at most 64
 * characters (Go writes nanoseconds and a zone), normalised to `Date.toISOString()`, or
 * null when it is missing or anything else. The value comes from whoever pushed the
 * image: nothing longer, looser ("xxxxxxxxxx 2000" parses in JavaScript) or outside
 * years 0000-9999 reaches a plan. Pure.
 */
export function normaliseCreated(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 64 || !RFC3339.test(raw)) return null;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** A creation time later than the plan's by more than this is unknown: clocks drift a little, pushers may lie. */
export const FUTURE_TOLERANCE_MS = 10 * 60_000;

/**
 * Before 1980: a time set on purpose by a reproducible build (SOURCE_DATE_EPOCH=0 gives
 * 1970-01-01), not a build time. Such images are ordered among themselves by version,
 * after the images whose time is real.
 */
export const REPRODUCIBLE_BEFORE_MS = Date.UTC(1980, 0, 1);
