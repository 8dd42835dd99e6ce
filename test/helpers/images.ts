import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import type { TestRegistry } from './registry.js';

// Pushes small, real, unique images over the registry HTTP API (no Docker needed):
// one upload session per blob, then the manifest (registry-facts.md).

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
// An empty tar (two zero blocks) is a valid layer; uniqueness comes from the config.
const TAR = Buffer.alloc(1024);
const LAYER = gzipSync(TAR);

export interface ImageSpec {
  /** Makes the image unique (and so its digest). */
  seed: string;
  /** The config's `created`; null leaves it out. */
  created?: string | null;
  format?: 'oci' | 'docker';
  /** More layers after the shared empty one: each the bytes of its name (a registry does not look inside). */
  layers?: string[];
  /** The config's label instead of the seed: two images with the same one share their config blob. */
  configSeed?: string;
  /** A multi-arch index with these platforms instead of a single image. */
  platforms?: string[];
}

const dispatchers = new WeakMap<TestRegistry, Agent>();
function dispatcher(reg: TestRegistry): Agent {
  let d = dispatchers.get(reg);
  if (!d) {
    d = new Agent({ connect: { rejectUnauthorized: false } });
    dispatchers.set(reg, d);
  }
  return d;
}

async function call(reg: TestRegistry, method: string, url: string, repo: string, body?: Buffer, headers: Record<string, string> = {}) {
  const auth = await reg.authFor(`repository:${repo}:pull,push`);
  const res = await request(url, {
    method: method as any,
    body,
    headers: { ...headers, ...(auth ? { authorization: auth } : {}) },
    dispatcher: dispatcher(reg),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

export async function pushBlob(reg: TestRegistry, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha(bytes);
  const head = await call(reg, 'HEAD', `${reg.url}/v2/${repo}/blobs/${digest}`, repo);
  if (head.status === 200) return digest;
  const start = await call(reg, 'POST', `${reg.url}/v2/${repo}/blobs/uploads/`, repo);
  if (start.status !== 202) throw new Error(`upload start ${start.status}: ${start.text}`);
  const loc = new URL(String(start.headers.location), reg.url);
  loc.searchParams.set('digest', digest);
  const put = await call(reg, 'PUT', loc.toString(), repo, bytes, { 'content-type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`blob put ${put.status}: ${put.text}`);
  return digest;
}

export async function putManifest(reg: TestRegistry, repo: string, ref: string, mediaType: string, bytes: Buffer): Promise<string> {
  const res = await call(reg, 'PUT', `${reg.url}/v2/${repo}/manifests/${ref}`, repo, bytes, { 'content-type': mediaType });
  if (res.status !== 201) throw new Error(`manifest put ${repo}:${ref} ${res.status}: ${res.text}`);
  return sha(bytes);
}

async function pushSingle(reg: TestRegistry, repo: string, spec: ImageSpec, arch: string): Promise<{ digest: string; bytes: Buffer; mediaType: string }> {
  const docker = spec.format === 'docker';
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      ...(spec.created === null ? {} : { created: spec.created ?? '2024-01-01T00:00:00Z' }),
      config: { Labels: { 'regmgr.test.seed': spec.configSeed ?? spec.seed } },
      rootfs: { type: 'layers', diff_ids: [sha(TAR)] },
    }),
  );
  const configDigest = await pushBlob(reg, repo, config);
  const layerDigest = await pushBlob(reg, repo, LAYER);
  const layerType = docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const more = [];
  for (const name of spec.layers ?? []) {
    const blob = Buffer.from(`layer ${name}\n`.repeat(64));
    more.push({ mediaType: layerType, size: blob.length, digest: await pushBlob(reg, repo, blob) });
  }
  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest },
    layers: [{ mediaType: layerType, size: LAYER.length, digest: layerDigest }, ...more],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { digest: sha(bytes), bytes, mediaType };
}

/** Pushes one image (or index) and points every tag at it. Returns its digest. */
export async function pushImage(reg: TestRegistry, repo: string, tags: string[], spec: ImageSpec): Promise<string> {
  let top: { digest: string; bytes: Buffer; mediaType: string };
  if (spec.platforms) {
    const children = [];
    for (const p of spec.platforms) {
      const child = await pushSingle(reg, repo, { ...spec, seed: `${spec.seed}/${p}` }, p);
      await putManifest(reg, repo, child.digest, child.mediaType, child.bytes);
      children.push({ mediaType: child.mediaType, size: child.bytes.length, digest: child.digest, platform: { architecture: p, os: 'linux' } });
    }
    const mediaType = spec.format === 'docker' ? DOCKER_LIST : OCI_INDEX;
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: children }));
    top = { digest: sha(bytes), bytes, mediaType };
  } else {
    top = await pushSingle(reg, repo, spec, 'amd64');
  }
  if (tags.length === 0) await putManifest(reg, repo, top.digest, top.mediaType, top.bytes);
  for (const t of tags) await putManifest(reg, repo, t, top.mediaType, top.bytes);
  return top.digest;
}

