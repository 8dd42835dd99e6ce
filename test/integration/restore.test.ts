import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { proxiedSuite } from '../helpers/suite.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv } from '../helpers/processes.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { restoreCommand } from '../../src/commands/restore.js';
import type { Plan } from '../../src/plan/model.js';

const suite = proxiedSuite('restore');
const tmp = suite.tmp;
let n = 0;

/**
 * A repository with single images, a multi-arch index, two tags sharing one deleted
 * digest, and kept tags; the delete policy removes every `dev` tag.
 */
async function world(devs = 6) {
  const repo = `rest/app-${++n}`;
  for (let i = 0; i < devs; i++) await pushImage(suite.env.reg, repo, [`dev-${i}`], { seed: `${repo}-dev-${i}` });
  await pushImage(suite.env.reg, repo, ['dev-multi'], { seed: `${repo}-multi`, platforms: ['amd64', 'arm64'] });
  await pushImage(suite.env.reg, repo, ['dev-a', 'dev-b'], { seed: `${repo}-pair` });
  await pushImage(suite.env.reg, repo, ['v1.0', 'latest'], { seed: `${repo}-v1` });
  const before = await readTags(suite.env.reg, repo);
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'config.yml', `registries:\n  reg:\n    registry: ${suite.env.proxy.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(dir, 'plan.json');
  const cap = captureIO();
  assert.equal(await planCommand({ config, out: planFile }, cap.io), 0, cap.stderr());
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  return { repo, before, config, planFile, plan };
}

const puts = () => suite.env.proxy.count((l) => /^PUT \/v2\/[^ ]+\/manifests\//.test(l));

test('restore after a full apply puts every deleted tag back on its digest (index and shared digest included); a second restore changes nothing', async () => {
  const w = await world();
  assert.equal(w.plan.summary.delete, 8);
  const a = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, a.io), 0, a.stdout());
  assert.match(a.stdout(), new RegExp(`To put the deleted tags back \\(until the registry's garbage collection runs\\): regmgr restore ${w.planFile.replace(/[.]/g, '\\.')}`));
  assert.deepEqual(Object.keys(await readTags(suite.env.reg, w.repo)), ['latest', 'v1.0']);

  suite.env.proxy.log.length = 0;
  const r = captureIO();
  assert.equal(await restoreCommand({ plan: w.planFile, autoApprove: true }, r.io), 0, r.stdout());
  assert.match(r.stdout(), /^restored +reg\/rest\/app-\d+:dev-multi points at sha256:\w+ again$/m);
  assert.match(r.stdout(), /Restore complete: 11 restored, 0 already there, 0 left alone, 0 gone, 0 failed\./);
  assert.deepEqual(await readTags(suite.env.reg, w.repo), w.before);
  assert.equal(puts(), 11, "9 tags, and the 2 platform manifests that went with the index, by digest");

  suite.env.proxy.log.length = 0;
  const again = captureIO();
  assert.equal(await restoreCommand({ plan: w.planFile, autoApprove: true }, again.io), 0);
  assert.match(again.stdout(), /Restore complete: 0 restored, 11 already there, 0 left alone, 0 gone, 0 failed\./);
  assert.equal(puts(), 0, 'a second restore sends no PUT');
  assert.deepEqual(await readTags(suite.env.reg, w.repo), w.before);
});

test('restore leaves alone a tag that was re-pushed with another digest since the apply', async () => {
  const w = await world(2);
  assert.equal(await applyCommand({ plan: w.planFile }, captureIO().io), 0);
  await tagDigest(suite.env.reg, w.repo, 'dev-0', w.before['v1.0']);
  const r = captureIO();
  assert.equal(await restoreCommand({ plan: w.planFile, autoApprove: true }, r.io), 3);
  assert.match(r.stdout(), /^left-alone +reg\/rest\/app-\d+:dev-0 exists now with another digest \(sha256:\w+\): changed after the apply; left alone$/m);
  const now = await readTags(suite.env.reg, w.repo);
  assert.equal(now['dev-0'], w.before['v1.0']);
  assert.equal(now['dev-1'], w.before['dev-1']);
});

