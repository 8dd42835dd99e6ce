import type { Plan, PlanAction } from './model.js';
import { renderText } from './render.js';
import { canonicalHash } from './canonical.js';
import { inert } from '../util/inert.js';

export interface DiffLimits {
  /** Actions of both plans together above which no diff of their text is tried. */
  actions: number;
  /** Lines added and removed above which the diff gives up (its cost grows with them). */
  edits: number;
  /** Actions listed per kind in the summary by id. */
  shown: number;
}

// A diff (Myers) costs about (lines of both) x (lines added and removed): 0.4 s here for
// two texts of 10,000 lines with 1,000 of them changed (2,000 edits), and it gives up at
// the bound as fast; a plan of a million tags a week later would not end. A diff larger
// than that is not read in a pull request either.
export const DIFF_LIMITS: DiffLimits = { actions: 20_000, edits: 2_000, shown: 40 };

/**
 * How a committed plan's actions differ from a fresh one's, for `plan --check`: the
 * unified diff of their renderings (as `diff -u` prints it) while both are small enough
 * to diff; else the actions by id, only in one plan or changed, the first of each
 * listed. Names come from the plan file: escaped by the rendering, and by inert here.
 */
export async function actionsDiff(file: string, committed: Plan, fresh: Plan, limits: DiffLimits = DIFF_LIMITS): Promise<string> {
  const total = committed.actions.length + fresh.actions.length;
  if (total <= limits.actions) {
    // Actions only: what changed outside, warnings and bytes are said elsewhere.
    const render = (p: Plan) => renderText({ ...p, changed_outside: [], warnings: [], notes: undefined, bytes: undefined }, { color: false });
    const { createTwoFilesPatch } = await import('diff');
    const patch = createTwoFilesPatch(`${file} (committed)`, 'fresh plan', render(committed), render(fresh), '', '', { context: 3, maxEditLength: limits.edits });
    // As `diff -u` prints it: no separator line, no empty header fields.
    if (patch !== undefined) return patch.replace(/^=+\n/, '').replace(/^(---|\+\+\+) (.*)\t$/gm, '$1 $2');
  }
  const why = total > limits.actions ? `the two plans have ${total} actions, more than ${limits.actions} to diff` : `their renderings differ in more than ${limits.edits} lines added and removed`;
  return `${[`The actions by id (${why}):`, ...byId(file, committed, fresh, limits.shown)].join('\n')}\n`;
}

function byId(file: string, committed: Plan, fresh: Plan, shown: number): string[] {
  const before = new Map(committed.actions.map((a) => [a.id, a]));
  const after = new Map(fresh.actions.map((a) => [a.id, a]));
  const kinds: Array<[string, string, PlanAction[]]> = [
    ['-', `only in ${file} (committed)`, committed.actions.filter((a) => !after.has(a.id))],
    ['+', 'only in the fresh plan', fresh.actions.filter((a) => !before.has(a.id))],
    ['~', 'in both, with other content (tags, reasons, digests)', fresh.actions.filter((a) => before.has(a.id) && canonicalHash(before.get(a.id)!) !== canonicalHash(a))],
  ];
  const out: string[] = [];
  for (const [sign, what, actions] of kinds) {
    out.push(`${sign} ${what}: ${actions.length}`);
    for (const a of actions.slice(0, shown)) out.push(`${sign}   ${inert(a.id)}`);
    if (actions.length > shown) out.push(`${sign}   ... and ${actions.length - shown} more`);
  }
  return out;
}
