import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireLock, forceUnlock } from '../../src/apply/lock.js';

function deadPid(): number {
  // A process that has exited: its PID is (almost surely) not running any more.
  return Number(spawnSync('node', ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

test('lock: exclusive while held; released; a dead holder is taken over with a notice; another host is never taken over', () => {
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-lock-'));
  try {
    const path = join(dir, 'state.lock');
    const a = acquireLock(path, 'first', () => {});
    assert.throws(() => acquireLock(path, 'second', () => {}), new RegExp(`locked: .* held by process ${process.pid} on ${hostname()} .*\\(first\\); lock id ${a.info.id}`));
    a.release();
    assert.equal(existsSync(path), false);

    const pid = deadPid();
    writeFileSync(path, JSON.stringify({ id: 'dead-one', pid, host: hostname(), since: 'then', what: 'killed apply' }));
    const notices: string[] = [];
    const b = acquireLock(path, 'third', (m) => notices.push(m));
    assert.deepEqual(notices, [`taking over lock dead-one of process ${pid} (since then), which is no longer running`]);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).id, b.info.id);
    b.release();

    // A takeover guard left by a process that died mid-takeover does not block forever.
    writeFileSync(path, JSON.stringify({ id: 'dead-two', pid, host: hostname(), since: 'then', what: 'killed apply' }));
    writeFileSync(`${path}.takeover`, String(pid));
    const c = acquireLock(path, 'fourth', () => {});
    assert.equal(existsSync(`${path}.takeover`), false);
    c.release();

    writeFileSync(path, JSON.stringify({ id: 'remote', pid, host: 'another-host', since: 'then', what: 'apply elsewhere' }));
    assert.throws(() => acquireLock(path, 'fifth', () => {}), /held by process \d+ on another-host/);
    assert.throws(() => forceUnlock(path, 'nope'), (e: Error) => /does not have id nope; nothing released\. It is held by process \d+ on another-host/.test(e.message) && !e.message.includes('remote'));
    assert.equal(forceUnlock(path, 'remote').host, 'another-host');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
