import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from './registry.js';

/**
 * A registry with the two OCI distribution spec 1.1 (v1.1.0, Feb 2024) endpoints that
 * distribution 2.8 lacks, in front of a real distribution 2.8 for everything else:
 *
 * - the referrers API, `GET /v2/<name>/referrers/<digest>[?artifactType=]`
 *   (spec "Listing Referrers"): 200 with an image index of the descriptors of every
 *   manifest in the repository whose `subject` is <digest> (artifactType from the
 *   manifest's artifactType, else its config's mediaType; annotations copied), an empty
 *   index for a digest nothing refers to (the spec forbids a 404 there), 400 for an
 *   invalid digest, `OCI-Filters-Applied: artifactType` when filtered, and pagination by
 *   Link header (the spec allows it; this one pages every `pageSize` descriptors so that
 *   clients must follow it);
 * - tag delete, `DELETE /v2/<name>/manifests/<tag>` (spec "Deleting tags"): 202 and the
 *   tag alone is gone, its manifest stays; 404 MANIFEST_UNKNOWN for a tag it does not have.
 *
 * Both read the registry's own storage (filesystem driver, no cache configured), as
 * distribution 3 does: a manifest's revision link is what makes it part of the
 * repository; a tag is its `_manifests/tags/<tag>` folder.
 */
export interface Oci11Registry {
  reg: TestRegistry;
  proxy: FaultProxy;
  url: string;
  stop(): Promise<void>;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export async function startOci11Registry(opts: RegistryOptions & { pageSize?: number } = {}): Promise<Oci11Registry> {
  const reg = await startRegistry(opts);
  const proxy = await startFaultProxy(reg.url);
  const root = join(reg.dir, 'data', 'docker', 'registry', 'v2');
  const pageSize = opts.pageSize ?? 2;
  const repoDir = (name: string) => join(root, 'repositories', name, '_manifests');
  const blob = (digest: string) => join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data');

  const referrers = (name: string, subject: string, artifactType: string | null) => {
    const revs = join(repoDir(name), 'revisions', 'sha256');
    const out: Array<Record<string, unknown>> = [];
    if (!existsSync(revs)) return out;
    for (const hex of readdirSync(revs).sort()) {
      // A deleted manifest keeps its folder without a link (2.8): not part of the repository.
      if (!existsSync(join(revs, hex, 'link'))) continue;
      const digest = `sha256:${hex}`;
      const bytes = readFileSync(blob(digest));
      let m: any;
      try {
        m = JSON.parse(bytes.toString('utf8'));
      } catch {
        continue;
      }
      if (m?.subject?.digest !== subject) continue;
      const type = m.artifactType ?? m.config?.mediaType ?? '';
      if (artifactType !== null && type !== artifactType) continue;
      out.push({ mediaType: m.mediaType, digest, size: bytes.length, artifactType: type, ...(m.annotations ? { annotations: m.annotations } : {}) });
    }
    return out;
  };

  const answerReferrers = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url!, 'http://x');
    const [, name, subject] = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(u.pathname)!;
    if (!DIGEST.test(subject)) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] }));
    }
    const filter = u.searchParams.get('artifactType');
    const all = referrers(name, subject, filter);
    const start = Number(u.searchParams.get('page') ?? '0');
    const page = all.slice(start, start + pageSize);
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
    if (filter !== null) headers['oci-filters-applied'] = 'artifactType';
    if (start + pageSize < all.length) {
      const next = new URLSearchParams(u.searchParams);
      next.set('page', String(start + pageSize));
      headers.link = `</v2/${name}/referrers/${subject}?${next}>; rel="next"`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: page }));
  };

  const deleteTag = (req: IncomingMessage, res: ServerResponse) => {
    const [, name, tag] = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(new URL(req.url!, 'http://x').pathname)!;
    const dir = join(repoDir(name), 'tags', tag);
    if (!TAG.test(tag) || !existsSync(join(dir, 'current', 'link'))) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    }
    rmSync(dir, { recursive: true, force: true });
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  };

  proxy.inject((r) => r.method === 'GET' && /^\/v2\/.+\/referrers\/[^/]+$/.test(new URL(r.url!, 'http://x').pathname), { respond: answerReferrers }, Infinity);
  proxy.inject((r) => r.method === 'DELETE' && /^\/v2\/.+\/manifests\/[^/]+$/.test(r.url!) && !/\/manifests\/sha256:/.test(r.url!), { respond: deleteTag }, Infinity);
  return {
    reg,
    proxy,
    url: proxy.url,
    async stop() {
      await proxy.close();
      await reg.stop();
    },
  };
}
