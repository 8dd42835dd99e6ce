import { normaliseCreated } from '../oci/created.js';
import { createHash } from 'node:crypto';
import { Transport, header, pull, push, type ClientOptions, type Response } from './transport.js';
import type { RegistryEndpoint } from '../config/model.js';
import { RegistryError, parseErrorBody } from './errors.js';
import { nextLink } from './challenge.js';
import { DOCKER_LIST, DOCKER_MANIFEST, MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST, isIndex } from '../oci/media-types.js';
import { isDigest, mediaTypeProblem, refProblem, repositoryProblem, tagProblem, type Digest, type Repository } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { manifestFacts, type ManifestFacts } from '../oci/manifest-facts.js';

const KNOWN_MEDIA_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];
/**
 * The one shared copy of a known type, not a string per answer: a plan keeps one per tag
 * (50 MiB at 1,000,000 tags).
 */
const knownMediaType = (s: string): string | undefined => KNOWN_MEDIA_TYPES.find((k) => k === s);

export type { RetryOptions, ClientOptions } from './transport.js';
export { DEFAULT_RETRY } from './transport.js';
export interface ManifestRef {
  digest: Digest;
  mediaType: string;
  size?: number;
}

/** A manifest that names another as its subject, as the referrers API lists it. */
export interface Referrer {
  digest: Digest;
  mediaType: string;
  size: number;
  /** The descriptor's artifactType ('' when none was given). */
  artifactType: string;
}

export interface Manifest extends ManifestRef {
  bytes: Buffer;
  json: any;
}

/**
 * The OCI distribution API of one registry (catalog, tags, manifests, blobs, referrers,
 * probes), with pagination, digest checks and typed errors, on its Transport (auth,
 * retries, deadlines: transport.ts). Everything regmgr reads or changes in a registry
 * goes through here.
 */
export class RegistryClient {
  readonly #t: Transport;
  /**
   * Names #repo found valid (up to 4,096): a plan asks for the same few repositories a
   * HEAD a tag, and checking the name each time was ~1% of its CPU.
   */
  readonly #checkedRepos = new Set<string>();
  readonly #maxPages: number;

  constructor(
    readonly endpoint: RegistryEndpoint,
    opts: ClientOptions = {},
  ) {
    this.#t = new Transport(endpoint, opts);
    this.#maxPages = opts.maxPages ?? 100_000;
  }

  get name() {
    return this.endpoint.name;
  }

  get hasCredentials(): boolean {
    return this.#t.hasCredentials;
  }

  /** Count of requests sent, for tests and the benchmark. */
  get requests(): number {
    return this.#t.requests;
  }

  async close(): Promise<void> {
    await this.#t.close();
  }

  // ---- reads -------------------------------------------------------------------------

  /** GET /v2/: checks reachability and credentials. */
  async ping(): Promise<void> {
    const res = await this.#t.send({ method: 'GET', path: '/v2/', idempotent: true });
    if (res.status !== 200) throw this.#t.error(res, 'GET');
  }

  /** Every repository name, each checked against the distribution grammar. */
  async catalog(): Promise<Repository[]> {
    const names = await this.#paginate('/v2/_catalog?n=1000', 'registry:catalog:*', 'repositories');
    const bad = names.find((n) => repositoryProblem(n));
    if (bad !== undefined) throw new RegistryError('protocol', this.name, 'GET', this.#t.url('/v2/_catalog'), `the catalog lists an invalid repository name ${quoted(bad)}: ${repositoryProblem(bad)}; no plan from data regmgr cannot trust`);
    return names as Repository[];
  }

  /** Every tag of a repository, each checked against the distribution grammar. */
  async listTags(repo: Repository): Promise<string[]> {
    const path = `/v2/${this.#repo(repo)}/tags/list`;
    const tags = await this.#paginate(path, pull(repo), 'tags');
    for (const t of tags) {
      if (tagProblem(t)) throw new RegistryError('protocol', this.name, 'GET', this.#t.url(path), `repository ${repo} lists an invalid tag: ${tagProblem(t)}; no plan from data regmgr cannot trust`);
    }
    return tags;
  }

  /**
   * The manifests that name `digest` as their subject (OCI distribution 1.1 referrers
   * API): signatures, SBOMs, attestations, tagged or not. Each descriptor is checked;
   * pages are followed as for tags. Only for a registry whose probe found the API.
   */
  async referrers(repo: Repository, digest: Digest): Promise<Referrer[]> {
    if (!isDigest(digest)) throw new Error(`refusing to ask for referrers of ${quoted(digest)}: not a digest`);
    const path = `/v2/${this.#repo(repo)}/referrers/${digest}`;
    const list = await this.#pages(path, pull(repo), 'manifests', (d): d is { digest: Digest; mediaType: string; size: number; artifactType?: string } => {
      const x = d as Record<string, unknown> | null;
      return typeof x === 'object' && x !== null && typeof x.digest === 'string' && isDigest(x.digest) && typeof x.mediaType === 'string' && !mediaTypeProblem(x.mediaType) && typeof x.size === 'number' && Number.isSafeInteger(x.size) && x.size >= 0 && (x.artifactType === undefined || (typeof x.artifactType === 'string' && !mediaTypeProblem(x.artifactType)));
    });
    const seen = new Set<string>();
    return list.filter((d) => !seen.has(d.digest) && seen.add(d.digest)).map((d) => ({ digest: d.digest, mediaType: d.mediaType, size: d.size, artifactType: d.artifactType ?? '' }));
  }

