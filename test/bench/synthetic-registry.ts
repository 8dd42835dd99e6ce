// A registry for the memory bench only (million-bench.ts): answers the reads a plan
// sends (catalog, tag pages, manifests by tag and digest, configs, the capability
// probes) from the tag's name, computed on the fly, so that 1,000,000 tags need no
// storage and no push. Its images have the plan bench's shape (storage-seed.ts): one
// OCI image per 5 tags carries the next tag too, own config with a creation time, one
// shared layer; tags `dev-K` and `v1.K.0` (K divisible by 3), created K minutes after
// 2024-01-01. It speaks the distribution API as 2.8 does for these requests (OCI
// distribution spec v1.1.0 routes; 2.8's answers to the delete probes) and nothing else:
// the real registry stays the reference for everything the tests check.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { listenLoopback } from '../helpers/processes.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TAR = Buffer.alloc(1024);
const LAYER = gzipSync(TAR);
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const LAYER_DIGEST = sha(LAYER);
const DIFF_ID = sha(TAR);
const PAGE = 10_000;

export const syntheticTag = (k: number): string => (k % 3 === 0 ? `v1.${k}.0` : `dev-${k}`);

export interface SyntheticRegistry {
  url: string;
  /** Requests answered, by method. */
  requests: Record<string, number>;
  close(): Promise<void>;
}

export async function startSyntheticRegistry(repos: string[], tagsPerRepo: number): Promise<SyntheticRegistry> {
  // Sorted as 2.8 lists them; a page starts after `last`, found by binary search.
  const names = Array.from({ length: tagsPerRepo }, (_, k) => syntheticTag(k)).sort();
  // Filled as manifests are served (a plan reads by tag before it reads by digest).
  const byDigest = new Map<string, { image: number; config: boolean }>();
  const requests: Record<string, number> = {};

  const image = (repo: string, k: number) => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: new Date(Date.UTC(2024, 0, 1) + k * 60_000).toISOString(), config: { Labels: { 'regmgr.test.seed': `${repo}-${k}` } }, rootfs: { type: 'layers', diff_ids: [DIFF_ID] } }));
    const configDigest = sha(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: LAYER.length, digest: LAYER_DIGEST }],
      }),
    );
    return { config, configDigest, manifest, digest: sha(manifest) };
  };
  const tagImage = (tag: string): number | undefined => {
    const m = /^(?:dev-(\d+)|v1\.(\d+)\.0)$/.exec(tag);
    if (!m) return undefined;
    const k = Number(m[1] ?? m[2]);
    if (k >= tagsPerRepo || syntheticTag(k) !== tag) return undefined;
    return k % 5 === 1 ? k - 1 : k;
  };
  const error = (res: ServerResponse, status: number, code: string) => {
    const body = JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace(/_/g, ' ') }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  const json = (res: ServerResponse, value: unknown, headers: Record<string, string> = {}) => {
    const body = JSON.stringify(value);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }).end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests[req.method ?? '?'] = (requests[req.method ?? '?'] ?? 0) + 1;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path === '/v2/') return json(res, {});
    if (path === '/v2/_catalog') return json(res, { repositories: repos });
    const m = /^\/v2\/(.+)\/(tags\/list|manifests|blobs|referrers)(?:\/([^/]+))?$/.exec(path);
    if (!m || !repos.includes(m[1])) return error(res, 404, 'NAME_UNKNOWN');
    const [, repo, route, ref = ''] = m;
    if (route === 'tags/list') {
      const last = url.searchParams.get('last');
      let lo = 0;
      if (last !== null) {
        let hi = names.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (names[mid] <= last) lo = mid + 1;
          else hi = mid;
        }
      }
      const page = names.slice(lo, lo + PAGE);
      const more = lo + PAGE < names.length;
      return json(res, { name: repo, tags: page }, more ? { link: `</v2/${repo}/tags/list?n=${PAGE}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"` } : {});
    }
    if (route === 'referrers') return error(res, 404, 'NOT_FOUND');
    if (req.method === 'DELETE') return ref.startsWith('sha256:') ? error(res, 404, 'MANIFEST_UNKNOWN') : error(res, 400, 'DIGEST_INVALID');
    if (route === 'blobs') {
      const known = byDigest.get(ref);
      if (!known?.config) return error(res, 404, 'BLOB_UNKNOWN');
      const { config } = image(repo, known.image);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': config.length, 'docker-content-digest': ref });
      return res.end(req.method === 'HEAD' ? undefined : config);
    }
    const k = ref.startsWith('sha256:') ? byDigest.get(ref)?.image : tagImage(ref);
    if (k === undefined) return error(res, 404, 'MANIFEST_UNKNOWN');
    const img = image(repo, k);
    byDigest.set(img.digest, { image: k, config: false });
    byDigest.set(img.configDigest, { image: k, config: true });
    res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': img.manifest.length, 'docker-content-digest': img.digest });
    res.end(req.method === 'HEAD' ? undefined : img.manifest);
  };

  const server = createServer({ keepAliveTimeout: 60_000 }, handle);
  const { url } = await listenLoopback(server);
  return {
    url,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r()).closeAllConnections()),
  };
}
