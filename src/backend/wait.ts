/**
 * Tries `attempt` until it returns something or `timeoutMs` has passed (-lock-timeout),
 * then runs `last` once more so that its error (naming the holder) is what the user sees.
 * Polls every 250 ms: a lock has no event to wait on across processes or machines.
 */
export async function waitFor<T>(timeoutMs: number, attempt: () => T | undefined | Promise<T | undefined>, last: () => T | Promise<T>, waiting?: () => void | Promise<void>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (let tries = 0; ; tries++) {
    const got = await attempt();
    if (got !== undefined) return got;
    if (Date.now() >= until) return last();
    if (tries === 0) await waiting?.();
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, until - Date.now()))));
  }
}
