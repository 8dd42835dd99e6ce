import type { Config } from '../config/model.js';
import type { Collected } from '../planner/collect.js';
import { FORMAT_VERSION, deleteId, type Plan, type PlanAction, type PlanBlocked, type PlanCopy, type PlanDelete, type SnapshotRepo, type SnapshotTag } from './model.js';
import { planHash } from './canonical.js';
import type { StateSnapshot } from '../state/model.js';
import { diffSnapshots } from '../state/diff.js';
import { stateViewOf } from './state-view.js';
import { planWarnings, type Deleted } from '../policy/warnings.js';
import { bytesCopied, bytesFreed, imageSize, type BytesCopied, type BytesFreed, type BytesInput } from './bytes.js';
import { ownRecord, setOwn } from '../util/own-key.js';
import { groupBy } from '../util/group.js';
import type { TagVerdict } from '../policy/decision.js';
import type { Reason } from '../policy/reason.js';

export interface BuildMeta {
  version: string;
  createdAt: string;
  configFile: string;
  configSha256: string;
  state: { lineage: string | null; serial: number | null };
  targets?: string[];
  /** The recorded state's snapshot, to report what changed outside regmgr. */
  recorded?: StateSnapshot;
  /** The tags regmgr deleted (the state's record): a rule that matched only those is done, not wrong. */
  deleted?: Deleted;
  /** What said which images are in use (they were kept). */
  inUse?: Plan['in_use'];
}

/** Turns decisions into the plan file: pure, deterministic (sorted), hashed. */
export function buildPlan(config: Config, c: Collected, meta: BuildMeta): Plan {
  return sealPlan(buildPlanBody(config, c, meta));
}

/** The plan with its sha256. */
export function sealPlan(body: Omit<Plan, 'sha256'>): Plan {
  return { ...body, sha256: planHash(body) };
}

/**
 * The plan without its sha256: what it needs of `c` is copied or shared, so that the
 * caller may let go of `c` before the hash walks the whole plan. With `consume`, it also
 * empties what it has used of `c` as it goes (actions, then tag lists and sizes, then
 * decisions), and calls it after each: what was let go is garbage only once collected, and
 * V8 does not collect during one long computation until the heap has grown to several
 * times what is live. So what was read and what is built are never both whole at once
 * (at 200,000 tags the two were ~175 and ~176 MiB). The caller must not use `c` afterwards.
 */
