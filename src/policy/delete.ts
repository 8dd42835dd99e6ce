import type { DeletePolicy } from '../config/model.js';
import type { Digest } from '../oci/names.js';
import { isIndex } from '../oci/media-types.js';
import type { RepoSnapshot, TagEntry } from '../snapshot/model.js';
import type { BlockedItem, DeleteAction, TagDecision } from './decision.js';
import { describeHit, firstHit } from './matchers.js';
import { describeBasis, newestFirst } from './order.js';
import type { RepoSelection } from './selection.js';
import { isVersionTag } from './version.js';

export interface DeleteInput {
  registry: string;
  repo: RepoSnapshot;
  selection: RepoSelection;
  policy: DeletePolicy;
  /** Children of index manifests in this repository, where they were read. */
  indexChildren: ReadonlyMap<Digest, readonly Digest[]>;
}

export interface DeleteResult {
  decisions: TagDecision[];
  actions: DeleteAction[];
  blocked: BlockedItem[];
  /** Digests whose creation time the decision needs and the snapshot lacks. */
  needsCreated: Digest[];
  /** Kept index digests whose children the decision needs and the snapshot lacks. */
  needsChildren: Digest[];
}

interface Pending {
  entry: TagEntry;
  verdict: 'delete' | 'keep' | 'skip';
  reason: string;
}

/**
 * The delete policy for one repository: pure, no I/O. When it needs data the snapshot
 * does not hold yet (creation times, index children), it says which, and the caller
 * reads them and asks again.
 */
