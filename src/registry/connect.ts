import type { Config } from '../config/model.js';
import { resolveCredentials } from '../config/credentials.js';
import { RegistryClient, type RetryOptions } from './client.js';
import type { Logger } from '../util/log.js';
import type { Credentials } from '../util/secret.js';
import type { Dialect } from './dialect.js';
import { makeDialect } from './dialects.js';

export interface ConnectOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  retry?: Partial<RetryOptions>;
}

/** One client per named registry, with credentials resolved from config or auth files. */
export async function connect(config: Config, names: Iterable<string>, opts: ConnectOptions = {}): Promise<Clients> {
  const clients = new Map<string, RegistryClient>();
  const creds = new Map<string, Credentials | undefined>();
  for (const name of new Set(names)) {
    const ep = config.registries.get(name)!;
    const credentials = await resolveCredentials(ep, opts.env);
    creds.set(name, credentials);
    clients.set(name, new RegistryClient(ep, { credentials, logger: opts.logger, retry: opts.retry }));
  }
  return new Clients(clients, creds, opts.env ?? process.env, opts.logger);
}

export class Clients {
  readonly #dialects = new Map<string, Dialect>();
  constructor(
    readonly byName: Map<string, RegistryClient>,
    readonly creds: Map<string, Credentials | undefined> = new Map(),
    readonly env: NodeJS.ProcessEnv = process.env,
    readonly logger?: Logger,
  ) {}
  /** For the skopeo runner, which must log in too. */
  credentials(name: string): Credentials | undefined {
    return this.creds.get(name);
  }
  get(name: string): RegistryClient {
    const c = this.byName.get(name);
    if (!c) throw new Error(`no client for registry '${name}'`);
    return c;
  }
  /** What differs at this registry (listing, deletes, attachments, capabilities). */
  dialect(name: string): Dialect {
    let d = this.#dialects.get(name);
    if (!d) this.#dialects.set(name, (d = makeDialect(this.get(name), this.creds.get(name), this.env, this.logger)));
    return d;
  }
  async close() {
    await Promise.all([...this.byName.values()].map((c) => c.close()));
    await Promise.all([...this.#dialects.values()].map((d) => d.close()));
  }
}