export function buildPlanBody(config: Config, c: Collected, meta: BuildMeta, consume?: () => void): Omit<Plan, 'sha256'> {
  const copies: PlanCopy[] = [];
  for (const s of c.evaluation.syncs) {
    for (const a of s.actions) {
      copies.push({
        id: `copy ${a.target.registry}/${a.target.repository}:${a.target.tag}`,
        type: 'copy',
        source: { registry: a.source.registry, repository: a.source.repository, tag: a.source.tag, digest: a.source.digest, media_type: a.source.mediaType },
        target: { registry: a.target.registry, repository: a.target.repository, tag: a.target.tag, digest_at_plan: a.target.digestAtPlan },
        reason: a.reason,
      });
    }
    if (consume) s.actions = [];
  }
  const deletes: PlanDelete[] = [];
  const blocked: PlanBlocked[] = [];
  // A prune's id is looked up among the policy's only when there are prunes.
  const prunes = c.evaluation.prunes.length > 0;
  const policyIds = new Set<string>();
  const guardWarnings: string[] = [];
  for (const d of [...c.evaluation.deletes.map((x) => ({ ...x, prune: false })), ...c.evaluation.prunes.map((x) => ({ ...x, prune: true }))]) {
    guardWarnings.push(...(d.result.warnings ?? []));
    for (const a of d.result.actions) {
      // A target repository that the delete policy covers too: its own decision stands.
      if (d.prune && policyIds.has(deleteId(a))) continue;
      if (!d.prune && prunes) policyIds.add(deleteId(a));
      // Optional fields assigned, not spread: a spread makes an object per field per action.
      // The fields every delete has are in the literal, so V8 keeps them in the object. The
      // id holds its place until it is written, last (below).
      const del: PlanDelete = { id: '', type: 'delete', registry: a.registry, repository: a.repository, digest: a.digest, media_type: a.mediaType, tags: inOrder(a.tags), method: a.method, reasons: a.reasons };
      if (a.keptBy) del.kept_by = inOrder(a.keptBy);
      if (a.attachmentOf) del.attachment_of = a.attachmentOf;
      if (a.children) del.children = [...a.children].sort();
      if (a.referrers) del.referrers = a.referrers.map((r) => ({ digest: r.digest, subject: r.subject, artifact_type: r.artifactType }));
      if (d.prune) del.prune = true;
      deletes.push(del);
    }
    for (const b of d.result.blocked) {
      blocked.push({ type: 'delete', registry: b.registry, repository: b.repository, digest: b.digest, tags: [...b.tags].sort(), would_lose: [...b.wouldLose].sort((x, y) => cmp(x.tag, y.tag)), reason: b.reason });
    }
    if (consume) (d.result.actions = []), (d.result.blocked = []);
  }
  consume?.();
  const byId = (a: { id: string }, b: { id: string }) => cmp(a.id, b.id);
  copies.sort(byId);
  // Per repository, attachments go first (a failure never leaves a kept image's signature
  // orphaned by its subject's delete), then tag-only removals, then manifests. Repositories
  // are ordered by `registry/repository` as one string, as plans always were; that string
  // is made once a delete (made in the comparison, it was two strings a comparison).
  const phase = (d: PlanDelete) => (d.attachment_of ? 0 : d.method === 'manifest' ? 2 : 1);
  const byRepo = [...groupBy(deletes, (d) => `${d.registry}/${d.repository}`)].sort(([a], [b]) => cmp(a, b));
  const sortedDeletes = byRepo.flatMap(([, list]) => list.sort((a, b) => phase(a) - phase(b) || idOrderInRepository(a, b)));
  const dup = copies.find((x, i) => i > 0 && copies[i - 1].id === x.id);
  if (dup) throw new Error(`two source repositories map to the same target (${dup.id.slice(5)}): check sync-policy.replace`);
  // Copies run before deletes, and the plan lists them in that order.
  const actions: PlanAction[] = [...copies, ...sortedDeletes];
  blocked.sort((a, b) => cmp(`${a.registry}/${a.repository}@${a.digest}`, `${b.registry}/${b.repository}@${b.digest}`));

  // What needs the tag lists and sizes whole comes before the snapshot, which lets them go.
  const sp = config.syncPolicy;
  const selected = selectedNothing(withGuards(planWarnings(config, c.scope, c.repos, meta.targets, meta.deleted), guardWarnings));
  // The actions' sorting and the warnings left garbage too: collected before the count
  // allocates its tables (the count's peak was 1,205 MiB at 1,000,000 tags, 1,148 after).
  consume?.();
  const bytes = config.deletePolicy && c.sizes ? freedBy(sortedDeletes, c.sizes, c, meta.targets) : undefined;
  const transfer = sp && c.sizes && copies.length ? copiedBy(copies, c.sizes, c, sp.to) : undefined;
  // What the counts made is garbage now (~70 MiB at 200,000 tags): collected before the snapshot is built.
  if (consume) (c.references = undefined), consume();
  const registries: Plan['registries'] = {};
  for (const name of new Set([...c.repos.keys(), ...(config.deletePolicy?.registries ?? []), ...(sp ? [sp.from, sp.to] : [])])) {
    const ep = config.registries.get(name)!;
    registries[name] = { url: ep.origin, insecure: ep.insecure };
  }

  const snapshot: Plan['snapshot'] = {};
  for (const [registry, repos] of c.repos) {
    snapshot[registry] = {};
    for (const [name, r] of repos) {
      const tags: SnapshotRepo['tags'] = {};
      for (const t of r.tags) {
        const size = c.sizes ? imageSize(t.digest, c.sizes) : undefined;
        // One literal per shape, not fields added later: an added field costs each tag a
        // separate property store (~40 bytes; 1,000,000 tags).
        const { digest, mediaType: media_type, created } = t;
        const entry: SnapshotTag =
          created !== undefined ? (size !== undefined ? { digest, media_type, created, size } : { digest, media_type, created }) : size !== undefined ? { digest, media_type, size } : { digest, media_type };
        setOwn(tags, t.tag, entry);
      }
      snapshot[registry][name] = { ...(r.missing ? { missing: true } : {}), tags };
      if (consume) r.tags = [];
    }
  }
  if (consume) (c.sizes = undefined), consume();
  const decisions: Plan['decisions'] = { delete: {}, sync: {} };
  for (const d of c.evaluation.deletes) {
    const reg = (decisions.delete[d.registry] ??= {});
    reg[d.repository] = byTag(d.result.decisions);
    if (consume) d.result.decisions = [];
  }
  for (const d of c.evaluation.prunes) {
    const reg = ((decisions.prune ??= {})[d.registry] ??= {});
    reg[d.repository] = byTag(d.result.decisions);
    if (consume) d.result.decisions = [];
  }
  for (const s of c.evaluation.syncs) {
    const reg = (decisions.sync[sp!.from] ??= {});
    reg[s.repository] = byTag(s.decisions);
    if (consume) s.decisions = [];
  }
  // The deletes' ids, made last: each is a string of ~100 characters (~60 MiB at 1,000,000
  // tags) that nothing above reads, and the counts, the snapshot and the decisions each
  // peaked with them. After the evaluation's decisions are let go, in the room they leave.
  consume?.();
  for (const d of sortedDeletes) d.id = deleteId(d);
  const body: Omit<Plan, 'sha256'> = {
    format_version: FORMAT_VERSION,
    regmgr_version: meta.version,
    created_at: meta.createdAt,
    config: { file: meta.configFile, sha256: meta.configSha256 },
    state: meta.state,
    registries,
    policies: { delete: config.deletePolicy?.registries ?? null, sync: sp ? { from: sp.from, to: sp.to } : null, target: meta.targets?.length ? [...meta.targets].sort() : null },
    snapshot,
    decisions,
    ...(meta.inUse?.length ? { in_use: meta.inUse } : {}),
    changed_outside: meta.recorded ? diffSnapshots(meta.recorded, stateViewOf(snapshot)) : [],
    skipped: [...c.scope.skipped].sort((a, b) => cmp(`${a.policy}/${a.registry}/${a.repository}`, `${b.policy}/${b.registry}/${b.repository}`)),
    actions,
    blocked,
    ...selected,
    ...(bytes ? { bytes } : {}),
    ...(transfer ? { transfer } : {}),
    ...(c.capabilities?.size ? { capabilities: Object.fromEntries([...c.capabilities].sort(([a], [b]) => cmp(a, b))) } : {}),
    summary: { copy: copies.length, delete: sortedDeletes.length, tags_deleted: sortedDeletes.reduce((n, d) => n + d.tags.length, 0), blocked: blocked.length },
  };
  return body;
}