export function decideDelete(input: DeleteInput): DeleteResult {
  const { repo, selection, policy, registry } = input;
  const pending: Pending[] = repo.tags.map((entry) => ({ entry, ...candidacy(entry.tag, selection, policy) }));

  // mix-count: among the rule candidates (not explicitly listed ones), keep the N newest.
  const ruled = pending.filter((p) => p.verdict === 'delete' && !selection.explicit.has(p.entry.tag));
  const needsCreated = new Set<Digest>();
  if (ruled.length > 0 && policy.mixCount >= ruled.length) {
    for (const p of ruled) keep(p, `${p.reason}; kept by mix-count ${policy.mixCount} (only ${ruled.length} candidate${ruled.length === 1 ? '' : 's'})`);
  } else if (policy.mixCount > 0 && ruled.length > 0) {
    for (const p of ruled) if (p.entry.created === undefined) needsCreated.add(p.entry.digest);
    if (needsCreated.size === 0) {
      const { sorted, basis } = newestFirst(ruled.map((p) => ({ tag: p.entry.tag, created: p.entry.created ?? undefined, p })));
      sorted.forEach((s, i) => {
        const rank = `#${i + 1} newest of ${sorted.length} candidates by ${describeBasis(basis.get(s))}`;
        if (i < policy.mixCount) keep(s.p, `${s.p.reason}; kept by mix-count ${policy.mixCount} (${rank})`);
        else s.p.reason = `${s.p.reason}; ${rank}, beyond mix-count ${policy.mixCount}`;
      });
    }
  }
  if (needsCreated.size) return { decisions: [], actions: [], blocked: [], needsCreated: [...needsCreated].sort(), needsChildren: [] };

  // A digest is deleted only when every tag on it is to be deleted.
  const byDigest = new Map<Digest, Pending[]>();
  for (const p of pending) byDigest.set(p.entry.digest, [...(byDigest.get(p.entry.digest) ?? []), p]);
  const actions: DeleteAction[] = [];
  const blocked: BlockedItem[] = [];
  const blockedTags = new Map<string, string>();
  const block = (digest: Digest, group: Pending[], wouldLose: BlockedItem['wouldLose'], reason: string) => {
    const tags = group.filter((p) => p.verdict === 'delete').map((p) => p.entry.tag);
    blocked.push({ type: 'delete', registry, repository: repo.repository, digest, tags, wouldLose, reason });
    for (const t of tags) blockedTags.set(t, reason);
  };
  for (const [digest, group] of byDigest) {
    if (!group.some((p) => p.verdict === 'delete')) continue;
    const others = group.filter((p) => p.verdict !== 'delete');
    if (others.length) {
      const lost = others.map((p) => ({ tag: p.entry.tag, reason: p.reason }));
      block(digest, group, lost, `shares its digest with kept tag${lost.length === 1 ? '' : 's'} ${lost.map((l) => l.tag).join(', ')}; deleting the digest would remove ${lost.length === 1 ? 'it' : 'them'} too`);
      continue;
    }
    actions.push({
      type: 'delete',
      registry,
      repository: repo.repository,
      digest,
      mediaType: group[0].entry.mediaType,
      tags: group.map((p) => p.entry.tag),
      method: 'manifest',
      reasons: Object.fromEntries(group.map((p) => [p.entry.tag, p.reason])),
    });
  }

  // A platform manifest that a kept index lists must stay, or that index breaks.
  const deleted = new Set(actions.map((a) => a.digest));
  const keptIndexes = [...byDigest.entries()].filter(([d, g]) => !deleted.has(d) && isIndex(g[0].entry.mediaType));
  const singles = actions.filter((a) => !isIndex(a.mediaType));
  const needsChildren = singles.length ? keptIndexes.map(([d]) => d).filter((d) => !input.indexChildren.has(d)) : [];
  if (needsChildren.length) return { decisions: [], actions: [], blocked: [], needsCreated: [], needsChildren: needsChildren.sort() };
  const finalActions = actions.filter((a) => {
    if (isIndex(a.mediaType)) return true;
    const parents = keptIndexes.filter(([d]) => input.indexChildren.get(d)?.includes(a.digest));
    if (!parents.length) return true;
    const lost = parents.flatMap(([, g]) => g.map((p) => ({ tag: p.entry.tag, reason: `multi-arch index that lists this platform manifest; ${p.reason}` })));
    block(a.digest, byDigest.get(a.digest)!, lost, `is a platform manifest of kept multi-arch tag${lost.length === 1 ? '' : 's'} ${lost.map((l) => l.tag).join(', ')}; deleting it would break ${lost.length === 1 ? 'that image' : 'those images'}`);
    return false;
  });

  const decisions: TagDecision[] = pending.map((p) => {
    const b = blockedTags.get(p.entry.tag);
    if (b) return { tag: p.entry.tag, digest: p.entry.digest, verdict: 'blocked', reason: `${p.reason}; blocked: ${b}` };
    return { tag: p.entry.tag, digest: p.entry.digest, verdict: p.verdict, reason: p.reason };
  });
  return { decisions, actions: finalActions, blocked: blocked.sort((a, b) => (a.digest < b.digest ? -1 : 1)), needsCreated: [], needsChildren: [] };
}

function keep(p: Pending, reason: string) {
  p.verdict = 'keep';
  p.reason = reason;
}

/**
 * The tag rules alone (selection, exclude, include, sem-ver), before any keep count:
 * 'delete' makes the tag a candidate. apply uses it too, to refuse a plan action that
 * names a tag the config does not make a candidate.
 */
export function candidacy(tag: string, selection: RepoSelection, policy: DeletePolicy): { verdict: 'delete' | 'keep' | 'skip'; reason: string } {
  if (selection.explicit.has(tag)) return { verdict: 'delete', reason: 'listed explicitly (repo:tag in repositories)' };
  if (!selection.whole) return { verdict: 'skip', reason: 'not selected: only explicitly listed tags of this repository are' };
  const ex = firstHit(policy.exclude, tag);
  if (ex) return { verdict: 'keep', reason: `excluded by ${describeHit(ex)}` };
  const inc = firstHit(policy.include, tag);
  if (inc) return { verdict: 'delete', reason: `matches include ${describeHit(inc)}` };
  if (policy.semVer && !isVersionTag(tag)) return { verdict: 'delete', reason: 'not a semantic version (sem-ver: true)' };
  return { verdict: 'keep', reason: 'matches no include rule' };
}
