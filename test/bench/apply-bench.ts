// npm run bench (second part): `regmgr apply` of DELETES deletes in one repository of
// TAGS tags, against the floor: bare parallel `curl -X DELETE` of the same digests.
// The registry's storage is restored from a copy before every round, so each round
// deletes the same digests from the same starting point. Prints wall times, the ratio,
// and apply's requests per delete (counted through a forwarding proxy in a separate,
// untimed round, so the proxy's cost does not enter the timings).
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../helpers/registry.js';
import { NODE_FLAGS } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/images.js';
import { tempDir } from '../helpers/processes.js';
import { writeFile } from '../helpers/io.js';
import { mapLimit } from '../../src/util/limit.js';

const TAGS = Number(process.env.BENCH_APPLY_TAGS ?? 1500);
const DELETES = Number(process.env.BENCH_APPLY_DELETES ?? 1000);
const ROUNDS = Number(process.env.BENCH_APPLY_ROUNDS ?? 3);
const PARALLEL = 8;
const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

const reg = await startRegistry();
const tmp = tempDir('apply-bench');
const repo = 'bench/del';
try {
  const t0 = performance.now();
  await pushImage(reg, repo, ['dev-0'], { seed: 'dev-0' }); // uploads the shared layer first
  await mapLimit(Array.from({ length: TAGS - 1 }, (_, i) => i + 1), 8, (i) => {
    const tag = i < DELETES ? `dev-${i}` : `v1.${i}.0`;
    return pushImage(reg, repo, [tag], { seed: tag });
  });
  console.log(`\napply bench: seeded ${repo} with ${TAGS} tags in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const data = join(reg.dir, 'data');
  const backup = join(tmp.dir, 'data-backup');
  cpSync(data, backup, { recursive: true });
  const reset = () => {
    rmSync(data, { recursive: true, force: true });
    cpSync(backup, data, { recursive: true });
  };

  const configFor = (url: string, name: string) =>
    writeFile(tmp.dir, name, `registries:\n  bench:\n    registry: ${url}\n    repositories: [${repo}]\n    concurrency: ${PARALLEL}\ndelete-policy:\n  registries: [bench]\n  mix-count: 0\n  tags:\n    include:\n      regex: '^dev-'\n`);
  const config = configFor(reg.url, 'bench.yml');
  const planFile = join(tmp.dir, 'plan.json');

  /** Fresh storage, fresh state, a fresh plan; returns the planned digests. */
  const prepare = async (cfg: string): Promise<string[]> => {
    reset();
    // State and journals too: the same plan content has the same hash, hence the same journal.
    for (const f of readdirSync(tmp.dir)) if (/\.state\.json$|\.journal$/.test(f)) rmSync(join(tmp.dir, f), { force: true });
    await run('node', [...NODE_FLAGS, cli, 'plan', '-c', cfg, '-out', planFile], { maxBuffer: 64 << 20 });
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as { actions: Array<{ type: string; digest: string }> };
    return plan.actions.filter((a) => a.type === 'delete').map((a) => a.digest);
  };
  let debugLine = '';
  const applyOnce = async (debug = false): Promise<number> => {
    const started = performance.now();
    try {
      const r = await run('node', [...NODE_FLAGS, cli, 'apply', planFile, ...(debug ? ['--debug'] : [])], { maxBuffer: 256 << 20 });
      debugLine = r.stderr.split('\n').find((l) => /deletes checked/.test(l)) ?? '';
    } catch (e) {
      const err = e as { code?: number; stdout?: string };
      throw new Error(`apply exited ${err.code}: ${(err.stdout ?? '').split('\n').slice(-4).join('\n')}`);
    }
    return performance.now() - started;
  };
  /**
   * parallel: the floor, the DELETEs alone, 8 in flight. serial: the fewest
   * requests a delete that can tell which DELETE took a lost tag needs: each DELETE
   * followed by a listing, one at a time (no save, no digest re-read, no check).
   */
  const curlOnce = async (digests: string[], mode: 'parallel' | 'serial'): Promise<number> => {
    const del = (d: string) => `url = "${reg.url}/v2/${repo}/manifests/${d}"\n-X DELETE\n-o /dev/null\n-s\n`;
    const list = `url = "${reg.url}/v2/${repo}/tags/list"\n-o /dev/null\n-s\n`;
    const cfg = join(tmp.dir, 'curl.cfg');
    writeFileSync(cfg, mode === 'parallel' ? digests.map(del).join('') : digests.map((d) => `${del(d)}next\n${list}`).join('next\n'));
    const started = performance.now();
    await run('curl', [...(mode === 'parallel' ? ['--parallel', '--parallel-max', String(PARALLEL)] : []), '-K', cfg]);
    return performance.now() - started;
  };

  const applies: number[] = [];
  const curls: number[] = [];
  const serials: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const digests = await prepare(config);
    if (digests.length !== DELETES) throw new Error(`planned ${digests.length} deletes, expected ${DELETES}`);
    applies.push(await applyOnce());
    await prepare(config);
    curls.push(await curlOnce(digests, 'parallel'));
    await prepare(config);
    serials.push(await curlOnce(digests, 'serial'));
  }

  // Requests per delete, counted through a proxy in an untimed round.
  const proxy = await startFaultProxy(reg.url);
  try {
    const proxied = configFor(proxy.url, 'proxied.yml');
    await prepare(proxied);
    proxy.log.length = 0;
    await applyOnce(true);
    const by = (m: string) => proxy.log.filter((l) => l.startsWith(`${m} `)).length;
    const total = proxy.log.length;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(`apply of ${DELETES} deletes in one repository of ${TAGS} tags (median of ${ROUNDS}):`);
    console.log(`regmgr apply:                       ${s(median(applies))}   (${applies.map(s).join(', ')})`);
    console.log(`floor, curl -X DELETE, ${PARALLEL} parallel:  ${s(median(curls))}   regmgr/floor = ${(median(applies) / median(curls)).toFixed(2)}x`);
    console.log(`curl, DELETE then list, one at a time:  ${s(median(serials))}   (${(median(serials) / median(curls)).toFixed(2)}x the floor; regmgr = ${(median(applies) / median(serials)).toFixed(2)}x this)`);
    console.log(`view: ${debugLine.replace(/^.*?: bench\/del: /, '')}`);
    console.log(`requests: ${total} in all, ${(total / DELETES).toFixed(2)} per delete (GET ${by('GET')}, HEAD ${by('HEAD')}, DELETE ${by('DELETE')}, PUT ${by('PUT')}, POST ${by('POST')})`);
  } finally {
    await proxy.close();
  }
} finally {
  await reg.stop();
  tmp.remove();
}
