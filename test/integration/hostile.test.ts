import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHostileRegistry, json, manifest, MINIMAL_MANIFEST } from '../helpers/hostile-registry.js';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { pushImage, readTags } from '../helpers/images.js';
import { TEST_PASSWORD, TEST_USER } from '../helpers/registry.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { RegistryClient } from '../../src/registry/client.js';
import type { RegistryEndpoint } from '../../src/config/model.js';
import type { Repository } from '../../src/oci/names.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';

const tmp = tempDir('hostile');
after(() => tmp.remove());

const config = (url: string, extra = '', name = 'c.yml') =>
  writeFile(tmp.dir, name, `registries:\n  evil:\n    registry: ${url}\n    repositories: [app]\n${extra}delete-policy:\n  registries: [evil]\n  mix-count: 0\n  tags:\n    include:\n      keys: v\n`);
const endpoint = (url: string, over: Partial<RegistryEndpoint> = {}): RegistryEndpoint => ({ name: 'evil', origin: url, host: new URL(url).host, plainHttp: true, insecure: false, concurrency: 4, timeoutMs: 5000, maxTags: 2_000_000, tagDelete: 'untag', reclaimScope: 'repositories', ...over });
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test('tag names that break out of output or URLs fail the plan, shown escaped; nothing else is requested', async () => {
  const hostile = ['v1\u001b[2J\u001b[1;1H', 'v2```\n</details>\n**No changes.**', '../../../v2/other/manifests/latest', 'frag#x', 'v3\u202eevil'];
  for (const tag of hostile) {
    const reg = await startHostileRegistry((req, res) => (req.url === '/v2/app/tags/list' ? json(res, 200, { name: 'app', tags: ['v0', tag] }) : undefined));
    try {
      const r = await runCli(['plan', '-c', config(reg.url)]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /^error: registry 'evil': GET http:\/\/127\.0\.0\.1:\d+\/v2\/app\/tags\/list: repository app lists an invalid tag: '.*' is not a valid tag .*; no plan from data regmgr cannot trust\n$/);
      assert.ok(!UNSAFE.test(r.stderr + r.stdout), JSON.stringify(r.stderr));
      assert.deepEqual(reg.log, ['GET /v2/app/tags/list'], 'no HEAD of any tag, least of all another repository');
    } finally {
      await reg.close();
    }
  }
});

test('a body that trickles one byte at a time fails at the configured timeout, once, not retried', async () => {
  const timers = new Set<NodeJS.Timeout>();
  const reg = await startHostileRegistry((req, res) => {
    if (req.url !== '/v2/app/tags/list') return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"name":"app","tags":[');
    const t = setInterval(() => res.write(' '), 200);
    timers.add(t);
    res.on('close', () => clearInterval(t));
    return true;
  });
  try {
    const closed = reg.nextClose();
    await assert.rejects(planCommand({ config: config(reg.url, '    timeout: 1\n', 'slow.yml') }, captureIO().io), /GET http:\/\/127\.0\.0\.1:\d+\/v2\/app\/tags\/list: no complete answer within 1 s \(timeout\); the registry is too slow or stalled/);
    await closed; // regmgr hung up: nothing keeps the connection open
    assert.equal(reg.log.filter((l) => l.includes('tags/list')).length, 1, 'a stall is not retried');
  } finally {
    for (const t of timers) clearInterval(t);
    await reg.close();
  }
});

test('a 200,000-tag answer is read without a crash; past max-tags it is refused; an endless Link chain stops at max-tags; a Link to another list is refused', async () => {
  const tags = Array.from({ length: 200_000 }, (_, i) => `t${i}`);
  const body = JSON.stringify({ name: 'app', tags });
  const reg = await startHostileRegistry((req, res) => {
    if (req.url === '/v2/app/tags/list') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return true;
    }
    // An endless chain of distinct pages, one new tag each.
    const m = /^\/v2\/endless\/tags\/list(?:\?last=(\d+))?$/.exec(req.url ?? '');
    if (m) {
      const n = Number(m[1] ?? 0);
      return json(res, 200, { name: 'endless', tags: [`p${n}`] }, { link: `</v2/endless/tags/list?last=${n + 1}>; rel="next"` });
    }
    if (req.url?.startsWith('/v2/empty/tags/list')) return json(res, 200, { name: 'empty', tags: [] }, { link: '</v2/empty/tags/list?last=x>; rel="next"' });
    // Same origin, but the next page is another repository's list.
    if (req.url === '/v2/mine/tags/list') return json(res, 200, { name: 'mine', tags: ['a'] }, { link: '</v2/secret/db/tags/list?n=1>; rel="next"' });
    if (req.url?.startsWith('/v2/secret/db/tags/list')) return json(res, 200, { name: 'secret/db', tags: ['prod'] });
  });
  try {
    const c = new RegistryClient(endpoint(reg.url));
    assert.equal((await c.listTags('app' as Repository)).length, 200_000);
    const bounded = new RegistryClient(endpoint(reg.url, { maxTags: 199_999 }));
    await assert.rejects(bounded.listTags('app' as Repository), /more than 199999 tags in one repository \(registries\.evil\.max-tags\); raise it if this is real, or check the registry/);
    const chain = new RegistryClient(endpoint(reg.url, { maxTags: 1000 }));
    reg.log.length = 0;
    await assert.rejects(chain.listTags('endless' as Repository), /more than 1000 tags in one repository/);
    assert.equal(reg.log.length, 1001);
    await assert.rejects(c.listTags('empty' as Repository), /a page with no entries points to a next page: endless pagination refused/);
    reg.log.length = 0;
    await assert.rejects(c.listTags('mine' as Repository), /refusing pagination Link to another list \(\/v2\/secret\/db\/tags\/list\); a next page must continue \/v2\/mine\/tags\/list/);
    assert.equal(reg.log.length, 1, "the other repository's list is never requested");
    await Promise.all([c.close(), bounded.close(), chain.close()]);
  } finally {
    await reg.close();
  }
});

