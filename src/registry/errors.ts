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
    super(`registry '${registry}': ${method} ${url}: ${status_}${detail}`);
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
    const errs = Array.isArray(j.errors) ? j.errors : [];
    return {
      codes: errs.map((e) => String(e.code ?? '')).filter(Boolean),
      messages: errs.map((e) => String(e.message ?? '')).filter(Boolean),
    };
  } catch {
    return { codes: [], messages: [] };
  }
}
