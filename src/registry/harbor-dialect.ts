import type { Digest, Repository } from '../oci/names.js';
import { repositoryProblem } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { Secret } from '../util/secret.js';
import type { Credentials } from '../util/secret.js';
import type { Logger } from '../util/log.js';
import type { Capabilities } from './capabilities.js';
import { probeCapabilities, IMPOSSIBLE_DIGEST } from './capabilities.js';
import type { RegistryClient } from './client.js';
import type { RepositoryList } from './dialect.js';
import { RefusedByRegistry, RegistryError } from './errors.js';
import { OciDialect } from './oci-dialect.js';
import { VendorApi, vendorMessage, type VendorAnswer } from './vendor-api.js';

/**
 * Harbor 2.x, through its REST API v2.0 (goharbor/harbor api/v2.0/swagger.yaml, "Harbor
 * API" version 2.0, as of commit c50c7dd, Aug 2026) where the OCI API falls short:
 *
 * - repositories: `GET /projects` then `GET /projects/{project}/repositories`, paged
 *   (`page`, `page_size` up to 100, Link rel="next"): the projects these credentials can
 *   see, where `/v2/_catalog` is for system admins only;
 * - a single tag: `DELETE /projects/{p}/repositories/{r}/artifacts/{tag}/tags/{tag}`
 *   (no placeholder manifest);
 * - an image: `DELETE /projects/{p}/repositories/{r}/artifacts/{digest}` (the artifact
 *   with every tag on it);
 * - a refusal by Harbor's own rules (tag immutability answers 412 PRECONDITION) becomes
 *   a blocked action with Harbor's words.
 *
 * `{r}` is the repository name inside the project, URL-encoded twice (`a/b` -> `a%252Fb`),
 * as the swagger says. Reads of tags and manifests, copies and referrers stay OCI.
 */
export class HarborDialect extends OciDialect {
  override readonly via = "Harbor's API";
  readonly api: VendorApi;

  constructor(client: RegistryClient, creds: Credentials | undefined, logger?: Logger) {
    super(client);
    const ep = client.endpoint;
    const base = new URL(ep.api ?? `${ep.origin}/api/v2.0`);
    // Harbor's API takes the registry's Basic credentials (a user or a robot account).
    const basic = creds?.password ? new Secret(`Basic ${Buffer.from(`${creds.username}:${creds.password.reveal()}`).toString('base64')}`) : undefined;
    this.api = new VendorApi(ep.name, base, ep, () => basic, {}, logger);
  }

  override async listRepositories(): Promise<RepositoryList> {
    if (this.client.endpoint.repositories) return super.listRepositories();
    return { repositories: await this.allRepositories(), source: 'catalog' };
  }

  override async allRepositories(): Promise<Repository[]> {
    const projects = await this.api.list('/projects?page=1&page_size=100&with_detail=false', (p): p is { name: string } => typeof (p as { name?: unknown })?.name === 'string');
    const names: string[] = [];
    for (const p of projects) {
      const repos = await this.api.list(`/projects/${encodeURIComponent(p.name)}/repositories?page=1&page_size=100`, (r): r is { name: string } => typeof (r as { name?: unknown })?.name === 'string');
      for (const r of repos) {
        const bad = repositoryProblem(r.name);
        if (bad) throw new RegistryError('protocol', this.client.name, 'GET', this.api.url(`/projects/${p.name}/repositories`).href, `lists an invalid repository name ${quoted(r.name)}: ${bad}; no plan from data regmgr cannot trust`);
        names.push(r.name);
      }
    }
    return [...new Set(names)].sort() as Repository[];
  }

  /** Deletes go through Harbor's API: an artifact DELETE of a digest no artifact can have answers 404 where these credentials may delete. */
  override async capabilities(repo: Repository): Promise<Capabilities> {
    const oci = await probeCapabilities(this.client, repo);
    const res = await this.api.request('DELETE', this.#artifact(repo, IMPOSSIBLE_DIGEST));
    let del: true | string = true;
    if (res.status === 401 || res.status === 403) del = `these credentials may not delete in ${repo} through Harbor's API (${res.status}: ${vendorMessage(res) || 'no message'}); give the user (or robot account) the delete permission on the project`;
    else if (res.status !== 404 && res.status !== 200) del = `Harbor's API answered ${res.status} to a DELETE of an artifact that cannot exist, not 404: regmgr cannot tell that deletes work here`;
    return { delete: del, tag_delete: true, referrers: oci.referrers, via: this.via };
  }

  override async deleteImage(repo: Repository, digest: Digest): Promise<'deleted' | 'absent'> {
    return this.#done(await this.api.request('DELETE', this.#artifact(repo, digest)), 'DELETE', `${repo}@${digest}`);
  }

  override async deleteTag(repo: Repository, tag: string): Promise<'deleted' | 'absent' | 'unsupported'> {
    return this.#done(await this.api.request('DELETE', `${this.#artifact(repo, tag)}/tags/${encodeURIComponent(tag)}`), 'DELETE', `${repo}:${tag}`);
  }

  override async close(): Promise<void> {
    await this.api.close();
  }

  #done(res: VendorAnswer, method: string, what: string): 'deleted' | 'absent' {
    if (res.status === 200 || res.status === 202) return 'deleted';
    if (res.status === 404) return 'absent';
    if (res.status === 412) throw new RefusedByRegistry(`Harbor refused to delete ${what}: ${vendorMessage(res) || '412 precondition failed'} (a tag immutability rule of the project; change the rule in Harbor to let regmgr delete it)`);
    throw this.api.error(res, method, res.status === 403 ? "give the user (or robot account) the delete permission on the project" : '');
  }

  /** `/projects/{p}/repositories/{r}/artifacts/{ref}`, `{r}` encoded twice as Harbor wants. */
  #artifact(repo: Repository, ref: string): string {
    const slash = repo.indexOf('/');
    if (slash < 0) throw new Error(`Harbor repository ${quoted(repo)} has no project: Harbor names repositories project/name`);
    const project = repo.slice(0, slash);
    const name = repo.slice(slash + 1);
    return `/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(encodeURIComponent(name))}/artifacts/${encodeURIComponent(ref).replace('%3A', ':')}`;
  }
}
