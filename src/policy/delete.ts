import type { DeletePolicy, TagDeleteMethod } from '../config/model.js';
import type { Digest } from '../oci/names.js';
import { isIndex } from '../oci/media-types.js';
import { attachmentOf, type Attachment } from '../oci/attachments.js';
import type { RepoSnapshot, TagEntry } from '../snapshot/model.js';
import type { BlockedItem, DeleteAction, TagDecision } from './decision.js';
import { describeHit, firstHit, type RuleHit } from './matchers.js';
import { applyRetention, createdWanted } from './retention.js';
import { Groups } from '../util/group.js';
import { NOT_LISTED, type RepoSelection } from './selection.js';
import { isVersionTag } from './version.js';
import { refKey, type InUse } from './in-use.js';
import { flat } from '../util/flat-string.js';
import { ownRecord } from '../util/own-key.js';
import { keyedSet, OneKey } from '../util/one-key.js';
import { interner } from '../util/intern.js';

export interface DeleteInput {
  registry: string;
  repo: RepoSnapshot;
  selection: RepoSelection;
  policy: DeletePolicy;
  /** Children of index manifests in this repository, where they were read. */
  indexChildren: ReadonlyMap<Digest, readonly Digest[]>;
  /** How a tag goes while its digest stays (the registry's tag-delete); default untag. */
  tagDelete?: TagDeleteMethod;
  /** Whether untagged subjects of attachments still exist, where that was read. */
  subjectsPresent?: ReadonlyMap<Digest, boolean>;
  /** The plan's time (its created_at), which keep-within ages are measured against. */
  nowMs: number;
  /** Why this registry cannot delete (probed): every delete is blocked with it. */
  cannotDelete?: string;
  /** What is deployed (keep-in-use): a candidate in use is kept. */
  inUse?: InUse;
  /** The registry's `host[:port]`, to match references by tag against. */
  host?: string;
  /** allow-empty-repository: deleting every tag of the repository (or every keep-like one) is allowed. */
  allowEmpty?: boolean;
  /** Instead of the delete policy's tag rules (sync-policy.prune): whether a tag is a candidate, and why. No retention applies. */
  candidate?: (tag: string) => { verdict: 'delete' | 'keep' | 'skip'; reason: string };
  /** Names what blocked deletes must set to be allowed, e.g. `delete-policy.allow-empty-repository`. */
  allowOption?: string;
}

/** Names people keep an image under (a deployment pulls them): deleting them all is guarded. */
export const KEEP_LIKE = new Set(['latest', 'stable', 'main', 'master', 'prod', 'production', 'release']);

export interface DeleteResult {
  decisions: TagDecision[];
  actions: DeleteAction[];
  blocked: BlockedItem[];
  /** Digests whose creation time the decision needs and the snapshot lacks. */
  needsCreated: Digest[];
  /** Kept index digests whose children the decision needs and the snapshot lacks. */
  needsChildren: Digest[];
  /** Subjects of attachments, not tagged here, whose existence the decision needs. */
  needsSubjects: Digest[];
  /** What the plan should warn about (a guard that blocked deletes). */
  warnings?: string[];
}

/** A tag as the decision goes; at its end, the tag's decision (returned as it is, not copied). */
interface Pending extends TagDecision {
  entry: TagEntry;
  /** Until the decision's end, where a blocked tag becomes 'blocked'. */
  verdict: 'delete' | 'keep' | 'skip';
  /** For an attachment tag: its subject. */
  attachment?: Attachment;
}

const NONE = { needsCreated: [], needsChildren: [], needsSubjects: [] };

/**
 * The delete policy for one repository: pure, no I/O. When it needs data the snapshot
 * does not hold yet (creation times, index children), it says which, and the caller
 * reads them and asks again.
 */
