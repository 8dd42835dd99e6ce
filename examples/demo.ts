// The quick-start demo: two real registries on 127.0.0.1 named as in the seed (harbor,
// aliyun), seeded with the seed's kinds of tags; then validate, list, plan, show, apply,
// and list again with the seed's own example config. Everything is removed at the end,
// also when the demo is stopped by Ctrl-C, SIGTERM or a closed terminal.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { delimiter, join } from 'node:path';
import chalk from 'chalk';
import { startSeedWorld, type SeedWorld } from '../test/helpers/seed-fixture.js';
import { stopAllTracked, tempDir } from '../test/helpers/processes.js';
import { NODE_FLAGS } from '../test/helpers/cli.js';

const cli = fileURLToPath(new URL('../cli/cli.js', import.meta.url));
const dir = tempDir('demo');
const keep = process.argv.includes('--keep');

// Every temporary folder the registries make (htpasswd, TLS key) is created inside the
// demo's folder, so removing that one folder leaves nothing behind.
process.env.TMPDIR = join(dir.dir, 'tmp');
mkdirSync(process.env.TMPDIR);

// A `regmgr` command on PATH, so the commands regmgr itself suggests ("run: regmgr
// apply plan.json") work as printed, in this demo and in a shell started with --keep.
const bin = join(dir.dir, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'regmgr'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${NODE_FLAGS.join(' ')} ${JSON.stringify(cli)} "$@"\n`);
chmodSync(join(bin, 'regmgr'), 0o755);
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };

let world: SeedWorld | undefined;
let current: ChildProcess | undefined;
let stopping = false;
const failed: string[] = [];

async function cleanUp(): Promise<void> {
  // The registries are stopped by PID even while startSeedWorld is still pushing.
  await (world ? world.stop() : stopAllTracked());
  dir.remove();
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the registries and removing ${dir.dir} ...`);
    current?.kill(signal);
    void cleanUp().finally(() => process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[signal]));
  });
}

async function regmgr(...args: string[]): Promise<void> {
  if (stopping) return new Promise(() => {});
  console.log(`\n${chalk.bold(`$ regmgr ${args.join(' ')}`)}`);
  current = spawn('regmgr', args, { stdio: 'inherit', cwd: dir.dir, env });
  const code = await new Promise<number | null>((r) => current!.once('exit', (c) => r(c)));
  current = undefined;
  if (code !== 0 && !stopping) failed.push(`regmgr ${args.join(' ')} (exit ${code})`);
}

console.log('Starting two docker-registry processes on 127.0.0.1 and pushing images ...');
world = await startSeedWorld();
// The seed's config, unchanged but for the two registry addresses.
world.writeConfig(dir.dir);
console.log(`harbor: ${world.harbor.url} (TLS, Basic auth)   aliyun: ${world.aliyun.url} (plain HTTP, Basic auth)`);
console.log(`folder: ${dir.dir}`);
console.log(`config: config.yml (the seed's example, with these two addresses)`);
console.log(`regmgr: bin/regmgr, which runs ${cli} (npm install -g . installs it for good)`);
await regmgr('validate', '-c', 'config.yml');
await regmgr('list', '-c', 'config.yml');
await regmgr('plan', '-c', 'config.yml', '-out', 'plan.json');
await regmgr('show', 'plan.json', '--markdown');
await regmgr('apply', 'plan.json');
await regmgr('apply', 'plan.json');
await regmgr('list', '-c', 'config.yml');
await regmgr('plan', '-c', 'config.yml');
if (keep && !stopping) {
  console.log(`\n--keep: the registries stay up until you press Ctrl-C (or send SIGTERM). To try regmgr on them:`);
  console.log(`  cd ${dir.dir} && export PATH=${bin}${delimiter}$PATH`);
  await new Promise(() => {});
}
if (!stopping) {
  stopping = true;
  await cleanUp();
  if (failed.length) {
    console.log(`\nThe demo failed: ${failed.join('; ')}`);
    process.exitCode = 1;
  }
}
