import { before, after } from 'node:test';
import { startProxiedRegistry } from './fault-proxy.js';
import { tempDir } from './processes.js';

/**
 * A test file's shared bench: one real registry behind a fault proxy and a temp folder,
 * started before its tests and stopped (by PID) and removed after them.
 */
export function proxiedSuite(prefix: string) {
  const tmp = tempDir(prefix);
  const suite = { env: undefined as unknown as Awaited<ReturnType<typeof startProxiedRegistry>>, tmp };
  before(async () => {
    suite.env = await startProxiedRegistry();
  });
  after(async () => {
    await suite.env?.stop();
    tmp.remove();
  });
  return suite;
}