test('a token server asking to retry after 28 hours is not waited for', async () => {
  const reg = await startHostileRegistry((req, res) => {
    if (req.url?.startsWith('/token')) return json(res, 429, { errors: [] }, { 'retry-after': '100000' });
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="evil"`, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    return true;
  });
  try {
    const c = new RegistryClient(endpoint(reg.url));
    await assert.rejects(c.listTags('app' as Repository), /token server asked to retry after 100000 s, longer than regmgr waits \(60 s\)/);
    await c.close();
  } finally {
    await reg.close();
  }
});

test('a registry that echoes the Authorization header: no password, base64 or token reaches stdout, stderr or the journal', async () => {
  // Stage 1, plan: a hostile registry echoes the header it got in its error body.
  const b64 = Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64');
  const reg = await startHostileRegistry((req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="evil"' }).end();
      return true;
    }
    if (req.url === '/v2/app/tags/list') return json(res, 500, { errors: [{ code: 'ECHO', message: `bad header ${req.headers.authorization} for ${TEST_PASSWORD}, also Bearer abcdefghijklmnop.qrstuvwxyz` }] });
    if (req.url?.includes('/manifests/')) return manifest(req, res, MINIMAL_MANIFEST);
  });
  try {
    const cfg = config(reg.url, `    username: ${TEST_USER}\n    password: \${PW}\n`, 'echo.yml');
    const r = await runCli(['plan', '-c', cfg, '--debug'], { PW: TEST_PASSWORD });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /500 ECHO: bad header Basic <redacted> for <redacted>, also Bearer <redacted>/);
    for (const secret of [TEST_PASSWORD, b64, 'abcdefghijklmnop']) assert.ok(!(r.stdout + r.stderr).includes(secret), `${secret} leaked`);
  } finally {
    await reg.close();
  }

  // Stage 2, apply: a real registry whose DELETE answer is rewritten to echo the header.
  const env = await startProxiedRegistry({ auth: 'htpasswd' });
  try {
    await pushImage(env.reg, 'app', ['v1'], { seed: 'echo-v1' });
    await pushImage(env.reg, 'app', ['keep'], { seed: 'echo-keep' });
    const cfg = config(env.proxy.url, `    username: ${TEST_USER}\n    password: \${PW}\n`, 'echo2.yml');
    const planFile = join(tmp.dir, 'echo2.plan.json');
    assert.equal(await planCommand({ config: cfg, out: planFile }, captureIO({ PW: TEST_PASSWORD }).io), 0);
    env.proxy.inject(
      (r) => r.method === 'DELETE' && /manifests/.test(r.url ?? ''),
      { status: 500, body: (req) => JSON.stringify({ errors: [{ code: 'ECHO', message: `got ${req.headers.authorization}` }] }) },
      Infinity,
    );
    const cap = captureIO({ PW: TEST_PASSWORD });
    assert.equal(await applyCommand({ plan: planFile }, cap.io), 1, cap.stdout());
    env.proxy.clear();
    assert.match(cap.stdout(), /^failed +delete evil\/app@sha256:\w+: registry 'evil': DELETE .*: 500 ECHO: got Basic <redacted>/m);
    const journal = readFileSync(`${planFile}.${JSON.parse(readFileSync(planFile, 'utf8')).sha256.slice(0, 12)}.journal`, 'utf8');
    assert.match(journal, /got Basic <redacted>/);
    for (const text of [cap.stdout(), cap.stderr(), journal]) for (const secret of [TEST_PASSWORD, b64]) assert.ok(!text.includes(secret), `${secret} leaked`);
    assert.ok(Object.keys(await readTags(env.reg, 'app')).includes('v1'), 'the refused DELETE changed nothing');
  } finally {
    await env.stop();
  }
});

test('show renders an edited plan inert: no control character reaches the terminal, and markdown cannot break out of its blocks', async () => {
  const env = await startProxiedRegistry();
  try {
    await pushImage(env.reg, 'app', ['v1'], { seed: 'show-v1' });
    await pushImage(env.reg, 'app', ['keep'], { seed: 'show-keep' });
    const cfg = config(env.proxy.url, '', 'show.yml');
    const planFile = join(tmp.dir, 'show.plan.json');
    assert.equal(await planCommand({ config: cfg, out: planFile }, captureIO().io), 0);
    const plan = JSON.parse(readFileSync(planFile, 'utf8'));
    const evil = 'x\u001b[2J\u001b[1A\r\u001b]8;;http://evil/\u0007link\u001b]8;;\u0007 ```` \n</details>\n\n**No changes.**\n<img src="http://evil/pixel">\n<details><summary>hidden</summary>\u202e';
    const del = plan.actions.find((a: { type: string }) => a.type === 'delete');
    del.reasons.v1 = evil;
    plan.regmgr_version = `0.1.0</sub>${evil}`;
    plan.skipped.push({ policy: 'delete', registry: 'evil', repository: 'app', reason: evil });
    const { planHash } = await import('../../src/plan/canonical.js');
    plan.sha256 = planHash(plan);
    writeFile(tmp.dir, 'show.plan.json', JSON.stringify(plan));

    const text = await runCli(['show', planFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(!UNSAFE.test(text.stdout), JSON.stringify(text.stdout));
    assert.match(text.stdout, /- v1 \(sha256:\w+\) +x\\x1b\[2J\\x1b\[1A\\x0d\\x1b\]8;;http:\/\/evil\/\\x07link/);

    const md = await runCli(['show', planFile, '--markdown']);
    assert.equal(md.code, 0, md.stderr);
    assert.ok(!UNSAFE.test(md.stdout), JSON.stringify(md.stdout));
    // Walk the markdown as a renderer would: outside code blocks, details balance and no raw HTML of the plan's.
    let fence: string | undefined;
    let open = 0;
    const outside: string[] = [];
    for (const line of md.stdout.split('\n')) {
      if (fence === undefined) {
        const m = /^(`{3,})/.exec(line);
        if (m) fence = m[1];
        else outside.push(line);
      } else if (line.startsWith('`') && /^`+$/.test(line.trim()) && line.trim().length >= fence.length) fence = undefined;
      else assert.ok(!line.startsWith(fence), `a content line starts with the fence: ${line}`);
    }
    assert.equal(fence, undefined, 'every code block is closed');
    for (const line of outside) {
      open += (line.match(/<details>/g) ?? []).length - (line.match(/<\/details>/g) ?? []).length;
      assert.ok(!/<img|<\/sub>x|\*\*No changes\.\*\*/.test(line), `plan text escaped into markdown: ${line}`);
    }
    assert.equal(open, 0, '<details> balance');
    assert.match(md.stdout, /^`{5}diff$/m, 'the fence is longer than the content\'s run of four backticks');
  } finally {
    await env.stop();
  }
});

