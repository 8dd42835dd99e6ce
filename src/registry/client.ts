import { normaliseCreated } from '../oci/created.js';
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { Agent } from './agent.js';
import type { RegistryEndpoint } from '../config/model.js';
import { registerSecret, type Credentials } from '../util/secret.js';
import { Limiter } from '../util/limit.js';
import { silentLogger, type Logger } from '../util/log.js';
import { RegistryError, parseErrorBody, type RegistryErrorKind } from './errors.js';
import { isLoopback, nextLink, parseChallenge, retryAfterMs } from './challenge.js';
import { MANIFEST_ACCEPT, isIndex } from '../oci/media-types.js';
import { isDigest, mediaTypeProblem, refProblem, repositoryProblem, tagProblem, type Digest, type Repository } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { manifestFacts, type ManifestFacts } from '../oci/manifest-facts.js';

export interface RetryOptions {
  /** Total attempts for a read, first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the request fails instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 300, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };

export interface ClientOptions {
  credentials?: Credentials;
  retry?: Partial<RetryOptions>;
  logger?: Logger;
  /** Caps the number of pages one listing may have, as a last guard against endless paging. */
  maxPages?: number;
}

export interface ManifestRef {
  digest: Digest;
  mediaType: string;
  size?: number;
}

export interface Manifest extends ManifestRef {
  bytes: Buffer;
  json: any;
}

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  url: string;
}

interface RequestSpec {
  method: 'GET' | 'HEAD' | 'DELETE' | 'PUT' | 'POST';
  path: string; // begins with /v2/
  scope?: string;
  accept?: string;
  body?: Buffer;
  contentType?: string;
  /** Reads are retried on 429/5xx/resets; DELETE never is (apply re-checks instead). */
  idempotent: boolean;
}

const MAX_BODY = 64 * 1024 * 1024;
const CERT_UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED']);
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const RETRY_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The one HTTP boundary to a registry: auth (Basic and Bearer challenge), bounded
 * retries, pagination, digest checks and typed errors. Everything regmgr reads or
 * changes in a registry goes through here.
 */
export class RegistryClient {
  readonly #agent: Agent;
  readonly #limiter: Limiter;
  readonly #retry: RetryOptions;
  readonly #log: Logger;
  readonly #creds?: Credentials;
  readonly #maxPages: number;
  #scheme: 'unknown' | 'none' | 'basic' | 'bearer' = 'unknown';
  /**
   * undici closes a connection after every HEAD (in case a server sends a body anyway),
   * which costs a TCP and TLS handshake per tag. regmgr keeps connections open; a
   * registry seen sending bytes after a HEAD gets the closing behaviour back.
   */
  #closeAfterHead = false;
  #bearer?: { realm: string; service?: string };
  readonly #tokens = new Map<string, { token: string; expires: number }>();
  readonly #pendingTokens = new Map<string, Promise<string>>();
  /** Count of requests sent, for tests and the benchmark. */
  requests = 0;

