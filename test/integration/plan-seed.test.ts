import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSeedWorld, type SeedWorld } from '../helpers/seed-fixture.js';
import { captureIO } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { showCommand } from '../../src/commands/show.js';
import type { Plan, PlanCopy, PlanDelete } from '../../src/plan/model.js';

let w: SeedWorld;
const tmp = tempDir('plan-seed');
let config: string;

before(async () => {
  w = await startSeedWorld();
  config = w.writeConfig(tmp.dir);
});
after(async () => {
  await w?.stop();
  tmp.remove();
});

async function plan(out: string, extra: Record<string, unknown> = {}) {
  const cap = captureIO();
  const code = await planCommand({ config, out, ...extra }, cap.io);
  const p = JSON.parse(readFileSync(out, 'utf8')) as Plan;
  assertPlanSchema(p);
  return { code, p, stdout: cap.stdout(), stderr: cap.stderr() };
}

test('the seed config gives the plan a reader of the seed expects, tag by tag', async () => {
  const { p, code } = await plan(join(tmp.dir, 'p1.json'));
  assert.equal(code, 0);
  const m = w.d['harbor/library/mysql'];
  const deletes = p.actions.filter((a): a is PlanDelete => a.type === 'delete').map((a) => `${a.method} ${a.registry}/${a.repository}@${a.digest} ${a.tags.join(',')}${a.kept_by ? ` kept by ${a.kept_by}` : ''}`);
  assert.deepEqual(
    deletes.sort(),
    [
      `manifest harbor/library/mysql@${m['2018-backup']} 2018-backup`,
      `manifest harbor/library/mysql@${m['build-2019']} build-2019`,
      `manifest harbor/library/mysql@${m['develop-old']} develop-old`,
      // shares its digest with latest, which the exclude regex keeps: the tag goes alone.
      `untag harbor/library/mysql@${m['feature-shared']} feature-shared kept by latest`,
      // listed explicitly as library/redis:5.0.12: selected by name, bypassing the rules.
      `manifest harbor/library/redis@${w.d['harbor/library/redis']['5.0.12']} 5.0.12`,
    ].sort(),
  );
  const del = p.decisions.delete.harbor['library/mysql'];
  const verdicts = Object.fromEntries(Object.entries(del).map(([t, v]) => [t, v.verdict]));
  assert.deepEqual(verdicts, {
    // mix-count 10 keeps the 10 newest of 14 candidates by creation time.
    'develop-1': 'keep', 'develop-2': 'keep', 'develop-3': 'keep', 'develop-4': 'keep', 'develop-5': 'keep', 'develop-6': 'keep',
    'release-1.0': 'keep', 'release-2.0': 'keep', 'hotfix-1': 'keep', 'feature-login': 'keep',
    'build-2019': 'delete', '2018-backup': 'delete', 'develop-old': 'delete',
    // shares its digest with latest, which the exclude regex keeps: untagged alone.
    'feature-shared': 'delete',
    latest: 'keep', master: 'keep', 'v1.2.3': 'keep', '1.0': 'keep', '1.2.3-alpha.1': 'keep',
    // include key 2019 matches, but exclude wins.
    'v2019.1.0': 'keep',
    stable: 'keep',
  });
  assert.match(String(del['v2019.1.0'].reason), /^excluded by regex \/\^latest\$\|\^master\$\|/);
  assert.match(String(del['develop-6'].reason), /^matches include key "develop"; kept by mix-count 10 \(#3 newest of 14 candidates by image creation time\)$/);
  assert.match(String(del['build-2019'].reason), /^matches include key "2019"; #11 newest of 14 candidates by image creation time, beyond mix-count 10$/);
  assert.equal(del.stable.reason, 'matches no include rule');
  assert.match(String(del['feature-shared'].reason), /; untagged alone: digest kept by latest$/);
  assert.deepEqual(p.blocked, []);
  // Only 5.0.12 of library/redis is selected; the other tags are not touched.
  const redis = p.decisions.delete.harbor['library/redis'];
  assert.equal(redis['5.0.12'].reason, 'listed explicitly (repo:tag in repositories)');
  assert.equal(redis['develop-x'].verdict, 'skip');
  // aliyun: its candidates are within mix-count.
  assert.equal(p.decisions.delete.aliyun['prod/mysql']['develop-x'].verdict, 'keep');
  assert.equal(p.decisions.delete.aliyun['team/tools']['feature-a'].verdict, 'keep');

  // Sync: filter-matching tags only, to prod/...; 1.0 is already there with the same digest.
  const copies = p.actions.filter((a): a is PlanCopy => a.type === 'copy').map((a) => `${a.target.registry}/${a.target.repository}:${a.target.tag} <- ${a.source.repository}@${a.source.digest} had ${a.target.digest_at_plan}`);
  assert.deepEqual(copies, [
    `aliyun/prod/mysql:1.2.3-alpha.1 <- library/mysql@${m['1.2.3-alpha.1']} had null`,
    `aliyun/prod/mysql:v1.2.3 <- library/mysql@${m['v1.2.3']} had ${w.d['aliyun/prod/mysql']['v1.2.3']}`,
    `aliyun/prod/mysql:v2019.1.0 <- library/mysql@${m['v2019.1.0']} had null`,
    `aliyun/prod/redis:5.0.12 <- library/redis@${w.d['harbor/library/redis']['5.0.12']} had null`,
  ]);
  assert.equal(p.decisions.sync.harbor['library/mysql']['1.0'].verdict, 'up-to-date');
  assert.equal(p.decisions.sync.harbor['library/mysql']['develop-1'].reason, 'matches no filter');
  assert.equal(p.decisions.sync.harbor['library/redis']['6.2'].verdict, 'skip');
  assert.deepEqual(p.summary, { copy: 4, delete: 5, tags_deleted: 5, blocked: 0 });
  // Copies come before deletes in the plan, as apply runs them; a tag-only removal before manifests.
  assert.deepEqual(p.actions.map((a) => (a.type === 'delete' ? a.method : a.type)), ['copy', 'copy', 'copy', 'copy', 'untag', 'manifest', 'manifest', 'manifest', 'manifest']);
  // No credentials anywhere in the plan.
  assert.ok(!readFileSync(join(tmp.dir, 'p1.json'), 'utf8').includes('harbor12345'));
});

test('plan twice on unchanged registries: identical actions and hash; byte-identical but for created_at', async () => {
  const a = await plan(join(tmp.dir, 'a.json'));
  const b = await plan(join(tmp.dir, 'b.json'));
  assert.equal(a.p.sha256, b.p.sha256);
  assert.deepEqual(a.p.actions, b.p.actions);
  const strip = (f: string) => readFileSync(join(tmp.dir, f), 'utf8').replace(/"created_at": "[^"]+"/, '');
  assert.equal(strip('a.json'), strip('b.json'));
});

test('plan output reads like Terraform; show prints exactly the same; markdown and exit codes', async () => {
  const out = join(tmp.dir, 'shown.json');
  const { stdout, code } = await plan(out, { detailedExitcode: true });
  assert.equal(code, 2);
  assert.match(stdout, /^harbor library\/mysql\n {2}- 2018-backup \(sha256:[0-9a-f]{12}\) +matches include key "2018"; #12 newest of 14/m);
  assert.match(stdout, /^ {2}- untag feature-shared \(sha256:[0-9a-f]{12}, digest kept by latest\) +matches include key "feature"; #13 newest of 14/m);
  assert.match(stdout, /^aliyun prod\/mysql\n {2}\+ 1\.2\.3-alpha\.1 <- harbor\/library\/mysql:1\.2\.3-alpha\.1 \(sha256:/m);
  // What the deletes free and the copies send, after the summary.
  assert.match(stdout, /^Frees up to [\d.]+ (B|KiB) once garbage collection runs/m);
  assert.match(stdout, /^Copies send [\d.]+ (B|KiB) to their target repositories; [\d.]+ (B|KiB) of the copied images is there already\.$/m);
  assert.match(stdout, /^ {2}~ v1\.2\.3 <- harbor\/library\/mysql:v1\.2\.3 /m);
  assert.match(stdout, /^Plan: 4 to copy, 5 to delete, 0 blocked\.$/m);
  assert.match(stdout, /Saved the plan to: .*shown\.json\nTo perform exactly these actions, run: regmgr apply .*shown\.json/);
  const cap = captureIO();
  await showCommand({ plan: out }, cap.io);
  assert.equal(cap.stdout(), stdout.slice(0, stdout.indexOf('\nSaved the plan')));
  const md = captureIO();
  await showCommand({ plan: out, markdown: true }, md.io);
  assert.match(md.stdout(), /^\*\*Plan: 4 to copy, 5 to delete, 0 blocked\.\*\*\n/);
  assert.match(md.stdout(), /^\| <code>harbor\/library\/mysql<\/code> \| 4 to delete \| up to \d+(\.\d)? (B|KiB) \|$/m);
  // Four lines: shown open, not collapsed; a replacement keeps its '~'.
  assert.match(md.stdout(), /^<code>harbor\/library\/mysql<\/code>\n\n```diff\n- 2018-backup \(sha256:\w{12}\)  # matches include key "2018"; #12 newest/m);
  assert.match(md.stdout(), /^~ v1\.2\.3 <- harbor\/library\/mysql:v1\.2\.3 /m);
  const ex = captureIO();
  await showCommand({ plan: out, explain: true }, ex.io);
  assert.match(ex.stdout(), /= stable \(delete: keep\) +matches no include rule/);
});

test('--target limits the plan to one registry/repository', async () => {
  const { p } = await plan(join(tmp.dir, 't.json'), { target: ['harbor/library/redis'] });
  assert.deepEqual(p.actions.map((a) => a.id), [`copy aliyun/prod/redis:5.0.12`, `delete harbor/library/redis@${w.d['harbor/library/redis']['5.0.12']}`]);
  assert.deepEqual(Object.keys(p.snapshot.harbor), ['library/redis']);
});

test('sem-ver: true makes non-version tags candidates, yet exclude still protects and mix-count still applies', async () => {
  const cfg = w.writeConfig(tmp.dir, (y) => y.replace('sem-ver: false', 'sem-ver: true').replace('mix-count: 10', 'mix-count: 0').replace(/sync-policy:[\s\S]*$/, ''));
  const cap = captureIO();
  const out = join(tmp.dir, 'semver.json');
  await planCommand({ config: cfg, out }, cap.io);
  const p = JSON.parse(readFileSync(out, 'utf8')) as Plan;
  const v = p.decisions.delete.harbor['library/mysql'];
  assert.equal(v.stable.verdict, 'delete');
  assert.equal(v.stable.reason, 'not a semantic version (sem-ver: true)');
  assert.equal(v.latest.verdict, 'keep');
  assert.equal(v.master.verdict, 'keep');
  assert.equal(v['develop-1'].verdict, 'delete');
  assert.equal(v['feature-shared'].verdict, 'delete');
});

test('a failed read fails the plan: no plan file from partial data', async () => {
  await w.aliyun.stop().catch(() => {});
  const out = join(tmp.dir, 'partial.json');
  const cap = captureIO();
  await assert.rejects(planCommand({ config, out }, cap.io), /registry 'aliyun': GET http:\/\/127\.0\.0\.1:\d+\/v2\/.*ECONNREFUSED/);
  assert.equal(existsSync(out), false);
});
