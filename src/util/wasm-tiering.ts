import v8 from 'node:v8';

/**
 * undici parses HTTP with llhttp, compiled to WebAssembly. On Node 20 and 22, V8 soon
 * finds its parser hot and recompiles it with its optimizing compiler on another thread;
 * the process then waits for that compile before it exits. For a plan of 10 tags on
 * Node 20 that was 0.18 s of 0.79 s of CPU, 0.16 s of wall time spent waiting at exit
 * and 35 MiB of peak RSS (72 instead of 107); on Node 22 0.14 s, 0.1 s and 15 MiB. The
 * optimized parser pays that back only in first plans of ~100,000 tags and more, where
 * the baseline one costs 4-5% more CPU (docs/performance.md). So regmgr keeps
 * WebAssembly at V8's baseline compiler. Node 24 does not make that compile (no
 * difference measured there).
 *
 * `--liftoff-only` is in V8 11.3, 12.4 and 13.6 (Node 20, 22, 24). setFlagsFromString
 * prints an error for a flag V8 does not know, so a newer V8 is left as it is: only
 * speed is at stake. Must run before undici compiles its parser (before it is loaded).
 */
export function baselineWasmOnly(v8Version: string = process.versions.v8): boolean {
  const major = Number(v8Version.split('.')[0]);
  if (!(major >= 11 && major <= 13)) return false;
  v8.setFlagsFromString('--liftoff-only');
  return true;
}