  constructor(
    readonly endpoint: RegistryEndpoint,
    opts: ClientOptions = {},
  ) {
    this.#creds = opts.credentials;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#log = opts.logger ?? silentLogger;
    this.#maxPages = opts.maxPages ?? 100_000;
    this.#limiter = new Limiter(endpoint.concurrency);
    this.#agent = new Agent({
      connections: endpoint.concurrency,
      keepAliveTimeout: 10_000,
      headersTimeout: endpoint.timeoutMs,
      bodyTimeout: endpoint.timeoutMs,
      connect: { rejectUnauthorized: !endpoint.insecure, timeout: Math.min(endpoint.timeoutMs, 10_000), ...(endpoint.ca ? { ca: endpoint.ca.pem } : {}) },
    });
  }

  get name() {
    return this.endpoint.name;
  }

  get hasCredentials(): boolean {
    return Boolean(this.#creds);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  // ---- reads -------------------------------------------------------------------------

  /** GET /v2/: checks reachability and credentials. */
  async ping(): Promise<void> {
    const res = await this.#send({ method: 'GET', path: '/v2/', idempotent: true });
    if (res.status !== 200) throw this.#error(res, 'GET');
  }

  /** Every repository name, each checked against the distribution grammar. */
  async catalog(): Promise<Repository[]> {
    const names = await this.#paginate('/v2/_catalog?n=1000', 'registry:catalog:*', 'repositories');
    const bad = names.find((n) => repositoryProblem(n));
    if (bad !== undefined) throw new RegistryError('protocol', this.name, 'GET', this.#url('/v2/_catalog'), `the catalog lists an invalid repository name ${quoted(bad)}: ${repositoryProblem(bad)}; no plan from data regmgr cannot trust`);
    return names as Repository[];
  }

  /** Every tag of a repository, each checked against the distribution grammar. */
  async listTags(repo: Repository): Promise<string[]> {
    const path = `/v2/${this.#repo(repo)}/tags/list`;
    const tags = await this.#paginate(path, pull(repo), 'tags');
    for (const t of tags) {
      if (tagProblem(t)) throw new RegistryError('protocol', this.name, 'GET', this.#url(path), `repository ${repo} lists an invalid tag: ${tagProblem(t)}; no plan from data regmgr cannot trust`);
    }
    return tags;
  }

  /** Digest and media type of a manifest, or undefined when the registry says 404. */
  async headManifest(repo: Repository, ref: string): Promise<ManifestRef | undefined> {
    const res = await this.#send({ method: 'HEAD', path: this.#manifestPath(repo, ref), scope: pull(repo), accept: MANIFEST_ACCEPT, idempotent: true });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.#error(res, 'HEAD');
    const digest = header(res, 'docker-content-digest');
    const mediaType = header(res, 'content-type');
    if (!digest || !mediaType) {
      // Some registries omit the digest on HEAD: the body is the only source of truth.
      return this.getManifest(repo, ref);
    }
    if (!isDigest(digest)) throw this.#protocol(res, 'HEAD', `invalid Docker-Content-Digest ${quoted(digest)}`);
    const size = Number(header(res, 'content-length'));
    return { digest, mediaType: this.#mediaType(res, 'HEAD', mediaType), size: Number.isFinite(size) ? size : undefined };
  }

  /** The manifest body, checked against its digest; undefined on 404. */
  async getManifest(repo: Repository, ref: string): Promise<Manifest | undefined> {
    const res = await this.#send({ method: 'GET', path: this.#manifestPath(repo, ref), scope: pull(repo), accept: MANIFEST_ACCEPT, idempotent: true });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.#error(res, 'GET');
    const digest = `sha256:${createHash('sha256').update(res.body).digest('hex')}` as Digest;
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) throw this.#protocol(res, 'GET', `body hashes to ${digest}, header says ${claimed}`);
    if (ref.startsWith('sha256:') && ref !== digest) throw this.#protocol(res, 'GET', `body hashes to ${digest}, asked for ${ref}`);
    let json: any;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw this.#protocol(res, 'GET', 'manifest is not JSON');
    }
    const mediaType = this.#mediaType(res, 'GET', String(header(res, 'content-type') ?? json?.mediaType ?? ''));
    return { digest, mediaType, size: res.body.length, bytes: res.body, json };
  }

  /** A blob's bytes, checked against its digest. Follows a redirect (storage backends) without credentials. */
  async getBlob(repo: Repository, digest: Digest, maxBytes = 4 * 1024 * 1024): Promise<Buffer> {
    let res = await this.#send({ method: 'GET', path: this.#blobPath(repo, digest), scope: pull(repo), idempotent: true });
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      const location = header(res, 'location');
      if (!location) throw this.#protocol(res, 'GET', 'redirect without Location');
      res = await this.#fetchPlain(new URL(location, res.url).toString());
    }
    if (res.status !== 200) throw this.#error(res, 'GET');
    if (res.body.length > maxBytes) throw this.#protocol(res, 'GET', `blob larger than ${maxBytes} bytes`);
    const actual = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
    if (actual !== digest) throw this.#protocol(res, 'GET', `blob hashes to ${actual}`);
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
      if (!m) throw new RegistryError('not-found', this.name, 'GET', this.#url(`/v2/${repo}/manifests/${digest}`), 'manifest disappeared while reading', 404);
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
    const res = await this.#send({ method: 'HEAD', path: this.#blobPath(repo, digest), scope: pull(repo), idempotent: true });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    // Storage backends redirect blob reads; a redirect means the registry has it.
    if ([301, 302, 303, 307, 308].includes(res.status)) return true;
    throw this.#error(res, 'HEAD');
  }

  // ---- changes -----------------------------------------------------------------------

  /**
   * PUT manifest bytes under a tag. Used only to put back a tag that a delete removed:
   * the bytes are the ones saved before the DELETE, so the digest comes back identical.
   */
  /** PUTs a manifest under a tag, or by its own digest (`ref` a digest: a manifest no tag names, such as a platform manifest). */
  async putManifest(repo: Repository, tag: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const own = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const refProblem = isDigest(tag) ? (tag === own ? undefined : `${tag} is not the digest of these bytes (${own})`) : tagProblem(tag);
    if (refProblem || mediaTypeProblem(mediaType)) throw new Error(`refusing to PUT: ${refProblem ?? mediaTypeProblem(mediaType)}`);
    const res = await this.#send({ method: 'PUT', path: this.#manifestPath(repo, tag), scope: push(repo), body: bytes, contentType: mediaType, idempotent: false });
    if (res.status !== 201 && res.status !== 200) throw this.#error(res, 'PUT');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) throw this.#protocol(res, 'PUT', `registry stored ${claimed}, the bytes hash to ${digest}`);
    return digest;
  }

  /**
   * Uploads a small blob (the empty config of an untag manifest), unless the repository
   * has it. Monolithic: one upload session, one PUT with the digest.
   */
  async pushBlob(repo: Repository, bytes: Buffer): Promise<Digest> {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
    if (await this.hasBlob(repo, digest)) return digest;
    const start = await this.#send({ method: 'POST', path: `/v2/${this.#repo(repo)}/blobs/uploads/`, scope: push(repo), idempotent: false });
    if (start.status !== 202) throw this.#error(start, 'POST');
    const location = header(start, 'location');
    if (!location) throw this.#protocol(start, 'POST', 'upload session without Location');
    const u = new URL(location, start.url);
    if (u.origin !== this.endpoint.origin) throw this.#protocol(start, 'POST', `refusing an upload Location on another origin (${u.origin})`);
    u.searchParams.set('digest', digest);
    const put = await this.#send({ method: 'PUT', path: u.pathname + u.search, scope: push(repo), body: bytes, contentType: 'application/octet-stream', idempotent: false });
    if (put.status !== 201) throw this.#error(put, 'PUT');
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
    const res = await this.#send({ method: 'POST', path: `/v2/${this.#repo(repo)}/blobs/uploads/${query}`, scope: push(repo), idempotent: false });
    if (mountable && res.status === 201) return;
    if (res.status !== 202) throw this.#error(res, 'POST');
    const location = header(res, 'location');
    if (!location) return;
    const u = new URL(location, res.url);
    if (u.origin !== this.endpoint.origin) return; // never send credentials elsewhere; the session expires on its own
    // Best effort: a registry that cannot cancel uploads lets the session expire.
    await this.#send({ method: 'DELETE', path: u.pathname + u.search, scope: push(repo), idempotent: false }).catch(() => undefined);
  }

  /**
   * A capability probe (capabilities.ts): a DELETE of a manifest reference that cannot
   * exist, or a GET of the referrers of one, answered as status and error codes. Never
   * a digest or tag anyone could have pushed: nothing can change.
   */
  async probe(repo: Repository, what: 'delete-digest' | 'delete-tag' | 'referrers', ref: string): Promise<{ status: number; codes: string[]; json?: unknown }> {
    const path = what === 'referrers' ? `/v2/${this.#repo(repo)}/referrers/${ref}` : this.#manifestPath(repo, ref);
    const res = await this.#send({ method: what === 'referrers' ? 'GET' : 'DELETE', path, scope: what === 'referrers' ? pull(repo) : `repository:${repo}:delete`, idempotent: what === 'referrers' });
    if (res.status >= 500) throw this.#error(res, what === 'referrers' ? 'GET' : 'DELETE');
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
    const res = await this.#send({ method: 'DELETE', path: this.#manifestPath(repo, digest), scope: `repository:${repo}:delete`, idempotent: false });
    if (res.status === 202 || res.status === 200 || res.status === 204) return 'deleted';
    if (res.status === 404) return 'absent';
    throw this.#error(res, 'DELETE');
  }

  /** DELETE a single tag (OCI 1.1). 'unsupported' where the registry refuses it, as 2.8 does. */
  async deleteTag(repo: Repository, tag: string): Promise<'deleted' | 'absent' | 'unsupported'> {
    if (tagProblem(tag)) throw new Error(`refusing to DELETE: ${tagProblem(tag)}`);
    const res = await this.#send({ method: 'DELETE', path: this.#manifestPath(repo, tag), scope: `repository:${repo}:delete`, idempotent: false });
    if (res.status === 202 || res.status === 200 || res.status === 204) return 'deleted';
    if (res.status === 404) return 'absent';
    const { codes } = parseErrorBody(res.body);
    if (res.status === 405 || (res.status === 400 && (codes.includes('DIGEST_INVALID') || codes.includes('UNSUPPORTED')))) return 'unsupported';
    throw this.#error(res, 'DELETE');
  }

  // ---- machinery ---------------------------------------------------------------------

  // Names are checked here, where URLs are built, whatever the caller checked before:
  // Node's URL parser collapses `..` and `#` cuts a path (registry-facts.md).
  #repo(repo: string): string {
    const p = repositoryProblem(repo);
    if (p) throw new Error(`refusing to build a URL for repository ${quoted(repo)}: it ${p}`);
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
    const mediaType = raw.split(';')[0].trim();
    const p = mediaTypeProblem(mediaType);
    if (p) throw this.#protocol(res, method, `the manifest's Content-Type ${p}`);
    return mediaType;
  }

  async #paginate(firstPath: string, scope: string, key: 'repositories' | 'tags'): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    let path: string | undefined = firstPath;
    let pages = 0;
    const limit = this.endpoint.maxTags;
    while (path) {
      if (seen.has(path)) throw new RegistryError('protocol', this.name, 'GET', this.#url(path), `pagination loop: Link points back to a page already read (${seen.size} pages)`);
      if (++pages > this.#maxPages) throw new RegistryError('protocol', this.name, 'GET', this.#url(path), `more than ${this.#maxPages} pages`);
      seen.add(path);
      const before = out.length;
      const res = await this.#send({ method: 'GET', path, scope, idempotent: true });
      if (res.status !== 200) throw this.#error(res, 'GET');
      let body: any;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw this.#protocol(res, 'GET', 'answer is not JSON');
      }
      const items = body?.[key];
      // 2.8 answers `"tags": null` for a repository whose manifests were all deleted.
      if (items !== null && !(Array.isArray(items) && items.every((t) => typeof t === 'string'))) {
        throw this.#protocol(res, 'GET', `answer has no '${key}' list`);
      }
      // One element at a time: spreading a list of 100,000s onto the stack overflows it.
      if (items) for (const item of items) out.push(item);
      if (out.length > limit) {
        throw this.#protocol(res, 'GET', `more than ${limit} ${key === 'tags' ? 'tags in one repository' : 'repositories'} (registries.${this.name}.max-tags); raise it if this is real, or check the registry`);
      }
      path = this.#sameOriginPath(res, nextLink(res.headers.link));
      // The next page of the same list: another repository's tags (or any other route of
      // this registry) would be merged into this one's.
      if (path && new URL(path, this.endpoint.origin).pathname !== new URL(firstPath, this.endpoint.origin).pathname) {
        throw this.#protocol(res, 'GET', `refusing pagination Link to another list (${new URL(path, this.endpoint.origin).pathname}); a next page must continue ${new URL(firstPath, this.endpoint.origin).pathname}`);
      }
      // Every page must add something, so that the item bound also bounds the pages.
      if (path && out.length === before) throw this.#protocol(res, 'GET', 'a page with no entries points to a next page: endless pagination refused');
    }
    return out;
  }

  /** Resolves a Link against the request URL and refuses another origin. */
  #sameOriginPath(res: Response, link: string | undefined): string | undefined {
    if (!link) return undefined;
    const next = new URL(link, res.url);
    if (next.origin !== this.endpoint.origin) {
      throw this.#protocol(res, 'GET', `refusing pagination Link to another origin (${next.origin})`);
    }
    return next.pathname + next.search;
  }

  #url(path: string): string {
    return this.endpoint.origin + path;
  }

  async #send(spec: RequestSpec): Promise<Response> {
    return this.#limiter.run(async () => {
      let authRetried = false;
      for (let attempt = 1; ; attempt++) {
        const headers: Record<string, string> = { 'user-agent': 'regmgr' };
        if (spec.accept) headers.accept = spec.accept;
        const auth = await this.#authHeader(spec.scope);
        if (auth) headers.authorization = auth;
        let res: Response;
        try {
          if (spec.contentType) headers['content-type'] = spec.contentType;
          res = await this.#raw(spec.method, this.#url(spec.path), headers, spec.body);
        } catch (e) {
          if (e instanceof RegistryError) throw e;
          const code = (e as NodeJS.ErrnoException).code ?? '';
          // An answer that does not parse on a reused connection: most likely bytes a
          // server sent after a HEAD. Close after HEADs from now on, and read again.
          // (undici's HTTPParserError; its code is not always set.)
          const garbled = code.startsWith('HPE_') || (e as Error).name === 'HTTPParserError';
          if (garbled && !this.#closeAfterHead) {
            this.#closeAfterHead = true;
            this.#log.warn(`${this.name}: an answer did not parse (${code || (e as Error).message}), as when a server sends a body after a HEAD; closing connections after HEAD requests from now on`);
          }
          if (spec.idempotent && (RETRY_NET.has(code) || garbled) && attempt < this.#retry.attempts) {
            await this.#backoff(attempt, undefined, `${spec.method} ${spec.path}: ${code}`);
            continue;
          }
          throw this.#network(spec.method, spec.path, e as Error, attempt);
        }
        if (res.status === 401 && !authRetried) {
          authRetried = true;
          if (await this.#onChallenge(res, spec, Boolean(auth))) {
            attempt--; // an auth round trip is not a failed attempt
            continue;
          }
        }
        if (spec.idempotent && RETRY_STATUS.has(res.status)) {
          if (attempt < this.#retry.attempts) {
            const after = retryAfterMs(header(res, 'retry-after'), Date.now());
            if (after === undefined || after <= this.#retry.maxRetryAfterMs) {
              await this.#backoff(attempt, after, `${spec.method} ${spec.path}: ${res.status}`);
              continue;
            }
          }
          throw this.#error(res, spec.method, `gave up after ${attempt} attempt(s)`);
        }
        return res;
      }
    });
  }

  /**
   * One request, its whole answer in memory (bounded by MAX_BODY). Through undici's
   * dispatch handler rather than request(): no stream, async iterator or AbortSignal per
   * request, which was a fifth of plan's CPU per tag.
   */
  #raw(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    const started = Date.now();
    this.requests++;
    const u = new URL(url);
    const reset = method === 'HEAD' && this.#closeAfterHead;
    return new Promise<Response>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let status = 0;
      let resHeaders: Response['headers'] = {};
      let controller: Dispatcher.DispatchController | undefined;
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        reject(e);
        controller?.abort(e);
      };
      // One deadline for the whole request, connect, headers and body together: a server
      // that trickles a byte every few seconds cannot keep it alive past `timeout`.
      const deadline = setTimeout(() => fail(new RegistryError('network', this.name, method, this.#shown(url), `no complete answer within ${this.endpoint.timeoutMs / 1000} s (timeout); the registry is too slow or stalled`)), this.endpoint.timeoutMs);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (settled) c.abort(new Error('cancelled'));
        },
        onResponseStart: (_c, statusCode, h) => {
          status = statusCode;
          resHeaders = h;
        },
        onResponseData: (_c, chunk) => {
          size += chunk.length;
          if (size > MAX_BODY) return fail(new RegistryError('protocol', this.name, method, this.#shown(url), `answer larger than ${MAX_BODY} bytes`, status));
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          if (this.#log.debugOn !== false) this.#log.debug(`${this.name}: ${method} ${this.#shown(url)} -> ${status} (${Date.now() - started} ms)`);
          resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), url }); // a copy: a chunk may be a view of a larger socket read
        },
        onResponseError: (_c, e) => fail(e),
      };
      try {
        this.#agent.dispatch({ origin: u.origin, path: u.pathname + u.search, method: method as Dispatcher.HttpMethod, headers, body, reset }, handler);
      } catch (e) {
        fail(e as Error);
      }
    });
  }

  /** A plain GET with no credentials (redirect targets on other hosts). */
  async #fetchPlain(url: string): Promise<Response> {
    try {
      return await this.#raw('GET', url, { 'user-agent': 'regmgr' });
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      throw this.#network('GET', this.#shown(url), e as Error, 1);
    }
  }

  /**
   * A URL fit for logs and errors. Redirect targets on storage backends carry signed
   * query strings (S3 X-Amz-Signature...), which are credentials: only the registry's
   * own URLs keep their query.
   */
  #shown(url: string): string {
    const u = new URL(url);
    return u.origin === this.endpoint.origin || !u.search ? url : `${u.origin}${u.pathname}?<redacted>`;
  }

  async #backoff(attempt: number, retryAfter: number | undefined, why: string) {
    const exp = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
    // Full jitter spreads retries of many parallel requests; Retry-After is a floor.
    const delay = Math.max(retryAfter ?? 0, Math.round(exp / 2 + (Math.random() * exp) / 2));
    this.#log.debug(`${this.name}: retry ${attempt}/${this.#retry.attempts - 1} in ${delay} ms (${why})`);
    await new Promise((r) => setTimeout(r, delay));
  }

  // ---- auth --------------------------------------------------------------------------

  async #authHeader(scope: string | undefined): Promise<string | undefined> {
    if (this.#scheme === 'basic' && this.#creds) return basic(this.#creds);
    if (this.#scheme === 'bearer') return `Bearer ${await this.#token(scope ?? '')}`;
    return undefined;
  }

  /** Learns the auth scheme from a 401; true when the request is worth sending again. */
  async #onChallenge(res: Response, spec: RequestSpec, sentAuth: boolean): Promise<boolean> {
    const ch = parseChallenge(header(res, 'www-authenticate'));
    if (ch?.scheme === 'basic') {
      // Concurrent first requests all meet the challenge; only one that already carried
      // the credentials proves them wrong.
      if (!this.#creds || sentAuth) return false;
      this.#scheme = 'basic';
      return true;
    }
    if (ch?.scheme === 'bearer' && ch.params.realm) {
      this.#bearer = { realm: ch.params.realm, service: ch.params.service };
      this.#scheme = 'bearer';
      // The registry's scope is authoritative (e.g. `registry:catalog:*`, or more actions).
      const scope = ch.params.scope ?? spec.scope;
      if (spec.scope) this.#tokens.delete(spec.scope);
      if (scope) {
        this.#tokens.delete(scope);
        if (spec.scope && scope !== spec.scope) this.#aliasScope(spec.scope, scope);
      }
      return true;
    }
    return false;
  }

  // When the registry names another scope than ours, requests for ours use its token.
  readonly #scopeAlias = new Map<string, string>();
  #aliasScope(ours: string, theirs: string) {
    this.#scopeAlias.set(ours, theirs);
  }

  async #token(scope: string): Promise<string> {
    const s = this.#scopeAlias.get(scope) ?? scope;
    const cached = this.#tokens.get(s);
    if (cached && cached.expires > Date.now()) return cached.token;
    let pending = this.#pendingTokens.get(s);
    if (!pending) {
      pending = this.#fetchToken(s).finally(() => this.#pendingTokens.delete(s));
      this.#pendingTokens.set(s, pending);
    }
    return pending;
  }

  async #fetchToken(scope: string): Promise<string> {
    const { realm, service } = this.#bearer!;
    const url = new URL(realm, this.endpoint.origin);
    if (service) url.searchParams.set('service', service);
    if (scope) url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': 'regmgr' };
    // Credentials go to a token realm only over TLS or on this machine.
    if (this.#creds) {
      if (url.protocol === 'https:' || isLoopback(url.hostname)) headers.authorization = basic(this.#creds);
      else this.#log.warn(`${this.name}: token realm ${url.origin} is plain HTTP on another host; asking for an anonymous token`);
    }
    let res: Response | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await this.#raw('GET', url.toString(), headers);
      } catch (e) {
        if (attempt < this.#retry.attempts && RETRY_NET.has((e as NodeJS.ErrnoException).code ?? '')) {
          await this.#backoff(attempt, undefined, 'token');
          continue;
        }
        throw this.#network('GET', url.origin + url.pathname, e as Error, attempt);
      }
      if (RETRY_STATUS.has(res.status) && attempt < this.#retry.attempts) {
        // The same cap as for registry requests: a token server cannot park regmgr for a day.
        const after = retryAfterMs(header(res, 'retry-after'), Date.now());
        if (after === undefined || after <= this.#retry.maxRetryAfterMs) {
          await this.#backoff(attempt, after, `token ${res.status}`);
          continue;
        }
        throw new RegistryError(kindFor(res.status), this.name, 'GET', url.origin + url.pathname, `token server asked to retry after ${Math.round(after / 1000)} s, longer than regmgr waits (${this.#retry.maxRetryAfterMs / 1000} s)`, res.status);
      }
      break;
    }
    const shown = url.origin + url.pathname;
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('auth', this.name, 'GET', shown, `token server refused the credentials${this.#creds ? ` (from ${this.#creds.source})` : ' (no credentials configured)'}`, res.status);
    }
    if (res.status !== 200) throw new RegistryError(kindFor(res.status), this.name, 'GET', shown, 'token request failed', res.status);
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RegistryError('protocol', this.name, 'GET', shown, 'token answer is not JSON', res.status);
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== 'string' || !token) throw new RegistryError('protocol', this.name, 'GET', shown, 'token answer has no token', res.status);
    registerSecret(token);
    // The spec's default lifetime is 60 s; renew 10 s early so no request carries an expired token.
    const life = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    this.#tokens.set(scope, { token, expires: Date.now() + Math.max(life - 10_000, life / 2) });
    return token;
  }

  // ---- errors ------------------------------------------------------------------------

  #error(res: Response, method: string, extra?: string): RegistryError {
    const { codes, messages } = parseErrorBody(res.body);
    const kind = kindFor(res.status);
    const hints: Record<string, string> = {
      auth: this.#creds ? `authentication failed with the credentials from ${this.#creds.source}` : 'authentication required and no credentials are configured (config password, or an auth file)',
      denied: 'access denied for these credentials',
      'not-found': 'not found',
      'rate-limited': 'rate limited by the registry',
      unsupported: 'the registry does not support this operation (is deletion enabled?)',
    };
    // A plain-HTTP request to a TLS port: the registry's 400 says so in plain text.
    if (res.status === 400 && /HTTP request to an HTTPS server/i.test(res.body.toString('utf8', 0, 200))) {
      return new RegistryError('protocol', this.name, method, this.#shown(res.url), `the registry speaks TLS on this port: write https:// in registries.${this.name}.registry`, res.status);
    }
    const detail = [messages.join('; ') || undefined, hints[kind], extra].filter(Boolean).join('; ') || `unexpected status`;
    return new RegistryError(kind, this.name, method, this.#shown(res.url), detail, res.status, codes);
  }

  #protocol(res: Response, method: string, detail: string): RegistryError {
    return new RegistryError('protocol', this.name, method, this.#shown(res.url), detail, res.status);
  }

  #network(method: string, path: string, e: Error, attempts: number): RegistryError {
    const code = (e as NodeJS.ErrnoException).code;
    const url = path.startsWith('http') ? path : this.#url(path);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const at = `registries.${this.name}`;
    // The usual transport mistakes, each with what is wrong and the one fix.
    let detail = `${code ? `${code}: ` : ''}${e.message}${tries}`;
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/.test(e.message)) {
      detail = `the registry does not speak TLS on this port (it answered plain HTTP): write http:// in ${at}.registry`;
    } else if (code && CERT_UNTRUSTED.has(code)) {
      detail = `the registry's TLS certificate is not trusted (${code}${this.endpoint.ca ? `, not even with ${at}.ca-file` : ''}): give the CA that signed it in ${at}.ca-file, or, to skip verification, set ${at}.insecure: true`;
    } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      detail = `the registry's TLS certificate is not for ${new URL(url).hostname} (${e.message}): use the name the certificate gives in ${at}.registry`;
    }
    return new RegistryError('network', this.name, method, url, detail);
  }
}

function kindFor(status: number): RegistryErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'denied';
  if (status === 404) return 'not-found';
  if (status === 405) return 'unsupported';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'server';
  return 'protocol';
}

function header(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function pull(repo: Repository): string {
  return `repository:${repo}:pull`;
}

function push(repo: Repository): string {
  return `repository:${repo}:pull,push`;
}

function basic(c: Credentials): string {
  const value = Buffer.from(`${c.username}:${c.password.reveal()}`).toString('base64');
  registerSecret(value);
  return `Basic ${value}`;
}
