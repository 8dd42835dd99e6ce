import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { pushImage, readTags } from '../helpers/images.js';
import { writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { captureIO } from '../helpers/io.js';
import { wrappedSkopeo } from '../helpers/skopeo.js';
import { applyCommand } from '../../src/commands/apply.js';

// Ctrl-C during apply, synchronised on events: the proxy holds a request until the test
// has seen apply's own "interrupted" line.
let src: Awaited<ReturnType<typeof startProxiedRegistry>>, dst: Awaited<ReturnType<typeof startProxiedRegistry>>;
const tmp = tempDir('interrupt');
let n = 0;

before(async () => {
  [src, dst] = await Promise.all([startProxiedRegistry(), startProxiedRegistry()]);
});
after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  tmp.remove();
});

async function world() {
  const repo = `int/app-${++n}`;
  for (const t of ['v1', 'v2', 'v3', 'dev-1']) await pushImage(src.reg, repo, [t], { seed: `${repo}-${t}` });
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(
    dir,
    'c.yml',
    `registries:\n  src:\n    registry: ${src.proxy.url}\n    repositories: [${repo}]\n  dst:\n    registry: ${dst.proxy.url}\ndelete-policy:\n  registries: [src]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\nsync-policy:\n  from: src\n  to: dst\n  replace: [{ old: "", new: mirror }]\n  filters: ['^v']\n`,
  );
  const planFile = join(dir, 'plan.json');
  assert.equal((await runCli(['plan', '-c', config, '-out', planFile])).code, 0);
  return { repo, dir, planFile };
}

/** Runs apply; at the first request `at` matches, sends SIGINT and holds the request until apply says it was interrupted. */
async function interruptAt(planFile: string, proxy: typeof src.proxy, at: (method: string, url: string) => boolean) {
  let child: ChildProcess | undefined;
  let stderr = '';
  let fired = false;
  const said = new Promise<void>((resolve) => {
    const check = () => /interrupted: no new action starts/.test(stderr) && resolve();
    const watch = setInterval(() => child && (clearInterval(watch), child.stderr!.on('data', (d) => ((stderr += d), check()))), 1);
  });
  proxy.inject(
    (r) => !fired && at(r.method ?? '', r.url ?? ''),
    {
      before: async () => {
        fired = true;
        child!.kill('SIGINT');
        await said;
      },
    },
    1,
  );
  const r = await runCli(['apply', planFile, '--parallelism', '1'], {}, (c) => (child = c));
  proxy.clear();
  return { ...r, fired };
}

test('Ctrl-C during a copy: the copies in flight (one batch) finish, nothing new starts, the lock is released, and apply says how to resume', async () => {
  const w = await world();
  // The first manifest skopeo pushes: the batch of v1, v2, v3 is in flight.
  const r = await interruptAt(w.planFile, dst.proxy, (m, u) => m === 'PUT' && u.includes('/manifests/'));
  assert.ok(r.fired);
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /interrupted: no new action starts; the ones in flight finish \(Ctrl-C again to stop them too\)\. Then run `regmgr apply .*plan\.json` to resume\./);
  assert.equal(r.stdout.match(/^copied +dst\/mirror\/int\/app-\d+:v\d <- /gm)?.length, 3, 'the copies in flight finished, tags included');
  assert.match(r.stdout, /Apply interrupted: 3 copied, 0 deleted/);
  assert.match(r.stdout, /Interrupted: what finished is recorded; run `regmgr apply .*plan\.json` to do the rest\./);
  assert.equal(Object.keys(await readTags(dst.reg, `mirror/${w.repo}`)).length, 3);
  assert.ok((await readTags(src.reg, w.repo))['dev-1'], 'no delete started');
  assert.equal(existsSync(join(w.dir, 'c.state.json.lock')), false, 'the lock is released');
  assert.equal(JSON.parse(readFileSync(join(w.dir, 'c.state.json'), 'utf8')).apply.finished, false);
  const again = await runCli(['apply', w.planFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /Apply complete: 0 copied, 1 deleted, .*\(3 already done before this run\)/);
});

