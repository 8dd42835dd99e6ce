import type { Plan } from './model.js';
import { codeFence, freedLine, groups, htmlText, summaryLine, transferLine, type Line } from './render.js';
import { humanBytes } from './bytes.js';
import { inert } from '../util/inert.js';
import type { Reason } from '../policy/reason.js';

/** A GitHub comment holds 65,536 characters; the rendering stays under it, whatever the plan. */
export const COMMENT_LIMIT = 65_536;

const WORDS: Record<Line['sign'], string> = { '-': 'to delete', '+': 'to copy', '~': 'to replace', '!': 'blocked', '=': 'kept', '·': 'skipped' };
// diff colouring: '-' red, '+' green; a replacement keeps its own sign; blocked, kept
// and skipped lines are comments.
const MARK: Record<Line['sign'], string> = { '-': '-', '+': '+', '~': '~', '!': '# !', '=': '# =', '·': '# ·' };

/**
 * The plan for a pull-request comment. Always there: the summary, one count line per
 * repository, and the warnings. Then the details of each repository, as many lines as
 * the budget allows, the rest replaced by a line that says how many were left out and
 * how to see them. Reasons are factored: the part a group of lines shares (the rule
 * that made them candidates) is printed once above them. A repository with a few lines
 * is shown open, longer ones collapsed.
 *
 * Names and reasons come from the plan file, which anyone can edit: inside code blocks
 * the fence is longer than any backtick run of its content; outside them every
 * character that HTML or markdown would act on is escaped, so `<details>` always balance.
 */
export function renderMarkdown(plan: Plan, opts: { explain?: boolean; planFile?: string; limit?: number } = {}): string {
  const limit = opts.limit ?? COMMENT_LIMIT;
  const g = groups(plan, Boolean(opts.explain));
  const show = `regmgr show ${opts.planFile ? htmlText(opts.planFile) : 'plan.json'}`;
  const freed = freedLine(plan);
  const sent = transferLine(plan);
  const head: string[] = [`**${summaryLine(plan)}**`, ...[freed, sent].flatMap((l) => (l ? ['', htmlText(l)] : [])), ''];
  // Per repository, what it frees, where the plan says (a column only then).
  const frees = (key: string) => {
    const [registry, repository] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)];
    const r = plan.bytes?.repositories[registry]?.[repository];
    return plan.bytes ? ` ${r?.freed ? `${plan.bytes.exact ? '' : 'up to '}${humanBytes(r.freed)}` : '–'} |` : '';
  };
  // The count table: every repository while it fits a third of the comment; past that,
  // the largest first and one row that sums up the rest, so the totals stay complete.
  if (g.size) {
    const rows = [...g].map(([key, lines]) => ({ row: `| <code>${htmlText(key.replace(' ', '/'))}</code> | ${counts(lines)} |${frees(key)}`, lines }));
    const all = size(rows.map((r) => r.row));
    const table = plan.bytes ? ['| registry/repository | changes | frees |', '| --- | --- | --- |'] : ['| registry/repository | changes |', '| --- | --- |'];
    if (all <= limit / 3) table.push(...rows.map((r) => r.row));
    else {
      const largest = [...rows].sort((a, b) => b.lines.length - a.lines.length);
      let used = 0;
      let i = 0;
      for (; i < largest.length && used + largest[i].row.length + 1 <= limit / 3 - 200; i++) used += largest[i].row.length + 1;
      const rest = largest.slice(i);
      table.push(...largest.slice(0, i).map((r) => r.row));
      if (rest.length) table.push(`| ${rest.length} more repositor${rest.length === 1 ? 'y' : 'ies'} (smaller) | ${counts(rest.flatMap((r) => r.lines))} |${plan.bytes ? ' |' : ''}`);
    }
    head.push(...table, '');
  }
  // Warnings are what a reviewer must see: all while they fit a sixth, then counted.
  if (plan.warnings?.length) {
    const items = plan.warnings.map((w) => `- ${htmlText(w)}`);
    const fit: string[] = [];
    for (const w of items) if (size(fit) + w.length + 1 <= limit / 6) fit.push(w);
    head.push('**Warnings** (a rule selected nothing, or a guard blocked deletes):', '', ...fit, ...(fit.length < items.length ? [`- … and ${items.length - fit.length} more: see \`${show}\``] : []), '');
  }
  if (plan.notes?.length) head.push(`${plan.notes.length} rule(s) or filter(s) have nothing left to match: regmgr deleted what they matched (see \`regmgr show\`).`, '');
  if (plan.changed_outside.length) head.push(`${plan.changed_outside.length} tag(s) changed outside regmgr since the recorded state: see \`regmgr show\`.`, '');
  const foot = `<sub>plan sha256 ${htmlText(plan.sha256.slice(0, 16))}, regmgr ${htmlText(plan.regmgr_version)}</sub>`;
  const total = [...g.values()].reduce((n, l) => n + l.length, 0);
  // The closing lines at their longest (every line and repository left out), reserved.
  const tailFor = (omitted: number, hidden: number) => [
    ...(hidden ? [`${hidden} more repositor${hidden === 1 ? 'y' : 'ies'} not shown here (counted in the table).`, ''] : []),
    ...(omitted ? [`**${omitted} line${omitted === 1 ? '' : 's'} not shown** to fit one comment; the counts above are complete. See every line with \`${show}\`.`, ''] : []),
  ];
  let room = limit - size(head) - size(tailFor(total, g.size)) - foot.length - 1;
  const body: string[] = [];
  let omitted = 0;
  let hidden = 0;
  let reposLeft = g.size;
  for (const [key, lines] of g) {
    // A fair share of what is left for each repository still to come; unused room passes on.
    const share = Math.floor(room / reposLeft--);
    const block = lines.flatMap((l, i) => factored(l, lines[i - 1], lines[i + 1]));
    const open = lines.length <= 5;
    const top = open ? [`<code>${htmlText(key.replace(' ', '/'))}</code>`, ''] : [`<details><summary><code>${htmlText(key.replace(' ', '/'))}</code>: ${counts(lines)}</summary>`, ''];
    const bottom = open ? [''] : ['', '</details>', ''];
    const fence = codeFence(block);
    const more = `# … ${lines.length} more lines of this repository not shown`;
    const frame = size(top) + size(bottom) + 2 * (fence.length + 6) + more.length + 1;
    if (share < frame + 80) {
      // Too little room even to open it: counted in the closing line, not one line each.
      omitted += lines.length;
      hidden++;
      continue;
    }
    let mine = share - frame;
    const shown: string[] = [];
    let left = 0;
    for (const line of block) {
      if (left === 0 && line.length + 1 <= mine) {
        shown.push(line);
        mine -= line.length + 1;
      } else if (!line.startsWith('# ') || line.startsWith('# !') || line.startsWith('# =') || line.startsWith('# ·')) left++;
    }
    const out = [...top, `${fence}diff`, ...shown, ...(left ? [`# … ${left} more line${left === 1 ? '' : 's'} of this repository not shown`] : []), fence, ...bottom];
    room -= size(out);
    omitted += left;
    body.push(...out);
  }
  return [...head, ...body, ...tailFor(omitted, hidden), foot].join('\n') + '\n';
}