export function decideDelete(input: DeleteInput): DeleteResult {
  const { repo, selection, policy, registry } = input;
  const tagDelete = input.tagDelete ?? 'untag';
  // Attachments (signatures, attestations, SBOMs) follow their subject: never candidates
  // of their own, never counted by mix-count. An explicitly listed one is just a tag.
  const pending: Pending[] = repo.tags.map((entry) => {
    const attachment = selection.explicit.has(entry.tag) ? undefined : attachmentOf(entry.tag);
    if (attachment && selection.whole) return { entry, tag: entry.tag, verdict: 'keep', reason: '', attachment };
    // Fields named, not spread: a spread made each of these (one per tag, alive through
    // the whole evaluation) ~80 bytes instead of ~56.
    const c = input.candidate ? input.candidate(entry.tag) : candidacy(entry.tag, selection, policy);
    return { entry, tag: entry.tag, verdict: c.verdict, reason: c.reason, attachment: undefined };
  });
  const attachments = pending.filter((p) => p.attachment);
  // Without attachments (most repositories), the same list: not a copy of every tag's record.
  const ordinary = attachments.length ? pending.filter((p) => !p.attachment) : pending;

  // Retention: rules, then the seed's pool (mix-count, keep-within), among the
  // candidates of the tag rules (not explicitly listed ones).
  if (!input.candidate) {
    const ruled = ordinary.filter((p) => p.verdict === 'delete' && !selection.explicit.has(p.entry.tag));
    const needsCreated = applyRetention(ruled, repo.repository, policy, input.nowMs);
    if (needsCreated.length) return { decisions: [], actions: [], blocked: [], ...NONE, needsCreated };
  }

  // Images in use are kept, whatever the rules say: by digest, by an index that lists
  // the digest in use (a node pulls a platform manifest of it), or by tag reference.
  if (input.inUse) {
    const unknownIndexes = ordinary.filter((p) => p.verdict === 'delete' && isIndex(p.entry.mediaType) && !input.indexChildren.has(p.entry.digest)).map((p) => p.entry.digest);
    if (unknownIndexes.length) return { decisions: [], actions: [], blocked: [], ...NONE, needsChildren: [...new Set(unknownIndexes)].sort() };
    for (const p of ordinary) {
      if (p.verdict !== 'delete') continue;
      const who = usedBy(p.entry, input);
      if (who) (p.verdict = 'keep'), (p.reason = `in use: ${who}`);
    }
  }

  const byDigest = new Groups(ordinary, (p) => p.entry.digest);
  const attByDigest = new Groups(attachments, (p) => p.entry.digest);
  // Every digest a tag names here (an attachment's digest can be a subject too: a
  // signature of a signature), and the platform manifests of indexes.
  // The two groupings' keys are every digest a tag names: no third set of them.
  const tagged = { has: (d: Digest) => byDigest.has(d) || attByDigest.has(d) };
  const children = new Set([...input.indexChildren.values()].flat());
  const present = (d: Digest) => tagged.has(d) || children.has(d) || input.subjectsPresent?.get(d) === true;
  const unknown = attachments.map((p) => p.attachment!.subject).filter((d) => !present(d) && !input.subjectsPresent?.has(d));
  if (unknown.length) return { decisions: [], actions: [], blocked: [], ...NONE, needsSubjects: [...new Set(unknown)].sort() };

  // Digests whose every ordinary tag is to be deleted. An attachment tag on a digest is
  // one more tag of it: one that stays (its subject is kept) keeps the digest, and the
  // ordinary tags on it go alone; one on its own subject follows that digest.
  // Asked of byDigest when an attachment needs it, not a set made of every digest.
  const allOrdinaryGo = (d: Digest) => byDigest.get(d)?.every((p) => p.verdict === 'delete') === true;
  const stays = (p: Pending) => {
    const { subject } = p.attachment!;
    return subject !== p.entry.digest && !allOrdinaryGo(subject) && present(subject);
  };
  const out = new Outcome(registry, repo.repository, tagDelete);
  // A digest is deleted only when every tag on it is to be deleted; otherwise its
  // deleted tags go on their own and the digest stays for the kept ones.
  byDigest.forEach((group, digest) => {
    let deletes = false;
    let keeps = false;
    for (const p of group) {
      if (p.verdict === 'delete') deletes = true;
      else keeps = true;
    }
    if (!deletes) return;
    // Most digests: every tag goes and no attachment is on it; no lists made to find that out.
    const onDigest = attByDigest.get(digest);
    if (!keeps && !onDigest) return void out.whole(digest, group);
    const keptAttachments = (onDigest ?? []).filter(stays).map((p) => ({ tag: p.entry.tag, reason: `${p.attachment!.kind} of a kept image, on this same digest` }));
    const others = [...group.filter((p) => p.verdict !== 'delete').map((p) => ({ tag: p.entry.tag, reason: p.reason })), ...keptAttachments];
    if (others.length) out.shared(digest, group, others, `kept tag${others.length === 1 ? '' : 's'} ${others.map((l) => l.tag).join(', ')}`);
    else out.whole(digest, group);
  });

  // A platform manifest that a kept index lists must stay, or that index breaks.
  // Only indexes are looked up: a set of every deleted digest is made only when there is one.
  let deleted: Set<Digest> | undefined;
  const keptIndexes: Array<[Digest, readonly Pending[]]> = [];
  byDigest.forEachFirst((first, d) => {
    if (isIndex(first.entry.mediaType) && !(deleted ??= new Set(out.manifestDigests())).has(d)) keptIndexes.push([d, byDigest.get(d)!]);
  });
  const singles = out.actions.filter((a) => a.method === 'manifest' && !isIndex(a.mediaType));
  const deletedIndexes = out.actions.filter((a) => a.method === 'manifest' && isIndex(a.mediaType));
  const needsChildren = [
    ...(singles.length || deletedIndexes.length ? keptIndexes.map(([d]) => d) : []),
    ...deletedIndexes.map((a) => a.digest),
  ].filter((d) => !input.indexChildren.has(d));
  if (needsChildren.length) return { decisions: [], actions: [], blocked: [], ...NONE, needsChildren: needsChildren.sort() };
  // Kept indexes by the platform manifests they list: one pass, not one per single.
  const parentsOf = new Map<Digest, Array<[Digest, readonly Pending[]]>>();
  for (const k of keptIndexes) {
    for (const child of new Set(input.indexChildren.get(k[0]) ?? [])) {
      const list = parentsOf.get(child);
      if (list) list.push(k);
      else parentsOf.set(child, [k]);
    }
  }
  for (const a of singles) {
    const parents = parentsOf.get(a.digest) ?? [];
    if (!parents.length) continue;
    const lost = parents.flatMap(([, g]) => g.map((p) => ({ tag: p.entry.tag, reason: `multi-arch index that lists this platform manifest; ${p.reason}` })));
    out.undoWhole(a);
    const names = lost.map((l) => l.tag).join(', ');
    out.shared(a.digest, byDigest.get(a.digest)!, lost, `kept multi-arch tag${lost.length === 1 ? '' : 's'} ${names}`, undefined, `is a platform manifest of kept multi-arch tag${lost.length === 1 ? '' : 's'} ${names}; deleting it would break ${lost.length === 1 ? 'that image' : 'those images'}`);
  }

  // A deleted index takes its platform manifests along, unless a tag or a kept index
  // still uses one (a platform manifest two deleted indexes share goes with the first).
  const keptChildren = new Set(keptIndexes.flatMap(([d]) => input.indexChildren.get(d) ?? []));
  const claimed = new Set<Digest>();
  for (const a of out.actions) {
    if (a.method !== 'manifest' || !isIndex(a.mediaType)) continue;
    const free = [...new Set(input.indexChildren.get(a.digest) ?? [])].filter((c) => !tagged.has(c) && !keptChildren.has(c) && !claimed.has(c) && c !== a.digest).sort();
    for (const c of free) claimed.add(c);
    if (free.length) a.children = free;
  }

  // Attachments: deleted with a deleted subject, kept with a kept one, deleted when
  // their subject is gone from the repository (orphaned). Chains are followed: when
  // every tag on an attachment's own digest goes, attachments of that digest go too.
  const gone = new Set<Digest>(attachments.length ? [...out.manifestDigests(), ...claimed] : []);
  const settled = new Set<Pending>();
  const goesWhole = (d: Digest) => [...(byDigest.get(d) ?? []), ...(attByDigest.get(d) ?? [])].every((x) => x.verdict === 'delete' && (!x.attachment || settled.has(x)));
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of attachments) {
      if (settled.has(p)) continue;
      const { subject, kind } = p.attachment!;
      const subjectTags = (byDigest.get(subject) ?? []).map((o) => o.entry.tag);
      const named = subjectTags.length ? subjectTags.join(', ') : subject;
      if (gone.has(subject)) {
        p.verdict = 'delete';
        p.reason = `${kind} of ${named}, deleted with it`;
      } else if (!present(subject)) {
        p.verdict = 'delete';
        p.reason = `${kind} of ${subject}, which no longer exists here: orphaned`;
      } else continue;
      settled.add(p);
      changed = true;
      if (goesWhole(p.entry.digest)) gone.add(p.entry.digest);
    }
  }
  for (const p of attachments) {
    if (settled.has(p)) continue;
    const subjectTags = (byDigest.get(p.attachment!.subject) ?? []).map((o) => o.entry.tag);
    p.reason = `${p.attachment!.kind} of ${subjectTags.length ? subjectTags.join(', ') : p.attachment!.subject}, kept with it`;
  }
  for (const [digest, group] of attByDigest) {
    const doomed = group.filter((p) => p.verdict === 'delete');
    if (!doomed.length) continue;
    // One action per digest: an attachment on a digest that goes whole goes in that DELETE.
    const whole = out.actions.find((a) => a.method === 'manifest' && a.digest === digest);
    if (whole) {
      for (const p of doomed) (whole.tags.push(p.entry.tag), (whole.reasons = keyedSet(whole.reasons, p.entry.tag, p.reason)));
      continue;
    }
    const others = [...group, ...(byDigest.get(digest) ?? [])].filter((p) => p.verdict !== 'delete').map((p) => ({ tag: p.entry.tag, reason: p.reason }));
    const a = doomed[0].attachment!;
    const of = { subject: a.subject, orphaned: !gone.has(a.subject) };
    if (others.length) out.shared(digest, doomed, others, `tag${others.length === 1 ? '' : 's'} ${others.map((l) => l.tag).join(', ')}`, of);
    else out.whole(digest, doomed, of);
  }

  const warnings = input.allowEmpty || !selection.whole ? [] : guardEmptying(ordinary, out, repo.repository, registry, input.allowOption ?? 'delete-policy.allow-empty-repository');

  // A registry that cannot delete: what the policy wants stays in the plan, blocked, with
  // the reason and what to change; apply then sends nothing.
  if (input.cannotDelete) {
    for (const a of out.actions.splice(0)) {
      const reason = `registries.${registry} cannot delete: ${input.cannotDelete}`;
      out.blocked.push({ type: 'delete', registry, repository: repo.repository, digest: a.digest, tags: a.tags, wouldLose: [], reason });
      for (const t of a.tags) out.blockedTags.set(t, reason);
    }
  }
  // Each pending record becomes its tag's decision where it is (a copy of each was ~24
  // bytes a tag more at the evaluation's peak). The actions and blocked items already
  // hold the reasons they were made with. It lets go of what was read (the entry), which
  // the plan's snapshot then lets go of in its turn.
  for (const p of pending as Array<TagDecision & { entry?: TagEntry }>) {
    p.entry = undefined;
    // Flat: the actions share p.reason, and every reason is kept until the plan is written.
    if (typeof p.reason === 'string') flat(p.reason);
    const b = out.blockedTags.get(p.tag);
    // Joined, not concatenated: join makes the string flat at once, with no pieces to collect.
    if (b) (p.verdict = 'blocked'), (p.reason = [p.reason, '; blocked: ', b].join(''));
    else {
      const how = out.untagged.get(p.tag);
      if (how) p.reason = [p.reason, '; ', how].join('');
    }
  }
  const decisions: TagDecision[] = pending;
  return { decisions, actions: out.actions, blocked: out.blocked.sort((a, b) => (a.digest < b.digest ? -1 : 1)), ...NONE, ...(warnings.length ? { warnings } : {}) };
}

