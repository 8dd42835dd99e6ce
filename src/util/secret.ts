import { inspect } from 'node:util';

/**
 * A credential that cannot leak by accident: string conversion, JSON and util.inspect
 * (console.log, debug dumps) all print a placeholder. Only reveal() gives the value, and
 * only the registry client and the auth-file writer call it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    registerSecret(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '<redacted>';
  }
  toJSON(): string {
    return '<redacted>';
  }
  [inspect.custom](): string {
    return 'Secret(<redacted>)';
  }
}

/** Credentials for one registry; `source` says where they came from, for messages. */
export interface Credentials {
  username: string;
  password: Secret;
  source: string;
}

// Every secret this process has held or derived (passwords, their Basic base64, bearer
// tokens). Text that came from a registry or skopeo can echo them (an error body that
// repeats the Authorization header, say); scrub() removes them before anything is
// printed, logged or journaled.
const known = new Set<string>();

export function registerSecret(value: string): void {
  // Very short values would redact ordinary words; no real password or token is this short.
  if (value.length < 3) return;
  known.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) known.add(encoded);
}

/** `text` without any known secret, and without the value of any Authorization-like credential. */
export function scrub(text: string): string {
  let out = text;
  for (const v of known) if (out.includes(v)) out = out.split(v).join('<redacted>');
  // Credentials regmgr never held (another client's, echoed back) are removed by shape.
  return out.replace(/\b(Basic|Bearer)(\s+)[A-Za-z0-9._~+/-]{8,}=*/gi, '$1$2<redacted>').replace(/([?&](?:access_token|token|password|X-Amz-Signature|sig)=)[^&\s"']+/gi, '$1<redacted>');
}