/** How many of each kind, in words: `3 to delete, 1 blocked`. */
function counts(lines: readonly Line[]): string {
  return (['-', '+', '~', '!', '=', '·'] as const)
    .map((s) => [s, lines.filter((l) => l.sign === s).length] as const)
    .filter(([, n]) => n)
    .map(([s, n]) => `${n} ${WORDS[s]}`)
    .join(', ');
}

/**
 * A line of the diff block. When neighbouring lines' reasons start with the same clause
 * (the rule that made them candidates), that clause is printed once, above the run.
 */
function factored(l: Line, prev: Line | undefined, next: Line | undefined): string[] {
  const [lead, rest] = split(l.reason);
  // A neighbour's reason is made into text once (a RankedReason is made on each String()).
  const same = (o: Line | undefined) => {
    if (!o || !rest || o.sign !== l.sign) return false;
    const [oLead, oRest] = split(o.reason);
    return Boolean(oRest) && oLead === lead;
  };
  const line = (why: string) => inert(`${MARK[l.sign]} ${l.text}${why ? `  # ${why}` : ''}`);
  if (same(prev)) return [line(rest)];
  if (same(next)) return [inert(`# ${lead}:`), line(rest)];
  return [line(String(l.reason))];
}

function split(r: Reason): [string, string] {
  const reason = String(r);
  const i = reason.indexOf('; ');
  return i === -1 ? [reason, ''] : [reason.slice(0, i), reason.slice(i + 2)];
}

function size(lines: readonly string[]): number {
  return lines.reduce((n, l) => n + l.length + 1, 0);
}
