import type { Config } from '../config/model.js';
import type { Clients } from '../registry/connect.js';
import { RegistryError } from '../registry/errors.js';
import { isDigest, repositoryProblem, type Digest, type Repository } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { computeScope, createdWantedFor, evaluate, type Evaluation, type RepoMap, type Scope } from '../policy/evaluate.js';
import { manifestFacts, manifestSizes, type ManifestFacts, type ManifestSizes } from '../oci/manifest-facts.js';
import { groupBy } from '../util/group.js';
import { ContentCache } from '../snapshot/content-cache.js';
import type { Capabilities } from '../registry/capabilities.js';
import { mapLimit } from '../util/limit.js';
import { Counter, readRegistry } from '../snapshot/read.js';
import type { InUse } from '../policy/in-use.js';
import { attachReferrers, REFERRER_DEPTH, type FoundReferrer } from '../policy/referrers.js';

export interface Collected {
  scope: Scope;
  repos: RepoMap;
  evaluation: Evaluation;
  /** Where each registry's repository list came from. */
  sources: Map<string, 'config' | 'catalog'>;
  /** What every manifest of the delete policy's registries stores, by digest (bytes freed); not read for apply's re-check. */
  sizes?: Map<Digest, ManifestSizes>;
  /** reclaim-scope: registry: the catalog's other repositories, read for what they reference only (no decisions). */
  references?: RepoMap;
  /** What each delete registry can do, probed once per plan (not for apply's re-check). */
  capabilities?: Map<string, Capabilities>;
}

/**
 * Reads what the policies need, then lets the pure policy code decide. Creation times
 * and index children are read only when a decision asks for them. Any failed read
 * throws: no plan is computed from partial data.
 */
