import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Every process a test starts is stopped by its PID, even when the test crashes.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
});

// Each test process plans with a content cache of its own: one shared with other test
// files (or the user's) would make request counts depend on what ran before.
if (process.env.REGMGR_CACHE_DIR === undefined) {
  const cache = mkdtempSync(join(tmpdir(), 'regmgr-cache-'));
  process.env.REGMGR_CACHE_DIR = cache;
  process.on('exit', () => rmSync(cache, { recursive: true, force: true }));
}

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export async function stopPid(child: ChildProcess): Promise<void> {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Stops every process started through track(), by PID (the demo's Ctrl-C path). */
export async function stopAllTracked(): Promise<void> {
  await Promise.all([...children].map((c) => stopPid(c)));
}

/** Starts a test server on a free 127.0.0.1 port (never another interface); its address. */
export async function listenLoopback(server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<{ port: number; url: string; host: string }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
}

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it right before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `regmgr-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function cleanEnv(): NodeJS.ProcessEnv {
  // REGISTRY_* variables override the registry's config file (registry-facts.md).
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

export { spawn };
