import type { Config } from '../config/model.js';
import { deleteId, type PlanAction, type PlanCopy, type PlanDelete } from '../plan/model.js';
import { repositoryProblem, tagProblem } from '../oci/names.js';
import { candidacy } from './delete.js';
import { selectionFor, type RepoSelection } from './selection.js';
import { mapRepository, syncSelection } from './sync.js';
import { attachmentOf } from '../oci/attachments.js';
import { isIndex } from '../oci/media-types.js';


// A plan file is data that anyone who can push to the pull request may edit, and its
// sha256 only detects accidents (anyone can recompute it). So before apply sends a
// request, every action must be one that the config, as it is now, allows: pure, here.

/**
 * Why the config does not allow each refused action, as `action: rule`; empty when all
 * are allowed. `restore`: for `regmgr restore`, a delete need only stay within what the
 * config selects (its registry in delete-policy.registries, its repository selected),
 * not still be a candidate: a restore often follows a policy fixed after a bad apply.
 */
export function refusedActions(actions: readonly PlanAction[], config: Config, opts: { restore?: boolean } = {}): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  // Digests whose manifests the plan deletes: their attachments may go with them.
  const deletedSubjects = new Set(actions.flatMap((a) => (a.type === 'delete' && a.method === 'manifest' ? [`${a.registry}/${a.repository}@${a.digest}`] : [])));
  for (const a of actions) {
    const problem = a.type === 'delete' ? deleteProblem(a, config, deletedSubjects, opts.restore ?? false) : copyProblem(a, config);
    const expectedId = a.type === 'delete' ? deleteId(a) : `copy ${a.target.registry}/${a.target.repository}:${a.target.tag}`;
    const shown = JSON.stringify(a.id);
    if (problem) out.push(`action ${shown}: ${problem}`);
    else if (a.id !== expectedId) out.push(`action ${shown}: its id does not match what it does (expected ${JSON.stringify(expectedId)})`);
    else if (ids.has(a.id)) out.push(`action ${shown}: listed twice`);
    ids.add(a.id);
  }
  return out;
}

function deleteProblem(a: PlanDelete, config: Config, deletedSubjects: ReadonlySet<string>, selectionOnly: boolean): string | undefined {
  if (a.prune) return pruneProblem(a, config, deletedSubjects);
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
  const shape = shapeProblem(a, config);
  if (shape) return shape;
  for (const t of a.tags) {
    const tp = tagProblem(t);
    if (tp) return tp;
    if (selectionOnly) {
      if (!selected.whole && !selected.explicit.has(t)) return `tag '${t}' is not in registries.${a.registry}.repositories`;
      continue;
    }
    const att = attachmentOf(t);
    if (att && selected.whole && !selected.explicit.has(t)) {
      // An attachment goes with its subject (in its own action, or in the DELETE of the
      // digest it shares with that subject's tags), or, as an orphan (apply checks its
      // subject is gone), in an action that says so.
      const withSubject = deletedSubjects.has(`${a.registry}/${a.repository}@${att.subject}`);
      const orphan = a.attachment_of?.subject === att.subject && a.attachment_of.orphaned;
      if (!withSubject && !orphan) return `tag '${t}' is an attachment of ${att.subject}, which the plan does not delete`;
      continue;
    }
    const c = candidacy(t, selected, dp);
    if (c.verdict !== 'delete') return `tag '${t}' is not a delete candidate under ${config.file}: ${c.reason}`;
  }
  return undefined;
}

/** How an action deletes, whatever decided it: one tag for a tag removal, children and referrers rooted in it. */
function shapeProblem(a: PlanDelete, config: Config): string | undefined {
  if (a.method !== 'manifest' && a.tags.length !== 1) return `a ${a.method} action removes exactly one tag, not ${a.tags.length}`;
  if (a.children?.length && (a.method !== 'manifest' || !isIndex(a.media_type))) return 'only the delete of a multi-arch index may take platform manifests (children) with it';
  if (a.referrers?.length) {
    if (a.method !== 'manifest') return 'only a manifest delete may take untagged referrers with it';
    // Each names as subject the deleted digest, a child that goes with it, or an earlier
    // referrer: a chain rooted in what this action deletes (apply reads each manifest's
    // subject before its DELETE).
    const chain = new Set<string>([a.digest, ...(a.children ?? [])]);
    for (const r of a.referrers) {
      if (!chain.has(r.subject)) return `referrer ${r.digest} names subject ${r.subject}, which this action does not delete`;
      if (chain.has(r.digest)) return `referrer ${r.digest} is listed twice or is the deleted manifest itself`;
      chain.add(r.digest);
    }
  }
  if (a.method !== 'manifest' && !a.kept_by?.length) return `a ${a.method} action must name the tags that keep the digest (kept_by)`;
  if (a.method === 'oci' && !['oci', 'auto'].includes(config.registries.get(a.registry)!.tagDelete)) return `registries.${a.registry}.tag-delete is ${config.registries.get(a.registry)!.tagDelete}, so regmgr does not delete tags by name there`;
  if (a.method === 'untag' && config.registries.get(a.registry)!.tagDelete === 'never') return `registries.${a.registry}.tag-delete is never`;
  return undefined;
}

/** An attachment tag goes only with its subject, or as an orphan in an action that says so. */
function attachmentProblem(a: PlanDelete, t: string, deletedSubjects: ReadonlySet<string>): string | undefined | 'not-attachment' {
  const att = attachmentOf(t);
  if (!att) return 'not-attachment';
  const withSubject = deletedSubjects.has(`${a.registry}/${a.repository}@${att.subject}`);
  const orphan = a.attachment_of?.subject === att.subject && a.attachment_of.orphaned;
  return !withSubject && !orphan ? `tag '${t}' is an attachment of ${att.subject}, which the plan does not delete` : undefined;
}

/**
 * sync-policy.prune: only in the sync target, only in a repository the sync maps a
 * source onto, only tags the filters select (or attachments going with their image).
 * Whether the source still has the tag is live data: apply's re-check decides that.
 */
function pruneProblem(a: PlanDelete, config: Config, deletedSubjects: ReadonlySet<string>): string | undefined {
  const sp = config.syncPolicy;
  if (!sp?.prune) return `${config.file} does not set sync-policy.prune, so it allows no prune`;
  if (a.registry !== sp.to) return `prune deletes only in sync-policy.to '${sp.to}', not in '${a.registry}'`;
  const rp = repositoryProblem(a.repository);
  if (rp) return `repository name ${JSON.stringify(a.repository)} ${rp}`;
  const explicit = config.registries.get(sp.from)!.repositories;
  const sources = explicit ? [...new Set(explicit.map((s) => s.repository))].filter((r) => mapRepository(r, sp.replace) === a.repository) : [a.repository];
  if (!sources.length) return `no repository of sync-policy.from '${sp.from}' maps onto '${a.repository}'`;
  const shape = shapeProblem(a, config);
  if (shape) return shape;
  for (const t of a.tags) {
    const tp = tagProblem(t);
    if (tp) return tp;
    const att = attachmentProblem(a, t, deletedSubjects);
    if (att !== 'not-attachment') {
      if (att) return att;
      continue;
    }
    const selected = sources.some((r) => syncSelection(t, { whole: true, explicit: selectionFor(explicit, r).explicit }, sp).selected);
    if (!selected) return `tag '${t}' is outside sync-policy.filters: prune never touches it`;
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
  // An attachment is copied with its subject, whatever the filters say: copying never deletes.
  const sel = attachmentOf(a.source.tag) ? { selected: true, reason: '' } : syncSelection(a.source.tag, selected, sp);
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
