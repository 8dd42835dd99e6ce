import type { IncomingMessage, ServerResponse } from 'node:http';
import { startFaultProxy } from './fault-proxy.js';
import { startRegistry } from './registry.js';
import { storage } from './registry-storage.js';
import { startApiServer, type VendorEmulation } from './vendor-emulation.js';

/**
 * An emulation of GitLab's Container Registry API, written from GitLab's published API
 * documentation (docs.gitlab.com/api/container_registry, REST API v4, GitLab 17-18;
 * pagination per docs.gitlab.com/api/rest: `page`, `per_page` up to 100, Link header),
 * for exactly the endpoints regmgr calls, with a real distribution 2.8 as the registry
 * (GitLab's registry deletes manifests by digest through the OCI API):
 *
 * - `GET /groups/:id`, `GET /projects/:id` (`:id` a URL-encoded full path, or a number);
 * - `GET /groups/:id/registry/repositories`, `GET /projects/:id/registry/repositories`:
 *   `{id, name, path, project_id, location}` per repository;
 * - `DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name`: 200, the
 *   tag alone; 404 for an unknown tag; 403 for a protected container tag;
 * - auth: `PRIVATE-TOKEN`, or `JOB-TOKEN` (its own project only); 401 otherwise.
 */
export interface GitlabEmulator extends VendorEmulation {
  jobToken: string;
}

export async function startGitlab(opts: { group: string; projects: string[]; jobProject?: string; protectedTags?: RegExp; pageSize?: number }): Promise<GitlabEmulator> {
  const reg = await startRegistry();
  const oci = await startFaultProxy(reg.url);
  const st = storage(reg);
  const token = `glpat-${'y'.repeat(20)}`;
  const jobToken = `glcbt-${'z'.repeat(20)}`;
  const apiLog: string[] = [];
  const projectId = (p: string) => opts.projects.indexOf(p) + 1;
  const repoIds = new Map<string, number>();
  const repoId = (path: string) => (repoIds.has(path) ? repoIds.get(path)! : (repoIds.set(path, 100 + repoIds.size), repoIds.get(path)!));
  const projectOfRepo = (path: string) => [...opts.projects].sort((a, b) => b.length - a.length).find((p) => path === p || path.startsWith(`${p}/`));
  const reposOf = (projects: string[]) =>
    st
      .repositories()
      .filter((r) => projects.includes(projectOfRepo(r) ?? ''))
      .map((path) => ({ id: repoId(path), name: path === projectOfRepo(path) ? '' : path.slice(projectOfRepo(path)!.length + 1), path, project_id: projectId(projectOfRepo(path)!), location: `registry.example/${path}`, created_at: '2026-01-01T00:00:00Z' }));

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const paged = (req: IncomingMessage, res: ServerResponse, items: unknown[]) => {
    const u = new URL(req.url!, 'http://x');
    const per = Math.min(100, Math.max(1, Number(u.searchParams.get('per_page') ?? '20')), opts.pageSize ?? 100);
    const page = Math.max(1, Number(u.searchParams.get('page') ?? '1'));
    const headers: Record<string, string> = { 'x-total': String(items.length), 'x-page': String(page), 'x-per-page': String(per) };
    if (page * per < items.length) {
      u.searchParams.set('page', String(page + 1));
      headers.link = `<${origin}${u.pathname}?${u.searchParams}>; rel="next"`;
      headers['x-next-page'] = String(page + 1);
    }
    json(res, 200, items.slice((page - 1) * per, page * per), headers);
  };
  const project = (id: string) => (/^\d+$/.test(id) ? opts.projects[Number(id) - 1] : opts.projects.find((p) => p === decodeURIComponent(id)));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url!, 'http://x');
    apiLog.push(`${req.method} ${u.pathname}${u.search}`);
    const path = u.pathname.replace(/^\/api\/v4/, '');
    const job = req.headers['job-token'] === jobToken;
    if (req.headers['private-token'] !== token && !job) return json(res, 401, { message: '401 Unauthorized' });
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/groups\/([^/]+)$/.exec(path))) return decodeURIComponent(m[1]) === opts.group ? json(res, 200, { id: 1, full_path: opts.group }) : json(res, 404, { message: '404 Group Not Found' });
    if (req.method === 'GET' && (m = /^\/projects\/([^/]+)$/.exec(path))) {
      const p = project(m[1]);
      return p ? json(res, 200, { id: projectId(p), path_with_namespace: p }) : json(res, 404, { message: '404 Project Not Found' });
    }
    if (req.method === 'GET' && (m = /^\/groups\/([^/]+)\/registry\/repositories$/.exec(path))) {
      if (decodeURIComponent(m[1]) !== opts.group) return json(res, 404, { message: '404 Group Not Found' });
      return paged(req, res, reposOf(opts.projects.filter((p) => p.startsWith(`${opts.group}/`))));
    }
    if (req.method === 'GET' && (m = /^\/projects\/([^/]+)\/registry\/repositories$/.exec(path))) {
      const p = project(m[1]);
      return p ? paged(req, res, reposOf([p])) : json(res, 404, { message: '404 Project Not Found' });
    }
    if (req.method === 'DELETE' && (m = /^\/projects\/([^/]+)\/registry\/repositories\/(\d+)\/tags\/([^/]+)$/.exec(path))) {
      const p = project(m[1]);
      if (!p) return json(res, 404, { message: '404 Project Not Found' });
      if (job && p !== opts.jobProject) return json(res, 403, { message: '403 Forbidden' });
      const repo = reposOf([p]).find((r) => r.id === Number(m![2]));
      if (!repo) return json(res, 404, { message: '404 Repository Not Found' });
      const tag = decodeURIComponent(m[3]);
      if (opts.protectedTags?.test(tag)) return json(res, 403, { message: `403 Forbidden - Protected container tags: ${tag} matches a protection rule of the project` });
      if (!st.untag(repo.path, tag)) return json(res, 404, { message: '404 Tag Not Found' });
      return json(res, 200, {});
    }
    return json(res, 404, { message: '404 Not Found' });
  };
  const api = await startApiServer(handle);
  const origin = api.origin;
  const apiUrl = `${origin}/api/v4`;
  return {
    reg,
    oci,
    ociUrl: oci.url,
    apiUrl,
    apiLog,
    token,
    jobToken,
    async stop() {
      await api.close();
      await oci.close();
      await reg.stop();
    },
  };
}
