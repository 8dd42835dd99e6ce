import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { track } from './processes.js';

export const CLI = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));

/** The node flags of the binary's `#!/usr/bin/env -S node ...` line: the tests and benches run it as users do. */
export const NODE_FLAGS: string[] = (() => {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S node((?: --[a-z0-9-]+(?:=\S+)?)*)$/.exec(first);
  if (!m) throw new Error(`${CLI}: unexpected first line ${JSON.stringify(first)}`);
  return m[1].split(' ').filter(Boolean);
})();

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real regmgr binary (under `wrap`, e.g. setpriv, when given); resolves when it exits. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, onSpawn?: (c: ChildProcess) => void, cwd?: string, wrap: string[] = []): Promise<CliResult> {
  return new Promise((resolve) => {
    const [exe, ...pre] = [...wrap, 'node', ...NODE_FLAGS, CLI, ...args];
    const child = track(spawn(exe, pre, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onSpawn?.(child);
  });
}
