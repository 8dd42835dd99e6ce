import type { Dispatcher } from 'undici';
import { endpointAgent, type Agent } from './agent.js';
import type { RegistryEndpoint } from '../config/model.js';
import { registerSecret, type Credentials } from '../util/secret.js';
import { Limiter } from '../util/limit.js';
import { silentLogger, type Logger } from '../util/log.js';
import { RegistryError, parseErrorBody, type RegistryErrorKind } from './errors.js';
import type { Repository } from '../oci/names.js';
import { isLoopback, parseChallenge, retryAfterMs } from './challenge.js';

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

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  url: string;
}

export interface RequestSpec {
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
// A path new URL leaves as it is: segments of the characters names, tags and digests
// use, none of them `.` or `..`, then a query (not empty) without space, quotes, `#`,
// `<` or `>`, which URL would encode or cut. Anything else is parsed (requestTarget).
const SAFE_PATH = /^(?:\/(?!\.\.?(?:[/?]|$))[A-Za-z0-9._:@-]*)+(?:\?[A-Za-z0-9._~!$&()*+,;=:@/?%-]+)?$/;
const CERT_UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED']);
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const RETRY_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Where a request goes: the origin and the path as sent. A URL built from the registry's
 * origin and validated names (every HEAD of a plan) is split where its path starts:
 * parsing each with new URL was ~2.5% of a plan's CPU. Any other (a redirect, a token
 * realm, a path with a character URL would encode or a dot segment it would collapse)
 * goes through the URL parser, as every request did before; both give the same answer.
 */
export function requestTarget(origin: string, url: string): { origin: string; path: string } {
  if (url.startsWith(origin)) {
    const path = url.slice(origin.length);
    if (SAFE_PATH.test(path)) return { origin, path };
  }
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname + u.search };
}

/**
 * The transport under the OCI client: one agent per registry (connection reuse, TLS,
 * deadlines), Basic and Bearer auth (challenges, tokens, scopes), bounded retries with
 * Retry-After, the 64 MiB answer cap, and errors that name the registry, the request
 * and its answer. It knows HTTP and auth, not the distribution API.
 */
export class Transport {
  readonly #agent: Agent;
  readonly #limiter: Limiter;
  readonly #retry: RetryOptions;
  readonly #log: Logger;
  readonly #creds?: Credentials;
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
    this.#limiter = new Limiter(endpoint.concurrency);
    this.#agent = endpointAgent(endpoint);
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



  url(path: string): string {
    return this.endpoint.origin + path;
  }

  async send(spec: RequestSpec): Promise<Response> {
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
          res = await this.#raw(spec.method, this.url(spec.path), headers, spec.body);
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
          throw this.error(res, spec.method, `gave up after ${attempt} attempt(s)`);
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
    const { origin, path } = requestTarget(this.endpoint.origin, url);
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
      const deadline = setTimeout(() => fail(new RegistryError('network', this.name, method, this.shown(url), `no complete answer within ${this.endpoint.timeoutMs / 1000} s (timeout); the registry is too slow or stalled`)), this.endpoint.timeoutMs);
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
          if (size > MAX_BODY) return fail(new RegistryError('protocol', this.name, method, this.shown(url), `answer larger than ${MAX_BODY} bytes`, status));
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          if (this.#log.debugOn !== false) this.#log.debug(`${this.name}: ${method} ${this.shown(url)} -> ${status} (${Date.now() - started} ms)`);
          resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), url }); // a copy: a chunk may be a view of a larger socket read
        },
        onResponseError: (_c, e) => fail(e),
      };
      try {
        this.#agent.dispatch({ origin, path, method: method as Dispatcher.HttpMethod, headers, body, reset }, handler);
      } catch (e) {
        fail(e as Error);
      }
    });
  }

  /** A plain GET with no credentials (redirect targets on other hosts). */
  async fetchPlain(url: string): Promise<Response> {
    try {
      return await this.#raw('GET', url, { 'user-agent': 'regmgr' });
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      throw this.#network('GET', this.shown(url), e as Error, 1);
    }
  }

  /**
   * A URL fit for logs and errors. Redirect targets on storage backends carry signed
   * query strings (S3 X-Amz-Signature...), which are credentials: only the registry's
   * own URLs keep their query.
   */
  shown(url: string): string {
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

  error(res: Response, method: string, extra?: string): RegistryError {
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
      return new RegistryError('protocol', this.name, method, this.shown(res.url), `the registry speaks TLS on this port: write https:// in registries.${this.name}.registry`, res.status);
    }
    const detail = [messages.join('; ') || undefined, hints[kind], extra].filter(Boolean).join('; ') || `unexpected status`;
    return new RegistryError(kind, this.name, method, this.shown(res.url), detail, res.status, codes);
  }

  protocol(res: Response, method: string, detail: string): RegistryError {
    return new RegistryError('protocol', this.name, method, this.shown(res.url), detail, res.status);
  }

  #network(method: string, path: string, e: Error, attempts: number): RegistryError {
    const code = (e as NodeJS.ErrnoException).code;
    const url = path.startsWith('http') ? path : this.url(path);
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

export function header(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function pull(repo: Repository): string {
  return `repository:${repo}:pull`;
}

export function push(repo: Repository): string {
  return `repository:${repo}:pull,push`;
}

function basic(c: Credentials): string {
  const value = Buffer.from(`${c.username}:${c.password.reveal()}`).toString('base64');
  registerSecret(value);
  return `Basic ${value}`;
}
