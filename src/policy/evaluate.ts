import type { Config, DeletePolicy } from '../config/model.js';
import type { InUse } from './in-use.js';
import type { Digest } from '../oci/names.js';
import type { RepoSnapshot } from '../snapshot/model.js';
import { decideDelete, tagsNeedingCreated, type DeleteInput, type DeleteResult } from './delete.js';
import { decideSync, mapRepository, syncSelection } from './sync.js';
import { selectionFor } from './selection.js';
import type { CopyAction, TagDecision } from './decision.js';
import type { TagDeleteMethod } from '../config/model.js';
import type { Capabilities } from '../registry/capabilities.js';

/**
 * How this registry's deletes go, from tag-delete and what the probe found: auto takes a
 * tag delete where the registry has one, else untag; a registry that cannot delete
 * (deletes off, no rights) gets every delete blocked in the plan, with why. Pure.
 */
function deleteMethods(configured: TagDeleteMethod | 'auto', caps: Capabilities | undefined): { tagDelete: TagDeleteMethod; cannotDelete?: string } {
  const tagDelete = configured === 'auto' ? (caps?.tag_delete ? 'oci' : 'untag') : configured;
  return { tagDelete, ...(caps && caps.delete !== true ? { cannotDelete: caps.delete } : {}) };
}

/** Repositories read, by registry then repository name. */
export type RepoMap = Map<string, Map<string, RepoSnapshot>>;

/** What planning chose to look at: per policy, the repositories in scope and those skipped. */
export interface Scope {
  delete: Array<{ registry: string; repository: string }>;
  sync: Array<{ repository: string; target: string }>;
  skipped: Array<{ policy: 'delete' | 'sync'; registry: string; repository: string; reason: string }>;
}

export interface Evaluation {
  deletes: Array<{ registry: string; repository: string; result: DeleteResult }>;
  /** sync-policy.prune: per target repository, the tags gone from the source, as deletes. */
  prunes: Array<{ registry: string; repository: string; result: DeleteResult }>;
  syncs: Array<{ repository: string; decisions: TagDecision[]; actions: CopyAction[] }>;
  needs: Array<{ registry: string; repository: string; created: Digest[]; children: Digest[]; subjects: Digest[] }>;
}

/** What was read on request of the policy, per `registry/repository`. */
export interface Extra {
  /** The plan's time: keep-within ages are measured against it. */
  nowMs: number;
  indexChildren: ReadonlyMap<string, ReadonlyMap<Digest, readonly Digest[]>>;
  subjectsPresent: ReadonlyMap<string, ReadonlyMap<Digest, boolean>>;
  /** What each registry can do, where it was probed (a plan; not apply's re-check). */
  capabilities?: ReadonlyMap<string, Capabilities>;
  /** What is deployed (keep-in-use, --in-use): never deleted. */
  inUse?: InUse;
}

/** Prune decides by its own candidate rule: no tag rules, no retention. */
const PRUNE_POLICY: DeletePolicy = { registries: [], start: 0, dryRun: false, mixCount: 0, rules: [], semVer: false, include: { keys: [], regex: [] }, exclude: { keys: [], regex: [] }, allowEmpty: false, keepInUse: [] };

