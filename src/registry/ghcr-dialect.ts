import type { Digest, Repository } from '../oci/names.js';
import { isDigest, repositoryProblem, tagProblem } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { Secret, type Credentials } from '../util/secret.js';
import type { Logger } from '../util/log.js';
import type { Capabilities } from './capabilities.js';
import type { RegistryClient } from './client.js';
import type { RepositoryList } from './dialect.js';
import { RefusedByRegistry, RegistryError } from './errors.js';
import { OciDialect } from './oci-dialect.js';
import { VendorApi, vendorMessage } from './vendor-api.js';

/** A package version as GitHub lists it: its name is the manifest digest. */
interface Version {
  id: number;
  name: string;
  metadata?: { container?: { tags?: string[] } };
}

const isVersion = (v: unknown): v is Version => {
  const x = v as Version | null;
  return typeof x === 'object' && x !== null && Number.isSafeInteger(x.id) && typeof x.name === 'string' && (x.metadata?.container?.tags === undefined || (Array.isArray(x.metadata.container.tags) && x.metadata.container.tags.every((t) => typeof t === 'string')));
};

/**
 * GHCR, through GitHub's Packages REST API (github/rest-api-description, api.github.com,
 * API version 2022-11-28) where its OCI API falls short (no catalog; 405 UNSUPPORTED to
 * every manifest DELETE):
 *
 * - repositories: the owner's container packages, `GET /orgs/{org}/packages?package_type=
 *   container` (or `/users/{user}/...` for a user), paged by Link;
 * - an image: a package version, whose `name` is the manifest digest and
 *   `metadata.container.tags` its tags: `DELETE .../packages/container/{package}/versions/{id}`,
 *   only once its tags are exactly those regmgr saw on it (a version is the whole image);
 * - a single tag: no API; the OCI placeholder untag (PUT a unique manifest on the tag,
 *   then delete that manifest's version);
 * - GitHub's refusals (a public version with over 5,000 downloads, the last tagged
 *   version of a package) become blocked actions with GitHub's words; its rate limits are
 *   waited out (vendor-api.ts).
 *
 * Auth: a token with read:packages and delete:packages, from the registry's password or
 * GITHUB_TOKEN.
 */
export class GhcrDialect extends OciDialect {
  override readonly via = "GitHub's Packages API";
  readonly api: VendorApi;
  readonly #versions = new Map<string, Version[]>();
  readonly #ownerPath = new Map<string, string>();

  constructor(client: RegistryClient, creds: Credentials | undefined, env: NodeJS.ProcessEnv, logger?: Logger) {
    super(client);
    const ep = client.endpoint;
    const token = creds?.password?.reveal() ?? env.GITHUB_TOKEN;
    const bearer = token ? new Secret(`Bearer ${token}`) : undefined;
    this.api = new VendorApi(ep.name, new URL(ep.api ?? 'https://api.github.com'), ep, () => bearer, { 'x-github-api-version': '2022-11-28', accept: 'application/vnd.github+json' }, logger);
    if (!bearer) this.#noToken = `registries.${ep.name} (kind ghcr) needs a GitHub token with read:packages (and delete:packages to delete): set GITHUB_TOKEN, or the registry's password`;
  }

  readonly #noToken?: string;

  override async listRepositories(): Promise<RepositoryList> {
    if (this.client.endpoint.repositories) return super.listRepositories();
    return { repositories: await this.allRepositories(), source: 'catalog' };
  }

  override async allRepositories(): Promise<Repository[]> {
    const owner = this.client.endpoint.owner;
    if (!owner) throw new Error(`registries.${this.client.name}: kind ghcr lists repositories through an owner's packages: set owner`);
    const base = await this.#owner(owner);
    const pkgs = await this.api.list(`${base}/packages?package_type=container&per_page=100`, (p): p is { name: string } => typeof (p as { name?: unknown })?.name === 'string');
    const names = pkgs.map((p) => `${owner.toLowerCase()}/${p.name}`);
    const bad = names.find((n) => repositoryProblem(n));
    if (bad) throw new RegistryError('protocol', this.client.name, 'GET', this.api.url(`${base}/packages`).href, `lists a package name that is not a repository name: ${quoted(bad)}`);
    return [...new Set(names)].sort() as Repository[];
  }

