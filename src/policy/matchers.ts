import { RE2JS } from 're2js';

// User regexes run with RE2 semantics (the seed's Go dialect) so that no tag can make a
// match run away; matching is unanchored, as in the seed.

export interface CompiledRegex {
  source: string;
  test(s: string): boolean;
}

export function compileRegex(source: string): CompiledRegex | { error: string } {
  try {
    const re = RE2JS.compile(source);
    return { source, test: (s: string) => re.matcher(s).find() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** `keys` is comma-separated literal substrings (trimmed, empties ignored) or a list. */
export function parseKeys(keys: string | string[] | null | undefined): string[] {
  if (keys == null) return [];
  const items = Array.isArray(keys) ? keys.flatMap((k) => k.split(',')) : keys.split(',');
  return items.map((k) => k.trim()).filter((k) => k.length > 0);
}

/** The regex field as a list of sources: null/'' means none. */
export function regexSources(regex: string | string[] | null | undefined): string[] {
  if (regex == null) return [];
  return (Array.isArray(regex) ? regex : [regex]).filter((r) => r.trim().length > 0);
}

export interface TagRules {
  keys: string[];
  regex: CompiledRegex[];
}

export type RuleHit = { kind: 'key'; key: string } | { kind: 'regex'; source: string };

/** First rule that matches a tag, in the seed's order: regex before keys. */
export function firstHit(rules: TagRules, tag: string): RuleHit | undefined {
  const { regex, keys } = rules;
  for (let i = 0; i < regex.length; i++) if (regex[i].test(tag)) return hitOf(rules, i);
  for (let i = 0; i < keys.length; i++) if (tag.includes(keys[i])) return hitOf(rules, regex.length + i);
  return undefined;
}

/**
 * Rule i's hit, made once per set of rules and handed out for every tag it matches
 * (one object a tag was ~40 bytes of garbage, a million times a plan), so that callers
 * may also keep what they derive from a hit by the hit. Read only. Made again if the
 * rules were changed since (no closure here: it would be an object a tag again).
 */
function hitOf(rules: TagRules, i: number): RuleHit {
  const { regex, keys } = rules;
  let hits = HITS.get(rules);
  const h = hits?.length === regex.length + keys.length ? hits[i] : undefined;
  const same = h !== undefined && (i < regex.length ? h.kind === 'regex' && h.source === regex[i].source : h.kind === 'key' && h.key === keys[i - regex.length]);
  if (!hits || !same) {
    hits = [...rules.regex.map((r): RuleHit => ({ kind: 'regex', source: r.source })), ...rules.keys.map((key): RuleHit => ({ kind: 'key', key }))];
    HITS.set(rules, hits);
  }
  return hits[i];
}

const HITS = new WeakMap<TagRules, RuleHit[]>();

export function describeHit(h: RuleHit): string {
  return h.kind === 'key' ? `key "${h.key}"` : `regex /${h.source}/`;
}