test('Ctrl-C before the first action (while the policy is re-checked): nothing is done, and the lock is released', async () => {
  const w = await world();
  const r = await interruptAt(w.planFile, src.proxy, (m, u) => m === 'GET' && u.includes('/tags/list'));
  assert.ok(r.fired);
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stdout, /Apply interrupted: 0 copied, 0 deleted/);
  assert.deepEqual(await readTags(dst.reg, `mirror/${w.repo}`), {});
  assert.equal(existsSync(join(w.dir, 'c.state.json.lock')), false);
  const again = await runCli(['apply', w.planFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

test('copies into one target repository run one skopeo at a time (2.8 races on shared layers); repositories still copy in parallel', async () => {
  const repos = [`par/a-${++n}`, `par/b-${n}`];
  for (const r of repos) for (const t of ['v1', 'v2', 'v3']) await pushImage(src.reg, r, [t], { seed: `${r}-${t}` });
  const dir = join(tmp.dir, `par${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'c.yml', `registries:\n  src:\n    registry: ${src.proxy.url}\n    repositories: [${repos.join(', ')}]\n  dst:\n    registry: ${dst.proxy.url}\nsync-policy:\n  from: src\n  to: dst\n  replace: [{ old: "", new: mirror }]\n`);
  const planFile = join(dir, 'plan.json');
  assert.equal((await runCli(['plan', '-c', config, '-out', planFile])).code, 0);
  // A runner that records how many skopeo processes (a lone copy or a batch) run at
  // once, per target repository and in all.
  const inFlight = new Map<string, number>();
  let worst = 0;
  let most = 0;
  let processes = 0;
  let otherStarted: () => void = () => {};
  const other = new Promise<void>((r) => (otherStarted = r));
  let held: string | undefined;
  const runner = wrappedSkopeo(async ({ repository }, work) => {
    processes++;
    inFlight.set(repository, (inFlight.get(repository) ?? 0) + 1);
    worst = Math.max(worst, inFlight.get(repository)!);
    most = Math.max(most, [...inFlight.values()].reduce((x, y) => x + y, 0));
    try {
      if (held === undefined) {
        held = repository;
        await other; // hold the first process until one into another repository has started
      } else if (repository !== held) otherStarted();
      await work();
    } finally {
      inFlight.set(repository, inFlight.get(repository)! - 1);
    }
  });
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: planFile, parallelism: 4 }, cap.io, { skopeo: runner }), 0, cap.stdout());
  assert.equal(worst, 1, 'never two skopeo processes into one repository at once');
  assert.equal(most, 2, 'the two repositories copied in parallel');
  assert.equal(processes, 2, 'one batch per repository');
  for (const r of repos) assert.equal(Object.keys(await readTags(dst.reg, `mirror/${r}`)).length, 3);
});

/**
 * Runs apply and holds the first request `at` matches; there, sends SIGINT `times` times,
 * each after apply has said it saw the one before (an event, not a wait). Resolves with
 * apply's result; `release` lets the held request go on.
 */
async function interruptTimes(planFile: string, proxy: typeof src.proxy, at: (method: string, url: string) => boolean, times: number, env: NodeJS.ProcessEnv = {}) {
  let child: ChildProcess | undefined;
  let stderr = '';
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const saw: Array<() => void> = [];
  const said = [/interrupted: no new action starts/, /interrupted again: stopping the actions in flight/, /interrupted a third time: leaving now/].map((re, i) => new Promise<void>((r) => (saw[i] = r)).then(() => re));
  let fired = false;
  proxy.inject(
    (r) => !fired && at(r.method ?? '', r.url ?? ''),
    {
      before: async () => {
        fired = true;
        for (let i = 0; i < times; i++) {
          child!.kill('SIGINT');
          await said[i];
        }
        // Held past a third Ctrl-C (apply must not wait for it); after a second, let it go
        // on: apply has stopped the copy in flight, or (were that broken) finishes it.
        if (times >= 3) await gate;
      },
    },
    1,
  );
  const done = runCli(['apply', planFile, '--parallelism', '1'], env, (c) => {
    child = c;
    c.stderr!.on('data', (d) => {
      stderr += d;
      [/interrupted: no new action starts/, /interrupted again/, /interrupted a third time/].forEach((re, i) => re.test(stderr) && saw[i]());
    });
  });
  return { done, release };
}

test('a second Ctrl-C stops the copy in flight too; a third leaves at once', async () => {
  const w = await world();
  const twice = await interruptTimes(w.planFile, dst.proxy, (m, u) => m === 'PUT' && u.includes('/manifests/'), 2);
  const r2 = await twice.done;
  twice.release();
  dst.proxy.clear();
  assert.equal(r2.code, 130, r2.stdout + r2.stderr);
  assert.match(r2.stderr, /interrupted again: stopping the actions in flight; they are re-checked when you run `regmgr apply .*plan\.json`\./);
  // The batch in flight was stopped, not finished: nothing reported copied, no delete.
  assert.equal(r2.stdout.match(/^copied /gm)?.length ?? 0, 0, r2.stdout);
  assert.ok((await readTags(src.reg, w.repo))['dev-1']);
  assert.equal(existsSync(join(w.dir, 'c.state.json.lock')), false, 'the lock is released');

  // A third Ctrl-C must find apply still waiting: skopeo, run through a shell that ignores
  // the SIGTERM of the second, keeps it waiting (execa sends SIGKILL 5 s later). With the
  // real skopeo, apply could stop it and exit before the third signal came: a race the
  // test lost under load once apply started faster.
  const stubborn = writeFile(tmp.dir, 'skopeo-ignoring-sigterm', "#!/bin/sh\ntrap '' TERM\nskopeo \"$@\"\n");
  chmodSync(stubborn, 0o755);
  const w3 = await world();
  const thrice = await interruptTimes(w3.planFile, dst.proxy, (m, u) => m === 'PUT' && u.includes('/manifests/'), 3, { REGMGR_SKOPEO: stubborn });
  // It leaves while the request is still held: it did not wait for anything.
  const r3 = await thrice.done;
  thrice.release();
  dst.proxy.clear();
  assert.equal(r3.code, 130);
  assert.match(r3.stderr, /interrupted a third time: leaving now; the lock may stay \(regmgr force-unlock\)\./);
  // The lock it left names a process that is gone: the next apply takes it over and finishes.
  const again = await runCli(['apply', w3.planFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stderr, /notice: .*lock/);
});
