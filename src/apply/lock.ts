import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { closeSync, constants, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { isAlive } from '../util/process.js';

export interface LockInfo {
  id: string;
  pid: number;
  host: string;
  since: string;
  what: string;
}

export class LockError extends Error {
  constructor(
    message: string,
    readonly holder?: LockInfo,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/**
 * One apply at a time per state: a lock file created with O_EXCL. A lock left by a
 * process that no longer runs on this machine is taken over (with a notice), so that
 * resuming after kill -9 needs no extra step; a live holder, or one on another host,
 * stops us with who holds it and since when.
 */
export function acquireLock(path: string, what: string, notice: (msg: string) => void): { info: LockInfo; release: () => void } {
  const info: LockInfo = { id: randomUUID(), pid: process.pid, host: hostname(), since: new Date().toISOString(), what };
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      // Exclusive and never through a symbolic link planted at the lock's path.
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, JSON.stringify(info, null, 2) + '\n');
      fsyncSync(fd);
      closeSync(fd);
      return {
        info,
        release: () => {
          // Only remove our own lock: another process may have taken over a stale one.
          if (readLock(path)?.id === info.id) unlinkSync(path);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readLock(path);
    if (!holder) {
      // Written by a process killed between create and write: nobody holds it.
      notice(`removing an empty or unreadable lock ${path}`);
      unlinkSync(path);
      continue;
    }
    if (holder.host === info.host && !isAlive(holder.pid)) {
      takeOver(path, holder, notice);
      continue;
    }
    throw new LockError(
      `locked: ${path} is held by process ${holder.pid} on ${holder.host} since ${holder.since} (${holder.what}); lock id ${holder.id}.\n` +
        `If that apply is gone for good, release the lock with: regmgr force-unlock ${holder.id} -c CONFIG`,
      holder,
    );
  }
  throw new LockError(`could not take lock ${path}`);
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
    if (readLock(path)?.id === dead.id) {
      notice(`taking over lock ${dead.id} of process ${dead.pid} (since ${dead.since}), which is no longer running`);
      unlinkSync(path);
    }
  } finally {
    unlinkSync(guard);
  }
}

export function forceUnlock(path: string, id: string): LockInfo {
  const holder = readLock(path);
  if (!holder) throw new LockError(`no lock at ${path}`);
  // The real id is not shown: it is what proves that whoever releases the lock saw its holder's message.
  if (holder.id !== id) throw new LockError(`the lock at ${path} does not have id ${id}; nothing released. It is held by process ${holder.pid} on ${holder.host} since ${holder.since}; its id is in the message of the apply it stopped`);
  unlinkSync(path);
  return holder;
}
