import module from 'node:module';
import { privateDir } from './private-dir.js';

/**
 * Node 22.1+ keeps the compiled code of the modules it loads on disk (module.
 * enableCompileCache): a second start skips V8's compile of yaml, re2js, undici... (the
 * bulk of `validate`'s start-up). On Node 20 it does not exist and nothing happens. The
 * cache lives in this user's private folder, never a shared one: cached code is run.
 * Any trouble (no such folder) only costs speed.
 */
export function useCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  const enable = (module as unknown as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (!enable || env.REGMGR_NO_COMPILE_CACHE) return;
  try {
    enable(privateDir(env, 'compile-cache', { persistent: true }));
  } catch {
    // Speed only.
  }
}
