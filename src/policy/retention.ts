import type { DeletePolicy, Duration, RetentionRule } from '../config/model.js';
import type { Digest } from '../oci/names.js';
import type { TagEntry } from '../snapshot/model.js';
import { firstHit, type RuleHit } from './matchers.js';
import { describeBasis, newestFirst } from './order.js';
import { flat } from '../util/flat-string.js';
import { RankedReason, type Reason } from './reason.js';
import { FUTURE_TOLERANCE_MS, REPRODUCIBLE_BEFORE_MS } from '../oci/created.js';

/** A delete candidate as the retention rules see it; they may keep it, and say why. */
export interface Candidate {
  entry: TagEntry;
  verdict: 'delete' | 'keep' | 'skip';
  reason: Reason;
}

/**
 * Groups a repository's candidates by the first rule that claims each (its selector
 * matches the tag, its globs the repository); candidates no rule claims form the seed's
 * pool, kept by mix-count and keep-within. Each group keeps its `keep-newest` newest
 * and everything created within `keep-within` of `nowMs` (a tag kept by either is kept).
 * Pure. Returns the digests whose creation time it needs first, if any.
 */
export function applyRetention(cands: Candidate[], repository: string, policy: DeletePolicy, nowMs: number): Digest[] {
  const groups = retentionGroups(cands, (c) => c.entry.tag, repository, policy);
  const needs = new Set<Digest>();
  for (const [rule, { cands: items, hits }] of groups) {
    const keepNewest = rule ? rule.keepNewest : policy.mixCount;
    const keepWithin = rule ? rule.keepWithin : policy.keepWithin;
    const n = items.length;
    // Item i of the group: its words start with the rule and the part of it that matched.
    const lead = (i: number) => (rule ? `${ruleLabel(rule, hits[i])}: ` : `${items[i].reason}; `);
    const say = (i: number, words: string) => lead(i) + words;
    if (keepNewest !== undefined && keepNewest >= n) {
      // Everything fits the count (a tag kept by either setting is kept): no ordering,
      // so no creation time to read.
      for (let i = 0; i < n; i++) keep(items[i], say(i, rule ? `kept by keep-newest ${keepNewest} (only ${n} in this group)` : `kept by mix-count ${keepNewest} (only ${n} candidate${n === 1 ? '' : 's'})`));
      continue;
    }
    const counting = keepNewest !== undefined && keepNewest > 0;
    if (!counting && !keepWithin) {
      if (rule) for (let i = 0; i < n; i++) items[i].reason = say(i, `beyond keep-newest ${keepNewest}`);
      continue;
    }
    let missing = false;
    for (const c of items) if (c.entry.created === undefined) (needs.add(c.entry.digest), (missing = true));
    if (missing) continue;
    // An image whose time is unknown is kept, and never takes a place from one whose time
    // is known: a pusher cannot make regmgr delete the newest images by lying about age.
    // The others are ranked by their place in the group.
    const ranked: number[] = [];
    for (let i = 0; i < n; i++) {
      const unknown = unknownTime(items[i].entry.created, nowMs);
      if (unknown) keep(items[i], say(i, `kept: creation time unknown (${unknown})`));
      else ranked.push(i);
    }
    const { sorted, basis } = newestFirst(ranked, (i) => ({ tag: items[i].entry.tag, created: items[i].entry.created ?? undefined }));
    const of = ranked.length;
    // A place in the order, as the kept and the deleted reasons both say it.
    const rankParts = (i: number, by: string): Array<string | number> =>
      rule ? ['#', i + 1, ' newest of ', of, by === 'image creation time' ? '' : ` (by ${by})`] : ['#', i + 1, ' newest of ', of, ' candidates by ', by];
    // Each reason is made flat as it is made (flat-string.ts), so that its pieces are not
    // kept until the plan is built. A deleted tag's, one per candidate beyond the count,
    // is a RankedReason (the words its rule and group share, and its rank); one with an
    // age of its own (keep-within) is joined from its parts: join makes one flat string
    // and no pieces at all, which otherwise outlived the young generation (allocation
    // sampling of one evaluation at 200,000 tags: 182 -> 138 MiB left to full
    // collections). Same words as say() would give (policy.test.ts pins them).
    // Kept ones (the count's few, and those within keep-within) go through say().
    const heads = new Map<string, string>();
    const tails = new Map<string, string>();
    sorted.forEach((at, i) => {
      const c = items[at];
      const by = describeBasis(basis[i]);
      const counted = keepNewest !== undefined && i < keepNewest;
      const age = keepWithin ? ageWords(c.entry.created, keepWithin, nowMs) : undefined;
      if (counted) {
        const rank = rankParts(i, by).join('');
        keep(c, say(at, rule ? `kept by keep-newest ${keepNewest} (${rank})` : `kept by mix-count ${keepNewest} (${rank})`));
      } else if (age?.within) keep(c, say(at, rule ? `kept: ${age.text}` : `kept by keep-within ${keepWithin!.text} (${age.text})`));
      else if (keepNewest !== undefined && !age?.text) {
        // Most candidates of a large repository. Same words as the join below.
        const l = lead(at);
        const head = heads.get(l) ?? heads.set(l, flat(`${l}#`)).get(l)!;
        const tail = tails.get(by) ?? tails.set(by, flat(`${rankParts(0, by).slice(2).join('')}, beyond ${rule ? 'keep-newest' : 'mix-count'} ${keepNewest}`)).get(by)!;
        c.reason = new RankedReason(head, i + 1, tail);
      } else {
        const parts: Array<string | number> = [lead(at)];
        if (keepNewest !== undefined) parts.push(...rankParts(i, by), ', beyond ', rule ? 'keep-newest' : 'mix-count', ' ', keepNewest);
        if (age?.text) parts.push(keepNewest !== undefined ? '; ' : '', age.text);
        c.reason = parts.join('');
      }
    });
  }
  return [...needs].sort();
}

