import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { startPostgres } from '../helpers/postgres.js';

// The CI examples' regmgr command lines, run as a team runs them over weeks: pull
// request after pull request, each planned on the author's laptop (no state), checked by
// CI with the state the last apply left in the CI cache, merged, and applied by CI with
// that state. The examples cannot rot, or break on the second merge, without this
// test failing. Git is played by folders: the repository's files are copied into a
// fresh folder per job, as a checkout would give them; the cache is one more folder.
const root = fileURLToPath(new URL('../../../', import.meta.url));
let reg: TestRegistry;
const tmp = tempDir('ci-examples');

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

interface Jobs {
  check: string[];
  apply: string[];
}

/** Every `regmgr ...` line of the given scripts, in order. */
function regmgrLines(scripts: Array<string | string[] | undefined>): string[] {
  return scripts
    .flatMap((s) => (Array.isArray(s) ? s : (s ?? '').split('\n')))
    .map((l) => l.trim())
    .filter((l) => l.startsWith('regmgr '));
}

function githubJobs(): Jobs {
  const wf = parse(readFileSync(`${root}examples/github-actions.yml`, 'utf8'));
  const steps = (job: string) => (wf.jobs[job].steps as Array<{ run?: string }>).map((s) => s.run);
  return { check: regmgrLines(steps('check')), apply: regmgrLines(steps('apply')) };
}

function gitlabJobs(): Jobs {
  const ci = parse(readFileSync(`${root}examples/gitlab-ci.yml`, 'utf8'));
  return { check: regmgrLines(ci['plan-check'].script), apply: regmgrLines(ci.apply.script) };
}

/** Runs a job's regmgr lines in `dir` until one fails; `> file` redirections are honoured. */
async function runJob(lines: string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ ok: boolean; failed?: string; result: CliResult; all: string }> {
  let all = '';
  let result: CliResult = { code: 0, signal: null, stdout: '', stderr: '' };
  for (const line of lines) {
    const [cmd, redirect] = line.split(/\s+>\s+/);
    result = await runCli(cmd.split(/\s+/).slice(1), env, undefined, dir);
    all += `$ ${line}\n${result.stdout}${result.stderr}`;
    if (redirect) writeFileSync(join(dir, redirect), result.stdout);
    if (result.code !== 0) return { ok: false, failed: line, result, all };
  }
  return { ok: true, result, all };
}

/**
 * A team's repository (registry.yml + plan.json) and its CI cache (registry.state.json),
 * with the three places regmgr runs: the author's laptop, the check job, the apply job.
 */
function team(name: string, jobs: Jobs) {
  const base = join(tmp.dir, name);
  const cache = join(base, 'cache');
  mkdirSync(cache, { recursive: true });
  let runs = 0;
  const folder = (what: string, files: Record<string, string>) => {
    const dir = join(base, `${++runs}-${what}`);
    mkdirSync(dir);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return dir;
  };
  const restore = (dir: string) => existsSync(join(cache, 'registry.state.json')) && copyFileSync(join(cache, 'registry.state.json'), join(dir, 'registry.state.json'));
  return {
    /** The author plans on a laptop with no state, and commits registry.yml + plan.json. */
    async author(config: string): Promise<Record<string, string>> {
      const dir = folder('laptop', { 'registry.yml': config });
      const r = await runCli(['plan', '-c', 'registry.yml', '-out', 'plan.json'], {}, undefined, dir);
      assert.equal(r.code, 0, `${name}: the author's plan\n${r.stdout}${r.stderr}`);
      assert.equal(existsSync(join(dir, 'registry.state.json')), false, 'the laptop has no state');
      return { 'registry.yml': config, 'plan.json': readFileSync(join(dir, 'plan.json'), 'utf8') };
    },
    /** The pull request's check job: the cache's state, restored read only. */
    async check(commit: Record<string, string>) {
      const dir = folder('check', commit);
      restore(dir);
      const job = await runJob(jobs.check, dir);
      return { ...job, markdown: existsSync(join(dir, 'plan.md')) ? readFileSync(join(dir, 'plan.md'), 'utf8') : '' };
    },
    /** The merge's apply job: the cache's state restored, and saved again whatever happens. */
    async apply(commit: Record<string, string>) {
      const dir = folder('apply', commit);
      restore(dir);
      const job = await runJob(jobs.apply, dir);
      if (existsSync(join(dir, 'registry.state.json'))) copyFileSync(join(dir, 'registry.state.json'), join(cache, 'registry.state.json'));
      return job;
    },
    state: () => JSON.parse(readFileSync(join(cache, 'registry.state.json'), 'utf8')),
  };
}

