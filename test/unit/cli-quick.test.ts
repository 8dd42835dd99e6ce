import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quickCommand } from '../../src/cli-quick.js';
import { tempDir } from '../helpers/processes.js';

// The start-up fast path takes only the plain spellings; everything else goes to yargs,
// which keeps its errors, help and option checks.
test('quickCommand: --version and validate -c FILE in their plain spellings only', () => {
  assert.equal(quickCommand(['--version']), 'version');
  assert.deepEqual(quickCommand(['validate', '-c', 'a.yml']), { config: 'a.yml' });
  assert.deepEqual(quickCommand(['validate', '--config', 'a.yml']), { config: 'a.yml' });
  assert.deepEqual(quickCommand(['validate', '-config', 'a.yml']), { config: 'a.yml' });
  assert.deepEqual(quickCommand(['validate', '--config=a.yml']), { config: 'a.yml' });
  for (const args of [
    [],
    ['--version', '--debug'],
    ['validate'],
    ['validate', '-c'],
    ['validate', '-c', '--debug'],
    ['validate', '-c', 'a.yml', '--debug'],
    ['validate', '--config=a.yml', 'x'],
    ['validate', '--help'],
    ['plan', '-c', 'a.yml'],
  ]) assert.equal(quickCommand(args), undefined, args.join(' '));
});

// The fast path runs validate.cjs, the full one main.cjs (scripts/bundle.mjs): the same
// answer, exit code and error text from each, for a good config and a bad one.
test('the fast path gives the same answers as the full one', () => {
  const cli = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));
  const seed = fileURLToPath(new URL('../../../examples/seed-config.yml', import.meta.url));
  const run = (...args: string[]) => {
    const r = spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  assert.deepEqual(run('--version'), run('--version', '--no-color'));
  const good = run('validate', '-c', seed);
  assert.equal(good.status, 0, good.stderr);
  assert.deepEqual(good, run('validate', '-c', seed, '--no-color'));
  const { dir, remove } = tempDir('quick-validate');
  try {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'registries:\n  a:\n    registry: https://a.example\ndelete-policy:\n  registries: [b]\n  tags:\n    include:\n      regex: "(x"\n');
    const quick = run('validate', '-c', bad);
    assert.equal(quick.status, 1);
    assert.match(quick.stderr, /invalid configuration[^]*bad\.yml:\d+/);
    assert.deepEqual(quick, run('validate', '-c', bad, '--no-color'));
    assert.deepEqual(run('validate', '-c', join(dir, 'none.yml')), run('validate', '-c', join(dir, 'none.yml'), '--no-color'));
  } finally {
    remove();
  }
});

// yargs renders a command's whole help each time it starts a handler (~25 ms of every
// start); regmgr turns that off through yargs' internals. Should an upgrade of yargs
// rename them, this says so.
test("starting a command does not render yargs' help text; --help still does", async () => {
  const { buildCli } = await import('../../src/cli-main.js');
  const cli = await buildCli(['validate', '-c', 'a.yml']);
  type Usage = { cacheHelpMessage(): void; hasCachedHelpMessage(): boolean };
  const usage = (cli as unknown as { getInternalMethods(): { getUsageInstance(): Usage } }).getInternalMethods().getUsageInstance();
  usage.cacheHelpMessage();
  assert.equal(usage.hasCachedHelpMessage(), false);
  const bin = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));
  assert.match(execFileSync('node', [bin, 'plan', '--help'], { encoding: 'utf8' }), /^regmgr plan\n[^]*Options:[^]*--out/);
});
