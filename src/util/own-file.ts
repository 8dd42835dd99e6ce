import type { Stats } from 'node:fs';

/**
 * Why a file regmgr wrote for itself (a lock, a journal) cannot be trusted as such, or
 * undefined: it must be a regular file (not a symbolic link: never followed), owned by
 * this user, and writable by nobody else. Anything else was planted, committed by
 * someone, or loosened by hand.
 */
export function ownFileProblem(st: Stats): string | undefined {
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (!st.isFile()) return 'it is not a regular file';
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `it belongs to uid ${st.uid}, not to this user (uid ${uid})`;
  if ((st.mode & 0o022) !== 0) return `it is writable by ${st.mode & 0o002 ? 'anyone' : 'its group'} (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}
