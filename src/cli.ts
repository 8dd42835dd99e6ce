#!/usr/bin/env -S node --max-semi-space-size=4 --expose-gc
// The flags: a plan's many short-lived objects (one set per tag and per request) fill
// V8's young generation, 16 MiB a half by default, before any is collected; at 4 MiB
// peak memory at 20,000 tags fell from 153 to 132 MiB, with CPU per tag no higher
// (`npm run bench`). --expose-gc: plan collects garbage where its phases end
// (util/gc.ts). Every way regmgr is started (npm's bin link, the image's entry point,
// the demo, the tests and benches through test/helpers/cli.ts) reads them here.
//
// This file imports nothing up front: `regmgr --version` is answered after loading only
// version.ts (14 modules before, 1.46x `node -e 0` on Node 20, 1.6x on Node 22), and
// every other command loads cli-main.ts once the compile cache is on, so that its
// modules are compiled from the cache too.

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/regmgr') || process.argv[1]?.endsWith('cli.js')) {
  // `regmgr show plan.json | head -1`: the reader has gone; stop quietly, as cat does.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  const args = process.argv.slice(2);
  if (args.length === 1 && args[0] === '--version') {
    const { VERSION } = await import('./version.js');
    process.stdout.write(`${VERSION}\n`);
  } else {
    (await import('./util/wasm-tiering.js')).baselineWasmOnly();
    (await import('./util/compile-cache.js')).useCompileCache();
    await (await import('./cli-main.js')).main(args);
  }
}

export {};