  /** Digest and media type of a manifest, or undefined when the registry says 404. */
  async headManifest(repo: Repository, ref: string): Promise<ManifestRef | undefined> {
    const res = await this.#t.send({ method: 'HEAD', path: this.#manifestPath(repo, ref), scope: pull(repo), accept: MANIFEST_ACCEPT, idempotent: true });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.#t.error(res, 'HEAD');
    const digest = header(res, 'docker-content-digest');
    const mediaType = header(res, 'content-type');
    if (!digest || !mediaType) {
      // Some registries omit the digest on HEAD: the body is the only source of truth.
      return this.getManifest(repo, ref);
    }
    if (!isDigest(digest)) throw this.#t.protocol(res, 'HEAD', `invalid Docker-Content-Digest ${quoted(digest)}`);
    const size = Number(header(res, 'content-length'));
    return { digest, mediaType: this.#mediaType(res, 'HEAD', mediaType), size: Number.isFinite(size) ? size : undefined };
  }

  /** The manifest body, checked against its digest; undefined on 404. */
  async getManifest(repo: Repository, ref: string): Promise<Manifest | undefined> {
    const res = await this.#t.send({ method: 'GET', path: this.#manifestPath(repo, ref), scope: pull(repo), accept: MANIFEST_ACCEPT, idempotent: true });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.#t.error(res, 'GET');
    const digest = `sha256:${createHash('sha256').update(res.body).digest('hex')}` as Digest;
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) throw this.#t.protocol(res, 'GET', `body hashes to ${digest}, header says ${claimed}`);
    if (ref.startsWith('sha256:') && ref !== digest) throw this.#t.protocol(res, 'GET', `body hashes to ${digest}, asked for ${ref}`);
    let json: any;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw this.#t.protocol(res, 'GET', 'manifest is not JSON');
    }
    const mediaType = this.#mediaType(res, 'GET', String(header(res, 'content-type') ?? json?.mediaType ?? ''));
    return { digest, mediaType, size: res.body.length, bytes: res.body, json };
  }

  /** A blob's bytes, checked against its digest. Follows a redirect (storage backends) without credentials. */
  async getBlob(repo: Repository, digest: Digest, maxBytes = 4 * 1024 * 1024): Promise<Buffer> {
    let res = await this.#t.send({ method: 'GET', path: this.#blobPath(repo, digest), scope: pull(repo), idempotent: true });
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      const location = header(res, 'location');
      if (!location) throw this.#t.protocol(res, 'GET', 'redirect without Location');
      res = await this.#t.fetchPlain(new URL(location, res.url).toString());
    }
    if (res.status !== 200) throw this.#t.error(res, 'GET');
    if (res.body.length > maxBytes) throw this.#t.protocol(res, 'GET', `blob larger than ${maxBytes} bytes`);
    const actual = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
    if (actual !== digest) throw this.#t.protocol(res, 'GET', `blob hashes to ${actual}`);
    return res.body;
  }

  /**
   * The image's `created` time from its config blob. For an index, the first child with
   * a real platform (attestation manifests have unknown/unknown) stands for the image.
   * `facts`: what the manifest's body says, when it was already read (no GET again).
   * `cacheable`: the answer follows from content alone (digests all the way down), so it
   * holds for this digest anywhere, for ever; false when a child was missing here.
   */
  async imageCreated(repo: Repository, digest: Digest, facts?: ManifestFacts): Promise<{ created?: string; cacheable: boolean }> {
    if (!facts) {
      const m = await this.getManifest(repo, digest);
      if (!m) throw new RegistryError('not-found', this.name, 'GET', this.#t.url(`/v2/${repo}/manifests/${digest}`), 'manifest disappeared while reading', 404);
      facts = manifestFacts(m.json, m.mediaType);
      if (isIndex(m.mediaType) && !facts.platformChild) return { cacheable: true };
    }
    if (facts.platformChild) {
      const child = await this.getManifest(repo, facts.platformChild);
      if (!child) return { cacheable: false };
      facts = manifestFacts(child.json, child.mediaType);
    } else if (facts.children) return { cacheable: true };
    if (!facts.config) return { cacheable: true };
    const body = await this.getBlob(repo, facts.config);
    try {
      // Pushed by anyone: only a bounded RFC 3339 time is kept, normalised (oci/created.ts).
      return { created: normaliseCreated(JSON.parse(body.toString('utf8')).created) ?? undefined, cacheable: true };
    } catch {
      return { cacheable: true };
    }
  }

  /** Whether the repository holds a blob (config, layer); false on 404. */
  async hasBlob(repo: Repository, digest: Digest): Promise<boolean> {
    const res = await this.#t.send({ method: 'HEAD', path: this.#blobPath(repo, digest), scope: pull(repo), idempotent: true });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    // Storage backends redirect blob reads; a redirect means the registry has it.
    if ([301, 302, 303, 307, 308].includes(res.status)) return true;
    throw this.#t.error(res, 'HEAD');
  }

  // ---- changes -----------------------------------------------------------------------

  /**
   * PUTs a manifest's exact bytes under `tag`, or under their own digest (a manifest no
   * tag names): a tag put back from the bytes saved before a DELETE, an untag's
   * placeholder, a copied image's tag. `confirmed`: the registry answered with their
   * digest (Docker-Content-Digest), so the reference names them now; without that
   * header only a read can tell.
   */
  async putManifest(repo: Repository, tag: string, bytes: Buffer, mediaType: string): Promise<{ digest: Digest; confirmed: boolean }> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
    const refProblem = isDigest(tag) ? (tag === digest ? undefined : `${tag} is not the digest of these bytes (${digest})`) : tagProblem(tag);
    if (refProblem || mediaTypeProblem(mediaType)) throw new Error(`refusing to PUT: ${refProblem ?? mediaTypeProblem(mediaType)}`);
    const res = await this.#t.send({ method: 'PUT', path: this.#manifestPath(repo, tag), scope: push(repo), body: bytes, contentType: mediaType, idempotent: false });
    if (res.status !== 201 && res.status !== 200) throw this.#t.error(res, 'PUT');
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) throw this.#t.protocol(res, 'PUT', `registry stored ${claimed}, the bytes hash to ${digest}`);
    return { digest, confirmed: claimed === digest };
  }

  /**
   * Uploads a small blob (the empty config of an untag manifest), unless the repository
   * has it. Monolithic: one upload session, one PUT with the digest.
   */
  async pushBlob(repo: Repository, bytes: Buffer): Promise<Digest> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
    if (await this.hasBlob(repo, digest)) return digest;
    const start = await this.#t.send({ method: 'POST', path: `/v2/${this.#repo(repo)}/blobs/uploads/`, scope: push(repo), idempotent: false });
    if (start.status !== 202) throw this.#t.error(start, 'POST');
    const location = header(start, 'location');
    if (!location) throw this.#t.protocol(start, 'POST', 'upload session without Location');
    const u = new URL(location, start.url);
    if (u.origin !== this.endpoint.origin) throw this.#t.protocol(start, 'POST', `refusing an upload Location on another origin (${u.origin})`);
    u.searchParams.set('digest', digest);
    const put = await this.#t.send({ method: 'PUT', path: u.pathname + u.search, scope: push(repo), body: bytes, contentType: 'application/octet-stream', idempotent: false });
    if (put.status !== 201) throw this.#t.error(put, 'PUT');
    return digest;
  }

  /**
   * Proves that these credentials may push to `repo` without changing it: opens a blob
   * upload session and cancels it. Throws the registry's refusal (auth/denied) as is.
   */
  /**
   * Proves push rights on `repo` (apply needs them to put back a tag lost to a
   * concurrent re-tag) before the first DELETE. `mountable`: a blob the repository holds.
   */
  async probePush(repo: Repository, mountable?: Digest): Promise<void> {
    // Mounting a blob the repository already holds, from itself, takes push rights and
    // changes nothing: distribution answers 201 and makes no upload session. A cancelled
    // upload, the fallback, leaves _uploads/<uuid>/hashstates behind on 2.8 (measured).
    const query = mountable ? `?mount=${mountable}&from=${this.#repo(repo)}` : '';
    const res = await this.#t.send({ method: 'POST', path: `/v2/${this.#repo(repo)}/blobs/uploads/${query}`, scope: push(repo), idempotent: false });
    if (mountable && res.status === 201) return;
    if (res.status !== 202) throw this.#t.error(res, 'POST');
    const location = header(res, 'location');
    if (!location) return;
    const u = new URL(location, res.url);
    if (u.origin !== this.endpoint.origin) return; // never send credentials elsewhere; the session expires on its own
    // Best effort: a registry that cannot cancel uploads lets the session expire.
    await this.#t.send({ method: 'DELETE', path: u.pathname + u.search, scope: push(repo), idempotent: false }).catch(() => undefined);
  }

  /**
   * A capability probe (capabilities.ts): a DELETE of a manifest reference that cannot
   * exist, or a GET of the referrers of one, answered as status and error codes. Never
   * a digest or tag anyone could have pushed: nothing can change.
   */
  async probe(repo: Repository, what: 'delete-digest' | 'delete-tag' | 'referrers', ref: string): Promise<{ status: number; codes: string[]; json?: unknown }> {
    const path = what === 'referrers' ? `/v2/${this.#repo(repo)}/referrers/${ref}` : this.#manifestPath(repo, ref);
    const res = await this.#t.send({ method: what === 'referrers' ? 'GET' : 'DELETE', path, scope: what === 'referrers' ? pull(repo) : `repository:${repo}:delete`, idempotent: what === 'referrers' });
    if (res.status >= 500) throw this.#t.error(res, what === 'referrers' ? 'GET' : 'DELETE');
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      json = undefined;
    }
    return { status: res.status, codes: parseErrorBody(res.body).codes, json };
  }

  /** DELETE a manifest by digest: removes every tag that points at it. */
  async deleteManifest(repo: Repository, digest: Digest): Promise<'deleted' | 'absent'> {
    if (!isDigest(digest)) throw new Error(`refusing to DELETE: ${quoted(digest)} is not a digest`);
    const res = await this.#t.send({ method: 'DELETE', path: this.#manifestPath(repo, digest), scope: `repository:${repo}:delete`, idempotent: false });
    if (res.status === 202 || res.status === 200 || res.status === 204) return 'deleted';
    if (res.status === 404) return 'absent';
    throw this.#t.error(res, 'DELETE');
  }

  /** DELETE a single tag (OCI 1.1). 'unsupported' where the registry refuses it, as 2.8 does. */
  async deleteTag(repo: Repository, tag: string): Promise<'deleted' | 'absent' | 'unsupported'> {
    if (tagProblem(tag)) throw new Error(`refusing to DELETE: ${tagProblem(tag)}`);
    const res = await this.#t.send({ method: 'DELETE', path: this.#manifestPath(repo, tag), scope: `repository:${repo}:delete`, idempotent: false });
    if (res.status === 202 || res.status === 200 || res.status === 204) return 'deleted';
    if (res.status === 404) return 'absent';
    const { codes } = parseErrorBody(res.body);
    if (res.status === 405 || (res.status === 400 && (codes.includes('DIGEST_INVALID') || codes.includes('UNSUPPORTED')))) return 'unsupported';
    throw this.#t.error(res, 'DELETE');
  }

  // ---- machinery ---------------------------------------------------------------------

  // Names are checked here, where URLs are built, whatever the caller checked before:
  // Node's URL parser collapses `..` and `#` cuts a path (registry-facts.md).
  #repo(repo: string): string {
    if (this.#checkedRepos.has(repo)) return repo;
    const p = repositoryProblem(repo);
    if (p) throw new Error(`refusing to build a URL for repository ${quoted(repo)}: it ${p}`);
    if (this.#checkedRepos.size < 4096) this.#checkedRepos.add(repo);
    return repo;
  }

  #manifestPath(repo: string, ref: string): string {
    const p = refProblem(ref);
    if (p) throw new Error(`refusing to build a URL for a manifest of ${repo}: ${p}`);
    return `/v2/${this.#repo(repo)}/manifests/${ref}`;
  }

  #blobPath(repo: string, digest: string): string {
    if (!isDigest(digest)) throw new Error(`refusing to build a URL for a blob of ${repo}: ${quoted(digest)} is not a digest`);
    return `/v2/${this.#repo(repo)}/blobs/${digest}`;
  }

  #mediaType(res: Response, method: string, raw: string): string {
    // A header that is exactly a known type needs no parsing, as nearly every answer's is
    // (its split and check were ~1% of a plan's CPU).
    const exact = knownMediaType(raw);
    if (exact) return exact;
    const mediaType = raw.split(';')[0].trim();
    const p = mediaTypeProblem(mediaType);
    if (p) throw this.#t.protocol(res, method, `the manifest's Content-Type ${p}`);
    return knownMediaType(mediaType) ?? mediaType;
  }

  async #paginate(firstPath: string, scope: string, key: 'repositories' | 'tags'): Promise<string[]> {
    return this.#pages<string>(firstPath, scope, key, (t): t is string => typeof t === 'string');
  }

  async #pages<T>(firstPath: string, scope: string, key: 'repositories' | 'tags' | 'manifests', valid: (item: unknown) => item is T): Promise<T[]> {
    const out: T[] = [];
    const seen = new Set<string>();
    let path: string | undefined = firstPath;
    let pages = 0;
    const limit = this.endpoint.maxTags;
    while (path) {
      if (seen.has(path)) throw new RegistryError('protocol', this.name, 'GET', this.#t.url(path), `pagination loop: Link points back to a page already read (${seen.size} pages)`);
      if (++pages > this.#maxPages) throw new RegistryError('protocol', this.name, 'GET', this.#t.url(path), `more than ${this.#maxPages} pages`);
      seen.add(path);
      const before = out.length;
      const res = await this.#t.send({ method: 'GET', path, scope, idempotent: true });
      if (res.status !== 200) throw this.#t.error(res, 'GET');
      let body: any;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw this.#t.protocol(res, 'GET', 'answer is not JSON');
      }
      const items = body?.[key];
      // 2.8 answers `"tags": null` for a repository whose manifests were all deleted.
      if (items !== null && !(Array.isArray(items) && items.every(valid))) {
        throw this.#t.protocol(res, 'GET', `answer has no valid '${key}' list`);
      }
      // One element at a time: spreading a list of 100,000s onto the stack overflows it.
      if (items) for (const item of items) out.push(item);
      if (out.length > limit) {
        throw this.#t.protocol(res, 'GET', `more than ${limit} ${key === 'tags' ? 'tags in one repository' : key === 'manifests' ? 'referrers of one manifest' : 'repositories'} (registries.${this.name}.max-tags); raise it if this is real, or check the registry`);
      }
      path = this.#sameOriginPath(res, nextLink(res.headers.link));
      // The next page of the same list: another repository's tags (or any other route of
      // this registry) would be merged into this one's.
      if (path && new URL(path, this.endpoint.origin).pathname !== new URL(firstPath, this.endpoint.origin).pathname) {
        throw this.#t.protocol(res, 'GET', `refusing pagination Link to another list (${new URL(path, this.endpoint.origin).pathname}); a next page must continue ${new URL(firstPath, this.endpoint.origin).pathname}`);
      }
      // Every page must add something, so that the item bound also bounds the pages.
      if (path && out.length === before) throw this.#t.protocol(res, 'GET', 'a page with no entries points to a next page: endless pagination refused');
    }
    return out;
  }

  /** Resolves a Link against the request URL and refuses another origin. */
  #sameOriginPath(res: Response, link: string | undefined): string | undefined {
    if (!link) return undefined;
    const next = new URL(link, res.url);
    if (next.origin !== this.endpoint.origin) {
      throw this.#t.protocol(res, 'GET', `refusing pagination Link to another origin (${next.origin})`);
    }
    return next.pathname + next.search;
  }
}
