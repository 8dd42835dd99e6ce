import type { Repository } from '../oci/names.js';
import { repositoryProblem } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { Secret, type Credentials } from '../util/secret.js';
import type { Logger } from '../util/log.js';
import { probeCapabilities, type Capabilities } from './capabilities.js';
import type { RegistryClient } from './client.js';
import type { RepositoryList } from './dialect.js';
import { RefusedByRegistry, RegistryError } from './errors.js';
import { OciDialect } from './oci-dialect.js';
import { VendorApi, vendorMessage } from './vendor-api.js';

interface RegistryRepository {
  id: number;
  path: string;
  project_id: number;
}

const isRepo = (r: unknown): r is RegistryRepository => {
  const x = r as RegistryRepository | null;
  return typeof x === 'object' && x !== null && Number.isSafeInteger(x.id) && typeof x.path === 'string' && Number.isSafeInteger(x.project_id);
};

/**
 * GitLab's container registry, through GitLab's Container Registry API (docs.gitlab.com
 * /api/container_registry, REST API v4, GitLab 17-18) where the OCI API falls short:
 *
 * - repositories: `GET /groups/:id/registry/repositories` (or `/projects/:id/...` for a
 *   project), `:id` the URL-encoded full path, paged (`per_page` up to 100, Link);
 * - a single tag: `DELETE /projects/:id/registry/repositories/:repository_id/tags/
 *   :tag_name` (200), the repository's id found by listing its project's repositories;
 * - an image: the OCI API's DELETE by digest, which GitLab's registry allows;
 * - auth: `PRIVATE-TOKEN` (a personal, project or group token with `api` scope), or
 *   `JOB-TOKEN` with `CI_JOB_TOKEN` in a pipeline (its own project only). A protected
 *   tag GitLab refuses to delete (403) is reported blocked with GitLab's words.
 */
export class GitlabDialect extends OciDialect {
  override readonly via = "GitLab's API";
  readonly api: VendorApi;
  readonly #ids = new Map<string, { project: number; id: number }>();

  constructor(client: RegistryClient, creds: Credentials | undefined, env: NodeJS.ProcessEnv, logger?: Logger) {
    super(client);
    const ep = client.endpoint;
    const personal = creds?.password?.reveal() ?? env.GITLAB_TOKEN;
    const job = personal ? undefined : env.CI_JOB_TOKEN;
    const secret = personal ? new Secret(personal) : job ? new Secret(job) : undefined;
    this.api = new VendorApi(ep.name, new URL(ep.api ?? 'https://gitlab.com/api/v4'), ep, () => secret, {}, logger, personal ? 'private-token' : 'job-token');
  }

  override async listRepositories(): Promise<RepositoryList> {
    if (this.client.endpoint.repositories) return super.listRepositories();
    return { repositories: await this.allRepositories(), source: 'catalog' };
  }

  override async allRepositories(): Promise<Repository[]> {
    const owner = this.client.endpoint.owner;
    if (!owner) throw new Error(`registries.${this.client.name}: kind gitlab lists the repositories of a group or project: set owner`);
    const enc = encodeURIComponent(owner);
    let res = await this.api.request('GET', `/groups/${enc}`);
    const kind = res.status === 200 ? 'groups' : 'projects';
    if (res.status !== 200 && res.status !== 404) throw this.api.error(res, 'GET', 'the token needs read_api (or api) on the group');
    if (kind === 'projects') {
      res = await this.api.request('GET', `/projects/${enc}`);
      if (res.status !== 200) throw this.api.error(res, 'GET', `registries.${this.client.name}.owner must be a group or project path the token can read`);
    }
    const repos = await this.api.list(`/${kind}/${enc}/registry/repositories?per_page=100`, isRepo);
    for (const r of repos) {
      const bad = repositoryProblem(r.path);
      if (bad) throw new RegistryError('protocol', this.client.name, 'GET', this.api.url(`/${kind}/${enc}/registry/repositories`).href, `lists an invalid repository path ${quoted(r.path)}: ${bad}`);
      this.#ids.set(r.path, { project: r.project_id, id: r.id });
    }
    return [...new Set(repos.map((r) => r.path))].sort() as Repository[];
  }

  /** Images go by the OCI API (probed as everywhere); single tags through GitLab's API. */
  override async capabilities(repo: Repository): Promise<Capabilities> {
    const oci = await probeCapabilities(this.client, repo);
    return { ...oci, tag_delete: true, via: this.via };
  }

  override async deleteTag(repo: Repository, tag: string): Promise<'deleted' | 'absent' | 'unsupported'> {
    const at = await this.#repository(repo);
    if (!at) return 'absent';
    const res = await this.api.request('DELETE', `/projects/${at.project}/registry/repositories/${at.id}/tags/${encodeURIComponent(tag)}`);
    if (res.status === 200 || res.status === 202 || res.status === 204) return 'deleted';
    if (res.status === 404) return 'absent';
    if (res.status === 403 && /protect/i.test(vendorMessage(res))) throw new RefusedByRegistry(`GitLab refused to delete ${repo}:${tag}: ${vendorMessage(res)} (a protected container tag rule; change it in the project's settings to let regmgr delete it)`);
    throw this.api.error(res, 'DELETE', res.status === 401 || res.status === 403 ? 'the token needs the api scope and the Maintainer role (a CI_JOB_TOKEN only reaches its own project)' : '');
  }

  override async close(): Promise<void> {
    await this.api.close();
  }

  /** The project and repository ids of a registry path: from the listing, else from its project's repositories (the longest path prefix that is a project). */
  async #repository(repo: Repository): Promise<{ project: number; id: number } | undefined> {
    const known = this.#ids.get(repo);
    if (known) return known;
    const parts = repo.split('/');
    for (let n = parts.length; n >= 1; n--) {
      const project = parts.slice(0, n).join('/');
      const res = await this.api.request('GET', `/projects/${encodeURIComponent(project)}`);
      if (res.status === 404) continue;
      if (res.status !== 200) throw this.api.error(res, 'GET', 'the token needs read_api (or api)');
      const repos = await this.api.list(`/projects/${encodeURIComponent(project)}/registry/repositories?per_page=100`, isRepo);
      for (const r of repos) this.#ids.set(r.path, { project: r.project_id, id: r.id });
      return this.#ids.get(repo);
    }
    return undefined;
  }
}
