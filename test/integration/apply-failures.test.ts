import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { planHash } from '../../src/plan/canonical.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { CLI, runCli } from '../helpers/cli.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';

let reg: TestRegistry;
const tmp = tempDir('apply-failures');

before(async () => {
  reg = await startRegistry({ deleteEnabled: false });
  await pushImage(reg, 'app', ['dev-1'], { seed: 'f-dev-1' });
  await pushImage(reg, 'app', ['v1'], { seed: 'f-v1' });
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

test('a registry that refuses deletes: the failure names the action, the answer, and what to do; a re-run retries it', async () => {
  const config = writeFile(tmp.dir, 'c.yml', `registries:\n  r:\n    registry: ${reg.url}\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(tmp.dir, 'p.json');
  const made = captureIO();
  assert.equal(await planCommand({ config, out: planFile }, made.io), 0);
  // The plan's probe saw deletes off: the delete is blocked in the plan, with what to change.
  assert.match(made.stdout(), /! dev-1 \(sha256:\w+\) .*blocked: registries\.r cannot delete: the registry has deletes turned off \(405 UNSUPPORTED\); on the distribution registry, set storage\.delete\.enabled: true/);
  // A plan made while deletes were still on (its delete written back as an action, hash
  // recomputed), applied once they are off: the failure names the action and the answer.
  const p = JSON.parse(readFileSync(planFile, 'utf8'));
  const b = p.blocked[0];
  p.actions = [{ id: `delete r/app@${b.digest}`, type: 'delete', registry: 'r', repository: 'app', digest: b.digest, media_type: p.snapshot.r.app.tags['dev-1'].media_type, tags: b.tags, method: 'manifest', reasons: { 'dev-1': 'matches include key "dev"' } }];
  p.blocked = [];
  p.summary = { ...p.summary, delete: 1, tags_deleted: 1, blocked: 0 };
  delete p.sha256;
  p.sha256 = planHash(p);
  writeFileSync(planFile, JSON.stringify(p));
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, cap.io), 1);
  assert.match(cap.stdout(), /^failed +delete r\/app@sha256:[0-9a-f]{64}: registry 'r': DELETE http:\/\/127\.0\.0\.1:\d+\/v2\/app\/manifests\/sha256:[0-9a-f]{64}: 405 UNSUPPORTED: .*the registry does not support this operation \(is deletion enabled\?\)$/m);
  assert.match(cap.stdout(), /Apply complete: 0 copied, 0 deleted, 0 drifted, 0 blocked, 1 failed\.\nFailed actions are listed above with the registry's answer\. Fix the cause and run `regmgr apply .*p\.json` again: finished actions are skipped\./);
  assert.deepEqual(Object.keys(await readTags(reg, 'app')).sort(), ['dev-1', 'v1']);
  // The failure is in the journal, and a second apply tries the action again.
  const plan = JSON.parse(readFileSync(planFile, 'utf8'));
  assert.match(readFileSync(`${planFile}.${plan.sha256.slice(0, 12)}.journal`, 'utf8'), /"event":"failed"/);
  const again = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, again.io), 1);
  assert.match(again.stdout(), /^failed +delete r\/app@/m);
});

test('skopeo missing: apply refuses before its first action, says how to install it, and changes nothing', async () => {
  const config = writeFile(tmp.dir, 's.yml', `registries:\n  r:\n    registry: ${reg.url}\n    repositories: [app]\n  m:\n    registry: ${reg.url}\nsync-policy:\n  from: r\n  to: m\n  replace: [{ old: "", new: mirror }]\n`);
  const planFile = join(tmp.dir, 's.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  const r = await runCli(['apply', planFile], { REGMGR_SKOPEO: join(tmp.dir, 'no-such-skopeo') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: skopeo is not installed \(or not on PATH as '.*no-such-skopeo'\); this plan copies images, which regmgr does with skopeo: install it \(Debian\/Ubuntu: apt-get install -y skopeo\) and run apply again; nothing was changed\n$/);
  assert.equal(existsSync(join(tmp.dir, 's.state.json')), false, 'the state was not touched');
  assert.deepEqual(await readTags(reg, 'mirror/app'), {});
});

test('output piped into head: regmgr stops quietly when the reader goes away (no EPIPE stack trace)', async () => {
  const config = writeFile(tmp.dir, 'big.yml', `registries:\n  r:\n    registry: ${reg.url}\n    repositories: [app]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(tmp.dir, 'big.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  // Far larger than a pipe's buffer, so that the writer meets the closed pipe.
  const plan = JSON.parse(readFileSync(planFile, 'utf8'));
  const digest = plan.snapshot.r.app.tags['dev-1'].digest;
  for (let i = 0; i < 20_000; i++) plan.snapshot.r.app.tags[`t${i}`] = { digest, media_type: 'application/vnd.oci.image.manifest.v1+json' };
  plan.sha256 = planHash(plan);
  writeFileSync(planFile, JSON.stringify(plan));
  const child = spawn('node', [CLI, 'show', planFile, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.once('data', () => child.stdout!.destroy()); // what head -c does after its bytes
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(err, '');
  assert.equal(code, 0);
});

test('--parallelism that is not a number says so (not NaN)', async () => {
  const r = await runCli(['apply', join(tmp.dir, 'p.json'), '--parallelism', 'abc']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: --parallelism must be a whole number from 1 to 64 (got something that is not a number)\n');
});

test('-digest-max-age that is not a duration says so, before the plan file is even read', async () => {
  const r = await runCli(['apply', join(tmp.dir, 'no-such-plan.json'), '-digest-max-age=soon']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "error: -digest-max-age: 'soon' is not a duration (e.g. 0s, 30s, 5m, 1h, or never)\n");
});