export async function collect(config: Config, clients: Clients, targets: string[] | undefined, counter: Counter | undefined, nowMs: number, cache = new ContentCache(), opts: { sizes?: boolean; inUse?: InUse; upkeep?: () => void } = {}): Promise<Collected> {
  const listed = new Set<string>([...(config.deletePolicy?.registries ?? []), ...(config.syncPolicy ? [config.syncPolicy.from] : [])]);
  const selected = new Map<string, string[]>();
  const sources = new Map<string, 'config' | 'catalog'>();
  await Promise.all(
    [...listed].map(async (name) => {
      const { repositories, source } = await clients.dialect(name).listRepositories();
      selected.set(name, repositories);
      sources.set(name, source);
    }),
  );
  const scope = computeScope(config, selected, targets);

  const wanted = new Map<string, Set<string>>();
  const want = (registry: string, repository: string) => wanted.set(registry, (wanted.get(registry) ?? new Set()).add(repository));
  for (const d of scope.delete) want(d.registry, d.repository);
  for (const s of scope.sync) {
    const problem = repositoryProblem(s.target);
    if (problem) throw new Error(`sync-policy.replace maps '${s.repository}' to '${s.target}', which ${problem}`);
    want(config.syncPolicy!.from, s.repository);
    want(config.syncPolicy!.to, s.target);
  }

  // Tags whose manifest body the plan will want (for creation times, for bytes freed)
  // are read with one GET of the manifest, not a HEAD and then a GET; unless this
  // repository was planned before, when what they hold is likely cached.
  const createdWanted = createdWantedFor(config, scope);
  const facts = new Map<Digest, ManifestFacts>();
  const sizes = new Map<Digest, ManifestSizes>();
  const repos: RepoMap = new Map();
  await Promise.all(
    [...wanted].map(async ([registry, names]) => {
      const client = clients.get(registry);
      // Where the bytes freed are counted, a first plan needs every manifest's body: one
      // GET each instead of a HEAD and a GET by digest. A repository planned before has
      // them cached: a HEAD is all a tag costs.
      const deleting = opts.sizes !== false && (config.deletePolicy?.registries ?? []).includes(registry);
      const whole = (repo: Repository, tags: readonly string[]) => (cache.seen.has(`${client.endpoint.origin}/${repo}`) ? new Set<string>() : deleting ? new Set(tags) : createdWanted(registry, repo, tags));
      const snap = await readRegistry(client, [...names].sort() as Repository[], sources.get(registry) ?? 'config', counter, { whole, facts, sizes, sameDigest: cache.sameDigest });
      repos.set(registry, new Map(snap.repositories.map((r) => [r.repository, r])));
    }),
  );
  cache.readsDone();

  // Whether deletes work there, by tag too, and the referrers API: cheap requests that
  // change nothing, once per registry, in the first repository planned there.
  const capabilities = new Map<string, Capabilities>();
  // sync-policy.prune deletes in the target registry: probe it too (in a target repository that exists).
  const pruned: Array<readonly [string, string]> = config.syncPolicy?.prune ? scope.sync.filter((s) => repos.get(config.syncPolicy!.to)?.get(s.target)?.tags.length).map((s) => [config.syncPolicy!.to, s.target] as const).slice(0, 1) : [];
  if (opts.sizes !== false) {
    await Promise.all(
      [...new Map([...scope.delete.map((d) => [d.registry, d.repository] as const).reverse(), ...pruned.reverse()])].map(async ([registry, repository]) => {
        capabilities.set(registry, await clients.dialect(registry).capabilities(repository as Repository));
      }),
    );
  }
  const children = new Map<string, Map<Digest, Digest[]>>();
  const subjects = new Map<string, Map<Digest, boolean>>();
  for (let round = 0; ; round++) {
    // An evaluation of a large repository is one long computation that V8 lets grow the
    // heap through: it starts from what is live, not from the reads' garbage as well.
    opts.upkeep?.();
    const evaluation = evaluate(config, scope, repos, { nowMs, indexChildren: children, subjectsPresent: subjects, capabilities, ...(opts.inUse ? { inUse: opts.inUse } : {}) });
    if (!evaluation.needs.length) {
      // What the evaluation made and let go (its groups, its lists: ~280 MiB at 1,000,000
      // tags), collected before the reads and the cache's write allocate on top of it.
      opts.upkeep?.();
      for (const d of scope.delete) cache.markSeen(`${clients.get(d.registry).endpoint.origin}/${d.repository}`);
      if (opts.sizes === false) return { scope, repos, evaluation, sources };
      await readReferrers(evaluation, repos, clients, capabilities);
      const references = await readReferences(config, clients, repos, counter, sizes, cache);
      await readSizes(config, clients, repos, sizes, cache, evaluation.syncs, [...evaluation.deletes, ...evaluation.prunes]);
      await readSizes(config, clients, references, sizes, cache);
      return { scope, repos, evaluation, sources, sizes, references, capabilities };
    }
    if (round >= 4) throw new Error('internal: the policy kept asking for more data');
    await Promise.all(
      evaluation.needs.map(async (need) => {
        const client = clients.get(need.registry);
        const repo = repos.get(need.registry)!.get(need.repository)!;
        const repository = need.repository as Repository;
        const byDigest = groupBy(repo.tags, (t) => t.digest);
        await mapLimit(need.created, client.endpoint.concurrency, async (digest) => {
          let created = cache.created.get(digest);
          if (created === undefined) {
            // The manifest read for its config serves the bytes freed too: one GET, not two.
            if (!facts.has(digest) && opts.sizes !== false) {
              const m = await client.getManifest(repository, digest);
              if (m) (facts.set(digest, manifestFacts(m.json, m.mediaType)), sizes.set(digest, manifestSizes(m.json, m.mediaType, m.bytes.length)));
            }
            const read = await client.imageCreated(repository, digest, facts.get(digest));
            counter?.read();
            created = read.created ?? null;
            if (read.cacheable) cache.setCreated(digest, created);
            // An image's facts are its config, read now, and the cache answers for its time
            // from here on: let go (an object and an entry an image, through the evaluation).
            // An index's stay: its children may be asked for next.
            if (read.cacheable && !facts.get(digest)?.children) facts.delete(digest);
          }
          for (const t of byDigest.get(digest) ?? []) t.created = created;
        });
        const key = `${need.registry}/${need.repository}`;
        const present = subjects.get(key) ?? new Map<Digest, boolean>();
        subjects.set(key, present);
        // An attachment's subject with no tag here: only the registry can say whether it exists.
        await mapLimit(need.subjects, client.endpoint.concurrency, async (digest) => {
          present.set(digest, Boolean(await client.headManifest(repository, digest)));
        });
        const map = children.get(key) ?? new Map<Digest, Digest[]>();
        children.set(key, map);
        await mapLimit(need.children, client.endpoint.concurrency, async (digest) => {
          const known = cache.children.get(digest) ?? facts.get(digest)?.children;
          if (known) {
            map.set(digest, known);
            cache.setChildren(digest, known);
            return;
          }
          const m = await client.getManifest(repository, digest);
          if (!m) throw new RegistryError('not-found', need.registry, 'GET', `${client.endpoint.origin}/v2/${repository}/manifests/${digest}`, 'index disappeared while being read; run again', 404);
          const listed: unknown[] = Array.isArray(m.json.manifests) ? m.json.manifests.map((c: { digest?: unknown }) => c?.digest) : [];
          const bad = listed.find((d) => typeof d !== 'string' || !isDigest(d));
          if (bad !== undefined) throw new RegistryError('protocol', need.registry, 'GET', `${client.endpoint.origin}/v2/${repository}/manifests/${digest}`, `the index lists an invalid platform digest ${quoted(String(bad))}`);
          map.set(digest, listed as Digest[]);
          cache.setChildren(digest, listed as Digest[]);
        });
      }),
    );
    // An image's facts (its config's digest) serve the read of its creation time, and the
    // policy asks for every time it needs at once: those it did not ask for are let go
    // before the next evaluation (~25 MiB at 1,000,000 tags read whole). An index's stay:
    // its children may be asked for next. One asked for later would be read again.
    for (const [digest, f] of facts) if (!f.children && !f.platformChild) facts.delete(digest);
  }
}

