import { lstatSync, mkdirSync, chmodSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A folder only this user can enter, for files that hold credentials: under
 * $XDG_RUNTIME_DIR (a per-user tmpfs where the system has one), else the user's cache
 * folder. Never the shared temp folder, where any local user could plant entries.
 * It must be a real folder (not a symbolic link), owned by this user, mode 0700.
 */
export function privateDir(env: NodeJS.ProcessEnv = process.env, leaf = 'auth'): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const base = runtime && isOwnDir(runtime) ? join(runtime, 'regmgr') : join(env.XDG_CACHE_HOME || join(homedirOr(env), '.cache'), 'regmgr');
  const dir = join(base, leaf);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const d of [base, dir]) {
    const problem = ownDirProblem(d);
    if (problem) throw new Error(`refusing to keep credentials in ${d}: ${problem}`);
    // Created by an older regmgr, or with a loose umask: tighten it, it is ours.
    if ((lstatSync(d).mode & 0o077) !== 0) chmodSync(d, 0o700);
  }
  return dir;
}

function homedirOr(env: NodeJS.ProcessEnv): string {
  try {
    return env.HOME || homedir();
  } catch {
    return join(tmpdir(), `regmgr-${process.getuid?.() ?? 'user'}`);
  }
}

/** Why `path` is not a folder of this user's own, or undefined when it is. */
export function ownDirProblem(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    return (e as Error).message;
  }
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (!st.isDirectory()) return 'it is not a folder';
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `it belongs to uid ${st.uid}, not to this user (uid ${uid})`;
  return undefined;
}

function isOwnDir(path: string): boolean {
  return ownDirProblem(path) === undefined;
}
