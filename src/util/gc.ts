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
