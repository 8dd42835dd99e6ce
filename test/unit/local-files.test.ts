import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { tempDir } from '../helpers/processes.js';
import { privateDir } from '../../src/util/private-dir.js';
import { SkopeoRunner } from '../../src/apply/skopeo.js';
import { Journal, readDone } from '../../src/apply/journal.js';
import { acquireLock } from '../../src/apply/lock.js';

// Files another local user can plant must never be followed, removed or trusted.
const tmp = tempDir('local-files');
after(() => tmp.remove());
const NOBODY = 65534;
const root = process.getuid?.() === 0;
const deadPid = () => spawnSync('true').pid!;

test('auth files live in a private folder of this user; the sweep removes only our own dead entries and never fails', { skip: !root && 'chown needs root' }, () => {
  const env = { XDG_CACHE_HOME: join(tmp.dir, 'cache') };
  const dir = privateDir(env);
  assert.equal(dir, join(tmp.dir, 'cache', 'regmgr', 'auth'));
  const dead = deadPid();
  const planted = join(dir, `regmgr-auth-${dead}-planted`);
  mkdirSync(planted);
  writeFileSync(join(planted, 'auth.json'), '{}');
  chownSync(join(planted, 'auth.json'), NOBODY, NOBODY);
  chownSync(planted, NOBODY, NOBODY);
  const ours = join(dir, `regmgr-auth-${dead}-ours`);
  mkdirSync(ours);
  // And one in the shared temp folder, where the old regmgr looked.
  const shared = join(tmpdir(), `regmgr-auth-${dead}-shared-${process.pid}`);
  mkdirSync(shared);
  chownSync(shared, NOBODY, NOBODY);
  try {
    assert.doesNotThrow(() => new SkopeoRunner('skopeo', 1000, dir));
    assert.ok(existsSync(join(planted, 'auth.json')), "another user's folder is left alone");
    assert.ok(!existsSync(ours), 'our own folder of a dead run is swept');
    assert.ok(existsSync(shared), 'the shared temp folder is not touched');
  } finally {
    spawnSync('rm', ['-rf', shared]);
  }
});

test('a private folder that is a symbolic link is refused (any user)', () => {
  const linked = join(tmp.dir, 'linked');
  mkdirSync(join(linked, 'elsewhere'), { recursive: true });
  mkdirSync(join(linked, 'cache'));
  symlinkSync(join(linked, 'elsewhere'), join(linked, 'cache', 'regmgr'));
  assert.throws(() => privateDir({ XDG_CACHE_HOME: join(linked, 'cache') }), /refusing to keep credentials in .*cache\/regmgr: it is a symbolic link/);
});

test('a private folder that belongs to someone else is refused', { skip: !root && 'chown needs root' }, () => {
  const foreign = join(tmp.dir, 'foreign');
  mkdirSync(join(foreign, 'regmgr'), { recursive: true });
  chownSync(join(foreign, 'regmgr'), NOBODY, NOBODY);
  assert.throws(() => privateDir({ XDG_CACHE_HOME: foreign }), /it belongs to uid 65534, not to this user \(uid 0\)/);
});

test('a journal that is a symbolic link is refused, and its target is not written', () => {
  const victim = join(tmp.dir, 'victim.txt');
  writeFileSync(victim, 'precious\n');
  const path = join(tmp.dir, 'plan.json.abc.journal');
  symlinkSync(victim, path);
  assert.throws(() => new Journal(path, 'abc'), /journal .*plan\.json\.abc\.journal: it is a symbolic link: refusing to follow it/);
  assert.throws(() => readDone(path, 'abc'), /is a symbolic link/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('a symbolic link planted at the lock path is never written through, nor removed', () => {
  const victim = join(tmp.dir, 'victim2.txt');
  writeFileSync(victim, 'precious\n');
  const lock = join(tmp.dir, 'state.json.lock');
  symlinkSync(victim, lock);
  assert.throws(() => acquireLock(lock, 'test', () => {}), /refusing the lock .*state\.json\.lock: it is a symbolic link/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.ok(lstatSync(lock).isSymbolicLink(), 'left in place for a person to look at');
  assert.deepEqual(readdirSync(tmp.dir).filter((f) => f.includes('.lock.')), [], 'no temp file of ours is left behind');
});