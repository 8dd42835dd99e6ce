import type { Digest, Repository } from '../oci/names.js';
import { probeCapabilities, type Capabilities } from './capabilities.js';
import type { Referrer, RegistryClient } from './client.js';
import type { Dialect, RepositoryList } from './dialect.js';
import { RegistryError } from './errors.js';

/** The first dialect: everything through the OCI distribution API (spec 1.1). */
export class OciDialect implements Dialect {
  readonly via: string = 'the OCI distribution API';

  constructor(readonly client: RegistryClient) {}

  async listRepositories(): Promise<RepositoryList> {
    const client = this.client;
    const explicit = client.endpoint.repositories;
    if (explicit) return { repositories: [...new Set(explicit.map((s) => s.repository))].sort() as Repository[], source: 'config' };
    let names: string[];
    try {
      names = await client.catalog();
    } catch (e) {
      // Docker Hub, GHCR and ACR have no catalog, and Harbor shows it to admins only.
      // Not for wrong credentials (a 401 with credentials sent): their message says it all.
      if (e instanceof RegistryError && (['not-found', 'denied', 'unsupported'].includes(e.kind) || (e.kind === 'auth' && !client.hasCredentials))) {
        throw new RegistryError(e.kind, e.registry, e.method, e.url, `${e.detail}; this registry does not list its repositories to these credentials: name them in registries.${client.name}.repositories`, e.status, e.codes);
      }
      throw e;
    }
    return { repositories: [...new Set(names)].sort() as Repository[], source: 'catalog' };
  }

  allRepositories(): Promise<Repository[]> {
    return this.client.catalog();
  }

  capabilities(repo: Repository): Promise<Capabilities> {
    return probeCapabilities(this.client, repo);
  }

  attachments(repo: Repository, digest: Digest): Promise<Referrer[]> {
    return this.client.referrers(repo, digest);
  }

  deleteImage(repo: Repository, digest: Digest, _expectTags?: readonly string[]): Promise<'deleted' | 'absent'> {
    return this.client.deleteManifest(repo, digest);
  }

  deleteTag(repo: Repository, tag: string): Promise<'deleted' | 'absent' | 'unsupported'> {
    return this.client.deleteTag(repo, tag);
  }

  /** What the dialect holds beside the client (a vendor API's connections). */
  async close(): Promise<void> {}
}

/** The dialect of a client without vendor context (tests, apply's live view before it is told). */
export function dialectFor(client: RegistryClient): Dialect {
  return new OciDialect(client);
}
