import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { showCommand } from '../../src/commands/show.js';
import type { Plan } from '../../src/plan/model.js';

// A CI team's repository: pull-request, nightly and feature builds over 80 days.
let reg: TestRegistry;
const tmp = tempDir('retention');
const NOW = new Date('2026-12-01T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();

before(async () => {
  reg = await startRegistry();
  // Every 5 days a PR build (16 of them), nightlies for the last 20 days, features weekly.
  for (let d = 2; d <= 77; d += 5) await pushImage(reg, 'team/app', [`pr-${d}`], { seed: `pr-${d}`, created: daysAgo(d) });
  for (let d = 1; d <= 20; d += 2) await pushImage(reg, 'team/app', [`nightly-${d}`], { seed: `nightly-${d}`, created: daysAgo(d) });
  for (let d = 3; d <= 80; d += 7) await pushImage(reg, 'team/app', [`feature-${d}`], { seed: `feature-${d}`, created: daysAgo(d) });
  await pushImage(reg, 'team/app', ['latest'], { seed: 'latest', created: daysAgo(0.5) });
  await pushImage(reg, 'other/app', ['pr-1'], { seed: 'other-pr-1', created: daysAgo(60) });
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

const CONFIG = (extraRepos = '') => `registries:
  harbor:
    registry: ${reg.url}
    repositories: [team/app, other/app${extraRepos}]
delete-policy:
  registries: [harbor]
  mix-count: 10
  keep-within: 30d
  tags:
    include: { regex: '^(pr|nightly|feature)-' }
    exclude: { regex: '^latest$' }
  rules:
    - tags: { regex: '^pr-' }
      repositories: ['team/*']
      keep-newest: 3
    - tags: { regex: '^nightly-' }
      keep-newest: 7
    - tags: { keys: feature }
      keep-within: 15d
`;

test('pr, nightly and feature groups each keep what their rule says; other repositories fall to the pool', async () => {
  const config = writeFile(tmp.dir, 'c.yml', CONFIG());
  const out = join(tmp.dir, 'plan.json');
  const cap = captureIO();
  assert.equal(await planCommand({ config, out, now: () => NOW }, cap.io), 0, cap.stderr());
  const plan = JSON.parse(readFileSync(out, 'utf8')) as Plan;
  assertPlanSchema(plan);
  assert.equal(plan.created_at, NOW.toISOString(), 'ages are measured against the recorded plan time');
  const d = plan.decisions.delete.harbor['team/app'];
  const kept = Object.keys(d).filter((t) => d[t].verdict === 'keep').sort();
  assert.deepEqual(kept, ['feature-10', 'feature-3', 'latest', 'nightly-1', 'nightly-11', 'nightly-13', 'nightly-3', 'nightly-5', 'nightly-7', 'nightly-9', 'pr-12', 'pr-2', 'pr-7'].sort());
  assert.equal(d['pr-17'].reason, 'rule 1 (regex ^pr-): #4 newest of 16, beyond keep-newest 3');
  assert.equal(d['pr-12'].reason, 'rule 1 (regex ^pr-): kept by keep-newest 3 (#3 newest of 16)');
  assert.equal(d['nightly-15'].reason, 'rule 2 (regex ^nightly-): #8 newest of 10, beyond keep-newest 7');
  assert.equal(d['feature-17'].reason, `rule 3 (key feature): created ${daysAgo(17).slice(0, 10)}, older than 15d`);
  assert.equal(d['feature-10'].reason, `rule 3 (key feature): kept: created ${daysAgo(10).slice(0, 10)}, within 15d`);
  // other/app is not under team/*: rule 1 does not claim its pr-1, the pool keeps it (mix-count 10).
  assert.match(String(plan.decisions.delete.harbor['other/app']['pr-1'].reason), /; kept by mix-count 10 \(only 1 candidate\)$/);
  assert.deepEqual(plan.warnings, []);
  // --explain shows kept tags with the same precision.
  const ex = captureIO();
  await showCommand({ plan: out, explain: true }, ex.io);
  assert.match(ex.stdout(), /= pr-12 \(delete: keep\) +rule 1 \(regex \^pr-\): kept by keep-newest 3 \(#3 newest of 16\)/);
});

test('a missing repository, a missing repo:tag and a --target that matches nothing are warnings; --strict makes them errors', async () => {
  const config = writeFile(tmp.dir, 'w.yml', CONFIG(', team/gone, other/app:v9'));
  const out = join(tmp.dir, 'w.json');
  const r = await runCli(['plan', '-c', config, '-out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const expected = ['registries.harbor.repositories: team/gone does not exist (the repository is unknown to the registry)', 'registries.harbor.repositories: other/app:v9 does not exist (no such tag)'];
  assert.deepEqual(JSON.parse(r.stdout).warnings, expected);
  for (const w of expected) assert.ok(r.stderr.includes(`warning: ${w}\n`), r.stderr);
  const md = captureIO();
  await showCommand({ plan: out, markdown: true }, md.io);
  assert.match(md.stdout(), /\*\*Warnings\*\* \(a rule selected nothing, or a guard blocked deletes\):\n\n- registries\.harbor\.repositories: team\/gone does not exist/);
  const text = captureIO();
  await showCommand({ plan: out }, text.io);
  assert.match(text.stdout(), /Warnings \(a rule that selected nothing makes the plan smaller than you think; a guard blocked deletes\):\n {2}registries\.harbor\.repositories: team\/gone/);

  const t = await runCli(['plan', '-c', config, '--target', 'harbor/nothing/here']);
  assert.match(t.stderr, /^warning: --target harbor\/nothing\/here matches nothing the config selects$/m);
  assert.match(t.stdout, /^No changes\.$/m);

  const strictOut = join(tmp.dir, 'strict.json');
  const s = await runCli(['plan', '-c', config, '-out', strictOut, '--strict', '--detailed-exitcode']);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /error: --strict: 2 warnings; no plan written to .*strict\.json\n$/);
  assert.equal(existsSync(strictOut), false);
});

test('a rule, an include regex and a sync filter that match no tag are warnings', async () => {
  const config = writeFile(
    tmp.dir,
    'n.yml',
    CONFIG().replace("include: { regex: '^(pr|nightly|feature)-' }", "include: { regex: ['^(pr|nightly|feature)-', '^hotfix-'] }").replace('    - tags: { keys: feature }', "    - tags: { regex: '^release-' }\n      keep-newest: 1\n    - tags: { keys: feature }") +
      `sync-policy:\n  from: harbor\n  to: harbor\n  replace: [{ old: "", new: mirror }]\n  filters: ['^v\\d']\n`,
  );
  const cap = captureIO();
  assert.equal(await planCommand({ config, now: () => NOW }, cap.io), 0);
  assert.match(cap.stderr(), /^warning: delete-policy\.tags\.include: regex \/\^hotfix-\/ matches no tag in any selected repository$/m);
  assert.match(cap.stderr(), /^warning: delete-policy\.rules\[2\] \(rule 3\) matches no tag in any selected repository$/m);
  assert.match(cap.stderr(), /^warning: sync-policy\.filters: \/\^v\\d\/ matches no tag in any selected repository$/m);
});

test('retention nobody can game by pushing: unknown, future, huge or junk creation times are kept and take no place from a known one; 1970 (reproducible builds) ranks after real times; the plan stores only normalised times', async () => {
  const repo = 'hostile/app';
  const at = (d: string) => ({ created: d });
  const images: Array<[string, { created: string | null }]> = [
    ['real-1', at('2026-09-01T00:00:00Z')],
    ['real-2', at('2026-10-01T00:00:00.123456789+02:00')],
    ['real-3', at('2026-11-01T00:00:00Z')],
    ['future', at('9999-12-31T00:00:00Z')],
    ['far', at('+275760-09-13T00:00:00Z')],
    ['huge', at(`${' '.repeat(3 << 20)}2026-11-30T00:00:00Z`)],
    ['junk', at('xxxxxxxxxx 2000')],
    ['missing', { created: null }],
    ['repro-1.0.0', at('1970-01-01T00:00:00Z')],
    ['repro-1.1.0', at('1970-01-01T00:00:00Z')],
  ];
  for (const [tag, c] of images) await pushImage(reg, repo, [tag], { seed: `hostile-${tag}`, ...c });
  const dir = join(tmp.dir, 'hostile');
  const { mkdirSync, statSync } = await import('node:fs');
  mkdirSync(dir);
  const config = writeFile(dir, 'c.yml', `registries:\n  r:\n    registry: ${reg.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [r]\n  mix-count: 2\n  tags:\n    include:\n      regex: '.'\n`);
  const out = join(dir, 'plan.json');
  const cap = captureIO();
  assert.equal(await planCommand({ config, out, now: () => NOW }, cap.io), 0, cap.stderr());
  const plan = JSON.parse(readFileSync(out, 'utf8')) as Plan;
  assertPlanSchema(plan);
  const d = plan.decisions.delete.r[repo];
  const kept = Object.keys(d).filter((t) => d[t].verdict === 'keep').sort();
  assert.deepEqual(kept, ['far', 'future', 'huge', 'junk', 'missing', 'real-2', 'real-3'], 'the two newest known images keep their places');
  assert.deepEqual(plan.actions.flatMap((a) => (a.type === 'delete' ? a.tags : [])).sort(), ['real-1', 'repro-1.0.0', 'repro-1.1.0']);
  assert.match(String(d.future.reason), /kept: creation time unknown \(9999-12-31T00:00:00\.000Z is later than the plan's time\)$/);
  for (const t of ['far', 'huge', 'junk', 'missing']) assert.match(String(d[t].reason), /kept: creation time unknown \(missing, or not an RFC 3339 time of at most 64 characters\)$/, t);
  assert.match(String(d['real-3'].reason), /kept by mix-count 2 \(#1 newest of 5 candidates by image creation time\)$/);
  assert.match(String(d['repro-1.1.0'].reason), /#4 newest of 5 candidates by /);
  const times = Object.fromEntries(Object.entries(plan.snapshot.r[repo].tags).map(([t, v]) => [t, v.created]));
  assert.equal(times['real-2'], '2026-09-30T22:00:00.123Z', 'normalised');
  for (const t of ['far', 'huge', 'junk', 'missing']) assert.equal(times[t], null, t);
  assert.ok(statSync(out).size < 100_000, `the plan is small (${statSync(out).size} bytes)`);
});