/** Who uses an image, by its digest, a platform manifest of it, or its tag; undefined when no one. */
function usedBy(entry: TagEntry, input: DeleteInput): string | undefined {
  const u = input.inUse!;
  const direct = u.digests.get(entry.digest);
  if (direct) return direct;
  for (const c of input.indexChildren.get(entry.digest) ?? []) {
    const who = u.digests.get(c);
    if (who) return `${who} (platform manifest ${c.slice(0, 19)} of this index)`;
  }
  return input.host ? u.refs.get(refKey(input.host, input.repo.repository, entry.tag)) : undefined;
}

/**
 * One wrong regex empties a repository. Unless allowed, a plan that deletes every tag of
 * a repository blocks all of those deletes, and one that deletes every keep-like tag
 * (latest, stable...) blocks the deletes of those, each with the reason and the option.
 * Attachments of a blocked image stay with it.
 */
function guardEmptying(ordinary: Pending[], out: Outcome, repository: string, registry: string, option: string): string[] {
  // Whether an action removes each of these tags. Only a tag whose verdict is delete is in
  // an action, so a tag kept settles it at once; the set of the actions' tags is made only
  // when every tag asked about is to go (the case the guard is for), and of those tags
  // alone: a set of every action's tags was ~47 MiB at 1,000,000 tags.
  const allGo = (list: readonly Pending[], named: (tag: string) => boolean) => {
    if (!list.length || list.some((p) => p.verdict !== 'delete')) return false;
    const going = new Set<string>();
    for (const a of out.actions) for (const t of a.tags) if (named(t)) going.add(t);
    return list.every((p) => going.has(p.entry.tag));
  };
  const all = allGo(ordinary, () => true);
  const keepLike = ordinary.filter((p) => KEEP_LIKE.has(p.entry.tag));
  const keepLikeAll = allGo(keepLike, (t) => KEEP_LIKE.has(t));
  if (!all && !keepLikeAll) return [];
  const names = keepLike.map((p) => p.entry.tag).sort();
  const reason = all
    ? `would delete every tag of ${repository} (${ordinary.length}): set ${option}: true if that is meant`
    : `would delete ${names.length === 1 ? names[0] : `every one of ${names.join(', ')}`}, which deployments usually pull: set ${option}: true if that is meant`;
  const hit = all ? [...out.actions] : out.actions.filter((a) => a.tags.some((t) => KEEP_LIKE.has(t)));
  const blockedDigests = new Set(hit.map((a) => a.digest));
  // Attachments of a blocked image (their own actions) stay with it.
  for (const a of out.actions) if (a.attachmentOf && blockedDigests.has(a.attachmentOf.subject) && !hit.includes(a)) hit.push(a);
  for (const a of hit) {
    out.actions.splice(out.actions.indexOf(a), 1);
    out.blocked.push({ type: 'delete', registry, repository, digest: a.digest, tags: a.tags, wouldLose: [], reason });
    for (const t of a.tags) out.blockedTags.set(t, reason);
  }
  return [`${registry} ${repository}: ${reason} (${hit.length} delete${hit.length === 1 ? '' : 's'} blocked)`];
}

