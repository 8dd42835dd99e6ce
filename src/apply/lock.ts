import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { closeSync, constants, fsyncSync, linkSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { isAlive, startTime } from '../util/process.js';
import { ownFileProblem } from '../util/own-file.js';

// Their own module: the CLI's error reporting needs LockError without the lock's
// dependencies (node:crypto among them, ~6 ms of `validate`'s start).
import { LockError, type LockInfo } from './lock-error.js';
export { LockError, type LockInfo };

/** A malformed lock younger than this is refused (something is writing it); older, it is stale. */
const MALFORMED_STALE_MS = 5000;

/** For tests: runs after the lock's content is written, before it becomes visible. */
export const lockHooks: { beforeVisible?: (path: string) => void } = {};

type Read = { info: LockInfo } | { malformed: string; ageMs: number } | { refused: string } | { absent: true };

/** The lock at `path`: regmgr's own (this user's, not writable by others, the shape regmgr writes), or why not. */
function readLock(path: string): Read {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { absent: true };
    throw e;
  }
  const problem = ownFileProblem(st);
  if (problem) return { refused: problem };
  const ageMs = Date.now() - st.mtimeMs;
  let v: Partial<LockInfo> | null;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      v = JSON.parse(readFileSync(fd, 'utf8'));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { absent: true };
    return { malformed: 'not JSON', ageMs };
  }
  const ok =
    v !== null &&
    typeof v === 'object' &&
    typeof v.id === 'string' &&
    /^[0-9a-f-]{36}$/.test(v.id) &&
    Number.isSafeInteger(v.pid) &&
    v.pid! > 0 &&
    typeof v.host === 'string' &&
    v.host.length <= 255 &&
    typeof v.since === 'string' &&
    !Number.isNaN(Date.parse(v.since)) &&
    typeof v.what === 'string' &&
    v.what.length <= 4096 &&
    (v.pid_start === null || Number.isSafeInteger(v.pid_start));
  return ok ? { info: v as LockInfo } : { malformed: 'not the shape regmgr writes (id, pid, host, since, what, pid_start)', ageMs };
}

/** Whether the lock's holder still runs here: its pid is alive and started when the holder did. */
function holderAlive(h: LockInfo): boolean {
  if (!isAlive(h.pid)) return false;
  const now = startTime(h.pid);
  return now === null || now === h.pid_start;
}

/**
 * One apply at a time per state. The lock is written whole to a private temp file and
 * then linked into place, which fails if a lock exists: no other process ever sees a lock
 * half written. A lock left by a process that no longer runs on this machine is taken
 * over (with a notice), so that resuming after kill -9 needs no extra step; a malformed
 * lock older than a few seconds is stale. A live holder, or one on another host, stops us
 * with who holds it and since when. A lock that is not this user's own (a symbolic link,
 * another owner, writable by others) is refused: regmgr never removes what it did not write.
 */
export function acquireLock(path: string, what: string, notice: (msg: string) => void): { info: LockInfo; release: () => void } {
  const info: LockInfo = { id: randomUUID(), pid: process.pid, host: hostname(), since: new Date().toISOString(), what, pid_start: startTime(process.pid) };
  const temp = `${path}.${process.pid}.${info.id.slice(0, 8)}.tmp`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify(info, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    for (let attempt = 0; attempt < 40; attempt++) {
      lockHooks.beforeVisible?.(path);
      try {
        linkSync(temp, path);
        return {
          info,
          release: () => {
            // Only remove our own lock: another process may have taken over a stale one.
            const r = readLock(path);
            if ('info' in r && r.info.id === info.id) unlinkSync(path);
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const r = readLock(path);
      if ('absent' in r) continue;
      if ('refused' in r) throw new LockError(`refusing the lock ${path}: ${r.refused}; regmgr writes its locks as this user, mode 0600. Remove it if you know what it is`);
      if ('malformed' in r) {
        if (r.ageMs < MALFORMED_STALE_MS) throw new LockError(`a malformed lock ${path} (${r.malformed}) was written less than ${MALFORMED_STALE_MS / 1000} s ago; regmgr never writes one: run again in a few seconds, and it is removed as stale`);
        notice(`removing a malformed lock ${path} (${r.malformed}), ${Math.round(r.ageMs / 1000)} s old`);
        unlinkSync(path);
        continue;
      }
      const holder = r.info;
      if (holder.host === info.host && !holderAlive(holder)) {
        takeOver(path, holder, notice);
        continue;
      }
      throw new LockError(
        `locked: ${path} is held by process ${holder.pid} on ${holder.host} since ${holder.since} (${holder.what}); lock id ${holder.id}.\n` +
          `If that apply is gone for good, release the lock with: regmgr force-unlock ${holder.id} -c CONFIG`,
        holder,
      );
    }
    throw new LockError(`could not take lock ${path}: it kept changing; run again`);
  } finally {
    unlinkSync(temp);
  }
}

/**
 * Removes a dead holder's lock. Two applies started at once could both see the dead
 * holder, and the slower one would then remove the lock the faster one just made; so the
 * removal runs under a short-lived exclusive guard file and re-checks the holder's id.
 */
function takeOver(path: string, dead: LockInfo, notice: (msg: string) => void): void {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Someone else is taking over: wait briefly, then look at the lock again. A guard
    // left by a process that died mid-takeover is removed.
    const owner = Number(readFileSync(guard, 'utf8').trim());
    if (owner && !isAlive(owner)) unlinkSync(guard);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    return;
  }
  try {
    writeSync(fd, String(process.pid));
    closeSync(fd);
    const r = readLock(path);
    if ('info' in r && r.info.id === dead.id) {
      notice(`taking over lock ${dead.id} of process ${dead.pid} (since ${dead.since}), which is no longer running`);
      unlinkSync(path);
    }
  } finally {
    unlinkSync(guard);
  }
}

/** Releases the lock with this id; a malformed lock (nobody's) is released by any id, with what it held said. */
export function forceUnlock(path: string, id: string): LockInfo | { malformed: string } {
  const r = readLock(path);
  if ('absent' in r) throw new LockError(`no lock at ${path}`);
  if ('refused' in r) throw new LockError(`refusing the lock ${path}: ${r.refused}; it is not regmgr's: remove it yourself if you know what it is`);
  if ('malformed' in r) {
    unlinkSync(path);
    return { malformed: r.malformed };
  }
  const holder = r.info;
  // The real id is not shown: it is what proves that whoever releases the lock saw its holder's message.
  if (holder.id !== id) throw new LockError(`the lock at ${path} does not have id ${id}; nothing released. It is held by process ${holder.pid} on ${holder.host} since ${holder.since}; its id is in the message of the apply it stopped`);
  unlinkSync(path);
  return holder;
}