  /** Deletes work through the API (the token's scopes are named when missing); tags go by placeholder. */
  override async capabilities(repo: Repository): Promise<Capabilities> {
    if (this.#noToken) return { delete: this.#noToken, tag_delete: false, referrers: false, via: this.via };
    const res = await this.api.request('GET', `${await this.#pkg(repo)}/versions?per_page=1`);
    let del: true | string = true;
    const scopes = String(res.headers['x-oauth-scopes'] ?? '');
    if (res.status === 401 || res.status === 403) del = `GitHub refused to list the versions of ${repo} (${res.status}: ${vendorMessage(res) || 'no message'}); the token needs read:packages and delete:packages`;
    else if (res.status !== 200 && res.status !== 404) del = `GitHub answered ${res.status} to a list of ${repo}'s versions: ${vendorMessage(res)}`;
    // A classic token says its scopes; a fine-grained one does not (its permissions are checked at DELETE).
    else if (scopes && !/\bdelete:packages\b/.test(scopes)) del = `the token has scopes ${quoted(scopes)}, without delete:packages: give it that scope`;
    return { delete: del, tag_delete: false, referrers: false, via: this.via };
  }

  override async deleteImage(repo: Repository, digest: Digest, expectTags?: readonly string[]): Promise<'deleted' | 'absent'> {
    let v = (await this.#list(repo, false)).find((x) => x.name === digest);
    // A version made since the list was read (an untag placeholder): read it again.
    if (!v) v = (await this.#list(repo, true)).find((x) => x.name === digest);
    if (!v) return 'absent';
    // Its tags now, not as listed a while ago: one GET of the version.
    if (expectTags) {
      const one = await this.api.request('GET', `${await this.#pkg(repo)}/versions/${v.id}`);
      if (one.status === 404) return 'absent';
      if (one.status !== 200 || !isVersion(one.json) || one.json.name !== digest) throw this.api.error(one, 'GET');
      v = one.json;
    }
    const tags = [...(v.metadata?.container?.tags ?? [])].sort();
    if (expectTags && tags.join(',') !== [...expectTags].sort().join(',')) {
      throw new RefusedByRegistry(`version ${v.id} of ${repo} (${digest.slice(0, 19)}) has tags [${tags.join(', ')}] in GitHub's API, not the [${[...expectTags].sort().join(', ')}] regmgr saw: deleting the version would take them all; left alone`);
    }
    const res = await this.api.request('DELETE', `${await this.#pkg(repo)}/versions/${v.id}`);
    if (res.status === 204 || res.status === 200) {
      // The list stays good without it: one listing per repository, not one per delete.
      const list = this.#versions.get(repo);
      if (list) this.#versions.set(repo, list.filter((x) => x.id !== v!.id));
      return 'deleted';
    }
    this.#versions.delete(repo);
    if (res.status === 404) return 'absent';
    if (res.status === 400 || res.status === 403 || res.status === 409 || res.status === 422) {
      const words = vendorMessage(res) || `${res.status}`;
      if (res.status === 403 && /scope|permission|forbidden|must have admin/i.test(words) && !/download/i.test(words)) throw this.api.error(res, 'DELETE', 'the token needs delete:packages, and admin rights on the package');
      throw new RefusedByRegistry(`GitHub refused to delete version ${v.id} of ${repo}: ${words}`);
    }
    throw this.api.error(res, 'DELETE');
  }

  /** GitHub keeps a deleted version 30 days: `POST .../versions/{id}/restore` brings it back, its tags with it. */
  async restoreImage(repo: Repository, digest: Digest): Promise<'restored' | 'unavailable'> {
    if (this.#noToken) return 'unavailable';
    const deleted = await this.api.list(`${await this.#pkg(repo)}/versions?per_page=100&state=deleted`, isVersion);
    const v = deleted.find((x) => x.name === digest);
    if (!v) return 'unavailable';
    const res = await this.api.request('POST', `${await this.#pkg(repo)}/versions/${v.id}/restore`);
    this.#versions.delete(repo);
    if (res.status === 204 || res.status === 200) return 'restored';
    return 'unavailable';
  }

  override async deleteTag(): Promise<'deleted' | 'absent' | 'unsupported'> {
    return 'unsupported';
  }

  override async close(): Promise<void> {
    await this.api.close();
  }

  async #list(repo: Repository, fresh: boolean): Promise<Version[]> {
    const known = this.#versions.get(repo);
    if (known && !fresh) return known;
    const list = await this.api.list(`${await this.#pkg(repo)}/versions?per_page=100&state=active`, isVersion);
    for (const v of list) {
      if (!isDigest(v.name)) throw new RegistryError('protocol', this.client.name, 'GET', this.api.url(`${await this.#pkg(repo)}/versions`).href, `version ${v.id} is named ${quoted(v.name)}, not a digest`);
      const bad = (v.metadata?.container?.tags ?? []).find((t) => tagProblem(t));
      if (bad) throw new RegistryError('protocol', this.client.name, 'GET', this.api.url(`${await this.#pkg(repo)}/versions`).href, `version ${v.id} lists an invalid tag ${quoted(bad)}`);
    }
    this.#versions.set(repo, list);
    return list;
  }

  /** `/orgs/{owner}/packages/container/{package}` (or /users/...), the package name URL-encoded. */
  async #pkg(repo: Repository): Promise<string> {
    const slash = repo.indexOf('/');
    if (slash < 0) throw new Error(`GHCR repository ${quoted(repo)} has no owner: GHCR names repositories owner/package`);
    const base = await this.#owner(repo.slice(0, slash));
    return `${base}/packages/container/${encodeURIComponent(repo.slice(slash + 1))}`;
  }

  /** An owner is an organisation or a user: GitHub's paths differ. Asked once per owner. */
  async #owner(owner: string): Promise<string> {
    const known = this.#ownerPath.get(owner);
    if (known) return known;
    const org = await this.api.request('GET', `/orgs/${encodeURIComponent(owner)}`);
    const path = org.status === 200 ? `/orgs/${encodeURIComponent(owner)}` : `/users/${encodeURIComponent(owner)}`;
    if (org.status !== 200 && org.status !== 404) throw this.api.error(org, 'GET', 'the token needs read:packages (and read:org for an organisation)');
    this.#ownerPath.set(owner, path);
    return path;
  }
}
