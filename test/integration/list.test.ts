import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, TEST_PASSWORD, TEST_USER, type TestRegistry } from '../helpers/registry.js';
import { pushImage } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { listCommand } from '../../src/commands/list.js';

const cli = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));
let plain: TestRegistry, tlsBasic: TestRegistry, token: TestRegistry;
const tmp = tempDir('list');
const digests: Record<string, string> = {};

before(async () => {
  [plain, tlsBasic, token] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth: 'htpasswd' }), startRegistry({ auth: 'token' })]);
  for (const reg of [plain, tlsBasic, token]) {
    digests[`${reg.port}/v1`] = await pushImage(reg, 'library/app', ['v1.0.0', 'latest'], { seed: `${reg.port}-v1` });
    digests[`${reg.port}/v2`] = await pushImage(reg, 'library/app', ['v2.0.0'], { seed: `${reg.port}-v2`, platforms: ['amd64', 'arm64'] });
    digests[`${reg.port}/db`] = await pushImage(reg, 'team/db', ['5.0.12', '6.0'], { seed: `${reg.port}-db`, format: 'docker' });
  }
});

after(async () => {
  await Promise.all([plain?.stop(), tlsBasic?.stop(), token?.stop()]);
  tmp.remove();
});

function config(reg: TestRegistry, extra = '', auth = true): string {
  const creds = auth && reg !== plain ? `    username: ${TEST_USER}\n    password: \${REGMGR_TEST_PW}\n` : '';
  return writeFile(tmp.dir, `c-${reg.port}-${Math.random()}.yml`, `registries:\n  r:\n    registry: ${reg.url}\n${reg.tls ? '    insecure: true\n' : ''}${creds}${extra}`);
}

const env = { REGMGR_TEST_PW: TEST_PASSWORD };

for (const [label, pick] of [
  ['plain HTTP', () => plain],
  ['TLS + Basic auth', () => tlsBasic],
  ['token (Bearer) auth', () => token],
] as const) {
  test(`list via the catalog: ${label}`, async () => {
    const reg = pick();
    const cap = captureIO(env);
    const code = await listCommand({ config: config(reg) }, cap.io);
    assert.equal(code, 0, cap.stderr());
    const lines = cap.stdout().split('\n');
    assert.match(lines[0], /^REGISTRY\s+REPOSITORY\s+TAG\s+DIGEST\s+TYPE$/);
    const rows = lines.slice(1).filter((l) => l.startsWith('r ')).map((l) => l.split(/\s+/).slice(1, 5).join(' '));
    const short = (d: string) => d.slice(0, 19);
    assert.deepEqual(rows, [
      `library/app latest ${short(digests[`${reg.port}/v1`])} oci-image`,
      `library/app v1.0.0 ${short(digests[`${reg.port}/v1`])} oci-image`,
      `library/app v2.0.0 ${short(digests[`${reg.port}/v2`])} oci-index`,
      `team/db 5.0.12 ${short(digests[`${reg.port}/db`])} docker-image`,
      `team/db 6.0 ${short(digests[`${reg.port}/db`])} docker-image`,
    ]);
    assert.match(cap.stdout(), /1 registry, 2 repositories, 5 tags\./);
    // Debug output is on in captureIO: the password must not be in anything printed.
    assert.ok(cap.stderr().includes('debug: r: GET'), 'debug lines were captured');
    assert.ok(!cap.stdout().includes(TEST_PASSWORD) && !cap.stderr().includes(TEST_PASSWORD));
  });
}

test('token auth: listing asks for pull scope per repository and catalog scope', async () => {
  token.token!.requests.length = 0;
  const cap = captureIO(env);
  assert.equal(await listCommand({ config: config(token) }, cap.io), 0, cap.stderr());
  const scopes = token.token!.requests.flatMap((r) => r.scopes);
  assert.ok(scopes.includes('registry:catalog:*'), scopes.join(' '));
  assert.ok(scopes.includes('repository:library/app:pull'), scopes.join(' '));
  assert.ok(scopes.includes('repository:team/db:pull'), scopes.join(' '));
  assert.ok(!scopes.some((s) => /push|delete/.test(s)), `listing must not ask for more than pull: ${scopes.join(' ')}`);
  // Tokens are cached per scope: one token request per scope, not per tag.
  assert.equal(token.token!.requests.length, new Set(scopes).size);
  assert.ok(token.token!.requests.every((r) => r.user === TEST_USER));
});