/** A delete-policy on one repository: include keys, mix-count, optional retention rules. */
function config(repo: string, keys: string, rules = ''): string {
  return `registries:\n  harbor:\n    registry: ${reg.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [harbor]\n  mix-count: 1\n  tags:\n    include:\n      keys: ${keys}\n${rules}`;
}

let clock = 0;
/** Pushes tags, each newer than the last (mix-count keeps the newest by creation time). */
async function push(repo: string, ...tags: string[]) {
  for (const t of tags) await pushImage(reg, repo, [t], { seed: `${repo}-${t}`, created: new Date(Date.UTC(2024, 0, 1) + ++clock * 3600_000).toISOString() });
}

const tagsOf = async (repo: string) => Object.keys(await readTags(reg, repo)).sort();

for (const [example, jobsOf] of [
  ['github-actions', githubJobs],
  ['gitlab-ci', gitlabJobs],
] as const) {
  test(`examples/${example}.yml over many merges: laptop plans, CI state from the cache, a typo caught, a finished cleanup passing --strict, two pull requests from one state`, async () => {
    const jobs = jobsOf();
    assert.deepEqual(jobs.check, ['regmgr validate -c registry.yml', 'regmgr plan -c registry.yml --check plan.json --strict', 'regmgr show plan.json --markdown > plan.md']);
    assert.deepEqual(jobs.apply, ['regmgr apply plan.json']);
    const repo = `ci/${example}`;
    const t = team(example, jobs);
    await push(repo, 'v1', 'dev-1', 'dev-2', 'dev-3', 'feature-a', 'feature-b', 'pr-1', 'pr-2');

    // PR 1: delete dev tags, keeping the newest candidate.
    const pr1 = await t.author(config(repo, 'dev'));
    const c1 = await t.check(pr1);
    assert.ok(c1.ok, c1.all);
    assert.match(c1.markdown, /^\*\*Plan: 0 to copy, 2 to delete, 0 blocked\.\*\*/);
    const a1 = await t.apply(pr1);
    assert.ok(a1.ok, a1.all);
    assert.deepEqual(await tagsOf(repo), ['dev-3', 'feature-a', 'feature-b', 'pr-1', 'pr-2', 'v1']);

    // Other clients push between merges. PR 2, planned again with no state, is checked and
    // applied by CI with the state PR 1's apply left: the second merge applies.
    await push(repo, 'dev-4');
    const pr2 = await t.author(config(repo, 'dev,feature'));
    const c2 = await t.check(pr2);
    assert.ok(c2.ok, c2.all);
    const a2 = await t.apply(pr2);
    assert.ok(a2.ok, a2.all);
    assert.match(a2.result.stdout, /Apply complete: 0 copied, 3 deleted, 0 drifted, 0 blocked, 0 failed\./);
    assert.deepEqual(await tagsOf(repo), ['dev-4', 'pr-1', 'pr-2', 'v1']);

    // PR 3: a retention rule for pr-* tags that keeps none: it deletes both.
    const prRule = '  rules:\n    - tags: { keys: pr- }\n      keep-within: 1h\n';
    const pr3 = await t.author(config(repo, 'dev,feature,pr-', prRule));
    const c3 = await t.check(pr3);
    assert.ok(c3.ok, c3.all);
    assert.ok((await t.apply(pr3)).ok);
    assert.deepEqual(await tagsOf(repo), ['dev-4', 'v1']);

    // PR 4 changes something else. The pr- rule has nothing left to match because regmgr
    // deleted what it matched: --strict passes, with a note, not a warning.
    await push(repo, 'hotfix-1', 'hotfix-2');
    const pr4 = await t.author(config(repo, 'dev,feature,pr-,hotfix', prRule));
    const c4 = await t.check(pr4);
    assert.ok(c4.ok, c4.all);
    assert.match(c4.all, /^note: delete-policy\.rules\[0\] \(rule 1\) has nothing left to match: regmgr deleted the 2 tags it matched \(pr-1, pr-2\)$/m);
    assert.doesNotMatch(c4.all, /^warning:/m);
    assert.ok((await t.apply(pr4)).ok);
    assert.deepEqual(await tagsOf(repo), ['hotfix-2', 'v1']);

    // A typo'd rule (PR- for pr- tags, pushed since) fails the check job, with the warning shown.
    await push(repo, 'pr-3', 'pr-4');
    const typo = await t.author(config(repo, 'dev,feature,pr-,hotfix', '  rules:\n    - tags: { keys: PR- }\n      keep-within: 1h\n'));
    const ct = await t.check(typo);
    assert.equal(ct.ok, false, ct.all);
    assert.equal(ct.failed, 'regmgr plan -c registry.yml --check plan.json --strict');
    assert.equal(ct.result.code, 1);
    assert.match(ct.result.stderr, /^warning: delete-policy\.rules\[0\] \(rule 1\) matches no tag in any selected repository$/m);
    assert.match(ct.result.stderr, /^error: --strict: 1 warning$/m);

    // Two pull requests opened from the same registry state. A is merged and applied.
    await push(repo, 'exp-1', 'exp-2', 'exp-3', 'tmp-1', 'tmp-2');
    const rules = prRule;
    const prA = await t.author(config(repo, 'dev,feature,pr-,hotfix,exp', rules));
    const prB = await t.author(config(repo, 'dev,feature,pr-,hotfix,exp,tmp', rules));
    assert.ok((await t.check(prA)).ok);
    assert.ok((await t.check(prB)).ok);
    const aA = await t.apply(prA);
    assert.ok(aA.ok, aA.all);
    assert.deepEqual(await tagsOf(repo), ['exp-3', 'tmp-1', 'tmp-2', 'v1']);
    await push(repo, 'tmp-3');
    // B, brought up to date before merge, is checked again: its plan is no longer current,
    // and the check says why (the registry changed, by A's apply), before anything merges.
    const cB = await t.check(prB);
    assert.equal(cB.ok, false, cB.all);
    assert.equal(cB.result.code, 2);
    assert.match(cB.result.stdout, /plan\.json is not current: the registries changed since it was made/);
    assert.match(cB.result.stdout, new RegExp(`^ {2}harbor ${repo}:exp-1 removed \\(was sha256:`, 'm'));
    assert.match(cB.result.stdout, new RegExp(`^ {2}\\(the apply of plan [0-9a-f]{12} \\(state serial \\d+, [^)]+\\) changed harbor/${repo}\\)$`, 'm'));
    // Had the team merged B as it was, its apply would not fail mid-way, nor do more than
    // its plan: what A deleted is already gone, what B alone wanted (exp-3, tmp-1) is
    // done, and tmp-2, which the policy now wants gone too but B never named, stays.
    const aB = await t.apply(prB);
    assert.ok(aB.ok, aB.all);
    assert.match(aB.result.stdout, /^note: since plan\.json was made, the apply of plan [0-9a-f]{12} .* changed harbor\//m);
    assert.match(aB.result.stdout, /Apply complete: 0 copied, 2 deleted, 5 already gone, 0 drifted, 0 blocked, 0 failed\./);
    assert.deepEqual(await tagsOf(repo), ['tmp-2', 'tmp-3', 'v1']);
    // Planned again, B has the one delete the policy wants now, and its check passes.
    const prB2 = await t.author(prB['registry.yml']);
    assert.ok((await t.check(prB2)).ok);
    assert.deepEqual(JSON.parse(prB2['plan.json']).actions.map((a: { tags: string[] }) => a.tags), [['tmp-2']]);

    // The state in the cache has every apply in its history.
    const s = t.state();
    assert.equal(s.history.filter((e: { written_by: string; finished?: boolean }) => e.written_by === 'apply' && e.finished).length, 6);
  });
}

test('examples/github-actions-pg.yml over three merges: state, lock and journals in PostgreSQL, every job in a fresh folder with no state file', async () => {
  const wf = parse(readFileSync(`${root}examples/github-actions-pg.yml`, 'utf8'));
  const steps = (job: string) => (wf.jobs[job].steps as Array<{ run?: string }>).map((s) => s.run);
  const jobs = { check: regmgrLines(steps('check')), apply: regmgrLines(steps('apply')) };
  assert.deepEqual(jobs.check, ['regmgr validate -c registry.yml', 'regmgr plan -c registry.yml --check plan.json --strict', 'regmgr show plan.json --markdown > plan.md']);
  assert.deepEqual(jobs.apply, ['regmgr apply plan.json -lock-timeout=10m']);
  assert.deepEqual(Object.keys(wf.env).filter((k) => k.startsWith('REGMGR_')).sort(), ['REGMGR_JOURNAL_KEY', 'REGMGR_PACKAGE', 'REGMGR_PG_CONN']);
  const db = await startPostgres();
  try {
    // What the workflow's env gives every job (and the author's laptop): from secrets.
    const env = { REGMGR_PG_CONN: db.url, REGMGR_JOURNAL_KEY: 'ci-examples-journal-key-0123456789abcdef' };
    const repo = 'ci/github-actions-pg';
    const base = join(tmp.dir, 'pg');
    let runs = 0;
    const folder = (what: string, files: Record<string, string>) => {
      const dir = join(base, `${++runs}-${what}`);
      mkdirSync(dir, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
      return dir;
    };
    const noStateFile = (dir: string) => assert.equal(existsSync(join(dir, 'registry.state.json')), false, `${dir}: the state is in the database, not a file`);
    const pgConfig = (keys: string) => `${config(repo, keys)}state:\n  backend: pg\n  workspace: registry\n`;
    const author = async (cfg: string) => {
      const dir = folder('laptop', { 'registry.yml': cfg });
      const r = await runCli(['plan', '-c', 'registry.yml', '-out', 'plan.json'], env, undefined, dir);
      assert.equal(r.code, 0, `the author's plan\n${r.stdout}${r.stderr}`);
      noStateFile(dir);
      return { 'registry.yml': cfg, 'plan.json': readFileSync(join(dir, 'plan.json'), 'utf8') };
    };
    const run = async (job: string[], commit: Record<string, string>, what: string) => {
      const dir = folder(what, commit);
      const r = await runJob(job, dir, env);
      noStateFile(dir);
      return r;
    };
    await push(repo, 'v1', 'dev-1', 'dev-2', 'dev-3', 'feature-a', 'feature-b');

    const pr1 = await author(pgConfig('dev'));
    const c1 = await run(jobs.check, pr1, 'check');
    assert.ok(c1.ok, c1.all);
    const a1 = await run(jobs.apply, pr1, 'apply');
    assert.ok(a1.ok, a1.all);
    assert.deepEqual(await tagsOf(repo), ['dev-3', 'feature-a', 'feature-b', 'v1']);

    // Another client pushes; the second merge is checked and applied from the state the first left in the database.
    await push(repo, 'dev-4');
    const pr2 = await author(pgConfig('dev,feature'));
    const c2 = await run(jobs.check, pr2, 'check');
    assert.ok(c2.ok, c2.all);
    const a2 = await run(jobs.apply, pr2, 'apply');
    assert.ok(a2.ok, a2.all);
    assert.match(a2.result.stdout, /Apply complete: 0 copied, 3 deleted, 0 drifted, 0 blocked, 0 failed\./);
    assert.deepEqual(await tagsOf(repo), ['dev-4', 'v1']);

    // The third merge, and a plan made before it that is no longer current: its check fails and names the apply that changed the registry.
    await push(repo, 'hotfix-1', 'hotfix-2');
    const pr3 = await author(pgConfig('dev,feature,hotfix'));
    const stale = await author(pgConfig('dev,feature,hotfix'));
    assert.ok((await run(jobs.check, pr3, 'check')).ok);
    const a3 = await run(jobs.apply, pr3, 'apply');
    assert.ok(a3.ok, a3.all);
    assert.deepEqual(await tagsOf(repo), ['hotfix-2', 'v1']);
    await push(repo, 'hotfix-3');
    const cs = await run(jobs.check, stale, 'check');
    assert.equal(cs.ok, false, cs.all);
    assert.equal(cs.result.code, 2);
    assert.match(cs.result.stdout, new RegExp(`^ {2}\\(the apply of plan [0-9a-f]{12} \\(state serial \\d+, [^)]+\\) changed harbor/${repo}\\)$`, 'm'));

    // The database holds the three applies, finished; the password is never printed.
    const h = await runCli(['state', 'history', '-c', 'registry.yml'], env, undefined, folder('history', { 'registry.yml': pr3['registry.yml'] }));
    assert.equal(h.code, 0, h.stdout + h.stderr);
    assert.match(h.stdout, /^State PostgreSQL workspace registry \(127\.0\.0\.1:\d+\/postgres\)/);
    assert.equal(h.stdout.split('\n').filter((l) => / apply plan \w{12}; changed /.test(l) && !l.includes('(not finished)')).length, 3, h.stdout);
    for (const r of [a1, a2, a3, cs, h]) assert.ok(!('all' in r ? r.all : r.stdout + r.stderr).includes(db.password));
  } finally {
    await db.remove();
  }
});

test('the examples install regmgr from a git URL with npm into a prefix, as written; installed that way, it runs', async () => {
  const gh = parse(readFileSync(`${root}examples/github-actions.yml`, 'utf8'));
  const gl = parse(readFileSync(`${root}examples/gitlab-ci.yml`, 'utf8'));
  assert.match(gh.env.REGMGR_PACKAGE, /^git\+https:\/\/.+\.git#v\d+\.\d+\.\d+$/);
  assert.match(gl.variables.REGMGR_PACKAGE, /^git\+https:\/\/.+\.git#v\d+\.\d+\.\d+$/);
  const install = (gh.jobs.apply.steps as Array<{ run?: string }>).map((s) => s.run ?? '').join('\n').split('\n').find((l) => l.trim().startsWith('npm install'))!;
  assert.equal(install.trim(), 'npm install --no-audit --no-fund --prefix "$RUNNER_TEMP/regmgr" "$REGMGR_PACKAGE"');
  assert.ok(gl.default.before_script.includes('npm install --no-audit --no-fund --prefix /opt/regmgr "$REGMGR_PACKAGE"'));
  // The same command, with this checkout's committed HEAD as the git URL. Offline: the
  // test reaches no registry (`npm test` fills the cache first, see package.json).
  const { execFileSync } = await import('node:child_process');
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const runnerTemp = join(tmp.dir, 'runner-temp');
  mkdirSync(runnerTemp);
  execFileSync('sh', ['-ec', `${install.trim()} --offline`], {
    cwd: runnerTemp,
    env: { ...process.env, RUNNER_TEMP: runnerTemp, REGMGR_PACKAGE: `git+file://${root.replace(/\/$/, '')}#${head}`, npm_config_update_notifier: 'false' },
    stdio: 'pipe',
    maxBuffer: 64 << 20,
  });
  const bin = join(runnerTemp, 'regmgr', 'node_modules', '.bin', 'regmgr');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim(), pkg.version);
  assert.match(execFileSync(bin, ['validate', '-c', join(root, 'examples', 'seed-config.yml')], { encoding: 'utf8' }), /valid\. 2 registries \(harbor, aliyun\)/);
});
