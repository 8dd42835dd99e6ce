import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheKey, OTHERS_KEPT, pruneOld } from '../../src/util/code-cache.js';
import { CLI, NODE_FLAGS } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';

/** A temp folder with a CommonJS file in it and a cache folder (XDG_CACHE_HOME) of its own. */
function withBundle(fn: (file: string, env: NodeJS.ProcessEnv, cached: () => string[]) => void): void {
  const { dir, remove } = tempDir('code-cache');
  try {
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const cached = () => {
      try {
        return readdirSync(join(dir, 'cache', 'regmgr', 'code-cache'));
      } catch {
        return [];
      }
    };
    fn(join(dir, 'main.cjs'), env, cached);
  } finally {
    remove();
  }
}

/**
 * loadBundle in a node of its own, then save() as regmgr does: in one process V8 would
 * find the script in its own in-memory cache and never read the file's.
 */
function load(file: string, buildId: string, command: string, env: NodeJS.ProcessEnv): { fromCache: boolean; says: string } {
  const url = new URL('../../src/util/code-cache.js', import.meta.url).href;
  const script = `const { loadBundle } = await import(${JSON.stringify(url)}); const [file, id, command, env] = JSON.parse(process.argv[1]); const b = loadBundle(file, id, command, env); console.log(JSON.stringify({ fromCache: b.fromCache, says: b.exports.says() })); b.save();`;
  const r = spawnSync('node', ['--input-type=module', '-e', script, JSON.stringify([file, buildId, command, env])], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a bundle is compiled from the cache its command left, with the code it ran', () => {
  withBundle((file, env, cached) => {
    writeFileSync(file, "exports.says = () => 'first';\n");
    assert.deepEqual(load(file, 'build1', 'validate', env), { fromCache: false, says: 'first' });
    assert.equal(cached().length, 1);
    assert.match(cached()[0], /^build1-validate-/);
    const written = statSync(join(env.XDG_CACHE_HOME!, 'regmgr', 'code-cache', cached()[0])).mtimeMs;
    assert.deepEqual(load(file, 'build1', 'validate', env), { fromCache: true, says: 'first' });
    assert.equal(statSync(join(env.XDG_CACHE_HOME!, 'regmgr', 'code-cache', cached()[0])).mtimeMs, written, 'a cache V8 took is not written again');
    // Another command, another cache.
    assert.equal(load(file, 'build1', 'plan', env).fromCache, false);
    assert.equal(cached().length, 2);
  });
});

// V8 checks a cache against the source's length, not its text: a cache of other code of
// the same length would run that code. Removing size and mtime from cacheKey fails this.
test('a bundle edited in place (same length) runs its new code, not the cached old one', () => {
  withBundle((file, env) => {
    writeFileSync(file, "exports.says = () => 'aaaa';\n");
    assert.deepEqual(load(file, 'build1', 'validate', env), { fromCache: false, says: 'aaaa' });
    const mtime = statSync(file).mtime;
    writeFileSync(file, "exports.says = () => 'bbbb';\n");
    utimesSync(file, mtime, new Date(mtime.getTime() + 10_000));
    assert.deepEqual(load(file, 'build1', 'validate', env), { fromCache: false, says: 'bbbb' });
  });
});

test('a cache V8 refuses is compiled around and written again; without a private folder nothing is written', () => {
  withBundle((file, env, cached) => {
    writeFileSync(file, "exports.says = () => 'x';\n");
    load(file, 'b', 'validate', env);
    const [name] = cached();
    writeFileSync(join(env.XDG_CACHE_HOME!, 'regmgr', 'code-cache', name), 'not a code cache');
    assert.deepEqual(load(file, 'b', 'validate', env), { fromCache: false, says: 'x' });
    assert.deepEqual(load(file, 'b', 'validate', env), { fromCache: true, says: 'x' });

    // Every candidate folder lies under a file: no private folder, so no cache.
    const noDir = { HOME: file, XDG_CACHE_HOME: join(file, 'c'), TMPDIR: join(file, 't') };
    assert.deepEqual(load(file, 'b2', 'validate', noDir), { fromCache: false, says: 'x' });
    load(file, 'b3', 'validate', { ...env, REGMGR_NO_COMPILE_CACHE: '1' });
    assert.deepEqual(cached(), [name]);
  });
});

