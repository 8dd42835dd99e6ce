import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { pushImage, readTags } from '../helpers/images.js';
import { tempDir } from '../helpers/processes.js';
import { runCli, type CliResult } from '../helpers/cli.js';

// Shared state on a real PostgreSQL: folders that share nothing but the database stand
// for machines (a laptop, CI runners). Each runs the real binary.
const tmp = tempDir('state-pg');
let db: TestPostgres;
before(async () => {
  db = await startPostgres();
});
after(async () => {
  await db?.remove();
  tmp.remove();
});

const KEY = 'k'.repeat(40);
let n = 0;
const env = () => ({ REGMGR_PG_CONN: db.url, REGMGR_JOURNAL_KEY: KEY });

/** A fresh world: a registry behind a proxy, and a config whose state lives in workspace `ws`. */
async function world(ws: string) {
  const w = await startProxiedRegistry();
  const d1 = await pushImage(w.reg, 'app', ['dev-1'], { seed: `${ws}-1` });
  const d2 = await pushImage(w.reg, 'app', ['dev-2'], { seed: `${ws}-2` });
  const v1 = await pushImage(w.reg, 'app', ['v1'], { seed: `${ws}-v1` });
  const config = `registries:\n  r:\n    registry: ${w.proxy.url}\n    repositories: [app]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\nstate:\n  backend: pg\n  workspace: ${ws}\n`;
  /** A working folder of its own (a machine): the config, and files copied in. */
  const machine = (files: Record<string, string> = {}) => {
    const dir = join(tmp.dir, `m${++n}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'registry.yml'), config);
    for (const [name, from] of Object.entries(files)) copyFileSync(from, join(dir, name));
    return dir;
  };
  return { ...w, d1, d2, v1, machine };
}

const cli = (dir: string, args: string[], onSpawn?: (c: ChildProcess) => void): Promise<CliResult> => runCli(args, env(), onSpawn, dir);
const out = (r: CliResult) => `${r.stdout}${r.stderr}`;

test('plan on one machine, apply on a second, state verify and show on a third: they share only the database', async () => {
  const w = await world('three');
  try {
    const a = w.machine();
    assert.equal((await cli(a, ['plan', '-c', 'registry.yml', '-out', 'plan.json'])).code, 0);
    const b = w.machine({ 'plan.json': join(a, 'plan.json') });
    const applied = await cli(b, ['apply', 'plan.json']);
    assert.equal(applied.code, 0, out(applied));
    assert.deepEqual(await readTags(w.reg, 'app'), { v1: w.v1 });
    const c = w.machine();
    const verify = await cli(c, ['state', 'verify', '-c', 'registry.yml']);
    assert.equal(verify.code, 0, out(verify));
    assert.match(verify.stdout, /No drift: the registries match state serial 2\./);
    const show = await cli(c, ['state', 'history', '-c', 'registry.yml']);
    assert.match(show.stdout, /State PostgreSQL workspace three \(127\.0\.0\.1:\d+\/postgres\): lineage [\w-]+, serial 2\./);
    assert.match(show.stdout, /serial 2 .* apply plan \w{12}; changed r\/app/);
    assert.ok(!out(show).includes(db.password) && !out(applied).includes(db.password), 'the password is never printed');
  } finally {
    await w.stop();
  }
});

/** Starts an apply in `dir` that stops at its first DELETE until `release()`; resolves once it is there. */
async function heldApply(w: Awaited<ReturnType<typeof world>>, dir: string, extra: string[] = []) {
  let release!: (how?: { drop?: boolean }) => void;
  let reached!: () => void;
  const atDelete = new Promise<void>((r) => (reached = r));
  const gate = new Promise<{ drop?: boolean }>((r) => (release = (how = {}) => r(how)));
  let dropIt = false;
  w.proxy.inject((r) => r.method === 'DELETE', {
    before: async () => {
      reached();
      dropIt = !!(await gate).drop;
      if (dropIt) throw new Error('dropped: the client was killed before sending it');
    },
  });
  let child!: ChildProcess;
  const done = cli(dir, ['apply', 'plan.json', ...extra], (c) => (child = c));
  await atDelete;
  return { done, release, child: () => child };
}

test('two applies from two machines: the second refuses while the first holds the lock, or waits with -lock-timeout; they never interleave', async () => {
  const w = await world('two');
  try {
    const a = w.machine();
    assert.equal((await cli(a, ['plan', '-c', 'registry.yml', '-out', 'plan.json'])).code, 0);
    const first = await heldApply(w, w.machine({ 'plan.json': join(a, 'plan.json') }));
    const deletesBefore = w.proxy.count((l) => l.startsWith('DELETE'));
    const second = await cli(w.machine({ 'plan.json': join(a, 'plan.json') }), ['apply', 'plan.json']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /locked: PostgreSQL workspace two \(127\.0\.0\.1:\d+\/postgres\) is held by process \d+ on \S+ since \S+ \(regmgr apply plan\.json\); lock id [\w-]+/);
    assert.equal(w.proxy.count((l) => l.startsWith('DELETE')), deletesBefore, 'the refused apply sent no DELETE');

    // With -lock-timeout the third waits, and runs once the first is done.
    let waiting!: () => void;
    const isWaiting = new Promise<void>((r) => (waiting = r));
    const third = cli(w.machine({ 'plan.json': join(a, 'plan.json') }), ['apply', 'plan.json', '-lock-timeout=120s'], (c) => {
      let err = '';
      c.stderr!.on('data', (d) => /waiting up to 120 s for the lock of PostgreSQL workspace two/.test((err += d)) && waiting());
    });
    // Released only once the third says it is waiting (an event, not a sleep).
    await isWaiting;
    first.release();
    const r1 = await first.done;
    assert.equal(r1.code, 0, out(r1));
    const r3 = await third;
    assert.equal(r3.code, 0, out(r3));
    assert.match(r3.stderr, /held by process \d+ on \S+ \(regmgr apply plan\.json\)/);
    // It went on only after the first had finished, with the first's journal: nothing left to do.
    const real = (l: string) => /^DELETE \/v2\/app\/manifests\/sha256:(?!0{64})/.test(l);
    assert.equal(w.proxy.count(real), 2, 'the first apply\'s two DELETEs, none from the others');
    assert.match(r3.stdout, /already applied|done before/);
  } finally {
    await w.stop();
  }
});

test('kill -9 of the holder: the database frees its lock with its connection, and another machine resumes the apply from the journal kept beside the state', async () => {
  const w = await world('killed');
  try {
    const a = w.machine();
    assert.equal((await cli(a, ['plan', '-c', 'registry.yml', '-out', 'plan.json'])).code, 0);
    const held = await heldApply(w, w.machine({ 'plan.json': join(a, 'plan.json') }));
    const exited = held.done;
    process.kill(held.child().pid!, 'SIGKILL');
    const r = await exited;
    assert.equal(r.signal, 'SIGKILL');
    held.release({ drop: true });
    // At once, with no -lock-timeout, on another machine.
    const b = w.machine({ 'plan.json': join(a, 'plan.json') });
    const resumed = await cli(b, ['apply', 'plan.json']);
    assert.equal(resumed.code, 0, out(resumed));
    assert.deepEqual(await readTags(w.reg, 'app'), { v1: w.v1 });
    // The journal came from the database: it knows the first apply had started that delete.
    const journal = readFileSync(join(b, `plan.json.${JSON.parse(readFileSync(join(a, 'plan.json'), 'utf8')).sha256.slice(0, 12)}.journal`), 'utf8');
    assert.ok(journal.split('\n').filter((l) => l.includes('"event":"start"')).length >= 2, 'the killed apply\'s start and this one\'s');
    // Restore from a third machine: the saved manifests are in the database too.
    const c = w.machine({ 'plan.json': join(a, 'plan.json') });
    const restored = await cli(c, ['restore', 'plan.json', '--auto-approve']);
    assert.equal(restored.code, 0, out(restored));
    assert.deepEqual(await readTags(w.reg, 'app'), { 'dev-1': w.d1, 'dev-2': w.d2, v1: w.v1 });
  } finally {
    await w.stop();
  }
});

test('state migrate: file -> pg -> file gives the same state, byte for byte in state show --json', async () => {
  const w = await world('migrate');
  try {
    // A state made by a file-backend apply.
    const fileDir = join(tmp.dir, `m${++n}`);
    mkdirSync(fileDir);
    writeFileSync(join(fileDir, 'file.yml'), `registries:\n  r:\n    registry: ${w.proxy.url}\n    repositories: [app]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    assert.equal((await cli(fileDir, ['plan', '-c', 'file.yml', '-out', 'plan.json'])).code, 0);
    assert.equal((await cli(fileDir, ['apply', 'plan.json'])).code, 0);
    const before = await cli(fileDir, ['state', 'show', '-c', 'file.yml', '--json']);
    const m = w.machine();
    const up = await cli(m, ['state', 'migrate', '-c', 'registry.yml', '--from', join(fileDir, 'file.state.json')]);
    assert.equal(up.code, 0, out(up));
    const inDb = await cli(m, ['state', 'show', '-c', 'registry.yml', '--json']);
    assert.equal(inDb.stdout, before.stdout);
    const again = await cli(m, ['state', 'migrate', '-c', 'registry.yml', '--from', join(fileDir, 'file.state.json')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a state; pass --force to replace it/);
    const down = await cli(m, ['state', 'migrate', '-c', 'registry.yml', '--to', join(m, 'back.state.json')]);
    assert.equal(down.code, 0, out(down));
    const back = await cli(m, ['state', 'show', '--state', join(m, 'back.state.json'), '--json']);
    assert.equal(back.stdout, before.stdout);
    assert.equal(readFileSync(join(m, 'back.state.json'), 'utf8'), readFileSync(join(fileDir, 'file.state.json'), 'utf8'));
  } finally {
    await w.stop();
  }
});

test('the database goes away mid-apply: a clear error, nothing more changed; once it is back the apply resumes from its journal', async () => {
  const w = await world('away');
  try {
    const a = w.machine({});
    assert.equal((await cli(a, ['plan', '-c', 'registry.yml', '-out', 'plan.json'])).code, 0);
    const dir = w.machine({ 'plan.json': join(a, 'plan.json') });
    const held = await heldApply(w, dir, ['--parallelism', '1']);
    await db.stop();
    held.release();
    const r = await held.done;
    assert.notEqual(r.code, 0);
    assert.match(out(r), /state backend pg \(PostgreSQL workspace away/);
    // The DELETE already past its journal line went; the other action did not start.
    const tags = await readTags(w.reg, 'app');
    assert.equal(Object.keys(tags).filter((t) => t.startsWith('dev-')).length, 1, out(r));
    await db.start();
    const again = await cli(dir, ['apply', 'plan.json']);
    assert.equal(again.code, 0, out(again));
    assert.deepEqual(await readTags(w.reg, 'app'), { v1: w.v1 });
    const c = w.machine();
    const verify = await cli(c, ['state', 'verify', '-c', 'registry.yml']);
    assert.equal(verify.code, 0, out(verify));
  } finally {
    await w.stop();
  }
});