/**
 * The size facts of every manifest in the delete policy's registries (each tag's, and an
 * index's platform manifests), for the bytes a plan frees: kept manifests count too,
 * since what they reference stays; and of the images the sync copies and what their
 * target repositories hold, for the bytes copies send. From the content cache when known
 * (a second plan sends no request for them), else one GET each, cached.
 */
async function readSizes(config: Config, clients: Clients, repos: RepoMap, sizes: Map<Digest, ManifestSizes>, cache: ContentCache, syncs: Evaluation['syncs'] = [], deletes: Evaluation['deletes'] = []): Promise<void> {
  const seeds = new Map<string, Map<Digest, Repository>>();
  // Children of manifests already known, to read at depth 1 with the seeds' own.
  const known = new Map<string, Map<Digest, Repository>>();
  const into = (m: Map<string, Map<Digest, Repository>>, registry: string) => m.get(registry) ?? m.set(registry, new Map()).get(registry)!;
  const seed = (registry: string, digest: Digest, repo: string) => {
    // Known (read whole, or cached): settled here, without a seed. A list of every
    // tag's digest was, at 200,000 tags, 45 MiB at the plan's peak for no request.
    const s = sizes.get(digest) ?? cache.sizes.get(digest);
    if (s) {
      sizes.set(digest, s);
      cache.setSizes(digest, s);
      for (const c of s.children ?? []) if (!sizes.has(c)) into(known, registry).set(c, repo as Repository);
      return;
    }
    const m = into(seeds, registry);
    if (!m.has(digest)) m.set(digest, repo as Repository);
  };
  for (const registry of config.deletePolicy?.registries ?? []) for (const [name, r] of repos.get(registry) ?? []) for (const t of r.tags) seed(registry, t.digest, name);
  for (const d of deletes) for (const a of d.result.actions) for (const r of a.referrers ?? []) seed(d.registry, r.digest, d.repository);
  // Prune deletes in the sync target: what its repositories hold, for the bytes they free.
  for (const d of deletes) if (!(config.deletePolicy?.registries ?? []).includes(d.registry)) for (const t of repos.get(d.registry)?.get(d.repository)?.tags ?? []) seed(d.registry, t.digest, d.repository);
  for (const s of syncs) {
    for (const a of s.actions) seed(a.source.registry, a.source.digest, a.source.repository);
    const target = s.actions[0]?.target;
    if (target) for (const t of repos.get(target.registry)?.get(target.repository)?.tags ?? []) seed(target.registry, t.digest, target.repository);
  }
  for (const registry of new Set([...seeds.keys(), ...known.keys()])) {
    const client = clients.get(registry);
    const where = seeds.get(registry) ?? new Map<Digest, Repository>();
    for (let depth = 0; depth < 2; depth++) {
      const next = depth === 0 ? new Map([...(known.get(registry) ?? [])].filter(([c]) => !where.has(c))) : new Map<Digest, Repository>();
      await mapLimit([...where], client.endpoint.concurrency, async ([digest, repo]) => {
        let s = sizes.get(digest) ?? cache.sizes.get(digest);
        if (!s) {
          const m = await client.getManifest(repo, digest);
          // Gone since it was listed: its figure is unknown, and the plan says so.
          if (!m) return;
          s = manifestSizes(m.json, m.mediaType, m.bytes.length);
        }
        sizes.set(digest, s);
        cache.setSizes(digest, s);
        for (const c of s.children ?? []) if (!sizes.has(c) && !where.has(c)) next.set(c, repo);
      });
      where.clear();
      for (const [d, r] of next) where.set(d, r);
    }
  }
}

