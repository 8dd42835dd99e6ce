import { closeSync, constants, fsyncSync, openSync, readdirSync, renameSync, writeSync, unlinkSync, rmSync } from 'node:fs';
import { isAlive } from './process.js';
import { dirname, basename, join } from 'node:path';

/**
 * Writes a file so that a reader (or a crash) sees either the old or the new content:
 * temp file in the same folder, fsync, rename, fsync the folder.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  writeFileAtomicPieces(file, (write) => write(data), mode);
}

/** Written in pieces of this many characters at most (a big state or plan is never one write). */
const CHUNK = 64 * 1024;

/**
 * For tests: runs once a write has put its first piece down, before the rest, the fsync
 * and the rename. A process killed there must leave the file as it was.
 */
export const atomicHooks: { midWrite?: (file: string) => void } = {};

/**
 * The same, for text made in pieces (a plan of 100,000 tags): never whole in memory.
 * `written()` is how many bytes the pieces so far took; what `produce` returns is written
 * over the file at those offsets (of the same length) before it is synced and renamed: a
 * plan's hash, known once the rest is written.
 */
export function writeFileAtomicPieces(file: string, produce: (write: (piece: string) => void, written: () => number) => void | ReadonlyArray<{ at: number; text: string }>, mode = 0o600): void {
  sweepTemps(file);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  // A new file of our own: exclusive, never through a symbolic link planted at its name.
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    let first = true;
    let bytes = 0;
    const patches = produce(
      (piece) => {
        for (let i = 0; i < piece.length; i += CHUNK) {
          bytes += writeSync(fd, piece.length <= CHUNK ? piece : piece.slice(i, i + CHUNK));
          if (first) (first = false), atomicHooks.midWrite?.(file);
        }
      },
      () => bytes,
    );
    for (const { at, text } of patches ?? []) writeSync(fd, text, at);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  try {
    const dfd = openSync(dirname(file), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Temp files of writers killed mid-write (`kill -9`): never the live file, so safe to drop. */
function sweepTemps(file: string): void {
  const prefix = `.${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(prefix) && n.endsWith('.tmp') ? /^(\d+)\./.exec(n.slice(prefix.length)) : null;
    if (m && !isAlive(Number(m[1]))) rmSync(join(dirname(file), n), { force: true });
  }
}
