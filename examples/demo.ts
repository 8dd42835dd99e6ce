// The quick-start demo: two real registries on 127.0.0.1 named as in the seed (harbor,
// aliyun), seeded with the seed's kinds of tags; then validate, list, plan, show, apply,
// and list again with the seed's own example config. Everything is removed at the end.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { startSeedWorld } from '../test/helpers/seed-fixture.js';
import { tempDir } from '../test/helpers/processes.js';

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const dir = tempDir('demo');
const keep = process.argv.includes('--keep');

function regmgr(...args: string[]) {
  const shown = args.map((a) => (a.startsWith(dir.dir) ? relative(dir.dir, a) || '.' : a)).join(' ');
  console.log(`\n\x1b[1m$ regmgr ${shown}\x1b[0m`);
  const r = spawnSync('node', [cli, ...args], { stdio: 'inherit', cwd: dir.dir, env: process.env });
  return r.status;
}

console.log('Starting two docker-registry processes on 127.0.0.1 and pushing images ...');
const world = await startSeedWorld();
try {
  // The seed's config, unchanged but for the two registry addresses.
  const config = world.writeConfig(dir.dir);
  console.log(`harbor: ${world.harbor.url} (TLS, Basic auth)   aliyun: ${world.aliyun.url} (plain HTTP, Basic auth)`);
  console.log(`config: ${config} (the seed's example, with these two addresses)`);
  regmgr('validate', '-c', config);
  regmgr('list', '-c', config);
  const plan = join(dir.dir, 'plan.json');
  regmgr('plan', '-c', config, '-out', plan);
  regmgr('show', plan, '--markdown');
  regmgr('apply', plan);
  regmgr('apply', plan);
  regmgr('list', '-c', config);
  regmgr('plan', '-c', config);
  if (keep) {
    console.log(`\n--keep: registries stay up until you press Ctrl-C. Folder: ${dir.dir}`);
    await new Promise((r) => process.once('SIGINT', r));
  }
} finally {
  await world.stop();
  dir.remove();
}
