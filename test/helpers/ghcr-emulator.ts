import type { IncomingMessage, ServerResponse } from 'node:http';
import { startFaultProxy } from './fault-proxy.js';
import { startRegistry } from './registry.js';
import { storage } from './registry-storage.js';
import { startApiServer, type VendorEmulation } from './vendor-emulation.js';

/**
 * An emulation of GHCR, written from GitHub's published REST API description
 * (github/rest-api-description, descriptions/api.github.com, API version 2022-11-28,
 * "Packages" operations) and GitHub's documented behaviour of ghcr.io, for exactly what
 * regmgr calls:
 *
 * - the REST API, on a port of its own (api.github.com): `GET /orgs/{org}` (404 for a
 *   user), `GET /orgs/{org}/packages?package_type=container`, `GET /orgs/{org}/packages/
 *   container/{package_name}/versions` (`state=active|deleted`), `GET` and `DELETE
 *   .../versions/{package_version_id}` (200, 204), `POST .../versions/{id}/restore` (204); `per_page` (at
 *   most 100) and `page`, next pages by Link header; `Authorization: Bearer` required
 *   (401 "Bad credentials"); a version's `name` is its manifest digest and
 *   `metadata.container.tags` its tags; documented refusals: a public version with more
 *   than 5,000 downloads cannot be deleted (400 with GitHub's message); rate limits
 *   answered as GitHub does (429 with `retry-after`, or 403 with `x-ratelimit-remaining:
 *   0` and `x-ratelimit-reset`) when the test asks;
 * - the OCI API (ghcr.io), a proxy in front of a real distribution 2.8: every manifest
 *   DELETE answers 405 UNSUPPORTED and `/v2/_catalog` 404, as ghcr.io does.
 *
 * Versions are the registry's own manifests (its storage, tagged or not), ids stable per
 * digest; a deleted version keeps its bytes and tags for restore.
 */
export interface GhcrEmulator extends VendorEmulation {
  /** Digests whose versions GitHub refuses to delete (public, over 5,000 downloads). */
  popular: Set<string>;
  /** Runs before GitHub answers a GET of one version (another client at work meanwhile). */
  beforeVersionGet?: (repo: string, digest: string) => Promise<void>;
  /** The next `n` API calls matching `match` get a rate-limit answer. */
  rateLimit(match: RegExp, n: number, how: 'secondary' | 'primary'): void;
  stop(): Promise<void>;
}

