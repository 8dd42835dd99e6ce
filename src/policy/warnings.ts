import type { Config } from '../config/model.js';
import type { RepoSnapshot } from '../snapshot/model.js';
import type { CompiledRegex, TagRules } from './matchers.js';
import { describeHit } from './matchers.js';
import type { RepoMap, Scope } from './evaluate.js';
import { targetFilter } from './evaluate.js';

/** registry -> repository -> names of tags regmgr deleted there (the state's record). */
export type Deleted = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

export interface PlanWarnings {
  /** Something selects nothing and never selected anything regmgr deleted: likely a mistake. */
  warnings: string[];
  /** A tag selector with nothing left to match because regmgr deleted what it matched. */
  notes: string[];
}

/**
 * What in the config or the command line selected nothing: a configured repository or
 * `repo:tag` that does not exist, a `--target` that matches nothing, a retention rule,
 * include key or regex, or sync filter that matches no tag in any selected repository.
 * Such a plan is often "No changes." for the wrong reason. A tag selector that matches
 * none of today's tags but matches tags regmgr deleted (`deleted`, from the state) has
 * finished its cleanup: that is a note, not a warning, since the user has nothing to fix.
 * Pure.
 */
export function planWarnings(config: Config, scope: Scope, repos: RepoMap, targets: readonly string[] | undefined, deleted: Deleted = {}): PlanWarnings {
  const out: string[] = [];
  const notes: string[] = [];
  const read = (registry: string, repository: string): RepoSnapshot | undefined => repos.get(registry)?.get(repository);
  const gone = (rs: ReadonlyArray<{ registry: string; repository: string }>) => rs.flatMap((r) => (Object.hasOwn(deleted, r.registry) && Object.hasOwn(deleted[r.registry], r.repository) ? deleted[r.registry][r.repository] : []));
  /** A selector that matches none of `tags`: a note when it matches deleted tags, else a warning. */
  const nothing = (what: string, test: (t: string) => boolean, deletedTags: readonly string[]) => {
    const done = deletedTags.filter(test);
    if (!done.length) return out.push(`${what} matches no tag in any selected repository`);
    const eg = done.slice(-3).join(', ');
    return notes.push(`${what} has nothing left to match: regmgr deleted the ${done.length} tag${done.length === 1 ? '' : 's'} it matched (${eg}${done.length > 3 ? ', ...' : ''})`);
  };

  for (const [name, ep] of config.registries) {
    for (const sel of ep.repositories ?? []) {
      const r = read(name, sel.repository);
      if (!r) continue; // not in this plan's scope (another policy, --target)
      if (r.missing) out.push(`registries.${name}.repositories: ${sel.repository}${sel.tag ? `:${sel.tag}` : ''} does not exist (the repository is unknown to the registry)`);
      else if (sel.tag && !r.tags.some((t) => t.tag === sel.tag)) out.push(`registries.${name}.repositories: ${sel.repository}:${sel.tag} does not exist (no such tag)`);
    }
  }

  for (const t of targets ?? []) {
    const only = targetFilter([t]);
    const sp = config.syncPolicy;
    const hit = scope.delete.some((d) => only(d.registry, d.repository)) || (sp ? scope.sync.some((s) => only(sp.from, s.repository) || only(sp.to, s.target)) : false);
    if (!hit) out.push(`--target ${t} matches nothing the config selects`);
  }

  const dp = config.deletePolicy;
  if (dp) {
    const inScope = scope.delete.filter((d) => read(d.registry, d.repository));
    const selected = inScope.map((d) => read(d.registry, d.repository)!);
    const tagsOf = (rs: RepoSnapshot[]) => rs.flatMap((r) => r.tags.map((t) => t.tag));
    const all = tagsOf(selected);
    if (all.length || gone(inScope).length) {
      for (const u of unmatched(dp.include, all)) nothing(`delete-policy.tags.include: ${u.what}`, u.test, gone(inScope));
      for (const rule of dp.rules) {
        const inRule = (r: { repository: string }) => !rule.repositories || rule.repositories.some((g) => g.test(r.repository));
        const tags = tagsOf(selected.filter(inRule));
        const test = (t: string) => matchesAny(rule.tags, t);
        if (!tags.some(test)) nothing(`delete-policy.rules[${rule.number - 1}] (rule ${rule.number})`, test, gone(inScope.filter(inRule)));
      }
    }
  }

  const sp = config.syncPolicy;
  if (sp) {
    const from = scope.sync.map((s) => ({ registry: sp.from, repository: s.repository })).filter((r) => read(r.registry, r.repository));
    const all = from.flatMap((r) => read(r.registry, r.repository)!.tags.map((t) => t.tag));
    if (all.length || gone(from).length) for (const f of sp.filters) if (!all.some((t) => f.test(t))) nothing(`sync-policy.filters: /${f.source}/`, (t) => f.test(t), gone(from));
  }
  return { warnings: out, notes };
}

function matchesAny(rules: TagRules, tag: string): boolean {
  return rules.regex.some((r) => r.test(tag)) || rules.keys.some((k) => tag.includes(k));
}

/** The keys and regexes of a rule set that match none of `tags`, described, each with its test. */
function unmatched(rules: TagRules, tags: readonly string[]): Array<{ what: string; test: (t: string) => boolean }> {
  const out: Array<{ what: string; test: (t: string) => boolean }> = [];
  for (const r of rules.regex as CompiledRegex[]) if (!tags.some((t) => r.test(t))) out.push({ what: describeHit({ kind: 'regex', source: r.source }), test: (t) => r.test(t) });
  for (const k of rules.keys) if (!tags.some((t) => t.includes(k))) out.push({ what: describeHit({ kind: 'key', key: k }), test: (t) => t.includes(k) });
  return out;
}
