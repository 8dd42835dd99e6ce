// npm run bench (first part): `regmgr plan` against the floor on three workloads, each a
// real docker-registry whose storage is seeded straight on disk (storage-seed.ts):
//   20 repositories x 250 tags, 1 x 5,000, 1 x 20,000, 1 x 20 (the fixed cost)
//   (BENCH_BIG=1 adds 4 x 25,000);
// every workload with the seed's policy, mix-count 10 over the `dev` tags, so creation
// times are read for two tags in three. The floor is curl (plan-child.ts) sending the
// fewest requests for the same decision with the same 8 in flight. regmgr runs twice a
// round: with an empty content cache (a first plan) and with the cache that run left (a
// second plan of unchanged registries), against a warm floor too: curl listing the tags
// and sending a HEAD for each, all a second plan needs. Rounds alternate after a
// warm-up; medians. With both single-repository workloads, the summary ends with what a
// further tag costs a second plan and the warm floor in CPU (the slope from 5,000 to
// 20,000 tags), and what is left over the floor's whatever the size.
// Each workload is planned over plain HTTP and over TLS (BENCH_SCHEMES picks).
// BENCH_WORKLOADS=0,2 picks workloads; BENCH_ROUNDS sets the rounds (default 3).
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/processes.js';
import { writeFile } from '../helpers/io.js';
import { NODE_FLAGS } from '../helpers/cli.js';
import { StorageSeeder } from './storage-seed.js';
import { childResult } from './child-result.js';

const CONCURRENCY = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const run = promisify(execFile);
const child = fileURLToPath(new URL('./plan-child.js', import.meta.url));
const all = [
  { name: '20 repos x 250 tags', repos: 20, tags: 250 },
  { name: '1 repo x 5,000 tags', repos: 1, tags: 5000 },
  { name: '1 repo x 20,000 tags', repos: 1, tags: 20000 },
  // What every plan pays whatever its size (node, modules, config, cache, plan file):
  // at 20 tags it is nearly all of the run.
  { name: '1 repo x 20 tags', repos: 1, tags: 20 },
  ...(process.env.BENCH_BIG ? [{ name: '4 repos x 25,000 tags', repos: 4, tags: 25000 }] : []),
];
// BENCH_SCHEMES=http,https (default): each workload over plain HTTP and over TLS.
const SCHEMES = (process.env.BENCH_SCHEMES ?? 'http,https').split(',') as Array<'http' | 'https'>;
const picked = process.env.BENCH_WORKLOADS ? process.env.BENCH_WORKLOADS.split(',').map(Number) : all.map((_, i) => i);

type Run = { ms: number; cpuMs: number; maxRssKb: number; requests: number; tags: number; actions?: number };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rows: string[] = [];
/** Second plans' and warm floors' median CPU by workload and scheme: what a further tag costs each. */
const warmCpu = new Map<string, { tags: number; regmgr: number; floor: number }>();