/**
 * A rule's candidates, in order, and beside each the part of the rule's selector that
 * matched it (the seed's pool has none). Two lists, not an object a candidate: the
 * grouping's garbage that lived until a full collection fell from 7.4 to 3.0 MiB of one
 * evaluation at 200,000 tags (V8's sampling heap profile).
 */
interface RetentionGroup<T> {
  cands: T[];
  hits: RuleHit[];
}

/** Candidates by the first rule that claims each (undefined: the seed's pool), in order. */
function retentionGroups<T>(cands: readonly T[], tagOf: (c: T) => string, repository: string, policy: DeletePolicy): Map<RetentionRule | undefined, RetentionGroup<T>> {
  const rules = policy.rules.filter((r) => !r.repositories || r.repositories.some((g) => g.test(repository)));
  const groups = new Map<RetentionRule | undefined, RetentionGroup<T>>();
  for (const c of cands) {
    let rule: RetentionRule | undefined;
    let hit: RuleHit | undefined;
    for (const r of rules) {
      hit = firstHit(r.tags, tagOf(c));
      if (hit) {
        rule = r;
        break;
      }
    }
    const group = groups.get(rule) ?? groups.set(rule, { cands: [], hits: [] }).get(rule)!;
    group.cands.push(c);
    if (hit) group.hits.push(hit);
  }
  return groups;
}

/** Whether a group of n candidates is ordered by creation time (so each one's time is read). */
function ordered(rule: RetentionRule | undefined, n: number, policy: DeletePolicy): boolean {
  const keepNewest = rule ? rule.keepNewest : policy.mixCount;
  const keepWithin = rule ? rule.keepWithin : policy.keepWithin;
  if (keepNewest !== undefined && keepNewest >= n) return false;
  return (keepNewest !== undefined && keepNewest > 0) || Boolean(keepWithin);
}

/**
 * The candidate tags (by name: the tag rules look at nothing else) whose creation time
 * applyRetention will ask for. The reader fetches their manifests whole instead of
 * sending a HEAD that the time's read would follow with a GET. Pure.
 */
export function createdWanted(candidateTags: readonly string[], repository: string, policy: DeletePolicy): Set<string> {
  const out = new Set<string>();
  for (const [rule, { cands }] of retentionGroups(candidateTags, (t) => t, repository, policy)) {
    if (ordered(rule, cands.length, policy)) for (const t of cands) out.add(t);
  }
  return out;
}

/** `rule 1 (regex ^pr-)`: the rule's number and the part of its selector that matched. */
function ruleLabel(rule: RetentionRule, hit: RuleHit): string {
  const what = hit.kind === 'key' ? `key ${hit.key}` : `regex ${hit.source.length > 30 ? `${hit.source.slice(0, 29)}…` : hit.source}`;
  return `rule ${rule.number} (${what})`;
}

/** Why an image's creation time is unknown (missing, invalid, later than the plan), or undefined when it is known. */
export function unknownTime(created: string | null | undefined, nowMs: number): string | undefined {
  if (!created) return 'missing, or not an RFC 3339 time of at most 64 characters';
  const ms = Date.parse(created);
  if (Number.isNaN(ms)) return 'not a time';
  if (ms > nowMs + FUTURE_TOLERANCE_MS) return `${created} is later than the plan's time`;
  return undefined;
}

/** Whether an image is within an age, in words; a reproducible build's fixed time says nothing of its age. */
function ageWords(created: string | null | undefined, within: Duration, nowMs: number): { within: boolean; text: string } {
  const ms = created ? Date.parse(created) : NaN;
  if (Number.isNaN(ms)) return { within: true, text: `creation time unknown, counted as within ${within.text}` };
  if (ms < REPRODUCIBLE_BEFORE_MS) return { within: true, text: `created ${created!.slice(0, 10)}, a reproducible build's fixed time (age unknown), counted as within ${within.text}` };
  const day = new Date(ms).toISOString().slice(0, 10);
  return nowMs - ms <= within.ms ? { within: true, text: `created ${day}, within ${within.text}` } : { within: false, text: `created ${day}, older than ${within.text}` };
}

function keep(c: Candidate, reason: string) {
  c.verdict = 'keep';
  c.reason = flat(reason);
}