test('an answer over 64 MiB is cut off and refused, whatever the registry says its length is', async () => {
  const MiB = Buffer.alloc(1 << 20, 0x20);
  let sent = 0;
  const reg = await startHostileRegistry((req, res) => {
    if (req.url !== '/v2/huge/tags/list') return undefined;
    // No Content-Length: a chunked stream of spaces that would never end on its own.
    res.writeHead(200, { 'content-type': 'application/json' });
    const more = () => {
      while (sent < 80 && res.write(MiB)) sent++;
      if (sent >= 80) res.end();
      else res.once('drain', () => (sent++, more()));
    };
    res.on('close', () => (sent = 80));
    more();
    return true;
  });
  try {
    const c = new RegistryClient(endpoint(reg.url, { timeoutMs: 60_000 }));
    await assert.rejects(c.listTags("huge" as Repository), /GET http:\/\/127\.0\.0\.1:\d+\/v2\/huge\/tags\/list: 200: answer larger than 67108864 bytes/);
    await c.close();
  } finally {
    await reg.close();
  }
});

test('credentials go to a token realm only over TLS or on this machine: a plain-HTTP realm elsewhere is asked for an anonymous token', async () => {
  const { Secret } = await import('../../src/util/secret.js');
  const seen: Array<string | undefined> = [];
  let realm = '';
  const reg = await startHostileRegistry((req, res) => {
    if (req.url?.startsWith('/token')) {
      seen.push(req.headers.authorization);
      return json(res, 200, { token: 'anonymous-or-not' });
    }
    if (req.url === '/v2/app/tags/list') {
      if (req.headers.authorization === 'Bearer anonymous-or-not') return json(res, 200, { name: 'app', tags: [] });
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="evil",scope="repository:app:pull"`, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return true;
    }
  });
  const port = new URL(reg.url).port;
  const credentials = { username: 'u', password: new Secret('p4ssw0rd-secret'), source: 'test' };
  try {
    // The same server, named so that it is not recognisably this machine (an IPv4-mapped
    // IPv6 address: the connection still goes to 127.0.0.1): no credentials sent.
    realm = `http://[::ffff:127.0.0.1]:${port}/token`;
    const elsewhere = new RegistryClient(endpoint(reg.url), { credentials });
    await elsewhere.listTags('app' as Repository);
    await elsewhere.close();
    assert.deepEqual(seen, [undefined], 'no Authorization header to a plain-HTTP realm on another host');
    // Named as this machine: Basic credentials are sent.
    realm = `http://127.0.0.1:${port}/token`;
    const local = new RegistryClient(endpoint(reg.url), { credentials });
    await local.listTags('app' as Repository);
    await local.close();
    assert.match(seen[1] ?? '', /^Basic /);
  } finally {
    await reg.close();
  }
});

test('the client builds no URL from an invalid repository name, however many valid ones it has built before', async () => {
  const reg = await startHostileRegistry((req, res) => (req.method === 'HEAD' ? manifest(req, res, MINIMAL_MANIFEST) : undefined));
  try {
    const c = new RegistryClient(endpoint(reg.url));
    // Valid names are remembered once checked (a plan's HEADs name the same few): the check
    // must still run for every name not seen valid.
    for (const repo of ['app', 'team/app', 'app']) assert.ok(await c.headManifest(repo as Repository, 'v1'));
    const sent = reg.log.length;
    for (const repo of ['../app', 'app/..', 'App', 'app//x', 'team/../app']) {
      await assert.rejects(c.headManifest(repo as Repository, 'v1'), /refusing to build a URL for repository/, repo);
    }
    assert.equal(reg.log.length, sent, 'no request for an invalid name');
    await c.close();
  } finally {
    await reg.close();
  }
});

test("a manifest's Content-Type: parameters cut off, any valid type kept as given, anything else refused", async () => {
  let contentType = '';
  const reg = await startHostileRegistry((req, res) => (req.method === 'HEAD' ? manifest(req, res, MINIMAL_MANIFEST, contentType) : undefined));
  try {
    const c = new RegistryClient(endpoint(reg.url));
    const oci = 'application/vnd.oci.image.manifest.v1+json';
    for (const [given, read] of [
      [oci, oci],
      [`${oci}; charset=utf-8`, oci],
      [`${oci} ;x=y`, oci],
      ['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'],
      ['application/vnd.example.thing+json', 'application/vnd.example.thing+json'],
    ]) {
      contentType = given;
      assert.equal((await c.headManifest('app' as Repository, 'v1'))?.mediaType, read, given);
    }
    for (const bad of ['not a type', 'application/vnd.oci.image.manifest.v1+json/x', '"application/json"']) {
      contentType = bad;
      await assert.rejects(c.headManifest('app' as Repository, 'v1'), /the manifest's Content-Type .* is not a media type/, bad);
    }
    await c.close();
  } finally {
    await reg.close();
  }
});
