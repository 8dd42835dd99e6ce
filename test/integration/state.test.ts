import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { TEST_PASSWORD, TEST_USER, type TestRegistry } from '../helpers/registry.js';
import { startProxiedRegistry, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { tempDir, track } from '../helpers/processes.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { stateListCommand, stateRefreshCommand, stateShowCommand, stateVerifyCommand } from '../../src/commands/state.js';
import { readState } from '../../src/state/file.js';
import type { Plan } from '../../src/plan/model.js';

// One registry with Basic auth behind a logging proxy: every request is visible.
let reg: TestRegistry, proxy: FaultProxy;
const tmp = tempDir('state');
let n = 0;
const env = { STATE_PW: TEST_PASSWORD };
const changing = (l: string) => /^(DELETE|PUT|POST|PATCH) /.test(l);
/** A request that changes a tag or a manifest (apply's push-permission probe opens and cancels an upload). */
const manifestChange = (l: string) => /^(DELETE|PUT) \/v2\/.*\/manifests\//.test(l);

let bench: Awaited<ReturnType<typeof startProxiedRegistry>>;

before(async () => {
  bench = await startProxiedRegistry({ auth: 'htpasswd' });
  ({ reg, proxy } = bench);
});
after(async () => {
  await bench?.stop();
  tmp.remove();
});
beforeEach(() => {
  proxy.log.length = 0;
});

async function world() {
  const repo = `svc-${++n}`;
  const d: Record<string, string> = {};
  for (const t of ['dev-1', 'dev-2', 'dev-3', 'v1.0', 'v2.0']) d[t] = await pushImage(reg, repo, [t], { seed: `${repo}-${t}` });
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'config.yml', `registries:\n  r:\n    registry: ${proxy.url}\n    username: ${TEST_USER}\n    password: \${STATE_PW}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  return { repo, d, dir, config, stateFile: join(dir, 'config.state.json') };
}

async function plan(config: string, out: string, extra: Record<string, unknown> = {}): Promise<Plan> {
  const cap = captureIO(env);
  assert.equal(await planCommand({ config, out, ...extra }, cap.io), 0, cap.stderr());
  const p = JSON.parse(readFileSync(out, 'utf8'));
  assertPlanSchema(p);
  return p;
}

test('two plans from no state: the first applies; the second is told which apply changed its repository, does only what the policy still wants, and sends no DELETE', async () => {
  const w = await world();
  const p1 = await plan(w.config, join(w.dir, 'p1.json'), { target: [`r/${w.repo}`] });
  const p2 = await plan(w.config, join(w.dir, 'p2.json'));
  assert.deepEqual(p1.state, { lineage: null, serial: null });
  assert.equal(p1.sha256 === p2.sha256, false);
  assert.equal(await applyCommand({ plan: join(w.dir, 'p1.json') }, captureIO(env).io), 0);
  const s = readState(w.stateFile)!;
  assert.equal(s.serial, 2); // marked at the start of the apply, written again at the end
  assert.deepEqual(s.history!.map((e) => [e.serial, e.written_by, e.plan_sha256, e.finished, e.changed]), [
    [1, 'apply', p1.sha256, false, undefined],
    [2, 'apply', p1.sha256, true, [`r/${w.repo}`]],
  ]);
  assert.deepEqual(s.deleted_tags, { r: { [w.repo]: ['dev-1', 'dev-2', 'dev-3'] } });
  proxy.log.length = 0;
  const cap = captureIO(env);
  assert.equal(await applyCommand({ plan: join(w.dir, 'p2.json') }, cap.io), 0, cap.stdout() + cap.stderr());
  assert.match(cap.stdout(), new RegExp(`^note: since .*p2\\.json was made, the apply of plan ${p1.sha256.slice(0, 12)} \\(state serial 2, [^)]+\\) changed r/${w.repo}: apply does only what the policy still wants there on live data and reports the rest as drifted; to review the current plan, run \`regmgr plan -c .*config\\.yml -out .*p2\\.json\`\\.$`, 'm'));
  assert.match(cap.stdout(), /Apply complete: 0 copied, 0 deleted, 3 already gone, 0 drifted, 0 blocked, 0 failed\./);
  assert.deepEqual(proxy.log.filter(manifestChange), [], 'nothing was deleted twice or put anywhere');
});

