import type { Credentials } from '../util/secret.js';
import type { Logger } from '../util/log.js';
import type { RegistryClient } from './client.js';
import type { Dialect } from './dialect.js';
import { GhcrDialect } from './ghcr-dialect.js';
import { HarborDialect } from './harbor-dialect.js';
import { GitlabDialect } from './gitlab-dialect.js';
import { OciDialect } from './oci-dialect.js';

/** The dialect a registry speaks, by its config's `kind` (ghcr.io is taken as ghcr, registry.gitlab.com as gitlab). */
export function makeDialect(client: RegistryClient, creds: Credentials | undefined, env: NodeJS.ProcessEnv, logger?: Logger): Dialect {
  switch (client.endpoint.kind ?? 'oci') {
    case 'harbor':
      return new HarborDialect(client, creds, logger);
    case 'ghcr':
      return new GhcrDialect(client, creds, env, logger);
    case 'gitlab':
      return new GitlabDialect(client, creds, env, logger);
    default:
      return new OciDialect(client);
  }
}