/** Points `tag` at an existing manifest (moves the tag when it exists). */
export async function tagDigest(reg: TestRegistry, repo: string, tag: string, digest: string): Promise<void> {
  const accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');
  const auth = await reg.authFor(`repository:${repo}:pull`);
  const res = await request(`${reg.url}/v2/${repo}/manifests/${digest}`, { headers: { accept, ...(auth ? { authorization: auth } : {}) }, dispatcher: dispatcher(reg) });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`get ${digest}: ${res.statusCode}`);
  await putManifest(reg, repo, tag, String(res.headers['content-type']), bytes);
}

/** Reads tag -> digest for a repository straight from the registry (test oracle). */
export async function readTags(reg: TestRegistry, repo: string): Promise<Record<string, string>> {
  const auth = await reg.authFor(`repository:${repo}:pull`);
  const h = auth ? { authorization: auth } : {};
  const res = await request(`${reg.url}/v2/${repo}/tags/list`, { headers: h, dispatcher: dispatcher(reg) });
  if (res.statusCode === 404) {
    await res.body.dump();
    return {};
  }
  const body = (await res.body.json()) as { tags: string[] | null };
  // Pairs, then fromEntries: `out[t] = d` would drop a tag named __proto__.
  const out: Array<[string, string]> = [];
  const accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');
  for (const t of (body.tags ?? []).sort()) {
    const r = await request(`${reg.url}/v2/${repo}/manifests/${t}`, { method: 'HEAD', headers: { ...h, accept }, dispatcher: dispatcher(reg) });
    await r.body.dump();
    if (r.statusCode === 200) out.push([t, String(r.headers['docker-content-digest'])]);
  }
  return Object.fromEntries(out);
}

/**
 * Pushes an untagged OCI 1.1 artifact (an SBOM, a signature...) whose `subject` is
 * `subjectDigest` (OCI image spec 1.1 "artifact" guidance: empty config, the payload as
 * its one layer). Returns its digest.
 */
export async function pushReferrer(reg: TestRegistry, repo: string, subjectDigest: string, artifactType: string, payload: string): Promise<string> {
  const empty = Buffer.from('{}');
  const emptyDigest = await pushBlob(reg, repo, empty);
  const body = Buffer.from(payload);
  const layer = await pushBlob(reg, repo, body);
  const subject = await call(reg, 'HEAD', `${reg.url}/v2/${repo}/manifests/${subjectDigest}`, repo, undefined, { accept: [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ') });
  if (subject.status !== 200) throw new Error(`subject ${subjectDigest}: ${subject.status}`);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
    layers: [{ mediaType: artifactType, digest: layer, size: body.length }],
    subject: { mediaType: String(subject.headers['content-type']), digest: subjectDigest, size: Number(subject.headers['content-length']) },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return putManifest(reg, repo, sha(bytes), OCI_MANIFEST, bytes);
}
