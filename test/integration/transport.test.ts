import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRegistry, TEST_PASSWORD, TEST_USER, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { parseConfig } from '../../src/config/load.js';

// The transport mistakes a new user makes, against real registries: each says what is
// wrong and the one fix.
let plain: TestRegistry, tls: TestRegistry;
const tmp = tempDir('transport');

before(async () => {
  [plain, tls] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth: 'htpasswd' })]);
  await pushImage(plain, 'app', ['v1'], { seed: 'transport-v1' });
});
after(async () => {
  await Promise.all([plain?.stop(), tls?.stop()]);
  tmp.remove();
});

const listWith = async (name: string, reg: string, extra = '') => {
  const config = writeFile(tmp.dir, `${name}.yml`, `registries:\n  r:\n    registry: ${reg}\n    repositories: [app]\n${extra}`);
  return runCli(['list', '-c', config], { PW: TEST_PASSWORD });
};
const creds = `    username: ${TEST_USER}\n    password: \${PW}\n`;

test('https against a plain-HTTP registry, and http against a TLS one: the scheme to write', async () => {
  const a = await listWith('https-plain', plain.url.replace('http:', 'https:'));
  assert.equal(a.code, 1);
  assert.match(a.stderr, /registry 'r': GET https:\/\/127\.0\.0\.1:\d+\/v2\/app\/tags\/list: the registry does not speak TLS on this port \(it answered plain HTTP\): write http:\/\/ in registries\.r\.registry\n$/);
  const b = await listWith('http-tls', tls.url.replace('https:', 'http:'), creds);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /: 400: the registry speaks TLS on this port: write https:\/\/ in registries\.r\.registry\n$/);
});

test('a self-signed certificate: the message names ca-file; with ca-file regmgr and skopeo verify it (no insecure needed)', async () => {
  const a = await listWith('untrusted', tls.url, creds);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /the registry's TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\): give the CA that signed it in registries\.r\.ca-file, or, to skip verification, set registries\.r\.insecure: true\n$/);
  await pushImage(tls, 'app', ['v0'], { seed: 'tls-v0' });
  const b = await listWith('trusted', tls.url, `${creds}    ca-file: ${tls.certFile}\n`);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /^r +app +v0 /m);
  // skopeo gets the CA as a cert dir: a copy into the TLS registry with verification on.
  const config = writeFile(tmp.dir, 'sync.yml', `registries:\n  src:\n    registry: ${plain.url}\n    repositories: [app]\n  dst:\n    registry: ${tls.url}\n${creds}    ca-file: ${tls.certFile}\nsync-policy:\n  from: src\n  to: dst\n  replace: [{ old: "", new: mirror }]\n`);
  const planFile = join(tmp.dir, 'sync.json');
  assert.equal((await runCli(['plan', '-c', config, '-out', planFile], { PW: TEST_PASSWORD })).code, 0);
  const r = await runCli(['apply', planFile], { PW: TEST_PASSWORD });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal((await readTags(tls, 'mirror/app')).v1, (await readTags(plain, 'app')).v1);
});

test('a wrong password says so, without advice about listing repositories', async () => {
  const config = writeFile(tmp.dir, 'wrong.yml', `registries:\n  r:\n    registry: ${tls.url}\n    insecure: true\n${creds}delete-policy:\n  registries: [r]\n  tags:\n    include:\n      keys: dev\n`);
  const r = await runCli(['plan', '-c', config], { PW: 'wrong-password' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /401 UNAUTHORIZED: .*authentication failed with the credentials from config/);
  assert.doesNotMatch(r.stderr, /name them in registries/);
});

test('ca-file that is missing or holds no certificate: a config error with its line, before any request', () => {
  const err = (yaml: string) => {
    try {
      parseConfig(join(tmp.dir, 'c.yml'), yaml, {});
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  assert.match(err('registries:\n  r:\n    registry: https://h.example\n    ca-file: nope.pem\n'), /c\.yml:4: registries\.r\.ca-file: cannot read '.*nope\.pem': no such file/);
  writeFile(tmp.dir, 'junk.pem', 'not a certificate\n');
  assert.match(err('registries:\n  r:\n    registry: https://h.example\n    ca-file: junk.pem\n'), /registries\.r\.ca-file: '.*junk\.pem' holds no PEM certificate/);
  assert.match(err(`registries:\n  r:\n    registry: http://h.example\n    ca-file: ${tls.certFile}\n`), /a CA file is for TLS; this registry is plain http:\/\//);
});

