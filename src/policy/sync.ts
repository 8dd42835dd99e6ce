import type { ReplaceRule, SyncPolicy } from '../config/model.js';
import type { RepoSnapshot } from '../snapshot/model.js';
import type { CopyAction, TagDecision } from './decision.js';
import { NOT_LISTED, type RepoSelection } from './selection.js';
import { attachmentOf } from '../oci/attachments.js';

/**
 * The target repository name: the first rule whose `old` is a whole leading path of the
 * name (`library` matches `library/redis`, not `team/library-tools`); `old: ""` prefixes.
 */
export function mapRepository(repo: string, rules: readonly ReplaceRule[]): string {
  for (const r of rules) {
    if (r.old === '') return r.new ? `${r.new}/${repo}` : repo;
    if (repo === r.old) return r.new || repo;
    if (repo.startsWith(`${r.old}/`)) return r.new ? `${r.new}${repo.slice(r.old.length)}` : repo.slice(r.old.length + 1);
  }
  return repo;
}

export interface SyncInput {
  from: string;
  to: string;
  source: RepoSnapshot;
  selection: RepoSelection;
  targetRepository: string;
  /** The target repository as read (missing or empty when it does not exist yet). */
  target: RepoSnapshot;
  policy: SyncPolicy;
}

/** The sync policy for one source repository: pure, no I/O. */
export function decideSync(input: SyncInput): { decisions: TagDecision[]; actions: CopyAction[] } {
  const { source, selection, policy, target } = input;
  const targetDigest = new Map(target.tags.map((t) => [t.tag, t.digest]));
  const decisions: TagDecision[] = [];
  const actions: CopyAction[] = [];
  // Attachments (signatures...) are synced with their subject, not by the filters.
  const attachments = source.tags.filter((t) => !selection.explicit.has(t.tag) && attachmentOf(t.tag));
  const ordinary = source.tags.filter((t) => !attachments.includes(t));
  const syncedDigests = new Map<string, string>();
  for (const t of ordinary) {
    const sel = syncSelection(t.tag, selection, policy);
    if (!sel.selected) {
      decisions.push({ tag: t.tag, verdict: 'skip', reason: sel.reason });
      continue;
    }
    if (!syncedDigests.has(t.digest)) syncedDigests.set(t.digest, t.tag);
    copyIfNeeded(t, sel.reason);
  }
  for (const t of attachments) {
    const a = attachmentOf(t.tag)!;
    const subjectTag = syncedDigests.get(a.subject);
    if (!subjectTag) {
      decisions.push({ tag: t.tag, verdict: 'skip', reason: `${a.kind} of an image that is not synced` });
      continue;
    }
    copyIfNeeded(t, `${a.kind} of ${subjectTag}, synced with it`);
  }
  return { decisions, actions };

  function copyIfNeeded(t: RepoSnapshot['tags'][number], why: string) {
    const have = targetDigest.get(t.tag) ?? null;
    const dest = `${input.to}/${input.targetRepository}:${t.tag}`;
    if (have === t.digest && !policy.force) {
      decisions.push({ tag: t.tag, verdict: 'up-to-date', reason: `${why}; ${dest} already has this digest` });
      return;
    }
    const reason = `${why}; ${have === null ? `${dest} does not exist` : have === t.digest ? `force: re-copy to ${dest}` : `${dest} has another digest (${have})`}`;
    decisions.push({ tag: t.tag, verdict: 'copy', reason });
    actions.push({
      type: 'copy',
      source: { registry: input.from, repository: source.repository, tag: t.tag, digest: t.digest, mediaType: t.mediaType },
      target: { registry: input.to, repository: input.targetRepository, tag: t.tag, digestAtPlan: have },
      reason,
    });
  }
}

/** Whether the sync policy selects a source tag, and why: used by plan, and by apply to refuse edited plans. */
export function syncSelection(tag: string, selection: RepoSelection, policy: SyncPolicy): { selected: boolean; reason: string } {
  if (selection.explicit.has(tag)) return { selected: true, reason: 'listed explicitly (repo:tag in repositories)' };
  if (!selection.whole) return { selected: false, reason: NOT_LISTED };
  if (policy.filters.length === 0) return { selected: true, reason: 'no filters: every tag is synced' };
  const f = policy.filters.find((r) => r.test(tag));
  return f ? { selected: true, reason: `matches filter /${f.source}/` } : { selected: false, reason: 'matches no filter' };
}
