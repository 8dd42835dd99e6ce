import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { track } from '../helpers/processes.js';

// The README's quick start, run as a user would with --keep and then stopped with
// SIGTERM: its output piped to a file holds no colour codes, the command regmgr suggests
// works as printed, and the stop leaves no registry running and no folder behind (they
// hold an htpasswd file, a TLS key and the demo's passwords).
const demo = fileURLToPath(new URL('../../examples/demo.js', import.meta.url));
const run = promisify(execFile);

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

test('demo --keep: no colour in a file, suggested commands work, SIGTERM removes everything', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.FORCE_COLOR;
  const child = track(spawn('node', [demo, '--keep'], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const kept = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (/^ {2}cd .+ && export PATH=.+\n/m.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}) before --keep:\n${out}`)));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stopped = false;
  try {
    await kept;
    assert.doesNotMatch(out, /\x1b\[/, 'no ANSI codes when the output is not a terminal');
    assert.doesNotMatch(out, /The demo failed/);
    const folder = /^folder: (.+)$/m.exec(out)![1];
    const ports = new Set([...out.matchAll(/https?:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])));
    assert.equal(ports.size, 2, 'two registries were announced');
    assert.match(out, /To perform exactly these actions, run: regmgr apply plan\.json$/m);
    // The line the demo prints for --keep, as a user pastes it, then the suggested command.
    const shell = /^ {2}(cd .+ && export PATH=.+)$/m.exec(out)![1];
    const again = await run('sh', ['-c', `${shell} && regmgr apply plan.json`], { env: { ...env, NO_COLOR: '1' } });
    assert.match(again.stdout, /^Nothing to do: all \d+ actions of this plan were already applied/m, again.stdout);

    process.kill(child.pid!, 'SIGTERM');
    stopped = true;
    assert.equal(await exited, 143);
    assert.equal(existsSync(folder), false, `${folder} is removed`);
    for (const p of ports) assert.equal(await refused(p), true, `the registry on port ${p} is stopped`);
  } finally {
    // A failed assertion still stops the demo, and with it its registries.
    if (!stopped && child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
  }
});
