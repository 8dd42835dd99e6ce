#!/usr/bin/env -S node --max-semi-space-size=4 --expose-gc
// The flags: a plan's many short-lived objects (one set per tag and per request) fill
// V8's young generation, 16 MiB a half by default, before any is collected; at 4 MiB
// peak memory at 20,000 tags fell from 153 to 132 MiB, with CPU per tag no higher
// (`npm run bench`). --expose-gc: plan collects garbage where its phases end
// (util/gc.ts). Every way regmgr is started (npm's bin link, the image's entry point,
// the demo, the tests and benches through test/helpers/cli.ts) reads them here.
//
// This file is bundled alone into dist/cli/cli.js (scripts/bundle.mjs), CommonJS, and
// loads the rest only as needed: `regmgr --version` reads version.ts and nothing else
// (14 modules before, 1.46x `node -e 0` on Node 20), `validate -c FILE` loads
// dist/cli/validate.cjs (cli-validate.ts: the config loader and no more), and every
// other command dist/cli/main.cjs (cli-main.ts and all it uses), each through V8's code
// cache (util/code-cache.ts). Run only bundled: those files are the bundle's.
import { fileURLToPath } from 'node:url';
import type { main as Main } from './cli-main.js';
import { quickCommand } from './cli-quick.js';

/** The build ids (the start of each file's sha-256) of dist/cli/main.cjs and validate.cjs, written in by scripts/bundle.mjs. */
declare const __REGMGR_MAIN_BUILD_ID__: string;
declare const __REGMGR_VALIDATE_BUILD_ID__: string;

/**
 * Commands that open no HTTP connection: they skip setting V8's flag for undici's
 * WebAssembly parser, whose module (node:v8) costs ~3 ms of a ~110 ms `validate`. A
 * command missing here only pays those ms.
 */
const NO_HTTP = new Set(['validate']);

async function start(args: string[]): Promise<void> {
  const quick = quickCommand(args);
  if (quick === 'version') {
    const { VERSION } = await import('./version.js');
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  // Before a bundle is compiled: V8 refuses a code cache made under other flags, and the
  // cache is kept per command, so each command must set the same flags every run.
  if (!NO_HTTP.has(args[0])) (await import('./util/wasm-tiering.js')).baselineWasmOnly();
  const { loadBundle } = await import('./util/code-cache.js');
  const main = { file: fileURLToPath(new URL('./main.cjs', import.meta.url)), buildId: __REGMGR_MAIN_BUILD_ID__ };
  const validate = { file: fileURLToPath(new URL('./validate.cjs', import.meta.url)), buildId: __REGMGR_VALIDATE_BUILD_ID__ };
  // Each keeps the other's code cache when it writes its own (util/code-cache.ts).
  const [chosen, other] = quick ? [validate, main] : [main, validate];
  const bundle = loadBundle<{ main: typeof Main }>(chosen.file, chosen.buildId, args[0] ?? '', process.env, [other]);
  // On exit, after the command: the cache holds the code it compiled.
  process.on('exit', () => bundle.save());
  await bundle.exports.main(args);
}

// `regmgr show plan.json | head -1`: the reader has gone; stop quietly, as cat does.
// Attached as each stream is first used, not made here: making process.stdout and
// process.stderr loads node's stream classes, ~5 ms of a start, and `validate` writes
// no stderr.
for (const name of ['stdout', 'stderr'] as const) whenMade(name, (stream) => {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
});

/** Calls `then` with process[name] when it is first read (node makes the stream then). */
function whenMade(name: 'stdout' | 'stderr', then: (stream: NodeJS.WriteStream) => void): void {
  const made = Object.getOwnPropertyDescriptor(process, name);
  if (!made?.get || !made.configurable) return then(process[name]);
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: made.enumerable,
    get() {
      const stream = made.get!.call(process) as NodeJS.WriteStream;
      Object.defineProperty(process, name, { configurable: true, enumerable: made.enumerable, get: () => stream });
      then(stream);
      return stream;
    },
  });
}

start(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exitCode = 1;
});