for (const w of picked.map((i) => all[i])) {
  const tmp = tempDir('bench');
  try {
    const data = join(tmp.dir, 'data');
    const t0 = performance.now();
    const seeder = new StorageSeeder(data);
    for (let r = 0; r < w.repos; r++) {
      const repo = `bench/app-${String(r).padStart(2, '0')}`;
      // One image per 5 tags carries the next tag too, so shared digests are exercised.
      for (let i = 0; i < w.tags; i++) {
        if (i % 5 === 1) continue;
        const tag = (k: number) => (k % 3 === 0 ? `v1.${k}.0` : `dev-${k}`);
        const tags = i % 5 === 0 && i + 1 < w.tags ? [tag(i), tag(i + 1)] : [tag(i)];
        seeder.image(repo, tags, `${repo}-${i}`, new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString());
      }
    }
    console.log(`\n${w.name}: seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const scheme of SCHEMES) {
      // The same storage served over plain HTTP, then over TLS (a self-signed certificate that
      // regmgr checks with ca-file and curl with --cacert): one registry at a time.
      const reg = await startRegistry({ dataDir: data, tls: scheme === 'https' });
      try {
        const config = writeFile(tmp.dir, 'bench.yml', `registries:\n  bench:\n    registry: ${reg.url}\n    concurrency: ${CONCURRENCY}\n${reg.certFile ? `    ca-file: ${reg.certFile}\n` : ''}delete-policy:\n  registries: [bench]\n  mix-count: 10\n  tags:\n    include:\n      keys: dev\n`);
        const once = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => childResult((await run('node', ['--max-old-space-size=4096', ...NODE_FLAGS, child, ...args], { env: { ...process.env, ...env }, maxBuffer: 256 << 20 })).stdout);
        const cold: Run[] = [];
        const warm: Run[] = [];
        const floors: Run[] = [];
        const warmFloors: Run[] = [];
        for (let i = 0; i <= ROUNDS; i++) {
          const cache = join(tmp.dir, `cache-${scheme}-${i}`);
          const scratch = join(tmp.dir, `floor-${i}`);
          mkdirSync(scratch);
          const c = await once(['plan', config, '', '', scratch], { REGMGR_CACHE_DIR: cache });
          const h = await once(['plan', config, '', '', scratch], { REGMGR_CACHE_DIR: cache });
          const f = await once(['floor', reg.url, String(CONCURRENCY), 'dev', scratch, reg.certFile ?? '']);
          const fw = await once(['floor-warm', reg.url, String(CONCURRENCY), 'dev', scratch, reg.certFile ?? '']);
          rmSync(scratch, { recursive: true, force: true });
          if (c.tags !== f.tags || h.tags !== f.tags || fw.tags !== f.tags) throw new Error(`read ${c.tags}/${h.tags} tags, the floors ${f.tags}/${fw.tags}`);
          if (i === 0) continue; // warm-up: page cache, JIT of the registry
          cold.push(c);
          warm.push(h);
          floors.push(f);
          warmFloors.push(fw);
        }
        const m = (xs: Run[], k: keyof Run) => median(xs.map((x) => x[k] as number));
        const tags = floors[0].tags;
        const line = (label: string, xs: Run[], rss = true) =>
          `${label.padEnd(22)} ${s(m(xs, 'ms')).padStart(8)}  ${(m(xs, 'ms') / m(floors, 'ms')).toFixed(2)}x  CPU ${s(m(xs, 'cpuMs'))} (${(m(xs, 'cpuMs') / tags).toFixed(2)} ms/tag)  ${(m(xs, 'requests') / tags).toFixed(2)} req/tag${rss ? `  peak RSS ${(m(xs, 'maxRssKb') / 1024).toFixed(0)} MiB` : ''}`;
        const out = [
          `${w.name}, ${scheme} (${tags} tags, ${cold[0].actions} delete actions; median of ${ROUNDS}):`,
          `  ${line('regmgr, first plan', cold)}`,
          `  ${line('regmgr, second plan', warm)}`,
          `  ${line('floor, curl', floors, false)}`,
          `  ${line('warm floor, curl HEADs', warmFloors, false)}`,
          `  second plan against the warm floor: time ${(m(warm, 'ms') / m(warmFloors, 'ms')).toFixed(2)}x, CPU ${(m(warm, 'cpuMs') / m(warmFloors, 'cpuMs')).toFixed(2)}x`,
        ].join('\n');
        console.log(out);
        rows.push(out);
        warmCpu.set(`${w.name} ${scheme}`, { tags, regmgr: m(warm, 'cpuMs'), floor: m(warmFloors, 'cpuMs') });
      } finally {
        await reg.stop();
      }
    }
  } finally {
    tmp.remove();
  }
}
// The goal is CPU a tag at or under the floor's. A plan also pays a fixed cost (node's
// start, the policy, the plan's file) that curl does not: the slope between the two
// single-repository workloads says what each further tag costs, apart from it.
for (const scheme of SCHEMES) {
  const [a, b] = [warmCpu.get(`${all[1].name} ${scheme}`), warmCpu.get(`${all[2].name} ${scheme}`)];
  if (!a || !b) continue;
  const slope = (k: 'regmgr' | 'floor') => (b[k] - a[k]) / (b.tags - a.tags);
  const out = `CPU a further tag, second plan, ${a.tags} to ${b.tags} tags, ${scheme}: regmgr ${slope('regmgr').toFixed(3)} ms, warm floor ${slope('floor').toFixed(3)} ms (${(slope('regmgr') / slope('floor')).toFixed(2)}x); fixed cost over the floor's ${s(a.regmgr - a.floor - slope('regmgr') * a.tags + slope('floor') * a.tags)}`;
  console.log(out);
  rows.push(out);
}
console.log(`\nplan bench summary\n${rows.join('\n')}`);
