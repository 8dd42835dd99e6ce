// The two functions regmgr uses, not semver's index: it loads all 48 of its modules
// (~16 ms of every plan's and apply's start).
import parse from 'semver/functions/parse.js';
import type { SemVer } from 'semver';

// A tag "is a version" the way registry users write them: optional v/V, one to three
// numeric parts, optional pre-release and build (`v1`, `1.0`, `1.2.3-alpha.1`). Parts left
// out count as 0 so that semver precedence can order them.
const VERSION = /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

export function parseVersion(tag: string): SemVer | undefined {
  const m = VERSION.exec(tag);
  if (!m) return undefined;
  const text = `${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}${m[4] ?? ''}${m[5] ?? ''}`;
  return parse(text) ?? undefined;
}

export function isVersionTag(tag: string): boolean {
  return parseVersion(tag) !== undefined;
}
