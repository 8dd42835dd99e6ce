import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startSeedWorld, type SeedWorld } from '../helpers/seed-fixture.js';
import { readTags } from '../helpers/images.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { privateDir } from '../../src/util/private-dir.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';

let w: SeedWorld;
const tmp = tempDir('apply-seed');

before(async () => {
  w = await startSeedWorld();
});
after(async () => {
  await w?.stop();
  tmp.remove();
});

test('seed config end to end: plan, apply; both registries hold exactly the expected tags; copies keep digests (multi-arch too); no password anywhere', async () => {
  // The password comes from the environment, to prove ${VAR} never leaks either.
  const config = w.writeConfig(tmp.dir, (y) => y.replaceAll('password: harbor12345', 'password: ${SEED_PW}'));
  const env = { SEED_PW: 'harbor12345' };
  const planFile = join(tmp.dir, 'plan.json');
  const p = await runCli(['plan', '-c', config, '-out', planFile], env);
  assert.equal(p.code, 0, p.stderr);
  assertPlanSchema(JSON.parse(readFileSync(planFile, 'utf8')));

  // Watch the process list during the apply: skopeo must never show a password.
  const seen: string[] = [];
  let applyPid = 0;
  const a = await runCli(['apply', planFile], env, (child) => {
    applyPid = child.pid!;
    const poll = setInterval(() => {
      try {
        seen.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }));
      } catch {
        /* ps raced with an exiting process */
      }
    }, 15);
    setTimeout(() => clearInterval(poll), 20_000).unref();
  });
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.ok(seen.some((s) => s.includes('skopeo copy')), 'ps was sampled while skopeo ran');
  for (const s of seen) assert.ok(!s.includes('harbor12345'), 'password visible in ps');
  assert.ok(!seen.some((s) => /--(src|dest)?-?creds/.test(s)));
  assert.match(a.stdout, /Apply complete: 4 copied, 5 deleted, 0 drifted, 0 blocked, 0 failed\./);
  // The seed's warning case: feature-shared shares its digest with latest. Only the tag goes.
  assert.match(a.stdout, /^deleted +harbor\/library\/mysql:feature-shared untagged \(via sha256:\w{12}\); sha256:\w{12} kept by latest$/m);
  for (const f of [planFile, `${planFile}.${JSON.parse(readFileSync(planFile, 'utf8')).sha256.slice(0, 12)}.journal`]) {
    assert.ok(!readFileSync(f, 'utf8').includes('harbor12345'), `${f} holds the password`);
  }
  assert.ok(!(p.stdout + p.stderr + a.stdout + a.stderr).includes('harbor12345'));
  assert.deepEqual(readdirSync(privateDir()).filter((f) => f.startsWith(`regmgr-auth-${applyPid}-`)), [], 'temporary auth files removed');

  const m = w.d['harbor/library/mysql'];
  const mysql = await readTags(w.harbor, 'library/mysql');
  const expectedKept = Object.keys(m).filter((t) => !['build-2019', '2018-backup', 'develop-old', 'feature-shared'].includes(t)).sort();
  assert.deepEqual(Object.keys(mysql).sort(), expectedKept);
  for (const t of expectedKept) assert.equal(mysql[t], m[t], `${t} unchanged`);
  assert.equal(mysql.latest, m['feature-shared'], 'latest still resolves to the digest it shared');
  assert.deepEqual(await readTags(w.harbor, 'library/redis'), { '6.2': w.d['harbor/library/redis']['6.2'], 'develop-x': w.d['harbor/library/redis']['develop-x'], latest: w.d['harbor/library/redis'].latest });
  assert.deepEqual(await readTags(w.aliyun, 'prod/mysql'), {
    '1.0': m['1.0'],
    '1.2.3-alpha.1': m['1.2.3-alpha.1'],
    'develop-x': w.d['aliyun/prod/mysql']['develop-x'],
    'v1.2.3': m['v1.2.3'], // a multi-arch index, copied with its digest
    'v2019.1.0': m['v2019.1.0'],
  });
  assert.deepEqual(await readTags(w.aliyun, 'prod/redis'), { '5.0.12': w.d['harbor/library/redis']['5.0.12'] });
  assert.deepEqual(Object.keys(await readTags(w.aliyun, 'team/tools')).sort(), ['feature-a', 'feature-b']);

  // Second apply of the finished plan: nothing to do, no request at all.
  const again = await runCli(['apply', planFile, '--debug'], env);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /^Nothing to do: all 9 actions of this plan were already applied/);
  assert.doesNotMatch(again.stderr, /debug: /);
});
