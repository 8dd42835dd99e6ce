import { closeSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { privateDir } from './private-dir.js';

/**
 * regmgr's code (dist/cli/main.cjs and validate.cjs, CommonJS: scripts/bundle.mjs) is
 * compiled through V8's code cache, kept per command in this user's private folder.
 * Why: most of a short command's start-up is V8 compiling code, not running it: the bundle's
 * top-level parse, then each function the first time it is called (yaml's parser,
 * re2js's compiler, the schema validator). V8 writes the code of every function compiled
 * so far, so the cache is written when the command that made it exits: the next run of
 * that command compiles none of them. On Node 20, `validate` went from 2.1x `node -e 0`
 * to ~1.6x with this alone (docs/performance.md, a seventeenth pass); Node 22's own
 * compile cache (module.enableCompileCache) writes its cache before the code runs, so
 * it holds only each module's top level.
 *
 * What is cached is code that will run, so:
 * - it lives in privateDir (a real folder of this user's, mode 0700, or none at all);
 * - V8 checks a cache against the source's length, its own version and its flags, not
 *   against the source's text: a cache is looked up under the bundle's build id (the
 *   start of its sha-256, recorded in cli.js when the bundle was built), its size and
 *   its mtime, so an edited or rebuilt bundle never runs an older bundle's code;
 * - a cache V8 refuses (another node, other flags) is written again; any trouble
 *   reading or writing one costs speed only.
 */
export interface LoadedBundle<T> {
  exports: T;
  /** Whether V8 took the compiled code from the cache. */
  fromCache: boolean;
  /** Writes the cache when there was none or V8 refused it; call as the process exits (the code compiled by then is what is kept). */
  save(): void;
}

const safe = (s: string) => s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').slice(0, 40);

/**
 * A cache file's name: [a-z0-9.-] only (the command name comes from the command line).
 * node's flags are in it (FNV-1a of execArgv and NODE_OPTIONS) because V8 refuses a
 * cache made under other flags: `node cli.js` and the binary's `node --expose-gc ...
 * cli.js` would otherwise each refuse and rewrite the other's.
 */
export function cacheKey(buildId: string, command: string, size: number, mtimeMs: number, flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''], node = process.version, arch = process.arch): string {
  let h = 0x811c9dc5;
  for (const c of flags.join('\0')) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const mark = bundleMark(buildId, size, mtimeMs);
  return `${mark.start}${safe(command)}-${safe(node)}-${safe(arch)}-${h.toString(16)}${mark.end}`;
}

/** A bundle regmgr runs: its file and build id. */
export interface BundleFile {
  file: string;
  buildId: string;
}

/**
 * Loads `file`, a CommonJS module, as node would (same wrapper, so the same line
 * numbers), compiled from the cache of `command` where there is a usable one.
 * `siblings`: the other bundles of the same build, whose caches a write keeps.
 */
export function loadBundle<T>(file: string, buildId: string, command: string, env: NodeJS.ProcessEnv = process.env, siblings: BundleFile[] = []): LoadedBundle<T> {
  const fd = openSync(file, 'r');
  let source: string;
  let stat;
  try {
    stat = fstatSync(fd);
    // latin1: the bundle is ASCII (scripts/bundle.mjs checks), and decoding 2.4 MB as
    // latin1 is a copy where UTF-8 is a validation too: ~3 ms of a start.
    source = readFileSync(fd, 'latin1');
  } finally {
    closeSync(fd);
  }
  let cacheFile: string | undefined;
  let cachedData: Buffer | undefined;
  if (!env.REGMGR_NO_COMPILE_CACHE) {
    try {
      cacheFile = join(privateDir(env, 'code-cache', { persistent: true }), cacheKey(buildId, command, stat.size, stat.mtimeMs));
      cachedData = readFileSync(cacheFile);
    } catch {
      // No cache yet, or no private folder (then none is written either).
    }
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const fromCache = cachedData !== undefined && !script.cachedDataRejected;
  const module = { exports: {} as T };
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    fromCache,
    save() {
      if (fromCache || !cacheFile) return;
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
        renameSync(tmp, cacheFile);
        pruneOld(dirname(cacheFile), [bundleMark(buildId, stat.size, stat.mtimeMs), ...siblings.flatMap(siblingMark)]);
      } catch {
        // Speed only.
      }
    },
  };
}

/** What the names of a bundle's caches (every command, node and flags) have in common. */
export interface BundleMark {
  start: string;
  end: string;
}

function bundleMark(buildId: string, size: number, mtimeMs: number): BundleMark {
  return { start: `${safe(buildId)}-`, end: `-${size}-${Math.trunc(mtimeMs)}.v8` };
}

/** A sibling bundle's mark, from its file as it is now; none if it cannot be read. */
function siblingMark({ file, buildId }: BundleFile): BundleMark[] {
  try {
    const { size, mtimeMs } = statSync(file);
    return [bundleMark(buildId, size, mtimeMs)];
  } catch {
    return [];
  }
}

const DAY_MS = 24 * 3600 * 1000;
/** Caches of other bundles kept at most: ~0.5-0.7 MB each. */
export const OTHERS_KEPT = 32;

/**
 * Caches of other bundles pile up as regmgr is upgraded or rebuilt (~0.5-0.7 MB a
 * command, and a rebuild is another bundle): each write removes those made over a day
 * ago, and the oldest beyond OTHERS_KEPT, and temp files a crash left. Not all at once:
 * two installs of regmgr may share the folder, and one removed too early is only made
 * again. `current`: the marks of this build's bundles (main.cjs and validate.cjs), whose
 * caches stay however old.
 */
export function pruneOld(dir: string, current: BundleMark[], now = Date.now()): void {
  const others: Array<{ path: string; mtimeMs: number }> = [];
  for (const name of readdirSync(dir)) {
    if (current.some((mark) => name.startsWith(mark.start) && name.endsWith(mark.end))) continue;
    if (!/\.v8(\.\d+\.tmp)?$/.test(name)) continue;
    try {
      others.push({ path: join(dir, name), mtimeMs: statSync(join(dir, name)).mtimeMs });
    } catch {
      // Another regmgr removed it first.
    }
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs);
  others.forEach(({ path, mtimeMs }, i) => {
    if (i < OTHERS_KEPT && now - mtimeMs <= DAY_MS) return;
    try {
      unlinkSync(path);
    } catch {
      // The same.
    }
  });
}