/** What the plan's copies send to each target repository, and what is there already. */
function copiedBy(copies: readonly PlanCopy[], sizes: NonNullable<Collected['sizes']>, c: Collected, to: string): BytesCopied {
  const targets = new Map([[to, new Map([...(c.repos.get(to) ?? [])].map(([name, r]) => [name, r.tags]))]]);
  return bytesCopied({ copies: copies.map((a) => ({ registry: a.target.registry, repository: a.target.repository, digest: a.source.digest })), targets, sizes });
}

/** What the plan's manifest deletes free, over every repository read in their registries. */
function freedBy(deletes: readonly PlanDelete[], sizes: NonNullable<Collected['sizes']>, c: Collected, targets: readonly string[] | undefined): BytesFreed {
  const partial = new Map<string, string | undefined>();
  for (const registry of new Set(deletes.map((d) => d.registry))) {
    partial.set(
      registry,
      c.references?.has(registry)
        ? undefined
        : targets?.length
        ? '--target limits the plan to some repositories; blobs they share with the others are not known'
        : c.sources.get(registry) === 'config'
          ? `the config lists its repositories (registries.${registry}.repositories); blobs they share with repositories it does not list are not known (reclaim-scope: registry counts them)`
          : undefined,
    );
  }
  const tags = (reg: string) => new Map([...(c.repos.get(reg) ?? []), ...(c.references?.get(reg) ?? [])].map(([name, r]) => [name, r.tags]));
  // Each manifest delete, then an index's children and the referrers that go with it (a loop: a
  // list made per delete and spread was ~30 MiB of garbage at 200,000 tags).
  const manifests: BytesInput['deletes'][number][] = [];
  for (const d of deletes) {
    if (d.method !== 'manifest') continue;
    manifests.push(d);
    for (const digest of d.children ?? []) manifests.push({ registry: d.registry, repository: d.repository, digest });
    for (const r of d.referrers ?? []) manifests.push({ registry: d.registry, repository: d.repository, digest: r.digest });
  }
  return bytesFreed({ tags: new Map([...new Set([...c.repos.keys(), ...(c.references?.keys() ?? [])])].map((reg) => [reg, tags(reg)])), sizes, deletes: manifests, partial });
}

/** Each tag's verdict and reason, by tag. */
function byTag(list: ReadonlyArray<{ tag: string; verdict: TagVerdict; reason: Reason }>): Record<string, { verdict: TagVerdict; reason: Reason }> {
  return ownRecord(list, (x) => x.tag, (x) => ({ verdict: x.verdict, reason: x.reason }));
}

function withGuards(w: { warnings: string[]; notes: string[] }, guards: string[]): { warnings: string[]; notes: string[] } {
  return { warnings: [...w.warnings, ...guards], notes: w.notes };
}

/** Both lists as the plan file has always held warnings: present, possibly empty; notes only when there are some. */
function selectedNothing(w: { warnings: string[]; notes: string[] }): Pick<Plan, 'warnings' | 'notes'> {
  return { warnings: w.warnings, ...(w.notes.length ? { notes: w.notes } : {}) };
}

/**
 * The list sorted: itself when it is in order already (one tag, most deletes; the
 * policy's kept_by), else a sorted copy. The plan and the evaluation may then share a
 * list; neither changes one once made. A copy of each (~35 MiB at 1,000,000 tags) was
 * garbage once the evaluation's were let go, made while the actions were built.
 */
function inOrder(list: readonly string[]): string[] {
  for (let i = 1; i < list.length; i++) if (list[i - 1] > list[i]) return [...list].sort();
  return list as string[];
}

/**
 * Two deletes of one repository in their ids' order, without the ids: after the same
 * `delete registry/repository`, a tag-only removal's `:tag` comes before a manifest's
 * `@digest` (':' is below '@'), and two of a kind compare as their tags or digests.
 */
export function idOrderInRepository(a: PlanDelete, b: PlanDelete): number {
  const am = a.method === 'manifest';
  const bm = b.method === 'manifest';
  if (am !== bm) return am ? 1 : -1;
  return am ? cmp(a.digest, b.digest) : cmp(a.tags[0], b.tags[0]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