export async function startGhcr(opts: { org: string; pageSize?: number; scopes?: string }): Promise<GhcrEmulator> {
  const reg = await startRegistry();
  const oci = await startFaultProxy(reg.url);
  oci.inject((r) => r.method === 'DELETE' && /\/manifests\//.test(r.url ?? ''), { status: 405, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }) }, Infinity);
  oci.inject((r) => (r.url ?? '').startsWith('/v2/_catalog'), { status: 404, body: '404 page not found' }, Infinity);
  const st = storage(reg);
  const token = `ghp_${'x'.repeat(36)}`;
  const apiLog: string[] = [];
  const popular = new Set<string>();
  const ids = new Map<string, number>();
  let nextId = 1000;
  const idOf = (repo: string, digest: string) => {
    const k = `${repo}@${digest}`;
    if (!ids.has(k)) ids.set(k, nextId++);
    return ids.get(k)!;
  };
  const deleted = new Map<number, { repo: string; digest: string; bytes: Buffer; mediaType: string; tags: string[] }>();
  const limits: Array<{ match: RegExp; n: number; how: 'secondary' | 'primary' }> = [];

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3', 'x-oauth-scopes': opts.scopes ?? 'delete:packages, read:packages, write:packages', 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const paged = (req: IncomingMessage, res: ServerResponse, items: unknown[]) => {
    const u = new URL(req.url!, 'http://x');
    const per = Math.min(100, Math.max(1, Number(u.searchParams.get('per_page') ?? '30')), opts.pageSize ?? 100);
    const page = Math.max(1, Number(u.searchParams.get('page') ?? '1'));
    const headers: Record<string, string> = {};
    if (page * per < items.length) {
      u.searchParams.set('page', String(page + 1));
      headers.link = `<${apiUrl}${u.pathname}?${u.searchParams}>; rel="next"`;
    }
    json(res, 200, items.slice((page - 1) * per, page * per), headers);
  };
  const version = (repo: string, digest: string, tags: string[]) => ({ id: idOf(repo, digest), name: digest, url: `${apiUrl}/versions/${idOf(repo, digest)}`, package_html_url: '', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', metadata: { package_type: 'container', container: { tags } } });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url!, 'http://x');
    apiLog.push(`${req.method} ${u.pathname}${u.search}`);
    const limit = limits.find((l) => l.n > 0 && l.match.test(`${req.method} ${u.pathname}${u.search}`));
    if (limit) {
      limit.n--;
      if (limit.how === 'secondary') return json(res, 429, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }, { 'retry-after': '1' });
      return json(res, 403, { message: 'API rate limit exceeded for user ID 1.' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1) });
    }
    if (req.headers.authorization !== `Bearer ${token}`) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/(orgs|users)\/([^/]+)$/.exec(u.pathname))) {
      return m[1] === 'orgs' && m[2] !== opts.org ? json(res, 404, { message: 'Not Found' }) : json(res, 200, { login: m[2], id: 1 });
    }
    if (req.method === 'GET' && (m = /^\/orgs\/([^/]+)\/packages$/.exec(u.pathname))) {
      if (u.searchParams.get('package_type') !== 'container') return json(res, 422, { message: 'package_type is required' });
      const prefix = `${decodeURIComponent(m[1])}/`;
      return paged(req, res, st.repositories().filter((r) => r.startsWith(prefix)).map((r, i) => ({ id: i + 1, name: r.slice(prefix.length), package_type: 'container', visibility: 'private' })));
    }
    if ((m = /^\/orgs\/([^/]+)\/packages\/container\/([^/]+)\/versions(?:\/(\d+)(\/restore)?)?$/.exec(u.pathname))) {
      const repo = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
      if (req.method === 'GET' && !m[3]) {
        if (u.searchParams.get('state') === 'deleted') return paged(req, res, [...deleted.values()].filter((d) => d.repo === repo).map((d) => version(repo, d.digest, d.tags)));
        const tags = st.tags(repo);
        const list = st.digests(repo).map((d) => version(repo, d, [...tags].filter(([, x]) => x === d).map(([t]) => t))).sort((a, b) => b.id - a.id);
        if (!list.length) return json(res, 404, { message: 'Package not found.' });
        return paged(req, res, list);
      }
      const id = Number(m[3]);
      if (req.method === 'GET' && !m[4]) {
        const digest = st.digests(repo).find((d) => idOf(repo, d) === id);
        if (!digest) return json(res, 404, { message: 'Not Found' });
        await emulator.beforeVersionGet?.(repo, digest);
        return json(res, 200, version(repo, digest, [...st.tags(repo)].filter(([, x]) => x === digest).map(([t]) => t)));
      }
      if (req.method === 'DELETE' && !m[4]) {
        const digest = st.digests(repo).find((d) => idOf(repo, d) === id);
        if (!digest) return json(res, 404, { message: 'Not Found' });
        if (popular.has(digest)) return json(res, 400, { message: 'Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.' });
        const tags = [...st.tags(repo)].filter(([, x]) => x === digest).map(([t]) => t);
        const got = await fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' } });
        const bytes = Buffer.from(await got.arrayBuffer());
        const r = await fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' });
        if (r.status !== 202) return json(res, 500, { message: `registry answered ${r.status}` });
        deleted.set(id, { repo, digest, bytes, mediaType: String(got.headers.get('content-type')), tags });
        return json(res, 204, undefined);
      }
      if (req.method === 'POST' && m[4]) {
        const d = deleted.get(id);
        if (!d || d.repo !== repo) return json(res, 404, { message: 'Not Found' });
        for (const ref of [d.digest, ...d.tags]) {
          const r = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'content-type': d.mediaType }, body: new Uint8Array(d.bytes) });
          if (r.status !== 201) return json(res, 500, { message: `registry answered ${r.status}` });
        }
        deleted.delete(id);
        return json(res, 204, undefined);
      }
    }
    return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  };
  const api = await startApiServer(handle);
  const apiUrl = api.origin;
  const emulator: GhcrEmulator = {
    reg,
    oci,
    ociUrl: oci.url,
    apiUrl,
    apiLog,
    token,
    popular,
    rateLimit: (match, n, how) => void limits.push({ match, n, how }),
    async stop() {
      await api.close();
      await oci.close();
      await reg.stop();
    },
  };
  return emulator;
}
