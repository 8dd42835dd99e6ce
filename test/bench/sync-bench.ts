// npm run bench (third part): copying a set of images between two registries, `regmgr
// apply` of a plan against `skopeo sync --all --preserve-digests` of the same set (one
// skopeo process, from a YAML list of the same repositories). The set: IMAGES single
// images and INDEXES multi-arch indexes (default 50 and 5) over REPOS repositories. The
// target registry's storage is emptied before every round. Medians of ROUNDS.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../helpers/registry.js';
import { NODE_FLAGS } from '../helpers/cli.js';
import { pushImage } from '../helpers/images.js';
import { tempDir } from '../helpers/processes.js';
import { writeFile } from '../helpers/io.js';

const IMAGES = Number(process.env.BENCH_SYNC_IMAGES ?? 50);
const INDEXES = Number(process.env.BENCH_SYNC_INDEXES ?? 5);
const REPOS = Number(process.env.BENCH_SYNC_REPOS ?? 5);
const ROUNDS = Number(process.env.BENCH_SYNC_ROUNDS ?? 3);
const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

const [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
const tmp = tempDir('sync-bench');
try {
  const repos = Array.from({ length: REPOS }, (_, i) => `bench/sync-${i}`);
  for (let i = 0; i < IMAGES + INDEXES; i++) {
    const repo = repos[i % REPOS];
    await pushImage(src, repo, [`v1.${i}.0`], { seed: `img-${i}`, ...(i >= IMAGES ? { platforms: ['amd64', 'arm64'] } : {}) });
  }
  const dstData = join(dst.dir, 'data');
  const emptyTarget = () => {
    for (const f of readdirSync(dstData)) rmSync(join(dstData, f), { recursive: true, force: true });
  };
  const config = writeFile(tmp.dir, 'sync.yml', `registries:\n  src:\n    registry: ${src.url}\n    repositories: [${repos.join(', ')}]\n  dst:\n    registry: ${dst.url}\nsync-policy:\n  from: src\n  to: dst\n`);
  const plan = join(tmp.dir, 'plan.json');
  const yaml = join(tmp.dir, 'skopeo-sync.yml');
  // Every tag of each repository, as regmgr's sync-policy without filters plans it.
  writeFileSync(yaml, `${src.host}:\n  tls-verify: false\n  images-by-tag-regex:\n${repos.map((r) => `    ${r}: '.*'\n`).join('')}`);

  const regmgrOnce = async () => {
    emptyTarget();
    for (const f of readdirSync(tmp.dir)) if (/\.state\.json$|\.journal$/.test(f)) rmSync(join(tmp.dir, f), { force: true });
    await run('node', [...NODE_FLAGS, cli, 'plan', '-c', config, '-out', plan]);
    const actions = (JSON.parse(readFileSync(plan, 'utf8')) as { actions: unknown[] }).actions.length;
    if (actions !== IMAGES + INDEXES) throw new Error(`planned ${actions} copies, expected ${IMAGES + INDEXES}`);
    const t = performance.now();
    const r = await run('node', [...NODE_FLAGS, cli, 'apply', plan, ...(process.env.BENCH_SYNC_DEBUG ? ['--debug'] : [])], { maxBuffer: 64 << 20 });
    if (process.env.BENCH_SYNC_DEBUG) console.log(r.stderr.split('\n').filter((l) => !/ -> /.test(l)).join('\n'));
    return performance.now() - t;
  };
  const skopeoOnce = async () => {
    emptyTarget();
    const t = performance.now();
    await run('skopeo', ['sync', '--all', '--preserve-digests', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', yaml, dst.host], { maxBuffer: 64 << 20 });
    return performance.now() - t;
  };
  const regmgr: number[] = [];
  const skopeo: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const r = await regmgrOnce();
    const k = await skopeoOnce();
    if (i === 0) continue;
    regmgr.push(r);
    skopeo.push(k);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`\nsync bench: ${IMAGES} images and ${INDEXES} multi-arch indexes in ${REPOS} repositories (median of ${ROUNDS}):`);
  console.log(`regmgr apply:                               ${s(median(regmgr))}   (${regmgr.map(s).join(', ')})`);
  console.log(`skopeo sync --all --preserve-digests:       ${s(median(skopeo))}   skopeo/regmgr = ${(median(skopeo) / median(regmgr)).toFixed(2)}x`);
} finally {
  await Promise.all([src.stop(), dst.stop()]);
  tmp.remove();
}
