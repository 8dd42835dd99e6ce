import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { acquireLock, forceUnlock, lockHooks, type LockInfo } from '../../src/apply/lock.js';
import { startTime } from '../../src/util/process.js';

function deadPid(): number {
  // A process that has exited: its PID is (almost surely) not running any more.
  return Number(spawnSync('node', ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

function withDir(f: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-lock-'));
  try {
    f(dir);
  } finally {
    lockHooks.beforeVisible = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
}

const lock = (o: Partial<LockInfo>): string => JSON.stringify({ id: randomUUID(), pid: process.pid, host: hostname(), since: new Date().toISOString(), what: 'an apply', pid_start: null, ...o });

test('lock: exclusive while held; released; a dead holder is taken over with a notice; another host is never taken over', () => {
  withDir((dir) => {
    const path = join(dir, 'state.lock');
    const a = acquireLock(path, 'first', () => {});
    assert.throws(() => acquireLock(path, 'second', () => {}), new RegExp(`locked: .* held by process ${process.pid} on ${hostname()} .*\\(first\\); lock id ${a.info.id}`));
    a.release();
    assert.equal(existsSync(path), false);

    const pid = deadPid();
    const deadOne = randomUUID();
    writeFileSync(path, lock({ id: deadOne, pid, since: '2026-01-01T00:00:00Z', what: 'killed apply' }), { mode: 0o600 });
    const notices: string[] = [];
    const b = acquireLock(path, 'third', (m) => notices.push(m));
    assert.deepEqual(notices, [`taking over lock ${deadOne} of process ${pid} (since 2026-01-01T00:00:00Z), which is no longer running`]);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).id, b.info.id);
    b.release();

    // A takeover guard left by a process that died mid-takeover does not block forever.
    writeFileSync(path, lock({ pid }), { mode: 0o600 });
    writeFileSync(`${path}.takeover`, String(pid));
    const c = acquireLock(path, 'fourth', () => {});
    assert.equal(existsSync(`${path}.takeover`), false);
    c.release();

    const remote = randomUUID();
    writeFileSync(path, lock({ id: remote, pid, host: 'another-host' }), { mode: 0o600 });
    assert.throws(() => acquireLock(path, 'fifth', () => {}), /held by process \d+ on another-host/);
    assert.throws(() => forceUnlock(path, 'nope'), (e: Error) => /does not have id nope; nothing released\. It is held by process \d+ on another-host/.test(e.message) && !e.message.includes(remote));
    assert.equal((forceUnlock(path, remote) as LockInfo).host, 'another-host');
  });
});

test('lock: written whole before it is visible; three starters at once, exactly one holds it', () => {
  withDir((dir) => {
    const path = join(dir, 'state.lock');
    // Each starter, at the moment its lock is written but not yet visible, lets the next
    // one start: the innermost links first. Before it does, nobody sees any lock at all.
    const outcome: string[] = [];
    let depth = 0;
    lockHooks.beforeVisible = () => {
      if (depth >= 2) return;
      depth++;
      assert.equal(existsSync(path), false, 'no half-written lock is ever visible');
      start(`starter ${depth + 1}`);
    };
    const start = (name: string) => {
      try {
        acquireLock(path, name, () => {});
        outcome.push(`${name} holds it`);
      } catch (e) {
        outcome.push(`${name}: ${(e as Error).message.split(';')[0]}`);
      }
    };
    start('starter 1');
    assert.deepEqual(outcome, [
      'starter 3 holds it',
      `starter 2: locked: ${path} is held by process ${process.pid} on ${hostname()} since ${JSON.parse(readFileSync(path, 'utf8')).since} (starter 3)`,
      `starter 1: locked: ${path} is held by process ${process.pid} on ${hostname()} since ${JSON.parse(readFileSync(path, 'utf8')).since} (starter 3)`,
    ]);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).what, 'starter 3');
  });
});

test('lock: a malformed lock is refused while young, stale when older, releasable by force-unlock; a pid that was reused is no holder', () => {
  withDir((dir) => {
    const path = join(dir, 'state.lock');
    writeFileSync(path, '{}', { mode: 0o600 });
    assert.throws(() => acquireLock(path, 'x', () => {}), /a malformed lock .*state\.lock \(not the shape regmgr writes \(id, pid, host, since, what, pid_start\)\) was written less than 5 s ago/);
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(path, old, old);
    const notices: string[] = [];
    acquireLock(path, 'x', (m) => notices.push(m)).release();
    assert.match(notices[0], /^removing a malformed lock .*state\.lock \(not the shape regmgr writes .*\), 60 s old$/);

    writeFileSync(path, 'garbage', { mode: 0o600 });
    assert.deepEqual(forceUnlock(path, 'any'), { malformed: 'not JSON' });
    assert.equal(existsSync(path), false);

    // pid 1 is always alive, but it did not start when this lock's holder did.
    assert.notEqual(startTime(1), null, 'this machine has /proc');
    const id = randomUUID();
    writeFileSync(path, lock({ id, pid: 1, pid_start: null }), { mode: 0o600 });
    const seen: string[] = [];
    acquireLock(path, 'y', (m) => seen.push(m)).release();
    assert.match(seen[0], new RegExp(`^taking over lock ${id} of process 1 `));
    // The live holder, recorded with its real start time, is a holder.
    writeFileSync(path, lock({ pid: process.pid, pid_start: startTime(process.pid) }), { mode: 0o600 });
    assert.throws(() => acquireLock(path, 'z', () => {}), /locked: .* held by process \d+/);
  });
});

test("lock: a symbolic link, or a lock others may write, is refused and left in place", () => {
  withDir((dir) => {
    const path = join(dir, 'state.lock');
    const target = join(dir, 'elsewhere');
    writeFileSync(target, lock({ pid: 1 }), { mode: 0o600 });
    symlinkSync(target, path);
    assert.throws(() => acquireLock(path, 'x', () => {}), /refusing the lock .*state\.lock: it is a symbolic link/);
    assert.throws(() => forceUnlock(path, 'x'), /refusing the lock .*: it is a symbolic link; it is not regmgr's/);
    rmSync(path);
    writeFileSync(path, lock({ pid: 1 }));
    chmodSync(path, 0o666);
    assert.throws(() => acquireLock(path, 'x', () => {}), /refusing the lock .*state\.lock: it is writable by anyone \(mode 666\)/);
    assert.ok(existsSync(path) && existsSync(target));
  });
});