test("a write removes other bundles' caches made over a day ago, and the oldest beyond a count; never this build's", () => {
  const { dir, remove } = tempDir('code-cache-prune');
  try {
    const now = Date.now();
    const make = (name: string, ageMs: number) => {
      writeFileSync(join(dir, name), 'x');
      utimesSync(join(dir, name), new Date(now - ageMs), new Date(now - ageMs));
    };
    const day = 24 * 3600 * 1000;
    make('b1-validate-v20-x64-1-100-5.v8', 3 * day); // this bundle: kept, however old
    make('b1-plan-v20-x64-1-100-5.v8', 0);
    make('b1-plan-v20-x64-1-100-4.v8', 2 * day); // the same build, rebuilt: another bundle
    make('b0-plan-v20-x64-1-100-5.v8', 2 * day);
    make('b0-plan-v20-x64-1-100-5.v8.77.tmp', 2 * day); // a crash's
    make('notes.txt', 3 * day); // not a cache: not regmgr's to remove
    make('b8-plan-v20-x64-1-100-5.v8', day / 2); // another bundle's, made today
    make('v1-validate-v20-x64-1-30-7.v8', 3 * day); // this build's other bundle (validate.cjs): kept
    make('v1-validate-v20-x64-1-30-6.v8', 3 * day); // ... as it was before a rebuild: removed
    const mark = [
      { start: 'b1-', end: '-100-5.v8' },
      { start: 'v1-', end: '-30-7.v8' },
    ];
    pruneOld(dir, mark, now);
    assert.deepEqual(readdirSync(dir).sort(), ['b1-plan-v20-x64-1-100-5.v8', 'b1-validate-v20-x64-1-100-5.v8', 'b8-plan-v20-x64-1-100-5.v8', 'notes.txt', 'v1-validate-v20-x64-1-30-7.v8']);
    // Many bundles made today (a developer's rebuilds): the newest OTHERS_KEPT stay.
    for (let i = 0; i < OTHERS_KEPT + 3; i++) make(`b9-c${i}-v20-x64-1-100-5.v8`, i * 1000);
    pruneOld(dir, mark, now);
    const left = readdirSync(dir);
    assert.deepEqual(left.filter((n) => /^b[89]-/.test(n)).sort(), Array.from({ length: OTHERS_KEPT }, (_, i) => `b9-c${i}-v20-x64-1-100-5.v8`).sort());
    assert.ok(left.includes('b1-validate-v20-x64-1-100-5.v8') && left.includes('v1-validate-v20-x64-1-30-7.v8') && left.includes('notes.txt'));
  } finally {
    remove();
  }
});

test("a cache's name holds only [a-z0-9.-], whatever the command line held", () => {
  const name = cacheKey('0123abcd', '../../etc/passwd\n', 10, 1.5, ['--expose-gc'], 'v20.1.0', 'x64');
  assert.match(name, /^[a-z0-9.-]+$/);
  assert.notEqual(name, cacheKey('0123abcd', '../../etc/passwd\n', 10, 1.5, [], 'v20.1.0', 'x64'), "node's flags are in the name");
});

// The binary as users run it: its first validate writes the cache, the second uses it
// (V8 took it: a refused cache would be written again), and both answer the same.
test('regmgr validate writes its code cache once and then runs from it', () => {
  const { dir, remove } = tempDir('code-cache-cli');
  try {
    const env = { ...process.env, XDG_CACHE_HOME: dir, NO_COLOR: '1', REGMGR_NO_COMPILE_CACHE: '' };
    const seed = fileURLToPath(new URL('../../../examples/seed-config.yml', import.meta.url));
    const run = (...args: string[]) => spawnSync('node', [...NODE_FLAGS, CLI, ...args], { encoding: 'utf8', env });
    const files = () => readdirSync(join(dir, 'regmgr', 'code-cache')).map((n) => [n, statSync(join(dir, 'regmgr', 'code-cache', n)).mtimeMs] as const);
    assert.equal(run('--version').status, 0);
    const first = run('validate', '-c', seed);
    assert.equal(first.status, 0, first.stderr);
    const made = files();
    assert.equal(made.length, 1);
    assert.match(made[0][0], /-validate-/);
    const second = run('validate', '-c', seed);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(files(), made);
    // validate -c runs validate.cjs, any other spelling main.cjs: a cache of the one,
    // however old, stays when the other writes its own (both are this build's).
    const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
    utimesSync(join(dir, 'regmgr', 'code-cache', made[0][0]), old, old);
    const third = run('validate', '-c', seed, '--no-color');
    assert.equal(third.stdout, first.stdout);
    const now = files().map(([n]) => n);
    assert.equal(now.length, 2, now.join(' '));
    assert.ok(now.includes(made[0][0]), "validate.cjs's cache was kept");
  } finally {
    remove();
  }
});
