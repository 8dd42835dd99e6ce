/**
 * A full garbage collection, where a phase of a large plan has just left most of what
 * it allocated dead (the reads before the policy, the evaluation after the plan is
 * built). V8 grows the heap through such phases and collects late: at 100,000 tags a
 * first `plan -out` peaked at 332 MiB without these two collections and at 258 MiB
 * with them, with no more CPU per tag than the run-to-run noise (README, Performance).
 * `gc` exists when node runs with --expose-gc, as the binary's `#!` line starts it;
 * without it this does nothing.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * A collection where a phase ends, skipped while the heap is small: below 32 MiB used
 * each took 10-20 ms and freed 2-8 MiB (plans of 10 to 5,000 tags, `--trace-gc`), a
 * cost in every small plan for memory no one lacks; at 20,000 tags they free 16-24 MiB.
 */
export function collectGarbageIfLarge(): void {
  if (process.memoryUsage().heapUsed >= PHASE_FLOOR) collectGarbage();
}

const PHASE_FLOOR = 32 * 1024 * 1024;
