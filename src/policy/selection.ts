import type { RepoSelector } from '../oci/names.js';

/** How a configured `repositories:` list selects one repository's tags. */
export interface RepoSelection {
  /** The whole repository is selected (`repo`, or no list: the catalog). */
  whole: boolean;
  /** Tags named by `repo:tag` entries: selected by name, bypassing the tag rules. */
  explicit: Set<string>;
}

/** Why a tag of a partly selected repository is left out (said by plan --explain and by apply's refusal). */
export const NOT_LISTED = 'not selected: repositories names only some tags of this repository (repo:tag), and not this one';

export function selectionFor(selectors: RepoSelector[] | undefined, repository: string): RepoSelection {
  if (!selectors) return { whole: true, explicit: new Set() };
  const mine = selectors.filter((s) => s.repository === repository);
  return { whole: mine.some((s) => !s.tag), explicit: new Set(mine.flatMap((s) => (s.tag ? [s.tag] : []))) };
}

/** `start` (compatibility): the first N repositories, in sorted order, are left alone. */
export function applyStart<T>(sortedRepos: readonly T[], start: number): { skipped: T[]; kept: T[] } {
  return { skipped: sortedRepos.slice(0, start), kept: sortedRepos.slice(start) };
}
