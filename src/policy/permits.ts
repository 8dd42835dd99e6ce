import type { Config } from '../config/model.js';
import type { PlanAction, PlanCopy, PlanDelete } from '../plan/model.js';
import { repositoryProblem, tagProblem } from '../oci/names.js';
import { candidacy } from './delete.js';
import { selectionFor, type RepoSelection } from './selection.js';
import { mapRepository, syncSelection } from './sync.js';

// A plan file is data that anyone who can push to the pull request may edit, and its
// sha256 only detects accidents (anyone can recompute it). So before apply sends a
// request, every action must be one that the config, as it is now, allows: pure, here.

/** Why the config does not allow each refused action, as `action: rule`; empty when all are allowed. */
export function refusedActions(actions: readonly PlanAction[], config: Config): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  for (const a of actions) {
    const problem = a.type === 'delete' ? deleteProblem(a, config) : copyProblem(a, config);
    const expectedId = a.type === 'delete' ? `delete ${a.registry}/${a.repository}@${a.digest}` : `copy ${a.target.registry}/${a.target.repository}:${a.target.tag}`;
    const shown = JSON.stringify(a.id);
    if (problem) out.push(`action ${shown}: ${problem}`);
    else if (a.id !== expectedId) out.push(`action ${shown}: its id does not match what it does (expected ${JSON.stringify(expectedId)})`);
    else if (ids.has(a.id)) out.push(`action ${shown}: listed twice`);
    ids.add(a.id);
  }
  return out;
}

function deleteProblem(a: PlanDelete, config: Config): string | undefined {
  const dp = config.deletePolicy;
  if (!dp) return `${config.file} has no delete-policy, so it allows no delete`;
  if (!dp.registries.includes(a.registry)) return `registry '${a.registry}' is not in delete-policy.registries (${dp.registries.join(', ')})`;
  const selected = repositorySelected(a.registry, a.repository, config);
  if (typeof selected === 'string') return selected;
  const explicit = config.registries.get(a.registry)!.repositories;
  if (explicit && dp.start > 0) {
    const index = [...new Set(explicit.map((s) => s.repository))].sort().indexOf(a.repository as never);
    if (index < dp.start) return `repository '${a.repository}' is skipped by delete-policy.start: ${dp.start}`;
  }
  for (const t of a.tags) {
    const tp = tagProblem(t);
    if (tp) return tp;
    const c = candidacy(t, selected, dp);
    if (c.verdict !== 'delete') return `tag '${t}' is not a delete candidate under ${config.file}: ${c.reason}`;
  }
  return undefined;
}

function copyProblem(a: PlanCopy, config: Config): string | undefined {
  const sp = config.syncPolicy;
  if (!sp) return `${config.file} has no sync-policy, so it allows no copy`;
  if (a.source.registry !== sp.from) return `copies only from sync-policy.from '${sp.from}', not from '${a.source.registry}'`;
  if (a.target.registry !== sp.to) return `copies only to sync-policy.to '${sp.to}', not to '${a.target.registry}'`;
  const selected = repositorySelected(a.source.registry, a.source.repository, config);
  if (typeof selected === 'string') return selected;
  const mapped = mapRepository(a.source.repository, sp.replace);
  if (a.target.repository !== mapped) return `sync-policy.replace maps '${a.source.repository}' to '${mapped}', not to '${a.target.repository}'`;
  if (a.target.tag !== a.source.tag) return `a copy keeps the tag's name: '${a.source.tag}' cannot become '${a.target.tag}'`;
  const tp = tagProblem(a.source.tag);
  if (tp) return tp;
  const sel = syncSelection(a.source.tag, selected, sp);
  if (!sel.selected) return `tag '${a.source.tag}' is not synced under ${config.file}: ${sel.reason}`;
  if (a.source.registry === a.target.registry && a.source.repository === a.target.repository) return 'a copy onto itself';
  return undefined;
}

/** The selection of a repository in a registry, or why the config does not select it. */
function repositorySelected(registry: string, repository: string, config: Config): RepoSelection | string {
  const rp = repositoryProblem(repository);
  if (rp) return `repository name ${JSON.stringify(repository)} ${rp}`;
  const ep = config.registries.get(registry);
  if (!ep) return `registry '${registry}' is not defined in ${config.file}`;
  // No explicit list means the catalog: any repository of the registry.
  const selection = selectionFor(ep.repositories, repository);
  if (!selection.whole && selection.explicit.size === 0) return `repository '${repository}' is not in registries.${registry}.repositories`;
  return selection;
}
