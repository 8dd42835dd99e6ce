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