/** The actions and blocked items of one repository, as the decision builds them. */
class Outcome {
  readonly actions: DeleteAction[] = [];
  readonly blocked: BlockedItem[] = [];
  readonly blockedTags = new Map<string, string>();
  /** Tags removed on their own, with the words that say so. */
  readonly untagged = new Map<string, string>();

  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly tagDelete: TagDeleteMethod,
  ) {}

  manifestDigests(): Digest[] {
    return this.actions.filter((a) => a.method === 'manifest').map((a) => a.digest);
  }

  /** Every tag on the digest goes: DELETE the manifest. */
  whole(digest: Digest, group: readonly Pending[], attachmentOf?: DeleteAction['attachmentOf']) {
    this.actions.push({
      type: 'delete',
      registry: this.registry,
      repository: this.repository,
      digest,
      mediaType: group[0].entry.mediaType,
      tags: group.map((p) => p.entry.tag),
      method: 'manifest',
      reasons: group.length === 1 ? new OneKey(group[0].entry.tag, group[0].reason) : ownRecord(group, (p) => p.entry.tag, (p) => p.reason),
      ...(attachmentOf ? { attachmentOf } : {}),
    });
  }

  undoWhole(a: DeleteAction) {
    this.actions.splice(this.actions.indexOf(a), 1);
  }

  /** Some tags go, the digest stays for `keptBy`: one tag-only removal each, or blocked. */
  shared(digest: Digest, group: readonly Pending[], keptBy: BlockedItem['wouldLose'], keeper: string, attachmentOf?: DeleteAction['attachmentOf'], whyBlocked?: string) {
    const doomed = group.filter((p) => p.verdict === 'delete');
    if (this.tagDelete === 'never') {
      const reason = `${whyBlocked ?? `shares its digest with ${keeper}; deleting the digest would remove ${keptBy.length === 1 ? 'it' : 'them'} too`} (tag-delete: never)`;
      this.blocked.push({ type: 'delete', registry: this.registry, repository: this.repository, digest, tags: doomed.map((p) => p.entry.tag), wouldLose: keptBy, reason });
      for (const p of doomed) this.blockedTags.set(p.entry.tag, reason);
      return;
    }
    const keepers = keptBy.map((k) => k.tag).sort();
    // One string for the digest's doomed tags, not one each.
    const how = `${this.tagDelete === 'oci' ? 'tag deleted' : 'untagged'} alone: digest kept by ${keepers.join(', ')}`;
    for (const p of doomed) {
      this.untagged.set(p.entry.tag, how);
      this.actions.push({
        type: 'delete',
        registry: this.registry,
        repository: this.repository,
        digest,
        mediaType: p.entry.mediaType,
        tags: [p.entry.tag],
        method: this.tagDelete,
        keptBy: keepers,
        reasons: new OneKey(p.entry.tag, p.reason),
        ...(attachmentOf ? { attachmentOf } : {}),
      });
    }
  }
}


