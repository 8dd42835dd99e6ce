import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { startProxiedRegistry, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { RegistryClient } from '../../src/registry/client.js';
import { RegistryError } from '../../src/registry/errors.js';
import { asRepository } from '../../src/oci/names.js';
import { listCommand } from '../../src/commands/list.js';
import type { RegistryEndpoint } from '../../src/config/model.js';

let reg: TestRegistry;
let proxy: FaultProxy;
const tmp = tempDir('faults');
const app = asRepository('library/app');
const tagsPath = (req: { url?: string; method?: string }) => req.method === 'GET' && /\/tags\/list/.test(req.url ?? '');

let bench: Awaited<ReturnType<typeof startProxiedRegistry>>;

before(async () => {
  bench = await startProxiedRegistry();
  ({ reg, proxy } = bench);
  await pushImage(reg, 'library/app', ['v1', 'v2'], { seed: 'faults-1' });
  await pushImage(reg, 'library/app', ['v3'], { seed: 'faults-3' });
});
after(async () => {
  await bench?.stop();
  tmp.remove();
});
beforeEach(() => {
  proxy.clear();
  proxy.log.length = 0;
});

function client(overrides: Partial<RegistryEndpoint> = {}) {
  const ep: RegistryEndpoint = { name: 'proxied', origin: proxy.url, host: proxy.host, plainHttp: true, insecure: false, concurrency: 4, timeoutMs: 5000, maxTags: 2_000_000, tagDelete: 'untag', reclaimScope: 'repositories', ...overrides };
  return new RegistryClient(ep, { retry: { baseDelayMs: 20, maxDelayMs: 100 } });
}

test('two 429s with Retry-After: 1, then success: the answer arrives, after honouring the wait', async () => {
  proxy.inject(tagsPath, { status: 429, headers: { 'retry-after': '1' } }, 2);
  const c = client();
  const started = Date.now();
  assert.deepEqual((await c.listTags(app)).sort(), ['v1', 'v2', 'v3']);
  assert.ok(Date.now() - started >= 2000, `waited ${Date.now() - started} ms for two Retry-After: 1`);
  assert.equal(proxy.count((l) => l.includes('/tags/list')), 3);
  await c.close();
});

test('a run of 503s gives up after the bounded attempts with a clear error', async () => {
  proxy.inject(tagsPath, { status: 503 }, Infinity);
  const c = client();
  await assert.rejects(c.listTags(app), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.kind, 'server');
    assert.equal(e.status, 503);
    assert.match(e.message, /^registry 'proxied': GET http:\/\/127\.0\.0\.1:\d+\/v2\/library\/app\/tags\/list: 503 INJECTED: fault proxy: 503; gave up after 4 attempt\(s\)$/);
    return true;
  });
  assert.equal(proxy.count((l) => l.includes('/tags/list')), 4);
  await c.close();
});

test('a dropped connection on a read is retried', async () => {
  proxy.inject((r) => r.method === 'HEAD', { drop: true }, 1);
  const c = client();
  const ref = await c.headManifest(app, 'v1');
  assert.match(ref!.digest, /^sha256:/);
  assert.equal(proxy.count((l) => l.startsWith('HEAD')), 2);
  await c.close();
});

test('a slow answer fails at the timeout, naming it, and is not retried: the timeout bounds the whole request', async () => {
  proxy.inject((r) => r.method === 'HEAD', { delayMs: 1500 }, 1);
  const c = client({ timeoutMs: 300 });
  await assert.rejects(c.headManifest(app, 'v1'), /registry 'proxied': HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/library\/app\/manifests\/v1: no complete answer within 0\.3 s \(timeout\)/);
  assert.equal(proxy.count((l) => l.startsWith('HEAD')), 1);
  await c.close();
});

test('a relative Link is resolved against the request URL and followed', async () => {
  proxy.inject(tagsPath, {
    rewrite: (res) => ({ ...res, headers: { ...res.headers, link: '<list?last=v9>; rel="next"' }, body: Buffer.from('{"name":"library/app","tags":["v0"]}') }),
  });
  const c = client();
  assert.deepEqual((await c.listTags(app)).sort(), ['v0', 'v1', 'v2', 'v3']);
  assert.deepEqual(proxy.log.filter((l) => l.includes('/tags/list')), ['GET /v2/library/app/tags/list', 'GET /v2/library/app/tags/list?last=v9']);
  await c.close();
});

test('a Link to another origin is refused, and nothing is sent there', async () => {
  // 127.0.0.2 is another origin on loopback: even a broken check would stay on this machine.
  proxy.inject(tagsPath, { rewrite: (res) => ({ ...res, headers: { ...res.headers, link: `<http://127.0.0.2:${reg.port}/v2/library/app/tags/list?last=v3>; rel="next"` } }) });
  const c = client();
  await assert.rejects(c.listTags(app), /refusing pagination Link to another origin \(http:\/\/127\.0\.0\.2:\d+\)/);
  assert.equal(c.requests, 1);
  await c.close();
});

test('a Link loop is detected', async () => {
  proxy.inject(tagsPath, { rewrite: (res, req) => ({ ...res, headers: { ...res.headers, link: req.url?.includes('last=') ? '</v2/library/app/tags/list>; rel="next"' : '</v2/library/app/tags/list?last=v1>; rel="next"' } }) }, Infinity);
  const c = client();
  await assert.rejects(c.listTags(app), /pagination loop: Link points back to a page already read \(2 pages\)/);
  await c.close();
});