test('restore after kill -9 in the middle of an apply brings the registry back to its tags before the apply', async () => {
  const w = await world(30);
  const journal = `${w.planFile}.${w.plan.sha256.slice(0, 12)}.journal`;
  // Slow DELETEs a little so that the kill lands mid-apply, and hold the kill until then.
  suite.env.proxy.inject((r) => r.method === 'DELETE' && /manifests/.test(r.url ?? ''), { delayMs: 30 }, Infinity);
  const lines = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter((l) => l.includes('"done"')).length : 0);
  const killed = await runCli(['apply', w.planFile], {}, (child) => {
    const poll = setInterval(() => {
      if (lines() >= 10) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 2);
    child.on('exit', () => clearInterval(poll));
  });
  suite.env.proxy.clear();
  assert.equal(killed.signal, 'SIGKILL', killed.stdout);
  const mid = await readTags(suite.env.reg, w.repo);
  assert.ok(Object.keys(mid).length < Object.keys(w.before).length && Object.keys(mid).some((t) => t.startsWith('dev')), 'killed mid-apply');
  const r = await runCli(['restore', w.planFile, '-auto-approve']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /notice: taking over lock/);
  assert.deepEqual(await readTags(suite.env.reg, w.repo), w.before);
});

test("after the registry's garbage collection, restore refuses each image whose blobs are gone, whole: a deleted index and its platform manifests too", async () => {
  const w = await world(2);
  assert.equal(await applyCommand({ plan: w.planFile }, captureIO().io), 0);
  execFileSync('/usr/bin/docker-registry', ['garbage-collect', suite.env.reg.configFile], { env: cleanEnv(), stdio: 'pipe' });
  const r = captureIO();
  assert.equal(await restoreCommand({ plan: w.planFile, autoApprove: true }, r.io), 3, r.stdout());
  const out = r.stdout();
  for (const t of ['dev-0', 'dev-1', 'dev-a', 'dev-b']) {
    assert.match(out, new RegExp(`^gone +reg/rest/app-\\d+:${t} cannot come back: garbage collection already removed what the image needs \\(config blob sha256:\\w+\\)$`, 'm'));
  }
  // The index's platform manifests went with it (so that garbage collection frees them):
  // neither they nor the index can come back now.
  assert.equal(out.match(/^gone +reg\/rest\/app-\d+@sha256:\w+ \(platform manifest\) cannot come back/gm)?.length, 2);
  assert.match(out, /^gone +reg\/rest\/app-\d+:dev-multi cannot come back: garbage collection already removed what the image needs \(platform manifest sha256:\w+, platform manifest sha256:\w+\)$/m);
  assert.match(out, /Restore complete: 0 restored, 0 already there, 0 left alone, 7 gone, 0 failed\.\nGone images cannot come back/);
  const now = await readTags(suite.env.reg, w.repo);
  assert.deepEqual(Object.keys(now), ['latest', 'v1.0'], 'nothing half-restored');
});

test('restore puts back a tag that was untagged (its digest stayed for a kept tag) on that digest', async () => {
  const repo = `rest/untag-${++n}`;
  const shared = await pushImage(suite.env.reg, repo, ['dev-shared', 'keep-x'], { seed: `${repo}-shared` });
  const dir = join(tmp.dir, `u${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'config.yml', `registries:\n  reg:\n    registry: ${suite.env.proxy.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(dir, 'plan.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  assert.equal(await applyCommand({ plan: planFile }, captureIO().io), 0);
  assert.deepEqual(await readTags(suite.env.reg, repo), { 'keep-x': shared });
  const r = captureIO();
  assert.equal(await restoreCommand({ plan: planFile, autoApprove: true }, r.io), 0, r.stdout());
  assert.deepEqual(await readTags(suite.env.reg, repo), { 'dev-shared': shared, 'keep-x': shared });
});

test('apply -c (plan, confirm, apply in one): the plan it applied is kept beside the state, and the restore command it prints puts the tags back', async () => {
  const w = await world(2);
  const a = captureIO();
  assert.equal(await applyCommand({ config: w.config, autoApprove: true }, a.io), 0, a.stdout() + a.stderr());
  const m = /To put the deleted tags back \(until the registry's garbage collection runs\): regmgr restore (\S+)/.exec(a.stdout());
  assert.ok(m, a.stdout());
  const kept = m![1];
  assert.ok(kept.startsWith(join(w.config, '..', 'config.state.json.applies') + '/'), kept);
  const plan = JSON.parse(readFileSync(kept, 'utf8')) as Plan;
  assert.equal(plan.summary.delete, 4);
  assert.deepEqual(Object.keys(await readTags(suite.env.reg, w.repo)), ['latest', 'v1.0']);
  const r = captureIO();
  assert.equal(await restoreCommand({ plan: kept, autoApprove: true }, r.io), 0, r.stdout() + r.stderr());
  assert.deepEqual(await readTags(suite.env.reg, w.repo), w.before);
});
