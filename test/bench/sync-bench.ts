// npm run bench (third part): copying a set of images between two registries, `regmgr
// apply` of a plan against `skopeo sync --all --preserve-digests` of the same set (one
// skopeo process, from a YAML list of the same repositories), and against one such
// skopeo process per repository, all at once (the floor of a parallel client that does
// nothing but copy: no re-check, no tag checks, no journal). The set: IMAGES single
// images and INDEXES multi-arch indexes (default 50 and 5) over REPOS repositories. The
// target registry's storage is emptied before every round. Medians of ROUNDS, of the
// time and of the CPU the whole machine spent (/proc/stat) and each registry process
// spent (/proc/PID/stat): on 2 cores a copy is bound by CPU, so these say where the
// time goes.
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
const cli = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));

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

  /** CPU seconds: the machine's busy time, and each registry's own. */
  const cpu = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const own = (pid: number) => {
      const g = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(g[11]) + Number(g[12])) / 100;
    };
    return { busy: (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100, src: own(src.pid), dst: own(dst.pid) };
  };
  type Sample = { ms: number; busy: number; src: number; dst: number };
  const measure = async (work: () => Promise<unknown>): Promise<Sample> => {
    emptyTarget();
    const c0 = cpu();
    const t = performance.now();
    await work();
    const ms = performance.now() - t;
    const c1 = cpu();
    return { ms, busy: c1.busy - c0.busy, src: c1.src - c0.src, dst: c1.dst - c0.dst };
  };
  const regmgrOnce = async () => {
    emptyTarget(); // before the plan too: it must find every copy to do
    for (const f of readdirSync(tmp.dir)) if (/\.state\.json$|\.journal$/.test(f)) rmSync(join(tmp.dir, f), { force: true });
    await run('node', [...NODE_FLAGS, cli, 'plan', '-c', config, '-out', plan]);
    const actions = (JSON.parse(readFileSync(plan, 'utf8')) as { actions: unknown[] }).actions.length;
    if (actions !== IMAGES + INDEXES) throw new Error(`planned ${actions} copies, expected ${IMAGES + INDEXES}`);
    return measure(async () => {
      const r = await run('node', [...NODE_FLAGS, cli, 'apply', plan, ...(process.env.BENCH_SYNC_DEBUG ? ['--debug'] : [])], { maxBuffer: 64 << 20 });
      if (process.env.BENCH_SYNC_DEBUG) console.log(r.stderr.split('\n').filter((l) => !/ -> /.test(l)).join('\n'));
    });
  };
  const skopeoSync = (list: string, dest: string) => run('skopeo', ['sync', '--all', '--preserve-digests', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', list, dest], { maxBuffer: 64 << 20 });
  const perRepo = repos.map((r, i) => {
    const list = join(tmp.dir, `skopeo-sync-${i}.yml`);
    writeFileSync(list, `${src.host}:\n  tls-verify: false\n  images-by-tag-regex:\n    ${r}: '.*'\n`);
    // skopeo sync names the destination DEST/<last name>.
    return { list, dest: r.includes('/') ? `${dst.host}/${r.slice(0, r.lastIndexOf('/'))}` : dst.host };
  });
  const rows = {
    'regmgr apply': [] as Sample[],
    'skopeo sync, one process': [] as Sample[],
    [`skopeo sync, ${REPOS} processes at once`]: [] as Sample[],
  };
  for (let i = 0; i <= ROUNDS; i++) {
    const samples = [await regmgrOnce(), await measure(() => skopeoSync(yaml, dst.host)), await measure(() => Promise.all(perRepo.map((p) => skopeoSync(p.list, p.dest))))];
    if (i > 0) Object.values(rows).forEach((xs, j) => xs.push(samples[j]));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const one = median(rows['skopeo sync, one process'].map((x) => x.ms));
  console.log(`\nsync bench: ${IMAGES} images and ${INDEXES} multi-arch indexes in ${REPOS} repositories (median of ${ROUNDS}; CPU seconds: the machine's busy time, the source and target registries'):`);
  for (const [name, xs] of Object.entries(rows)) {
    const ms = median(xs.map((x) => x.ms));
    console.log(`${name.padEnd(36)} ${s(ms)} (${xs.map((x) => s(x.ms)).join(', ')}), one skopeo sync / this = ${(one / ms).toFixed(2)}x; CPU ${median(xs.map((x) => x.busy)).toFixed(2)} s, registries ${median(xs.map((x) => x.src)).toFixed(2)} + ${median(xs.map((x) => x.dst)).toFixed(2)} s`);
  }
} finally {
  await Promise.all([src.stop(), dst.stop()]);
  tmp.remove();
}
