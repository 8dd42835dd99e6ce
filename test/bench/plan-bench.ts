// npm run bench: times `regmgr plan` on >= 5000 tags against (1) the floor, the same
// requests from a bare undici loop with the same concurrency, and (2) the skopeo way,
// `skopeo list-tags` + `skopeo inspect --raw` per tag. Prints times, ratios, peak memory.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startRegistry, TEST_PASSWORD, TEST_USER } from '../helpers/registry.js';
import { putManifest, pushImage } from '../helpers/images.js';
import { tempDir } from '../helpers/processes.js';
import { writeFile } from '../helpers/io.js';
import { mapLimit } from '../../src/util/limit.js';
import { MANIFEST_ACCEPT } from '../../src/oci/media-types.js';

const REPOS = Number(process.env.BENCH_REPOS ?? 20);
const TAGS = Number(process.env.BENCH_TAGS ?? 250);
const CONCURRENCY = 8;
const SKOPEO_PARALLEL = Number(process.env.BENCH_SKOPEO_PARALLEL ?? CONCURRENCY);
const run = promisify(execFile);
const child = fileURLToPath(new URL('./plan-child.js', import.meta.url));

const reg = await startRegistry();
const tmp = tempDir('bench');
try {
  const t0 = performance.now();
  const repos = Array.from({ length: REPOS }, (_, i) => `bench/app-${String(i).padStart(2, '0')}`);
  await mapLimit(repos, 4, async (repo) => {
    // One image per 5 tags shares its digest with the next tag, so sharing is exercised.
    const digests: string[] = [];
    const push = async (i: number) => {
      const tag = i % 3 === 0 ? `v1.${i}.0` : `dev-${i}`;
      if (i % 5 === 1) return;
      digests[i] = await pushImage(reg, repo, [tag], { seed: `${repo}-${i}`, created: new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString() });
    };
    // The first push uploads the shared layer; concurrent uploads of one blob race in the registry.
    await push(0);
    await mapLimit(Array.from({ length: TAGS - 1 }, (_, i) => i + 1), 8, push);
    // The skipped tags point at their neighbour's manifest.
    for (let i = 1; i < TAGS; i += 5) {
      const tag = i % 3 === 0 ? `v1.${i}.0` : `dev-${i}`;
      const res = await request(`${reg.url}/v2/${repo}/manifests/${digests[i - 1]}`, { headers: { accept: MANIFEST_ACCEPT } });
      const bytes = Buffer.from(await res.body.arrayBuffer());
      await putManifest(reg, repo, tag, String(res.headers['content-type']), bytes);
    }
  });
  console.log(`seeded ${REPOS} repositories x ${TAGS} tags in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const config = writeFile(
    tmp.dir,
    'bench.yml',
    `registries:\n  bench:\n    registry: ${reg.url}\n    concurrency: ${CONCURRENCY}\ndelete-policy:\n  registries: [bench]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`,
  );
  // The same storage served over TLS with Basic auth, as users run registries.
  const tls = await startRegistry({ tls: true, auth: 'htpasswd', dataDir: `${reg.dir}/data` });
  const tlsConfig = writeFile(
    tmp.dir,
    'bench-tls.yml',
    `registries:\n  bench:\n    registry: ${tls.url}\n    insecure: true\n    username: ${TEST_USER}\n    password: ${TEST_PASSWORD}\n    concurrency: ${CONCURRENCY}\ndelete-policy:\n  registries: [bench]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`,
  );

  // regmgr plan and the floor, each in a fresh process, alternating; best of 3 after a warm-up.
  type Run = { ms: number; maxRssKb: number; actions?: number; blocked?: number; tags: number };
  const once = async (args: string[]): Promise<Run> => JSON.parse((await run('node', [child, ...args])).stdout);
  const best = (xs: Run[]) => xs.slice(1).sort((a, b) => a.ms - b.ms)[0];
  const measure = async (cfg: string, url: string, basic?: string) => {
    const plans: Run[] = [];
    const floors: Run[] = [];
    for (let i = 0; i < 4; i++) {
      plans.push(await once(['plan', cfg]));
      floors.push(await once(['floor', url, String(CONCURRENCY), ...(basic ? [basic] : [])]));
    }
    return { plan: best(plans), floor: best(floors) };
  };
  const { plan, floor } = await measure(config, reg.url);
  const overTls = await measure(tlsConfig, tls.url, `${TEST_USER}:${TEST_PASSWORD}`);
  await tls.stop();

  // The skopeo way: list-tags per repository, inspect --raw per tag, same parallelism.
  const skStart = performance.now();
  const skLists = await mapLimit(repos, SKOPEO_PARALLEL, async (r) => {
    const { stdout } = await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${reg.host}/${r}`]);
    return (JSON.parse(stdout).Tags as string[]).map((t) => `${r}:${t}`);
  });
  await mapLimit(skLists.flat(), SKOPEO_PARALLEL, (ref) => run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/${ref}`]));
  const skopeoMs = performance.now() - skStart;

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`\ntags read: ${plan.tags} (floor read ${floor.tags}); plan: ${plan.actions} delete actions, ${plan.blocked} blocked`);
  console.log(`regmgr plan (best of 3):            ${s(plan.ms)}   peak RSS ${(plan.maxRssKb / 1024).toFixed(0)} MiB`);
  console.log(`floor, bare undici, ${CONCURRENCY} in flight:   ${s(floor.ms)}   regmgr/floor = ${(plan.ms / floor.ms).toFixed(2)}x`);
  console.log(`skopeo list-tags + inspect --raw:   ${s(skopeoMs)}   skopeo/regmgr = ${(skopeoMs / plan.ms).toFixed(1)}x`);
  console.log(`over TLS with Basic auth:`);
  console.log(`regmgr plan (best of 3):            ${s(overTls.plan.ms)}   peak RSS ${(overTls.plan.maxRssKb / 1024).toFixed(0)} MiB`);
  console.log(`floor, bare undici, ${CONCURRENCY} in flight:   ${s(overTls.floor.ms)}   regmgr/floor = ${(overTls.plan.ms / overTls.floor.ms).toFixed(2)}x`);
} finally {
  await reg.stop();
  tmp.remove();
}
