// npm run bench (second part): `regmgr apply` of DELETES deletes in one repository of
// TAGS tags, against two floors sent by curl: the DELETEs alone, 8 in parallel, and each
// DELETE followed by a listing, one at a time (what attributing a lost tag needs). The
// registry's storage is restored from a copy before every round, so each round deletes
// the same digests from the same starting point. Prints wall times, the ratios, apply's
// requests per delete (counted through a forwarding proxy in a separate, untimed round,
// so the proxy's cost does not enter the timings) for each -digest-max-age asked for
// (BENCH_APPLY_AGES), and the absence window of a tag put back (a last, untimed round).
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../helpers/registry.js';
import { NODE_FLAGS } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { request } from 'undici';
import { tempDir } from '../helpers/processes.js';
import { writeFile } from '../helpers/io.js';
import { mapLimit } from '../../src/util/limit.js';

const TAGS = Number(process.env.BENCH_APPLY_TAGS ?? 1500);
const DELETES = Number(process.env.BENCH_APPLY_DELETES ?? 1000);
const ROUNDS = Number(process.env.BENCH_APPLY_ROUNDS ?? 3);
const PARALLEL = 8;
const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * HEADs a tag over and over, one request at a time, until it has been absent and is
 * back, or it is there after regmgr's PUT (or 30 s pass): how long a pulling client found it missing, in ms (undefined if
 * it never did).
 */
async function pollAbsence(url: string, putBack: () => boolean): Promise<number | undefined> {
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  let goneAt: number | undefined;
  const until = performance.now() + 30_000;
  while (performance.now() < until) {
    const at = performance.now();
    const res = await request(url, { method: 'HEAD', headers: { accept } });
    await res.body.dump();
    if (res.statusCode === 404) goneAt ??= at;
    else if (goneAt !== undefined) return at - goneAt;
    else if (putBack()) return undefined;
  }
  return undefined;
}
const cli = fileURLToPath(new URL('../../cli/cli.js', import.meta.url));

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
  const applyOnce = async (age: string, debug = false): Promise<number> => {
    const started = performance.now();
    try {
      const r = await run('node', [...NODE_FLAGS, cli, 'apply', planFile, ...(age === 'default' ? [] : [`-digest-max-age=${age}`]), ...(debug ? ['--debug'] : [])], { maxBuffer: 256 << 20 });
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

  // Each -digest-max-age asked for (BENCH_APPLY_AGES=2s,30s,never; default: apply's own).
  const ages = (process.env.BENCH_APPLY_AGES ?? 'default').split(',');
  const applies = new Map(ages.map((a) => [a, [] as number[]]));
  const curls: number[] = [];
  const serials: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const age of ages) {
      const digests = await prepare(config);
      if (digests.length !== DELETES) throw new Error(`planned ${digests.length} deletes, expected ${DELETES}`);
      applies.get(age)!.push(await applyOnce(age));
    }
    const digests = await prepare(config);
    curls.push(await curlOnce(digests, 'parallel'));
    await prepare(config);
    serials.push(await curlOnce(digests, 'serial'));
  }

  console.log(`apply of ${DELETES} deletes in one repository of ${TAGS} tags (median of ${ROUNDS}):`);
  console.log(`floor, curl -X DELETE, ${PARALLEL} parallel:  ${s(median(curls))}`);
  console.log(`curl, DELETE then list, one at a time:  ${s(median(serials))}   (${(median(serials) / median(curls)).toFixed(2)}x the floor)`);
  // Requests per delete, counted through a proxy in an untimed round per setting.
  const proxy = await startFaultProxy(reg.url);
  try {
    const proxied = configFor(proxy.url, 'proxied.yml');
    for (const age of ages) {
      await prepare(proxied);
      proxy.log.length = 0;
      await applyOnce(age, true);
      const by = (m: string) => proxy.log.filter((l) => l.startsWith(`${m} `)).length;
      const total = proxy.log.length;
      const xs = applies.get(age)!;
      console.log(`regmgr apply, -digest-max-age ${age}: ${s(median(xs))} (${xs.map(s).join(', ')}), ${(median(xs) / median(serials)).toFixed(2)}x DELETE-then-list, ${(median(xs) / median(curls)).toFixed(2)}x parallel DELETEs`);
      console.log(`  view: ${debugLine.replace(/^.*?: bench\/del: /, '')}`);
      console.log(`  requests: ${total} in all, ${(total / DELETES).toFixed(2)} per delete (GET ${by('GET')}, HEAD ${by('HEAD')}, DELETE ${by('DELETE')}, PUT ${by('PUT')}, POST ${by('POST')})`);
    }
  } finally {
    await proxy.close();
  }

  // The absence window (untimed round): another client moves a kept tag onto a planned
  // digest right before regmgr's DELETE of it, RACES times, apply with its defaults (no
  // digest re-read during apply). The DELETE takes the tag; regmgr lists, finds it gone
  // and puts it back. A client polling the tag (HEAD, straight to the registry) records
  // how long it answered 404; the proxy records when the DELETE reached the registry and
  // when the PUT that restored the tag was answered (the bound on the absence).
  const RACES = Number(process.env.BENCH_APPLY_RACES ?? 20);
  const race = await startFaultProxy(reg.url);
  try {
    const digests = await prepare(configFor(race.url, 'race.yml'));
    const races = Array.from({ length: RACES }, (_, j) => ({
      digest: digests[Math.floor(((j + 0.5) * digests.length) / RACES)],
      tag: `v1.${DELETES + j}.0`,
      sentAt: 0,
      putAt: 0,
      seen: undefined as Promise<number | undefined> | undefined,
    }));
    for (const r of races) {
      race.inject((req) => req.method === 'DELETE' && (req.url ?? '').endsWith(`/manifests/${r.digest}`), {
        before: async () => {
          await tagDigest(reg, repo, r.tag, r.digest);
          r.seen = pollAbsence(`${reg.url}/v2/${repo}/manifests/${r.tag}`, () => r.putAt > 0);
          r.sentAt = performance.now();
        },
      }, 1);
      race.inject((req) => req.method === 'PUT' && (req.url ?? '').endsWith(`/manifests/${r.tag}`), { rewrite: (res) => ((r.putAt = performance.now()), res) }, 1);
    }
    const started = performance.now();
    const out = await run('node', [...NODE_FLAGS, cli, 'apply', planFile], { maxBuffer: 256 << 20 }).then((x) => x.stdout, (e: { stdout?: string }) => e.stdout ?? '');
    const took = performance.now() - started;
    const seen = (await Promise.all(races.map((r) => r.seen))).filter((x): x is number => x !== undefined);
    const tags = await readTags(reg, repo);
    const back = races.filter((r) => tags[r.tag] === r.digest).length;
    const bound = races.filter((r) => r.putAt > 0).map((r) => r.putAt - r.sentAt);
    const ms = (xs: number[]) => (xs.length ? `median ${median(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms` : 'none');
    const restored = /\((\d+) with a lost tag put back\)/.exec(out)?.[1] ?? '0';
    console.log(`absence window: ${RACES} kept tags moved onto a digest right before its DELETE (apply with its defaults, ${s(took)}): ${restored} deletes put a lost tag back, ${back} of ${RACES} tags on their digest at the end`);
    console.log(`  a client polling each tag saw it absent for ${ms(seen)} (${seen.length} of ${RACES} saw it absent at all)`);
    console.log(`  from the DELETE reaching the registry to the restoring PUT answered: ${ms(bound)}`);
  } finally {
    await race.close();
  }
} finally {
  await reg.stop();
  tmp.remove();
}
