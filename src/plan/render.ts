import { humanBytes } from './bytes.js';
import { Chalk } from 'chalk';
import type { Plan } from './model.js';
import { shortDigest } from '../util/table.js';
import { describeChange } from '../state/diff.js';
import { inert } from '../util/inert.js';
import { getOwn } from '../util/own-key.js';
import { keyedGet } from '../util/one-key.js';
import { keyedNumber } from '../util/keyed-numbers.js';
import type { Reason } from '../policy/reason.js';
import { naturalCompare } from '../util/natural-order.js';

export interface RenderOptions {
  color: boolean;
  /** Also list every kept and skipped tag with its reason. */
  explain?: boolean;
}

export interface Line {
  sign: '-' | '+' | '~' | '!' | '=' | '·';
  text: string;
  /** Made into text as the line is printed: a plan's lines are all held at once, to be grouped. */
  reason: Reason;
  /** The digest the line is about, and for an attachment its subject's: to list it under. */
  digest?: string;
  under?: string;
}

/** Per registry and repository, the lines a reviewer reads; built from the plan alone. */
export function groups(plan: Plan, explain: boolean): Map<string, Line[]> {
  const out = new Map<string, Line[]>();
  const add = (key: string, l: Line) => {
    const list = out.get(key);
    if (list) list.push(l);
    else out.set(key, [l]);
  };
  for (const a of plan.actions) {
    if (a.type === 'copy') {
      const src = `${a.source.registry}/${a.source.repository}:${a.source.tag}`;
      add(`${a.target.registry} ${a.target.repository}`, {
        sign: a.target.digest_at_plan ? '~' : '+',
        text: `${a.target.tag} <- ${src} (${shortDigest(a.source.digest)})`,
        reason: a.reason,
      });
    } else {
      // A reviewer must see how: a whole manifest, or one tag whose digest stays.
      // Prune deletes (the mirror converging) read apart from the delete policy's.
      const via = plan.capabilities?.[a.registry]?.via;
      const how = `${a.prune ? 'prune ' : ''}${a.method === 'manifest' ? '' : `${a.method === 'oci' ? `delete tag${via ? ` via ${via}` : ''}` : 'untag'} `}`;
      const kept = a.kept_by?.length ? `, digest kept by ${a.kept_by.join(', ')}` : a.children?.length ? `, with its ${a.children.length} platform manifest${a.children.length === 1 ? '' : 's'}` : '';
      // --explain: each image's size, and what deleting it frees that no other delete does.
      // Looked up only for --explain: a search of the plan's table a deleted tag otherwise.
      const size = explain && a.method === 'manifest' ? getOwn(plan.snapshot[a.registry]?.[a.repository]?.tags, a.tags[0])?.size : undefined;
      const alone = size !== undefined ? keyedNumber(plan.bytes?.alone, `${a.registry}/${a.repository}@${a.digest}`) : undefined;
      const bytes = size !== undefined ? `, ${humanBytes(size)}${alone !== undefined ? `, frees ${humanBytes(alone)} alone` : ''}` : '';
      const short = shortDigest(a.digest);
      for (const t of a.tags) {
        // Joined, not a template: one flat string, not a chain of pieces (a line per deleted tag).
        add(`${a.registry} ${a.repository}`, { sign: '-', text: [how, t, ' (', short, kept, bytes, ')'].join(''), reason: keyedGet(a.reasons, t) ?? '', digest: a.digest, under: a.attachment_of?.subject });
      }
      // Untagged attachments (OCI 1.1 referrers) have no tag to show: one line each, by digest.
      for (const r of a.referrers ?? []) {
        add(`${a.registry} ${a.repository}`, { sign: '-', text: `referrer ${shortDigest(r.digest)} (${r.artifact_type || 'no artifact type'}, untagged)`, reason: `refers to ${shortDigest(r.subject)}; deleted with it`, digest: r.digest, under: r.subject });
      }
    }
  }
  for (const b of plan.blocked) {
    for (const t of b.tags) {
      // The tag's decision says which rule wanted it and why it is blocked.
      const reason = getOwn(plan.decisions.delete[b.registry]?.[b.repository], t)?.reason ?? getOwn(plan.decisions.prune?.[b.registry]?.[b.repository], t)?.reason ?? `blocked: ${b.reason}`;
      add(`${b.registry} ${b.repository}`, { sign: '!', text: `${t} (${shortDigest(b.digest)})`, reason });
    }
  }
  if (explain) {
    for (const [policy, regs] of Object.entries(plan.decisions) as Array<[string, Plan['decisions']['delete']]>) {
      for (const [registry, repos] of Object.entries(regs)) {
        for (const [repo, tags] of Object.entries(repos)) {
          for (const [tag, d] of Object.entries(tags)) {
            if (d.verdict === 'keep' || d.verdict === 'skip' || d.verdict === 'up-to-date') {
              add(`${registry} ${repo}`, { sign: d.verdict === 'keep' ? '=' : '·', text: `${tag} (${policy}: ${d.verdict})`, reason: d.reason });
            }
          }
        }
      }
    }
  }
  const order = '+~-!=·';
  for (const [k, lines] of out) {
    // Natural order reads better: develop-2 before develop-10.
    lines.sort((a, b) => order.indexOf(a.sign) - order.indexOf(b.sign) || naturalCompare(a.text, b.text));
    out.set(k, underSubjects(lines));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Attachment lines move right under the line of their subject, indented. */
function underSubjects(lines: Line[]): Line[] {
  const push = (m: Map<string, Line[]>, k: string, l: Line) => {
    const list = m.get(k);
    if (list) list.push(l);
    else m.set(k, [l]);
  };
  // Maps, not a scan of every line per line: a repository may hold 100,000 of them. Only
  // the digests an attachment names: most plans have none, and a list per line (and its
  // entry) was ~270 bytes of garbage a deleted tag.
  const subjects = new Set<string>();
  for (const l of lines) if (l.under) subjects.add(l.under);
  if (!subjects.size) return lines;
  const byDigest = new Map<string, Line[]>();
  for (const l of lines) if (l.digest && subjects.has(l.digest)) push(byDigest, l.digest, l);
  const attached = new Map<string, Line[]>();
  for (const l of lines) {
    if (l.under && byDigest.get(l.under)?.some((s) => s !== l)) push(attached, l.under, l);
  }
  const moved = new Set<Line>([...attached.values()].flat());
  const indented = (a: Line): Line => ({ ...a, text: `  ↳ ${a.text}` });
  const result: Line[] = [];
  for (const l of lines) {
    if (moved.has(l)) continue;
    result.push(l);
    const mine = l.digest ? attached.get(l.digest) : undefined;
    if (!mine) continue;
    attached.delete(l.digest!);
    for (const a of mine) result.push(indented(a));
  }
  // Attachments whose subject's line is itself an attachment's: last, never lost.
  for (const rest of attached.values()) for (const a of rest) result.push(indented(a));
  return result;
}

/**
 * What the deletes free, in one sentence (undefined when the plan deletes nothing):
 * "Frees 12.3 MiB once garbage collection runs; 1.1 MiB of these images' blobs stay,
 * shared with kept images." An upper bound says "up to" and why.
 */
export function freedLine(plan: Plan): string | undefined {
  const b = plan.bytes;
  if (!b || plan.summary.delete === 0) return undefined;
  const shared = b.shared ? `; ${humanBytes(b.shared)} of these images' blobs stay, shared with kept images` : '';
  const bound = b.exact ? '' : ` (an upper bound: ${(b.why ?? []).join('; ')})`;
  return inert(`${b.exact ? 'Frees' : 'Frees up to'} ${humanBytes(b.freed)} once garbage collection runs${shared}.${bound}`);
}

/** What the copies send, in one sentence (undefined without copies). */
export function transferLine(plan: Plan): string | undefined {
  const t = plan.transfer;
  if (!t || plan.summary.copy === 0) return undefined;
  const there = t.present ? `; ${humanBytes(t.present)} of the copied images is there already` : '';
  return `Copies send ${t.exact ? '' : 'at least '}${humanBytes(t.transfer)} to their target repositories${there}.`;
}

export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  if (s.copy + s.delete === 0) return s.blocked ? `No changes. ${s.blocked} blocked.` : 'No changes.';
  const del = s.tags_deleted === s.delete ? `${s.delete} to delete` : `${s.delete} to delete (${s.tags_deleted} tags)`;
  return `Plan: ${s.copy} to copy, ${del}, ${s.blocked} blocked.`;
}

export function renderText(plan: Plan, opts: RenderOptions): string {
  return [...textLines(plan, opts)].join('\n') + '\n';
}

/**
 * The terminal rendering, a line at a time (each without its newline), made as it is
 * taken: a plan of 100,000 tags is printed without its whole text ever held at once,
 * and the printer may wait between lines for a slow reader.
 */
export function* textLines(plan: Plan, opts: RenderOptions): Generator<string, void, undefined> {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const paint: Record<Line['sign'], (s: string) => string> = { '-': c.red, '+': c.green, '~': c.yellow, '!': c.magenta, '=': c.dim, '·': c.dim };
  const g = groups(plan, Boolean(opts.explain));
  if (g.size) {
    const heading = plan.actions.length
      ? 'regmgr will perform the following actions (- delete, + copy, ~ replace, ! blocked):'
      : opts.explain
        ? 'regmgr will change nothing. What it decided (= kept, · skipped, ! blocked):'
        : 'regmgr will change nothing. Blocked (the policy wanted these; regmgr refuses):';
    yield heading;
    yield '';
    // A plan file is anyone's to edit: every name and reason in it is shown inert.
    for (const [key, lines] of g) {
      yield c.bold(inert(key));
      // A loop, not Math.max(...lines): a spread of 100,000 lines overflows the stack.
      let width = 0;
      for (const l of lines) width = Math.max(width, inert(l.text).length);
      width = Math.min(60, width);
      for (const l of lines) yield `  ${paint[l.sign](`${l.sign} ${inert(l.text).padEnd(width)}`)}  ${c.dim(inert(String(l.reason)))}`;
      // This repository's lines are printed: let them go before the next one's are built.
      g.delete(key);
    }
    yield '';
  }
  if (plan.changed_outside.length) {
    yield c.yellow(`Changed outside regmgr since the recorded state (serial ${plan.state.serial}):`);
    for (const ch of plan.changed_outside) yield `  ${describeChange(ch)}`;
    yield '';
  }
  if (plan.warnings?.length) {
    yield c.yellow('Warnings (a rule that selected nothing makes the plan smaller than you think; a guard blocked deletes):');
    for (const w of plan.warnings) yield `  ${inert(w)}`;
    yield '';
  }
  if (plan.notes?.length) {
    yield 'Notes (finished cleanups: nothing to fix):';
    for (const n of plan.notes) yield `  ${inert(n)}`;
    yield '';
  }
  // What said which images are deployed, and how old it was: a stale export keeps too little.
  for (const u of plan.in_use ?? []) yield inert(`In use (kept): ${u.file}, ${u.format}, ${u.references} references, written ${humanAge(u.age_seconds)} before the plan.`);
  if (plan.in_use?.length) yield '';
  for (const s of plan.skipped) yield c.dim(inert(`${s.policy}: ${s.registry} ${s.repository}: ${s.reason}`));
  if (plan.skipped.length) yield '';
  yield c.bold(summaryLine(plan));
  const freed = freedLine(plan);
  if (freed) yield freed;
  const sent = transferLine(plan);
  if (sent) yield sent;
}

/** A backtick fence longer than every backtick run in `lines` (at least three). */
export function codeFence(lines: readonly string[]): string {
  let longest = 0;
  for (const l of lines) for (const run of l.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return '`'.repeat(Math.max(3, longest + 1));
}

/** Text for HTML and markdown alike: entities for what either would act on, inert controls. */
export function htmlText(s: string): string {
  return inert(s).replace(/[&<>"'`*_[\]()#!|~\\]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** 42 s, 5 min, 3 h, 2 d: how old an input was. */
function humanAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}
