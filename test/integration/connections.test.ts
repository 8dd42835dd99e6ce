import { join } from 'node:path';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { pushImage, putManifest } from '../helpers/images.js';
import { MINIMAL_MANIFEST } from '../helpers/hostile-registry.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { listenLoopback, tempDir } from '../helpers/processes.js';
import { mapLimit } from '../../src/util/limit.js';
import { planCommand } from '../../src/commands/plan.js';
import { RegistryClient } from '../../src/registry/client.js';
import type { Repository } from '../../src/oci/names.js';

const tmp = tempDir('connections');
after(() => tmp.remove());

test('a plan of 1,000 tags reuses its connections, HEADs included: about the configured concurrency, not one per request', async () => {
  const env = await startProxiedRegistry();
  try {
    const digest = await pushImage(env.reg, 'many/app', ['t0'], { seed: 'many' });
    const res = await fetch(`${env.reg.url}/v2/many/app/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const bytes = Buffer.from(await res.arrayBuffer());
    await mapLimit(Array.from({ length: 999 }, (_, i) => `t${i + 1}`), 4, (t) => putManifest(env.reg, 'many/app', t, 'application/vnd.oci.image.manifest.v1+json', bytes));
    const config = writeFile(tmp.dir, 'c.yml', `registries:\n  reg:\n    registry: ${env.proxy.url}\n    repositories: [many/app]\n    concurrency: 8\ndelete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      keys: nothing-matches\n`);
    // A first plan GETs each manifest (the bytes it frees); the second, with the content
    // cache the first left, sends a HEAD per tag: that is the one measured.
    const io = () => captureIO({ REGMGR_CACHE_DIR: join(tmp.dir, 'cache') }).io;
    assert.equal(await planCommand({ config }, io()), 0);
    const before = env.proxy.connections;
    env.proxy.log.length = 0;
    assert.equal(await planCommand({ config }, io()), 0);
    const heads = env.proxy.log.filter((l) => l.startsWith('HEAD ')).length;
    const opened = env.proxy.connections - before;
    assert.equal(heads, 1000);
    assert.ok(opened <= 8, `${opened} connections for ${env.proxy.log.length} requests`);
  } finally {
    await env.stop();
  }
});

test('a server that sends a body after a HEAD: the garbled answer is read again, and HEADs close their connection from then on', async () => {
  // A raw HTTP/1.1 server: after a HEAD it owes the body it "forgot", and sends it at the
  // start of the next answer on the same connection, which no HTTP parser can read.
  const digest = `sha256:${createHash('sha256').update(MINIMAL_MANIFEST).digest('hex')}`;
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = '';
    let owed = '';
    sock.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        const [method, path] = buf.slice(0, i).split(' ');
        buf = buf.slice(i + 4);
        const body = path.endsWith('/tags/list') ? JSON.stringify({ name: 'app', tags: ['a', 'b'] }) : MINIMAL_MANIFEST.toString();
        const head = `HTTP/1.1 200 OK\r\ncontent-type: ${path.endsWith('/tags/list') ? 'application/json' : 'application/vnd.oci.image.manifest.v1+json'}\r\ndocker-content-digest: ${path.includes('/manifests/') ? digest : ''}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n`;
        sock.write(owed + head + (method === 'HEAD' ? '' : body));
        owed = method === 'HEAD' ? body : '';
      }
    });
  });
  const { url } = await listenLoopback(server);
  const warnings: string[] = [];
  const c = new RegistryClient(
    { name: 'sloppy', origin: url, host: new URL(url).host, plainHttp: true, insecure: false, concurrency: 1, timeoutMs: 5000, maxTags: 1000, tagDelete: 'untag', reclaimScope: 'repositories' },
    { retry: { baseDelayMs: 1, maxDelayMs: 5 }, logger: { debug() {}, info() {}, warn: (m) => warnings.push(m) } },
  );
  try {
    assert.equal((await c.headManifest('app' as Repository, 'a'))?.digest, digest);
    // The next answer on that connection starts with the HEAD's body: it is read again.
    assert.deepEqual(await c.listTags('app' as Repository), ['a', 'b']);
    assert.match(warnings.join('\n'), /sloppy: an answer did not parse \(.+\), as when a server sends a body after a HEAD; closing connections after HEAD requests from now on/);
    const opened = connections;
    for (const t of ['a', 'b', 'a']) assert.equal((await c.headManifest('app' as Repository, t))?.digest, digest);
    // The first HEAD reuses the connection the retried GET left open; each HEAD closes its own.
    assert.equal(connections - opened, 2, 'every HEAD closes its connection now');
    assert.equal(warnings.length, 1);
  } finally {
    await c.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
