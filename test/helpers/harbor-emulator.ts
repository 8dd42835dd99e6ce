import type { IncomingMessage, ServerResponse } from 'node:http';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startRegistry, TEST_PASSWORD, TEST_USER, type TestRegistry } from './registry.js';
import { storage } from './registry-storage.js';

/**
 * An emulation of Harbor 2.x's REST API, written from Harbor's published description
 * (goharbor/harbor api/v2.0/swagger.yaml, "Harbor API" version 2.0, commit c50c7dd, Aug
 * 2026), for exactly the endpoints regmgr calls, in front of a real distribution 2.8 for
 * the OCI API:
 *
 * - `GET /api/v2.0/projects` and `GET /api/v2.0/projects/{project_name}/repositories`:
 *   `page` (from 1), `page_size` (default 10, at most 100), `X-Total-Count`, and a Link
 *   header with rel="next" (swagger: "Link refers to the previous page and next page");
 * - `DELETE .../repositories/{repository_name}/artifacts/{reference}` (deleteArtifact:
 *   the artifact, every tag on it) and `.../artifacts/{reference}/tags/{tag_name}`
 *   (deleteTag: the tag alone); `{repository_name}` encoded twice (swagger: "a/b ->
 *   a%2Fb -> a%252Fb"); 200 on success, 404 with `errors` when absent;
 * - Basic auth on every API call (401 `UNAUTHORIZED` without it);
 * - Harbor's refusals: a tag matched by a tag immutability rule cannot be deleted, nor
 *   its artifact (412 `PRECONDITION`, swagger response '412': "A dependency or policy
 *   check failed"), and `/v2/_catalog` is for system admins only (401 for these users).
 */
export interface HarborEmulator {
  reg: TestRegistry;
  proxy: FaultProxy;
  url: string;
  /** API calls received, as `METHOD /api/v2.0/...`. */
  apiLog: string[];
  stop(): Promise<void>;
}

export async function startHarbor(opts: { immutable?: RegExp; pageSize?: number } = {}): Promise<HarborEmulator> {
  const reg = await startRegistry();
  const proxy = await startFaultProxy(reg.url);
  const st = storage(reg);
  const apiLog: string[] = [];
  const basic = `Basic ${Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64')}`;

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'emulated', ...headers });
    res.end(JSON.stringify(body));
  };
  const errors = (res: ServerResponse, status: number, code: string, message: string) => json(res, status, { errors: [{ code, message }] });

  const paged = (req: IncomingMessage, res: ServerResponse, items: unknown[]) => {
    const u = new URL(req.url!, 'http://x');
    const page = Math.max(1, Number(u.searchParams.get('page') ?? '1'));
    const size = Math.min(100, Math.max(1, Number(u.searchParams.get('page_size') ?? '10')));
    // A smaller page than asked for (allowed: the client must follow Link either way).
    const effective = opts.pageSize ? Math.min(size, opts.pageSize) : size;
    const slice = items.slice((page - 1) * effective, page * effective);
    const headers: Record<string, string> = { 'x-total-count': String(items.length) };
    if (page * effective < items.length) {
      u.searchParams.set('page', String(page + 1));
      headers.link = `<${u.pathname}?${u.searchParams}>; rel="next"`;
    }
    json(res, 200, slice, headers);
  };

  const immutableTags = (repo: string, digest: string) => [...st.tags(repo)].filter(([t, d]) => d === digest && opts.immutable?.test(t)).map(([t]) => t);

  const api = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url!, 'http://x');
    apiLog.push(`${req.method} ${u.pathname}${u.search}`);
    if (req.headers.authorization !== basic) return errors(res, 401, 'UNAUTHORIZED', 'unauthorized');
    const path = u.pathname.slice('/api/v2.0'.length);
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && path === '/projects') {
      const projects = [...new Set(st.repositories().map((r) => r.split('/')[0]))].sort();
      return paged(req, res, projects.map((name, i) => ({ project_id: i + 1, name })));
    }
    if (req.method === 'GET' && (m = /^\/projects\/([^/]+)\/repositories$/.exec(path))) {
      const project = decodeURIComponent(m[1]);
      return paged(req, res, st.repositories().filter((r) => r.startsWith(`${project}/`)).map((name, i) => ({ id: i + 1, name })));
    }
    if (req.method === 'DELETE' && (m = /^\/projects\/([^/]+)\/repositories\/([^/]+)\/artifacts\/([^/]+)(?:\/tags\/([^/]+))?$/.exec(path))) {
      const repo = `${decodeURIComponent(m[1])}/${decodeURIComponent(decodeURIComponent(m[2]))}`;
      const ref = decodeURIComponent(m[3]);
      const digest = ref.startsWith('sha256:') ? (st.digests(repo).includes(ref) ? ref : undefined) : st.tags(repo).get(ref);
      if (!digest) return errors(res, 404, 'NOT_FOUND', `artifact ${repo}@${ref} not found`);
      if (m[4] !== undefined) {
        const tag = decodeURIComponent(m[4]);
        if (st.tags(repo).get(tag) !== digest) return errors(res, 404, 'NOT_FOUND', `tag ${tag} not found on artifact ${ref}`);
        if (opts.immutable?.test(tag)) return errors(res, 412, 'PRECONDITION', `the tag ${tag} is immutable, cannot be deleted`);
        st.untag(repo, tag);
        return json(res, 200, {});
      }
      const locked = immutableTags(repo, digest);
      if (locked.length) return errors(res, 412, 'PRECONDITION', `the artifact ${repo}@${digest} has immutable tags (${locked.join(', ')}), cannot be deleted`);
      // The artifact goes through the registry itself, as Harbor's own core does.
      fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' }).then(
        (r) => (r.status === 202 ? json(res, 200, {}) : errors(res, 500, 'UNKNOWN', `registry answered ${r.status}`)),
        (e) => errors(res, 500, 'UNKNOWN', String(e)),
      );
      return;
    }
    return errors(res, 404, 'NOT_FOUND', `no such API route ${req.method} ${u.pathname}`);
  };

  proxy.inject((r) => (r.url ?? '').startsWith('/api/v2.0/'), { respond: api }, Infinity);
  proxy.inject((r) => (r.url ?? '').startsWith('/v2/_catalog'), { status: 401, body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized to list catalog: unauthorized to list catalog' }] }) }, Infinity);
  return {
    reg,
    proxy,
    url: proxy.url,
    apiLog,
    async stop() {
      await proxy.close();
      await reg.stop();
    },
  };
}
