import { inert, inertLines } from '../util/inert.js';
import { scrub } from '../util/secret.js';

export type RegistryErrorKind =
  | 'auth' // 401: missing or wrong credentials, or a token lacking the action
  | 'denied' // 403
  | 'not-found' // 404; callers that accept absence check for it, nobody else may
  | 'rate-limited' // 429 after the bounded retries
  | 'server' // 5xx after the bounded retries
  | 'unsupported' // 405, or a registry that refuses an operation (e.g. tag delete)
  | 'network' // connection refused/reset, TLS, DNS, timeouts
  | 'protocol'; // an answer regmgr cannot trust: bad JSON, digest mismatch, foreign Link

/**
 * Every failure of a registry request. The URL is the registry's own, never holding
 * credentials (regmgr never puts them in URLs), and the message says what to do.
 */
export class RegistryError extends Error {
  constructor(
    readonly kind: RegistryErrorKind,
    readonly registry: string,
    readonly method: string,
    readonly url: string,
    readonly detail: string,
    readonly status?: number,
    readonly codes: string[] = [],
  ) {
    const status_ = status ? `${status}${codes.length ? ` ${codes.join(',')}` : ''}: ` : '';
    // The detail may carry a registry's own words: never a secret, never a control character.
    super(inertLines(scrub(`registry '${registry}': ${method} ${url}: ${status_}${detail}`)));
    this.name = 'RegistryError';
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof RegistryError && e.kind === 'not-found';
}

/** Registry error bodies are `{"errors":[{"code","message"}]}`; anything else is ignored. */
export function parseErrorBody(body: Buffer): { codes: string[]; messages: string[] } {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const errs = Array.isArray(j.errors) ? j.errors.slice(0, 5) : [];
    // A registry's words, bounded and made inert: they end up in messages and the journal.
    const clean = (v: unknown, max: number) => inert(scrub(String(v ?? ''))).slice(0, max);
    return {
      codes: errs.map((e) => clean(e?.code, 64)).filter((c) => /^[A-Z0-9_]+$/.test(c)),
      messages: errs.map((e) => clean(e?.message, 300)).filter(Boolean),
    };
  } catch {
    return { codes: [], messages: [] };
  }
}

/**
 * The registry refused to delete this, for a reason of its own that the plan could not
 * see (Harbor's immutability rules, GitHub's "over 5,000 downloads"): the action is
 * reported blocked, with the registry's words, not failed.
 */
export class RefusedByRegistry extends Error {
  constructor(message: string) {
    super(inertLines(scrub(message)));
    this.name = 'RefusedByRegistry';
  }
}
