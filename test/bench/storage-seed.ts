// Bench seeding at the speed of the file system: writes images straight into a
// distribution registry's storage folder, in its own layout (blobs by digest, and per
// repository the _layers, _manifests/revisions and _manifests/tags links), as a push
// would leave them. 20,000 pushes over HTTP take minutes; this takes seconds. The bench
// then serves the folder with a real docker-registry, which reads nothing else.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TAR = Buffer.alloc(1024);
const LAYER = gzipSync(TAR);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export class StorageSeeder {
  readonly #v2: string;
  constructor(dataDir: string) {
    this.#v2 = join(dataDir, 'docker', 'registry', 'v2');
  }

  #blob(bytes: Buffer): string {
    const hex = sha(bytes);
    const dir = join(this.#v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'data'), bytes);
    }
    return hex;
  }

  #link(path: string, hex: string) {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'link'), `sha256:${hex}`);
  }

  /** One single-platform OCI image (own config, shared layer), tagged; returns its digest. */
  image(repo: string, tags: string[], seed: string, created: string): string {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created, config: { Labels: { 'regmgr.test.seed': seed } }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(TAR)}`] } }));
    const configHex = this.#blob(config);
    const layerHex = this.#blob(LAYER);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: `sha256:${configHex}` },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: LAYER.length, digest: `sha256:${layerHex}` }],
      }),
    );
    const hex = this.#blob(manifest);
    const r = join(this.#v2, 'repositories', repo);
    for (const h of [configHex, layerHex]) this.#link(join(r, '_layers', 'sha256', h), h);
    this.#link(join(r, '_manifests', 'revisions', 'sha256', hex), hex);
    for (const t of tags) {
      this.#link(join(r, '_manifests', 'tags', t, 'current'), hex);
      this.#link(join(r, '_manifests', 'tags', t, 'index', 'sha256', hex), hex);
    }
    return `sha256:${hex}`;
  }
}