/** Applies both policies to what was read: pure. `needs` lists data to read before asking again. */
export function evaluate(config: Config, scope: Scope, repos: RepoMap, extra: Extra): Evaluation {
  const out: Evaluation = { deletes: [], prunes: [], syncs: [], needs: [] };
  const dp = config.deletePolicy;
  if (dp) {
    for (const { registry, repository } of scope.delete) {
      const repo = repos.get(registry)!.get(repository)!;
      const result = decideIn(registry, repo, {
        selection: selectionFor(config.registries.get(registry)!.repositories, repository),
        policy: dp,
        allowEmpty: dp.allowEmpty || config.registries.get(registry)!.allowEmpty === true,
        allowOption: 'delete-policy.allow-empty-repository',
      });
      settle(out.deletes, registry, repository, result);
    }
  }
  const sp = config.syncPolicy;
  if (sp) {
    for (const { repository, target } of scope.sync) {
      const r = decideSync({
        from: sp.from,
        to: sp.to,
        source: repos.get(sp.from)!.get(repository)!,
        selection: selectionFor(config.registries.get(sp.from)!.repositories, repository),
        targetRepository: target,
        target: repos.get(sp.to)!.get(target)!,
        policy: sp,
      });
      out.syncs.push({ repository, ...r });
      if (sp.prune) prune(repository, target);
    }
  }
  return out;

  /**
   * sync-policy.prune: a target tag that the filters select and the source no longer
   * has goes, through the delete machinery (shared digests, indexes, attachments, the
   * guard against emptying, what is in use). Tags outside the filters are never touched.
   */
  function prune(repository: string, target: string) {
    const sp = config.syncPolicy!;
    const targetRepo = repos.get(sp.to)?.get(target);
    if (!targetRepo?.tags.length) return;
    const source = new Set(repos.get(sp.from)!.get(repository)!.tags.map((t) => t.tag));
    const sourceSelection = selectionFor(config.registries.get(sp.from)!.repositories, repository);
    const candidate = (tag: string): { verdict: 'delete' | 'keep' | 'skip'; reason: string } => {
      if (source.has(tag)) return { verdict: 'keep', reason: `in the source ${sp.from}/${repository}` };
      const sel = syncSelection(tag, { whole: true, explicit: sourceSelection.explicit }, sp);
      if (!sel.selected) return { verdict: 'skip', reason: `outside sync-policy.filters (${sel.reason}): prune never touches it` };
      return { verdict: 'delete', reason: `not in the source ${sp.from}/${repository} (sync-policy.prune; ${sel.reason})` };
    };
    const result = decideIn(sp.to, targetRepo, {
      selection: { whole: true, explicit: new Set() },
      policy: PRUNE_POLICY,
      candidate,
      allowEmpty: sp.allowEmpty || config.registries.get(sp.to)!.allowEmpty === true,
      allowOption: 'sync-policy.allow-empty-repository',
    });
    settle(out.prunes, sp.to, target, result);
  }

  /** decideDelete for one repository, with what every delete there shares: the data read, the registry's methods, what is in use. */
  function decideIn(registry: string, repo: RepoSnapshot, own: Pick<DeleteInput, 'selection' | 'policy' | 'candidate' | 'allowEmpty' | 'allowOption'>): DeleteResult {
    const ep = config.registries.get(registry)!;
    return decideDelete({
      registry,
      repo,
      ...own,
      indexChildren: extra.indexChildren.get(`${registry}/${repo.repository}`) ?? new Map(),
      subjectsPresent: extra.subjectsPresent.get(`${registry}/${repo.repository}`) ?? new Map(),
      ...deleteMethods(ep.tagDelete, extra.capabilities?.get(registry)),
      nowMs: extra.nowMs,
      ...(extra.inUse ? { inUse: extra.inUse } : {}),
      host: ep.host,
    });
  }

  /** A decision that needs more data goes to `needs`; a complete one to `into`. */
  function settle(into: Evaluation['deletes'], registry: string, repository: string, result: DeleteResult) {
    if (result.needsCreated.length || result.needsChildren.length || result.needsSubjects.length) {
      out.needs.push({ registry, repository, created: result.needsCreated, children: result.needsChildren, subjects: result.needsSubjects });
    } else into.push({ registry, repository, result });
  }
}

/**
 * For the reader: which tags of a repository the delete policy will want creation times
 * of (their manifests are then read whole, not just HEAD). Pure.
 */
export function createdWantedFor(config: Config, scope: Scope): (registry: string, repository: string, tags: readonly string[]) => Set<string> {
  const dp = config.deletePolicy;
  const inScope = new Set(scope.delete.map((d) => `${d.registry}/${d.repository}`));
  return (registry, repository, tags) =>
    dp && inScope.has(`${registry}/${repository}`) ? tagsNeedingCreated(tags, repository, selectionFor(config.registries.get(registry)!.repositories, repository), dp) : new Set();
}

/** Parses `--target NAME[/REPO]` filters into a predicate. */
export function targetFilter(targets: string[] | undefined): (registry: string, repository: string) => boolean {
  if (!targets?.length) return () => true;
  const parsed = targets.map((t) => {
    const slash = t.indexOf('/');
    return slash === -1 ? { registry: t, repo: undefined } : { registry: t.slice(0, slash), repo: t.slice(slash + 1) };
  });
  return (registry, repository) => parsed.some((p) => p.registry === registry && (p.repo === undefined || p.repo === repository));
}

/**
 * Which repositories each policy covers, from each registry's selected repository list.
 * Pure: the lists come in already read (config or catalog).
 */
export function computeScope(config: Config, selected: ReadonlyMap<string, readonly string[]>, targets?: string[]): Scope {
  const inTarget = targetFilter(targets);
  const scope: Scope = { delete: [], sync: [], skipped: [] };
  const dp = config.deletePolicy;
  if (dp) {
    for (const registry of dp.registries) {
      (selected.get(registry) ?? []).forEach((repository, i) => {
        if (!inTarget(registry, repository)) return;
        if (i < dp.start) scope.skipped.push({ policy: 'delete', registry, repository, reason: `skipped by start: ${dp.start}` });
        else scope.delete.push({ registry, repository });
      });
    }
  }
  const sp = config.syncPolicy;
  if (sp) {
    (selected.get(sp.from) ?? []).forEach((repository, i) => {
      const target = mapRepository(repository, sp.replace);
      if (!inTarget(sp.from, repository) && !inTarget(sp.to, target)) return;
      if (i < sp.start) scope.skipped.push({ policy: 'sync', registry: sp.from, repository, reason: `skipped by start: ${sp.start}` });
      else scope.sync.push({ repository, target });
    });
  }
  return scope;
}
