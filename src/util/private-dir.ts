import { lstatSync, mkdirSync, chmodSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A folder only this user can enter, for files that hold credentials. The first that
 * works of: $XDG_RUNTIME_DIR/regmgr (a per-user tmpfs where the system has one), the
 * user's cache folder ($XDG_CACHE_HOME or $HOME/.cache), and regmgr-UID in the temp
 * folder. The last one serves a container run as any uid with HOME=/ (no home to write);
 * in a shared, sticky temp folder it is safe because it is checked like the others: a
 * real folder (not a symbolic link), owned by this user, mode 0700. A candidate that
 * cannot be created is passed over; one that exists but fails the check is refused
 * (someone else made it), never worked around.
 */
export function privateDir(env: NodeJS.ProcessEnv = process.env, leaf = 'auth', opts: { persistent?: boolean } = {}): string {
  const tried: string[] = [];
  for (const base of candidates(env, opts.persistent ?? false)) {
    const dir = join(base, leaf);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      tried.push(`${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    for (const d of [base, dir]) {
      const problem = ownDirProblem(d);
      if (problem) throw new Error(`refusing to keep credentials in ${d}: ${problem}`);
      // Created by an older regmgr, or with a loose umask: tighten it, it is ours.
      if ((lstatSync(d).mode & 0o077) !== 0) chmodSync(d, 0o700);
    }
    return dir;
  }
  throw new Error(`no private folder for credentials: cannot create ${tried.join(', ')}; set XDG_RUNTIME_DIR (or XDG_CACHE_HOME) to a folder this user owns and may write`);
}

/** `persistent`: what must outlive a logout or reboot skips $XDG_RUNTIME_DIR (a tmpfs emptied then). */
function candidates(env: NodeJS.ProcessEnv, persistent: boolean): string[] {
  const out: string[] = [];
  const runtime = env.XDG_RUNTIME_DIR;
  if (!persistent && runtime && isOwnDir(runtime)) out.push(join(runtime, 'regmgr'));
  const home = homedirOr(env);
  if (env.XDG_CACHE_HOME || home) out.push(join(env.XDG_CACHE_HOME || join(home!, '.cache'), 'regmgr'));
  out.push(join(env.TMPDIR || tmpdir(), `regmgr-${process.getuid?.() ?? 'user'}`));
  return out;
}

function homedirOr(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return env.HOME || homedir();
  } catch {
    return undefined;
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