test('repositories entries: repo:tag selects that tag only; JSON output is sorted with full digests', async () => {
  const cap = captureIO(env);
  const file = config(tlsBasic, '    repositories:\n      - team/db:5.0.12\n      - library/app\n      - library/none\n');
  assert.equal(await listCommand({ config: file, json: true }, cap.io), 0, cap.stderr());
  const j = JSON.parse(cap.stdout());
  assert.equal(j.registries[0].source, 'config');
  assert.deepEqual(
    j.registries[0].repositories.map((r: any) => [r.name, r.missing ?? false, r.tags.map((t: any) => `${t.tag}@${t.digest}`)]),
    [
      ['library/app', false, [`latest@${digests[`${tlsBasic.port}/v1`]}`, `v1.0.0@${digests[`${tlsBasic.port}/v1`]}`, `v2.0.0@${digests[`${tlsBasic.port}/v2`]}`]],
      ['library/none', true, []],
      ['team/db', false, [`5.0.12@${digests[`${tlsBasic.port}/db`]}`]],
    ],
  );
});

test('credentials from an auth file when the config has no password', async () => {
  const authFile = writeFile(tmp.dir, 'auth.json', JSON.stringify({ auths: { [tlsBasic.host]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64') } } }));
  const cap = captureIO({ REGISTRY_AUTH_FILE: authFile });
  assert.equal(await listCommand({ config: config(tlsBasic, '', false) }, cap.io), 0, cap.stderr());
  assert.match(cap.stdout(), /team\/db\s+6\.0/);
});

test('wrong password: an auth error naming the registry, never an empty list', async () => {
  const cap = captureIO({ REGMGR_TEST_PW: 'wrong-password' });
  await assert.rejects(listCommand({ config: config(tlsBasic) }, cap.io), (e: Error) => {
    assert.match(e.message, /^registry 'r': GET https:\/\/127\.0\.0\.1:\d+\/v2\/_catalog\?n=1000: 401 UNAUTHORIZED: .*authentication failed with the credentials from config/);
    assert.ok(!e.message.includes('wrong-password'));
    return true;
  });
  assert.equal(cap.stdout(), '');
});

test('no credentials against a token registry: an auth error', async () => {
  const cap = captureIO({});
  await assert.rejects(listCommand({ config: config(token, '    repositories: [library/app]\n', false) }, cap.io), /registry 'r': GET .*token.*: 401: token server refused the credentials \(no credentials configured\)/);
});

test('the regmgr binary: list --json, and --help for the command', async () => {
  const run = promisify(execFile);
  const { stdout } = await run('node', [cli, 'list', '-c', config(plain), '--json'], { env: { ...process.env, ...env } });
  assert.equal(JSON.parse(stdout).registries[0].repositories.length, 2);
  const help = await run('node', [cli, 'list', '--help']);
  assert.match(help.stdout, /--config/);
  const bad = await run('node', [cli, 'list', '-c', '/nonexistent.yml']).catch((e) => e);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\/nonexistent\.yml: cannot read config: no such file/);
});

test('credentials from a credential helper named in the auth file (credHelpers)', async () => {
  const bin = join(tmp.dir, 'bin');
  mkdirSync(bin, { recursive: true });
  // A real helper program: reads the host on stdin, answers JSON on stdout.
  writeFileSync(
    join(bin, 'docker-credential-regmgrtest'),
    `#!/bin/sh\nread host\nif [ "$host" = "${tlsBasic.host}" ]; then printf '{"ServerURL":"%s","Username":"${TEST_USER}","Secret":"${TEST_PASSWORD}"}' "$host"; else echo "credentials not found in native keychain"; exit 1; fi\n`,
    { mode: 0o755 },
  );
  const authFile = writeFile(tmp.dir, 'helper-auth.json', JSON.stringify({ credHelpers: { [tlsBasic.host]: 'regmgrtest' } }));
  const cap = captureIO({ REGISTRY_AUTH_FILE: authFile, PATH: `${bin}:${process.env.PATH}` });
  assert.equal(await listCommand({ config: config(tlsBasic, '    repositories: [team/db]\n', false) }, cap.io), 0, cap.stderr());
  assert.match(cap.stdout(), /team\/db\s+5\.0\.12/);
  assert.ok(!cap.stdout().includes(TEST_PASSWORD) && !cap.stderr().includes(TEST_PASSWORD));
});