/**
 * Where a registry answers the referrers API: the untagged manifests that refer to each
 * deleted manifest (and to those, a few levels down), so that they go with it
 * (policy/referrers.ts decides). One GET per deleted digest; kept images' are not read.
 */
async function readReferrers(evaluation: Evaluation, repos: RepoMap, clients: Clients, capabilities: ReadonlyMap<string, Capabilities>): Promise<void> {
  const found = new Map<string, Map<Digest, FoundReferrer[]>>();
  const hasApi = (registry: string) => capabilities.get(registry)?.referrers === true;
  for (let round = 0; round <= REFERRER_DEPTH; round++) {
    const needs = attachReferrers(evaluation, repos, hasApi, found);
    if (!needs.length) return;
    await Promise.all(
      [...groupBy(needs, (n) => n.registry)].map(async ([registry, list]) => {
        const dialect = clients.dialect(registry);
        await mapLimit(list, clients.get(registry).endpoint.concurrency, async (n) => {
          const key = `${n.registry}/${n.repository}`;
          const m = found.get(key) ?? new Map<Digest, FoundReferrer[]>();
          found.set(key, m);
          m.set(n.digest, await dialect.attachments(n.repository as Repository, n.digest));
        });
      }),
    );
  }
  throw new Error('internal: referrers kept asking for more data');
}

/**
 * reclaim-scope: registry: every repository of the catalog the plan did not read, read
 * for what it references (its tags' manifests), so that a blob it shares with a deleted
 * image counts as staying. Nothing is decided there.
 */
async function readReferences(config: Config, clients: Clients, repos: RepoMap, counter: Counter | undefined, sizes: Map<Digest, ManifestSizes>, cache: ContentCache): Promise<RepoMap> {
  const out: RepoMap = new Map();
  for (const registry of config.deletePolicy?.registries ?? []) {
    const client = clients.get(registry);
    if (client.endpoint.reclaimScope !== 'registry') continue;
    let names: string[];
    try {
      names = await clients.dialect(registry).allRepositories();
    } catch (e) {
      if (e instanceof RegistryError) throw new RegistryError(e.kind, e.registry, e.method, e.url, `${e.detail}; registries.${registry}.reclaim-scope: registry needs the catalog (to count bytes freed over every repository): set it to repositories`, e.status, e.codes);
      throw e;
    }
    const read = repos.get(registry) ?? new Map();
    const others = [...new Set(names)].filter((n) => !read.has(n)).sort() as Repository[];
    const whole = (repo: Repository, tags: readonly string[]) => (cache.seen.has(`${client.endpoint.origin}/${repo}`) ? new Set<string>() : new Set(tags));
    const snap = await readRegistry(client, others, 'catalog', counter, { whole, sizes });
    for (const r of snap.repositories) cache.markSeen(`${client.endpoint.origin}/${r.repository}`);
    out.set(registry, new Map(snap.repositories.map((r) => [r.repository, r])));
  }
  return out;
}
