import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Agent as undiciAgent } from 'undici';
import { Agent } from '../../src/registry/agent.js';
import { tempDir } from '../helpers/processes.js';

// Start-up time is spent loading modules: these keep the heavy ones out of the commands
// that do not need them (README, Performance).
test('the Agent regmgr loads from undici/lib is the very class undici exports', () => {
  assert.equal(Agent, undiciAgent);
});

test("loading apply and plan loads neither undici index (fetch, WebSocket...) nor execa (only a copy runs skopeo) nor semver's index (48 modules)", () => {
  const loaded = (module: string) =>
    JSON.parse(
      execFileSync('node', ['--input-type=module', '-e', `await import(${JSON.stringify(new URL(module, import.meta.url).href)}); const { createRequire } = await import('node:module'); console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)))`], { encoding: 'utf8' }),
    ) as string[];
  for (const m of ['../../src/commands/apply.js', '../../src/commands/plan.js']) {
    const files = loaded(m);
    assert.ok(files.some((f) => f.endsWith('/undici/lib/dispatcher/agent.js')), `${m} loads the Agent`);
    assert.ok(!files.some((f) => f.endsWith('/undici/index.js')), `${m} loads undici's index`);
    // execa is ESM and never in this cache; cross-spawn, which it loads, is.
    assert.ok(!files.some((f) => /\/cross-spawn\//.test(f)), `${m} loads execa`);
    assert.ok(files.some((f) => f.endsWith('/semver/functions/parse.js')), `${m} loads semver's parse`);
    assert.ok(!files.some((f) => f.endsWith('/semver/index.js')), `${m} loads semver's index`);
  }
});

test("the CLI's own module (what validate loads besides the config's) does not load node:crypto", () => {
  const url = new URL('../../src/cli-main.js', import.meta.url).href;
  const loaded = execFileSync('node', ['--input-type=module', '-e', `await import(${JSON.stringify(url)}); console.log(process.moduleLoadList.includes('NativeModule crypto'))`], { encoding: 'utf8' }).trim();
  assert.equal(loaded, 'false');
});

// What the tests above check of dist/src, checked of the bundle regmgr runs
// (scripts/bundle.mjs): the modules each command imports with import() must stay
// unloaded until it runs, so validate does not run what the network commands load.
const bundledCli = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));
const seed = fileURLToPath(new URL('../../../examples/seed-config.yml', import.meta.url));

/** The bundled CLI run with `preload` imported first; what the preload wrote to stderr. */
function withPreload(preload: string, ...args: string[]): string {
  const r = spawnSync('node', ['--import', `data:text/javascript,${encodeURIComponent(preload)}`, bundledCli, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

test("the bundled regmgr's validate loads neither node:crypto nor HTTP, TLS or child processes", () => {
  const builtins = JSON.parse(withPreload('process.on("exit", () => process.stderr.write(JSON.stringify(process.moduleLoadList)))', 'validate', '-c', seed)) as string[];
  assert.ok(builtins.includes('NativeModule fs'), 'the list is the one Node keeps');
  assert.deepEqual(builtins.filter((m) => /^NativeModule (crypto|https?|http2|tls|child_process)$/.test(m)), []);
});

// string-width (under yargs' help layout) makes an Intl.Segmenter and Unicode-property
// regexes when it loads: ~45 ms of every command that parses its command line, though
// only help text measures a string. The bundle loads it when first used
// (scripts/bundle.mjs): a command reads Intl.Segmenter only when it prints help.
test("the bundled regmgr reads Intl.Segmenter only to print help, not to run a command", () => {
  const spy = [
    'const real = Intl.Segmenter; let n = 0;',
    "Object.defineProperty(Intl, 'Segmenter', { get() { n++; return real; }, configurable: true });",
    'process.on("exit", () => process.stderr.write(`segmenter:${n}`));',
  ].join(' ');
  const reads = (...args: string[]) => Number(/segmenter:(\d+)$/.exec(withPreload(spy, ...args))?.[1]);
  // --no-color: past validate's fast path, through yargs.
  assert.equal(reads('validate', '-c', seed, '--no-color'), 0);
  assert.ok(reads('plan', '--help') > 0, 'help measures its text with it');
});

// undici's client loads its HTTP/2 half (and node:http2) when it loads, for TLS
// handshakes that pick h2, which regmgr's agent never offers: the bundle loads it on
// first use (scripts/bundle.mjs). Seen through a command that connects: `list` against
// a port nothing listens on (refused at once, so only the client's own loading counts).
test("the bundle's HTTP client, loaded, has not loaded node:http2", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
  const { dir, remove } = tempDir('h2');
  try {
    const config = join(dir, 'c.yml');
    writeFileSync(config, `registries:\n  r:\n    registry: http://127.0.0.1:${port}\n    repositories:\n      - a/b\n`);
    const r = spawnSync('node', ['--import', `data:text/javascript,${encodeURIComponent('process.on("exit", () => process.stderr.write("\\n" + JSON.stringify(process.moduleLoadList)))')}`, bundledCli, 'list', '-c', config], { encoding: 'utf8' });
    assert.match(r.stderr, /ECONNREFUSED/, 'the client was loaded and tried to connect');
    const loaded = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as string[];
    assert.ok(loaded.includes('NativeModule net'), 'the client is loaded');
    assert.deepEqual(loaded.filter((m) => /^NativeModule (internal\/)?http2/.test(m)), []);
  } finally {
    remove();
  }
});
