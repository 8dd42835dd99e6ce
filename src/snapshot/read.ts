import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import type { Digest, Repository } from '../oci/names.js';
import { manifestFacts, manifestSizes, type ManifestFacts, type ManifestSizes } from '../oci/manifest-facts.js';
import { mapLimit } from '../util/limit.js';
import { interner } from '../util/intern.js';
import { byName, type RegistrySnapshot, type RepoSnapshot, type TagEntry } from './model.js';

/**
 * Reads every tag of a repository with its digest and media type. A failed or partial
 * listing throws: no plan may be computed from partial data.
 */
export interface ReadOptions {
  /** Tags whose manifests to GET whole instead of HEAD: their bodies will be needed. */
  whole?: (repo: Repository, tags: readonly string[]) => ReadonlySet<string>;
  /** Where the facts of manifests read whole are kept, by digest. */
  facts?: Map<Digest, ManifestFacts>;
  /** Where the sizes of manifests read whole are kept, by digest (for bytes freed). */
  sizes?: Map<Digest, ManifestSizes>;
  /** One copy of each digest across repositories (the content cache's, content-cache.ts); else one per repository. */
  sameDigest?: (d: Digest) => Digest;
}

export async function readRepository(client: RegistryClient, repo: Repository, progress?: Counter, opts: ReadOptions = {}): Promise<RepoSnapshot> {
  let tags: string[];
  try {
    tags = await client.listTags(repo);
  } catch (e) {
    // Only the registry's "no such repository" means absent; every other error stays one.
    if (e instanceof RegistryError && e.kind === 'not-found' && (e.codes.includes('NAME_UNKNOWN') || e.codes.length === 0)) {
      return { repository: repo, tags: [], missing: true };
    }
    throw e;
  }
  const unique = [...new Set(tags)].sort();
  progress?.grow(unique.length);
  const whole = opts.whole?.(repo, unique);
  // Tags of one image (latest, v1.2, v1.2.3) share one copy of its digest: each answer
  // brings its own (88 bytes; 1 tag in 5 at 1,000,000 tags of the memory bench: ~17 MiB).
  // The content cache's copy where it has one (let go once the registries are read), else
  // one kept for this repository's read: bounded by the cache and the listing.
  const sameDigest = opts.sameDigest ?? interner<Digest>(Infinity);
  const entries = await mapLimit(unique, client.endpoint.concurrency, async (tag) => {
    const ref = whole?.has(tag) ? await readWhole(client, repo, tag, opts) : await client.headManifest(repo, tag);
    progress?.step();
    if (!ref) {
      // Listed, then gone: the registry changed while it was read. Fail rather than guess.
      throw new RegistryError('not-found', client.name, whole?.has(tag) ? 'GET' : 'HEAD', `${client.endpoint.origin}/v2/${repo}/manifests/${tag}`, 'tag was listed but is gone: the repository changed while being read; run again', 404);
    }
    // `created` is named now though read later (if at all): V8 then keeps it inside the
    // object instead of adding a separate property store to each tag that gets one.
    return { tag, digest: sameDigest(ref.digest), mediaType: ref.mediaType, created: undefined } satisfies TagEntry;
  });
  return { repository: repo, tags: entries.sort(byName) };
}

/** One GET instead of a HEAD now and a GET later: the digest, and the facts of the body. */
async function readWhole(client: RegistryClient, repo: Repository, tag: string, opts: ReadOptions) {
  const m = await client.getManifest(repo, tag);
  if (m) opts.facts?.set(m.digest, manifestFacts(m.json, m.mediaType));
  if (m) opts.sizes?.set(m.digest, manifestSizes(m.json, m.mediaType, m.bytes.length));
  return m && { digest: m.digest, mediaType: m.mediaType };
}

export async function readRegistry(client: RegistryClient, repos: Repository[], source: 'config' | 'catalog', progress?: Counter, opts?: ReadOptions): Promise<RegistrySnapshot> {
  // Repositories in parallel too: small repositories would otherwise leave the limit idle.
  const repositories = await mapLimit(repos, Math.max(2, Math.ceil(client.endpoint.concurrency / 2)), (r) => readRepository(client, r, progress, opts));
  return { name: client.name, source, repositories: repositories.sort(byName) };
}

/** Counts tags read across registries for a progress display. */
export class Counter {
  done = 0;
  total = 0;
  /** Answers read: tags, then the manifests and configs read for decisions (the command's memory upkeep counts them). */
  reads = 0;
  constructor(
    private readonly onChange?: (done: number, total: number) => void,
    private readonly onRead?: (reads: number) => void,
  ) {}
  grow(n: number) {
    this.total += n;
    this.onChange?.(this.done, this.total);
  }
  step() {
    this.done++;
    this.onChange?.(this.done, this.total);
    this.read();
  }
  read() {
    this.onRead?.(++this.reads);
  }
}
