import type { Config } from '../config/model.js';
import type { RepoSnapshot } from '../snapshot/model.js';
import type { CompiledRegex, TagRules } from './matchers.js';
import { describeHit } from './matchers.js';
import type { RepoMap, Scope } from './evaluate.js';
import { targetFilter } from './evaluate.js';

/**
 * What in the config or the command line selected nothing: a configured repository or
 * `repo:tag` that does not exist, a `--target` that matches nothing, a retention rule,
 * include key or regex, or sync filter that matches no tag in any selected repository.
 * Such a plan is often "No changes." for the wrong reason. Pure.
 */
export function planWarnings(config: Config, scope: Scope, repos: RepoMap, targets: readonly string[] | undefined): string[] {
  const out: string[] = [];
  const read = (registry: string, repository: string): RepoSnapshot | undefined => repos.get(registry)?.get(repository);

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
    const selected = scope.delete.map((d) => read(d.registry, d.repository)).filter((r): r is RepoSnapshot => Boolean(r));
    const tagsOf = (rs: RepoSnapshot[]) => rs.flatMap((r) => r.tags.map((t) => t.tag));
    const all = tagsOf(selected);
    if (all.length) {
      for (const w of unmatched(dp.include, all)) out.push(`delete-policy.tags.include: ${w} matches no tag in any selected repository`);
      for (const rule of dp.rules) {
        const inScope = selected.filter((r) => !rule.repositories || rule.repositories.some((g) => g.test(r.repository)));
        const tags = tagsOf(inScope);
        if (!tags.some((t) => matchesAny(rule.tags, t))) out.push(`delete-policy.rules[${rule.number - 1}] (rule ${rule.number}) matches no tag in any selected repository`);
      }
    }
  }

  const sp = config.syncPolicy;
  if (sp) {
    const sources = scope.sync.map((s) => read(sp.from, s.repository)).filter((r): r is RepoSnapshot => Boolean(r));
    const all = sources.flatMap((r) => r.tags.map((t) => t.tag));
    if (all.length) for (const f of sp.filters) if (!all.some((t) => f.test(t))) out.push(`sync-policy.filters: /${f.source}/ matches no tag in any selected repository`);
  }
  return out;
}

function matchesAny(rules: TagRules, tag: string): boolean {
  return rules.regex.some((r) => r.test(tag)) || rules.keys.some((k) => tag.includes(k));
}

/** The keys and regexes of a rule set that match none of `tags`, described. */
function unmatched(rules: TagRules, tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const r of rules.regex as CompiledRegex[]) if (!tags.some((t) => r.test(t))) out.push(describeHit({ kind: 'regex', source: r.source }));
  for (const k of rules.keys) if (!tags.some((t) => t.includes(k))) out.push(describeHit({ kind: 'key', key: k }));
  return out;
}
