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
  for (const r of rules.regex) if (r.test(tag)) return { kind: 'regex', source: r.source };
  for (const k of rules.keys) if (tag.includes(k)) return { kind: 'key', key: k };
  return undefined;
}

export function describeHit(h: RuleHit): string {
  return h.kind === 'key' ? `key "${h.key}"` : `regex /${h.source}/`;
}
