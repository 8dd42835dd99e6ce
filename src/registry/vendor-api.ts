import type { Dispatcher } from 'undici';
import { endpointAgent, type Agent } from './agent.js';
import type { RegistryEndpoint } from '../config/model.js';
import { silentLogger, type Logger } from '../util/log.js';
import { quoted } from '../util/inert.js';
import { RegistryError } from './errors.js';
import { nextLink, retryAfterMs } from './challenge.js';
import type { Secret } from '../util/secret.js';

/** Most a vendor API answer may be: its lists are paged, so a page is small. */
const MAX_BODY = 16 * 1024 * 1024;
/** Most pages one vendor listing may have. */
const MAX_PAGES = 10_000;
/** Longest regmgr waits for a rate limit to lift, in all, before it fails instead. */
const MAX_RATE_WAIT_MS = 15 * 60_000;

export interface VendorAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: unknown;
  text: string;
  url: string;
}

/**
 * A vendor's REST API (Harbor's /api/v2.0, GitHub's REST API...), beside the registry's
 * OCI API: the endpoint's deadlines and TLS choice, one Authorization header, JSON
 * answers capped in size, Link pagination kept on the API's origin, and rate limits
 * (429 or 403 with Retry-After, or x-ratelimit-remaining: 0 until x-ratelimit-reset)
 * waited out and said, as progress, not as failures.
 */
export class VendorApi {
  readonly #agent: Agent;
  readonly #log: Logger;
  #waitedMs = 0;

  constructor(
    readonly name: string,
    readonly base: URL,
    readonly endpoint: RegistryEndpoint,
    readonly authorization: () => Secret | undefined | Promise<Secret | undefined>,
    readonly headers: Record<string, string> = {},
    logger: Logger = silentLogger,
    /** The header the credential goes in: Authorization, or GitLab's PRIVATE-TOKEN / JOB-TOKEN. */
    readonly authHeader = 'authorization',
  ) {
    this.#log = logger;
    this.#agent = endpointAgent(endpoint);
  }

  /** `path` is relative to the API base (`/projects`), or a same-origin absolute URL from a Link. */
  url(path: string): URL {
    if (/^https?:\/\//.test(path)) return new URL(path);
    return new URL(this.base.pathname.replace(/\/$/, '') + path, this.base.origin);
  }

  async request(method: 'GET' | 'DELETE' | 'POST', path: string, body?: unknown): Promise<VendorAnswer> {
    const url = this.url(path);
    if (url.origin !== this.base.origin) throw new RegistryError('protocol', this.name, method, url.origin, `refusing to send credentials to another origin than the API's (${this.base.origin})`);
    for (;;) {
      const res = await this.#send(method, url, body);
      const wait = this.#rateWait(res);
      if (wait === undefined) return res;
      if (this.#waitedMs + wait > MAX_RATE_WAIT_MS) {
        throw new RegistryError('rate-limited', this.name, method, url.href, `the API's rate limit lifts in ${Math.ceil(wait / 1000)} s, past regmgr's ${MAX_RATE_WAIT_MS / 60_000} min of waiting in all; run again later`, res.status);
      }
      this.#waitedMs += wait;
      // Progress, not a failure: the user sees why nothing moves.
      this.#log.info(`${this.name}: the API's rate limit was reached; waiting ${Math.ceil(wait / 1000)} s as it asks (${method} ${url.pathname})`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * Every item of a paged list: a JSON array per page with the next page in a Link header
   * (Harbor, GitHub, GitLab), or `{results, next}` with the next page's URL in the body
   * (Docker Hub). Either way the next page stays on the API's origin.
   */
  async list<T>(path: string, valid: (x: unknown) => x is T): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = path;
    const seen = new Set<string>();
    for (let pages = 0; next; pages++) {
      if (pages >= MAX_PAGES) throw new RegistryError('protocol', this.name, 'GET', this.url(path).href, `more than ${MAX_PAGES} pages`);
      const res = await this.request('GET', next);
      if (res.status !== 200) throw this.error(res, 'GET');
      const body = res.json as { results?: unknown; next?: unknown } | unknown[];
      const items = Array.isArray(body) ? body : Array.isArray(body?.results) ? body.results : undefined;
      if (!items) throw new RegistryError('protocol', this.name, 'GET', res.url, 'the answer is not a JSON list');
      for (const item of items) {
        if (!valid(item)) throw new RegistryError('protocol', this.name, 'GET', res.url, `the list holds an entry regmgr cannot read: ${quoted(JSON.stringify(item).slice(0, 120))}`);
        out.push(item);
      }
      const link = Array.isArray(body) ? nextLink(res.headers.link) : typeof body.next === 'string' && body.next ? body.next : undefined;
      if (!link) break;
      const u = new URL(link, res.url);
      if (u.origin !== this.base.origin) throw new RegistryError('protocol', this.name, 'GET', res.url, `refusing pagination Link to another origin (${u.origin})`);
      if (seen.has(u.href)) throw new RegistryError('protocol', this.name, 'GET', res.url, 'pagination loop: Link points back to a page already read');
      if (!items.length) throw new RegistryError('protocol', this.name, 'GET', res.url, 'a page with no entries points to a next page: endless pagination refused');
      seen.add(u.href);
      next = u.href;
    }
    return out;
  }

  /** The vendor's answer in words: its status, its own message (bounded, inert), and `fix`. */
  error(res: VendorAnswer, method: string, fix = ''): RegistryError {
    const kind = res.status === 401 ? 'auth' : res.status === 403 ? 'denied' : res.status === 404 ? 'not-found' : res.status === 405 ? 'unsupported' : res.status === 429 ? 'rate-limited' : res.status >= 500 ? 'server' : 'protocol';
    return new RegistryError(kind, this.name, method, res.url, `${vendorMessage(res) || 'no message'}${fix ? `; ${fix}` : ''}`, res.status);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  #rateWait(res: VendorAnswer): number | undefined {
    if (res.status !== 429 && res.status !== 403) return undefined;
    const h = (k: string) => {
      const v = res.headers[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const after = retryAfterMs(h('retry-after'), Date.now());
    if (after !== undefined) return Math.max(after, 1000);
    if (h('x-ratelimit-remaining') === '0') {
      const reset = Number(h('x-ratelimit-reset'));
      if (Number.isFinite(reset)) return Math.max(reset * 1000 - Date.now(), 1000);
    }
    return res.status === 429 ? 60_000 : undefined;
  }

  async #send(method: string, url: URL, body?: unknown): Promise<VendorAnswer> {
    const auth = await this.authorization();
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        headers: { accept: 'application/json', 'user-agent': 'regmgr', ...this.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth ? { [this.authHeader]: auth.reveal() } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      throw new RegistryError('network', this.name, method, url.href, (e as Error).message);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) {
        res.body.destroy();
        throw new RegistryError('protocol', this.name, method, url.href, `answer larger than ${MAX_BODY} bytes`);
      }
      chunks.push(c as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, json, text, url: url.href };
  }
}

/** The message a vendor put in its error body (GitHub: `message`; Harbor: `errors[].message`), bounded. */
export function vendorMessage(res: VendorAnswer): string {
  const j = res.json as { message?: unknown; errors?: Array<{ code?: unknown; message?: unknown }> } | undefined;
  const parts: string[] = [];
  if (typeof j?.message === 'string') parts.push(j.message);
  if (Array.isArray(j?.errors)) for (const e of j!.errors.slice(0, 3)) parts.push([e?.code, e?.message].filter((x) => typeof x === 'string').join(': '));
  return parts.join('; ').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 300);
}