/**
 * The tags of a repository whose creation time decideDelete will ask for, from their
 * names alone (candidacy and the retention groups look at nothing else). Pure.
 */
export function tagsNeedingCreated(tags: readonly string[], repository: string, selection: RepoSelection, policy: DeletePolicy): Set<string> {
  const candidates = tags.filter((t) => !selection.explicit.has(t) && !(selection.whole && attachmentOf(t)) && candidacy(t, selection, policy).verdict === 'delete');
  return createdWanted(candidates, repository, policy);
}

/**
 * The tag rules alone (selection, exclude, include, sem-ver), before any keep count:
 * 'delete' makes the tag a candidate. apply uses it too, to refuse a plan action that
 * names a tag the config does not make a candidate.
 */
export function candidacy(tag: string, selection: RepoSelection, policy: DeletePolicy): { verdict: 'delete' | 'keep' | 'skip'; reason: string } {
  if (selection.explicit.has(tag)) return { verdict: 'delete', reason: 'listed explicitly (repo:tag in repositories)' };
  if (!selection.whole) return { verdict: 'skip', reason: NOT_LISTED };
  const ex = firstHit(policy.exclude, tag);
  if (ex) return { verdict: 'keep', reason: wordsOf(EXCLUDED, ex, 'excluded by ') };
  const inc = firstHit(policy.include, tag);
  if (inc) return { verdict: 'delete', reason: wordsOf(INCLUDED, inc, 'matches include ') };
  if (policy.semVer && !isVersionTag(tag)) return { verdict: 'delete', reason: 'not a semantic version (sem-ver: true)' };
  return { verdict: 'keep', reason: 'matches no include rule' };
}

/**
 * One string for each rule's words, not one per tag: every tag a rule matches is kept
 * until the plan is written with the same reason (at 1,000,000 tags, ~40 MiB of copies).
 * Bounded by what a config can say; past the bound a reason is simply not shared.
 */
const shared = interner<string>(10_000);

/** A hit's reason, made once per hit (firstHit hands out one object per rule): not two strings a tag. */
function wordsOf(memo: WeakMap<RuleHit, string>, hit: RuleHit, lead: string): string {
  let words = memo.get(hit);
  if (words === undefined) memo.set(hit, (words = shared(`${lead}${describeHit(hit)}`)));
  return words;
}

const EXCLUDED = new WeakMap<RuleHit, string>();
const INCLUDED = new WeakMap<RuleHit, string>();