test('two plans of identical content from the same state: the second is told its plan was applied, checks the registry, and changes nothing', async () => {
  const w = await world();
  const a = await plan(w.config, join(w.dir, 'a.json'));
  const b = await plan(w.config, join(w.dir, 'b.json'));
  assert.equal(a.sha256, b.sha256);
  assert.equal(await applyCommand({ plan: join(w.dir, 'a.json') }, captureIO(env).io), 0);
  proxy.log.length = 0;
  const cap = captureIO(env);
  assert.equal(await applyCommand({ plan: join(w.dir, 'b.json') }, cap.io), 0);
  assert.match(cap.stdout(), /^note: the state records this plan applied in full at state serial 2 \([^)]+\); checking the registry all the same\.$/m);
  assert.match(cap.stdout(), /Apply complete: 0 copied, 0 deleted, 3 already gone, 0 drifted, 0 blocked, 0 failed\./);
  assert.deepEqual(proxy.log.filter(manifestChange), [], 'nothing deleted twice');
});

test('two plans from the same recorded state: P1 applies; P2, whose tags P1 deleted and whose policy now keeps the rest, deletes nothing', async () => {
  const w = await world();
  const cap = captureIO(env);
  assert.equal(await stateRefreshCommand({ config: w.config }, cap.io), 0, cap.stderr());
  assert.match(cap.stdout(), /State refreshed: 5 tags in 1 registry; 0 changed since serial none; now serial 1\./);
  const s1 = readState(w.stateFile)!;
  const p1 = await plan(w.config, join(w.dir, 'p1.json'));
  const p2 = await plan(w.config, join(w.dir, 'p2.json'), { target: [`r/${w.repo}`] });
  assert.deepEqual(p1.state, { lineage: s1.lineage, serial: 1 });
  assert.deepEqual(p2.state, { lineage: s1.lineage, serial: 1 });
  assert.equal(await applyCommand({ plan: join(w.dir, 'p1.json') }, captureIO(env).io), 0);
  // Another client pushes dev-4 after P1; P2 never saw it, and its actions are gone.
  await pushImage(reg, w.repo, ['dev-4'], { seed: `${w.repo}-dev-4` });
  proxy.log.length = 0;
  const before = await readTags(reg, w.repo);
  const c2 = captureIO(env);
  assert.equal(await applyCommand({ plan: join(w.dir, 'p2.json') }, c2.io), 0, c2.stdout() + c2.stderr());
  assert.match(c2.stdout(), /^note: since .*p2\.json was made, the apply of plan [0-9a-f]{12} \(state serial 3/m);
  assert.match(c2.stdout(), /Apply complete: 0 copied, 0 deleted, 3 already gone, 0 drifted/);
  assert.deepEqual(proxy.log.filter(manifestChange), [], 'dev-4, which no reviewed plan named, is left alone');
  assert.deepEqual(await readTags(reg, w.repo), before);
  // The state records what the applies changed: the dev tags P1 deleted are gone from it.
  const s = readState(w.stateFile)!;
  assert.equal(s.lineage, s1.lineage);
  assert.deepEqual(Object.keys(s.snapshot.r[w.repo]).sort(), ['v1.0', 'v2.0']);
  assert.equal(s.apply!.finished, true);
  assert.equal(statSync(w.stateFile).mode & 0o777, 0o600);
  assert.ok(!readFileSync(w.stateFile, 'utf8').includes(TEST_PASSWORD));
  // A fresh plan sees dev-4, and --detailed-exitcode says there are changes.
  const p3 = await plan(w.config, join(w.dir, 'p3.json'));
  assert.deepEqual(p3.actions.map((a) => (a.type === 'delete' ? a.tags : [])), [['dev-4']]);
  assert.equal(await planCommand({ config: w.config, detailedExitcode: true }, captureIO(env).io), 2);
});

test('state verify reports tags pushed, deleted and moved outside regmgr, exits 2, and sends no DELETE or PUT; plan mentions the drift', async () => {
  const w = await world();
  assert.equal(await stateRefreshCommand({ config: w.config }, captureIO(env).io), 0);
  const clean = captureIO(env);
  assert.equal(await stateVerifyCommand({ config: w.config }, clean.io), 0);
  assert.match(clean.stdout(), /^No drift: the registries match state serial 1\.$/m);

  const pushed = await pushImage(reg, w.repo, ['hotfix-9'], { seed: `${w.repo}-hotfix` }); // pushed
  await tagDigest(reg, w.repo, 'v1.0', w.d['v2.0']); // moved
  const { request } = await import('undici');
  const auth = await reg.authFor('');
  const del = await request(`${reg.url}/v2/${w.repo}/manifests/${w.d['dev-3']}`, { method: 'DELETE', headers: { authorization: auth! } }); // deleted
  await del.body.dump();
  assert.equal(del.statusCode, 202);

  proxy.log.length = 0;
  const cap = captureIO(env);
  assert.equal(await stateVerifyCommand({ config: w.config }, cap.io), 2);
  const short = (d: string) => d.slice(0, 19);
  assert.equal(
    cap.stdout(),
    `Changed outside regmgr since state serial 1 (${readState(w.stateFile)!.written_at}):\n` +
      `  r ${w.repo}:dev-3 removed (was ${short(w.d['dev-3'])})\n` +
      `  r ${w.repo}:hotfix-9 added (${short(pushed)})\n` +
      `  r ${w.repo}:v1.0 moved ${short(w.d['v1.0'])} -> ${short(w.d['v2.0'])}\n` +
      `\nDrift: 1 added, 1 removed, 1 moved.\n`,
  );
  assert.equal(proxy.count(changing), 0);
  assert.ok(proxy.log.every((l) => /^(GET|HEAD) /.test(l)), proxy.log.join('\n'));
  const j = captureIO(env);
  assert.equal(await stateVerifyCommand({ config: w.config, json: true }, j.io), 2);
  assert.deepEqual(JSON.parse(j.stdout()).changes.map((c: any) => `${c.tag}:${c.change}`), ['dev-3:removed', 'hotfix-9:added', 'v1.0:moved']);
  // verify changed nothing, the state included.
  assert.equal(readState(w.stateFile)!.serial, 1);

  const p = captureIO(env);
  await planCommand({ config: w.config }, p.io);
  assert.match(p.stdout(), new RegExp(`Changed outside regmgr since the recorded state \\(serial 1\\):\\n  r ${w.repo}:dev-3 removed`));
});

test('state show and list render the recorded snapshot', async () => {
  const w = await world();
  await stateRefreshCommand({ config: w.config }, captureIO(env).io);
  const show = captureIO(env);
  assert.equal(await stateShowCommand({ config: w.config }, show.io), 0);
  assert.match(show.stdout(), /^State .*config\.state\.json: lineage [0-9a-f-]{36}, serial 1, written by refresh at /);
  assert.match(show.stdout(), new RegExp(`^r +${w.repo} +dev-1 +sha256:[0-9a-f]{12} +oci-image$`, 'm'));
  const list = captureIO(env);
  assert.equal(await stateListCommand({ state: w.stateFile }, list.io), 0);
  assert.deepEqual(list.stdout().trim().split('\n').map((l) => l.split(' ')[0]), ['dev-1', 'dev-2', 'dev-3', 'v1.0', 'v2.0'].map((t) => `r/${w.repo}:${t}`));
  await assert.rejects(stateShowCommand({ state: join(w.dir, 'none.json') }, captureIO().io), /none\.json: no state yet/);
});

test('the state file survives kill -9 during writes: always the old or the new version', async () => {
  const file = join(tmp.dir, 'killed.state.json');
  const writer = fileURLToPath(new URL('../helpers/state-writer.js', import.meta.url));
  let lastSerial = 0;
  for (let i = 0; i < 12; i++) {
    // Each round: 1 to 4 writes finish, then the next stops halfway through its content
    // (a hook in writeFileAtomic) and is killed there.
    const child = track(spawn('node', [writer, file, String(1 + (i % 4))], { stdio: ['ignore', 'pipe', 'ignore'] }));
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve) => {
      let buffered = '';
      child.stdout!.on('data', (d) => {
        buffered += d;
        if (/^halfway \d+$/m.test(buffered)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await exited;
    assert.ok(existsSync(file));
    const s = readState(file)!; // parses: never a torn file
    assert.ok(s.serial >= lastSerial, `serial went back from ${lastSerial} to ${s.serial}`);
    assert.equal(Object.keys(s.snapshot.r).length, 20);
    assert.ok(Object.keys(s.snapshot.r['repo-0']).every((t) => t.endsWith(`-serial-${s.serial}`)), 'content belongs to one version');
    lastSerial = s.serial;
  }
  assert.ok(lastSerial >= 12, `the writer made progress (${lastSerial} writes)`);
  // Temp files of killed writers are swept by the next write; a live writer's are not.
  const { readdirSync, writeFileSync } = await import('node:fs');
  const { writeState } = await import('../../src/state/file.js');
  const dead = track(spawn('node', ['-e', '0']));
  await new Promise((r) => dead.once('exit', r));
  writeFileSync(join(tmp.dir, `.killed.state.json.${dead.pid}.1.tmp`), '{"torn');
  writeFileSync(join(tmp.dir, `.killed.state.json.${process.pid}.1.tmp`), '{"in progress');
  writeState(file, readState(file), { written_by: 'refresh', registries: {}, snapshot: {} });
  assert.deepEqual(readdirSync(tmp.dir).filter((f) => f.startsWith('.killed.state.json.')), [`.killed.state.json.${process.pid}.1.tmp`]);
});

test('--state puts the state where the flag says, for plan, apply and state commands', async () => {
  const w = await world();
  const custom = join(w.dir, 'elsewhere.json');
  const { runCli } = await import('../helpers/cli.js');
  const planFile = join(w.dir, 'p.json');
  assert.equal((await runCli(['plan', '-c', w.config, '--state', custom, '-out', planFile], env)).code, 0);
  const a = await runCli(['apply', planFile, '--state', custom], env);
  assert.equal(a.code, 0, a.stderr);
  assert.ok(existsSync(custom));
  assert.equal(existsSync(w.stateFile), false);
  const v = await runCli(['state', 'verify', '-c', w.config, '--state', custom], env);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match((await runCli(['state', 'list', '--state', custom], env)).stdout, new RegExp(`^r/${w.repo}:v1\\.0 sha256:`, 'm'));
  // The default location has no state: a plan made against the custom one applies there
  // all the same (the re-check decides on live data), and writes its state there.
  const p2 = join(w.dir, 'p2.json');
  await pushImage(reg, w.repo, ['dev-9'], { seed: `${w.repo}-dev-9` });
  assert.equal((await runCli(['plan', '-c', w.config, '--state', custom, '-out', p2], env)).code, 0);
  const other = await runCli(['apply', p2], env);
  assert.equal(other.code, 0, other.stdout + other.stderr);
  assert.match(other.stdout, /Apply complete: 0 copied, 1 deleted/);
  assert.equal(readState(w.stateFile)!.serial, 2);
  assert.equal(readState(custom)!.serial, 2, 'the custom state was not touched by an apply told nothing of it');
});

test('the state is named after its config; an old regmgr.state.json beside it is still used, with a notice', async () => {
  const w = await world();
  const stateDefault = join(w.dir, 'config.state.json');
  await stateRefreshCommand({ config: w.config }, captureIO(env).io);
  assert.ok(existsSync(stateDefault));
  // A second config in the same folder has a state of its own.
  writeFileSync(join(w.dir, 'other.yml'), readFileSync(w.config, 'utf8'));
  await stateRefreshCommand({ config: join(w.dir, 'other.yml') }, captureIO(env).io);
  assert.ok(existsSync(join(w.dir, 'other.state.json')));
  assert.equal(readState(stateDefault)!.serial, 1, "refreshing the other config did not touch this one's state");
  // An old default name is found and used, and the user is told.
  renameSync(stateDefault, join(w.dir, 'regmgr.state.json'));
  const cap = captureIO(env);
  await stateRefreshCommand({ config: w.config }, cap.io);
  assert.match(cap.stderr(), /notice: using regmgr\.state\.json beside .*config\.yml, the old default name; rename it to config\.state\.json \(the state is now named after its config\), or set state\.path: regmgr\.state\.json/);
  assert.equal(readState(join(w.dir, 'regmgr.state.json'))!.serial, 2);
});

test('state show and list work offline without the credentials variables set: they send no request', async () => {
  const w = await world();
  await stateRefreshCommand({ config: w.config }, captureIO(env).io);
  const show = captureIO({}); // no STATE_PW
  assert.equal(await stateShowCommand({ config: w.config }, show.io), 0, show.stderr());
  assert.match(show.stdout(), /^State .*config\.state\.json: lineage/);
  assert.equal(await stateListCommand({ config: w.config }, captureIO({}).io), 0);
  // A command that talks to the registry still needs them.
  await assert.rejects(planCommand({ config: w.config }, captureIO({}).io), /environment variable STATE_PW is not set/);
});

test('force-unlock works without the credentials variables set: it sends no request', async () => {
  const w = await world();
  const { acquireLock } = await import('../../src/apply/lock.js');
  const { unlockCommand } = await import('../../src/commands/unlock.js');
  const held = acquireLock(`${w.stateFile}.lock`, 'an apply elsewhere', () => {});
  const cap = captureIO({}); // no STATE_PW
  assert.equal(await unlockCommand({ id: held.info.id, config: w.config }, cap.io), 0, cap.stderr());
  assert.match(cap.stdout(), new RegExp(`^Released lock ${held.info.id} \\(process ${process.pid} on `));
  assert.equal(existsSync(`${w.stateFile}.lock`), false);
});