test('"tags": null is an empty repository', async () => {
  proxy.inject(tagsPath, { rewrite: (res) => ({ ...res, body: Buffer.from('{"name":"library/app","tags":null}') }) });
  const c = client();
  assert.deepEqual(await c.listTags(app), []);
  await c.close();
});

test('a truncated listing is an error, not a short list', async () => {
  proxy.inject(tagsPath, { rewrite: (res) => ({ ...res, body: res.body.subarray(0, 20) }) });
  const c = client();
  await assert.rejects(c.listTags(app), /answer is not JSON/);
  await c.close();
});

test('a manifest whose body does not match its digest is refused', async () => {
  proxy.inject((r) => r.method === 'GET' && /manifests/.test(r.url ?? ''), { rewrite: (res) => ({ ...res, body: Buffer.from(res.body.toString().replace('"schemaVersion":2', '"schemaVersion": 2')) }) });
  const c = client();
  await assert.rejects(c.getManifest(app, 'v1'), /body hashes to sha256:[0-9a-f]{64}, header says sha256:/);
  await c.close();
});

test('a 401 on one repository fails list with an auth error naming the registry, never an empty repository', async () => {
  proxy.inject(tagsPath, { status: 401, headers: { 'www-authenticate': 'Basic realm="x"' }, body: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}' }, Infinity);
  const file = writeFile(tmp.dir, 'c.yml', `registries:\n  mirror:\n    registry: ${proxy.url}\n    repositories: [library/app]\n`);
  const cap = captureIO();
  await assert.rejects(listCommand({ config: file }, cap.io), /^RegistryError: registry 'mirror': GET http:\/\/127\.0\.0\.1:\d+\/v2\/library\/app\/tags\/list: 401 UNAUTHORIZED: authentication required; authentication required and no credentials are configured/);
  assert.equal(cap.stdout(), '');
});

test('DELETE is never retried and never follows a redirect', async () => {
  proxy.inject((r) => r.method === 'DELETE', { status: 503 }, 1);
  const c = client();
  const d = (await c.headManifest(app, 'v3'))!.digest;
  await assert.rejects(c.deleteManifest(app, d), /503/);
  assert.equal(proxy.count((l) => l.startsWith('DELETE')), 1);
  proxy.inject((r) => r.method === 'DELETE', { status: 307, headers: { location: '/v2/_catalog' } }, 1);
  await assert.rejects(c.deleteManifest(app, d), /307/);
  assert.equal(proxy.count((l) => l.startsWith('DELETE')), 2);
  assert.equal(proxy.count((l) => l.includes('_catalog')), 0);
  await c.close();
});

test('single-tag DELETE: refused by 2.8 (reported as unsupported, nothing deleted); accepted where the registry supports it', async () => {
  const c = client();
  const before = (await c.headManifest(app, 'v2'))!.digest;
  assert.equal(await c.deleteTag(app, 'v2'), 'unsupported');
  assert.equal((await c.headManifest(app, 'v2'))!.digest, before);
  // A registry that implements OCI 1.1 tag deletion answers 202.
  proxy.inject((r) => r.method === 'DELETE', { status: 202, body: '' }, 1);
  assert.equal(await c.deleteTag(app, 'v2'), 'deleted');
  await c.close();
});

test('a registry without a catalog: the error says to list repositories in the config', async () => {
  proxy.inject((r) => (r.url ?? '').startsWith('/v2/_catalog'), { status: 404, body: '404 page not found\n' }, Infinity);
  const file = writeFile(tmp.dir, 'nocat.yml', `registries:\n  ghcr:\n    registry: ${proxy.url}\n`);
  await assert.rejects(listCommand({ config: file }, captureIO().io), /registry 'ghcr': GET .*\/v2\/_catalog\?n=1000: 404: not found; this registry does not list its repositories to these credentials: name them in registries\.ghcr\.repositories/);
});

test('a blob redirect is followed without credentials, and its signed query never reaches logs or errors', async () => {
  // The registry's own address plays the storage backend: another origin than the proxy's.
  const other = reg.url;
  const c = client();
  const m = (await c.getManifest(app, 'v1'))!;
  const cfg = m.json.config.digest;
  proxy.inject((r) => (r.url ?? '').includes('/blobs/'), { status: 307, headers: { location: `${other}/v2/library/app/blobs/${cfg}?X-Amz-Signature=topsecretsig` } }, 1);
  const lines: string[] = [];
  const logged = new RegistryClient(
    { name: 'proxied', origin: proxy.url, host: proxy.host, plainHttp: true, insecure: false, concurrency: 2, timeoutMs: 5000, maxTags: 2_000_000, tagDelete: 'untag', reclaimScope: 'repositories' },
    { logger: { debug: (l) => lines.push(l), info() {}, warn() {} } },
  );
  const { created } = await logged.imageCreated(app, m.digest);
  assert.match(created!, /^20\d\d-/);
  assert.ok(lines.some((l) => l.includes(`${reg.url}/v2/library/app/blobs/`) && l.includes('?<redacted>')), lines.join('\n'));
  assert.ok(!lines.join('\n').includes('topsecretsig'));
  await logged.close();
  await c.close();
});
