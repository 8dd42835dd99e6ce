// One measured run in a fresh process, so regmgr and the floor both start cold:
//   plan-child.js plan CONFIG '' '' DIR        -> regmgr plan -c CONFIG -out DIR/plan.json (the bundle,
//                                                 dist/cli/), its text rendered and dropped
//                                                 (REGMGR_CACHE_DIR: its cache)
//   plan-child.js floor URL N KEY DIR [CA]     -> the fewest requests for the same decision, sent by
//                                                 curl with N in flight: list tags; GET every
//                                                 manifest (bytes freed count every image), and
//                                                 the config of one the policy orders (tags
//                                                 containing KEY)
//   plan-child.js floor-warm URL N KEY DIR [CA]  -> what a second plan of unchanged registries
//                                                 cannot do without: list tags, a HEAD of
//                                                 every tag (its digest); nothing else
// Prints one JSON line, the last: wall ms, CPU ms (curl's included), peak RSS, requests, tags.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { subscribe } from 'node:diagnostics_channel';
import { baselineWasmOnly } from '../../src/util/wasm-tiering.js';
import { MANIFEST_ACCEPT } from '../../src/oci/media-types.js';

const run = promisify(execFile);
const [mode, arg, n, key, dir, cacert] = process.argv.slice(2);
// regmgr's modules are loaded only to run regmgr: a floor's process loaded them too, and
// its CPU (curl's and its own) counted ~0.15 s of loading them that curl does not need.
// As cli.ts starts every command: WebAssembly kept at V8's baseline compiler, set
// before undici (loaded by the plan command) compiles its HTTP parser.
if (mode === 'plan') baselineWasmOnly();
// Time runs from here, before regmgr loads anything: curl's time counts its start too.
const started = performance.now();
// The bundle `regmgr` runs (scripts/bundle.mjs), not dist/src: its module of the command
// line, main.cjs, compiled by V8 as it loads (no code cache: a run this long hardly
// notices its ~50 ms).
const regmgr = mode === 'plan' ? (createRequire(import.meta.url)(fileURLToPath(new URL('../../cli/main.cjs', import.meta.url))) as { main(args: string[]): Promise<void> }) : undefined;
let extra: Record<string, number> = {};
/** Time, CPU and peak memory of the measured part (set before anything after it is read back). */
let measured: { ms: number; cpuMs: number; maxRssKb: number } | undefined;
const measure = () => ({ ms: performance.now() - started, cpuMs: cpuMs(), maxRssKb: process.resourceUsage().maxRSS });

/** This process's CPU and that of the children it waited for (curl), in ms. */
function cpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(f[i]), 0); // utime stime cutime cstime
  return ticks * 10; // USER_HZ is 100 on Linux
}

if (mode === 'plan') {
  // The whole command, as a user runs it: `regmgr plan -c CONFIG -out plan.json`, its text
  // printed to this process's stdout, a pipe the bench reads as it comes (as a CI log
  // does): peak RSS counts what node queues for it too. Reads (GET, HEAD) are
  // counted where undici makes them (its diagnostics channel; nothing is published
  // without a subscriber), not from --debug lines, which would cost regmgr a line each.
  let requests = 0;
  subscribe('undici:request:create', (m) => void (/^(GET|HEAD)$/.test((m as { request: { method: string } }).request.method) && requests++));
  const out = join(dir, 'plan.json');
  const writeErr = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((s: string | Uint8Array) => ((stderr = (stderr + String(s)).slice(-4096)), true)) as typeof process.stderr.write;
  try {
    await regmgr!.main(['plan', '-c', arg, '-out', out]);
  } finally {
    process.stderr.write = writeErr;
  }
  if (process.exitCode) throw new Error(`plan exited ${process.exitCode}: ${stderr}`);
  measured = measure();
  // The million bench counts on its registry's side: reading a plan of 1,000,000 tags back is not what it measures.
  if (process.env.BENCH_SKIP_READBACK) extra = { requests };
  else {
    const { readPlanFile } = await import('../../src/plan/file.js');
    const plan = readPlanFile(out);
    extra = { requests, actions: plan.actions.length, tags: Object.values(plan.snapshot).flatMap((r) => Object.values(r)).reduce((k, r) => k + Object.keys(r.tags).length, 0) };
  }
} else {
  let requests = 0;
  // curl -K: one block per request; --parallel keeps N connections busy and reuses them.
  const curl = async (name: string, blocks: string[]) => {
    requests += blocks.length;
    const cfg = join(dir, `${name}.curl`);
    writeFileSync(cfg, blocks.join('next\n'));
    await run('curl', ['--parallel', '--parallel-max', n, '--silent', '--show-error', '--fail', '-K', cfg], { maxBuffer: 64 << 20 });
  };
  // Per block: `next` starts a new operation, and options given before it do not carry over.
  const block = (url: string, out: string, head = false, headers?: string) =>
    `url = "${url}"\n${head ? 'head\n' : ''}${cacert ? `cacert = "${cacert}"\n` : ''}header = "Accept: ${MANIFEST_ACCEPT}"\noutput = "${out}"\n${headers ? `dump-header = "${headers}"\n` : ''}`;
  await curl('catalog', [block(`${arg}/v2/_catalog?n=1000`, join(dir, 'catalog.json'))]);
  const repos = (JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8')) as { repositories: string[] }).repositories;
  // Every repository's tags, a page of each in one curl run, until no page links a next
  // one (the real registry answers in one page; the million bench's synthetic one in pages
  // of 10,000, as a plan reads them).
  const tags: (readonly [string, string])[] = [];
  let pending = repos.map((r, i) => ({ r, i, path: `/v2/${r}/tags/list` }));
  for (let page = 0; pending.length > 0; page++) {
    const file = (i: number, ext: string) => join(dir, `tags-${i}-${page}.${ext}`);
    await curl(`lists-${page}`, pending.map(({ path, i }) => block(`${arg}${path}`, file(i, 'json'), false, file(i, 'head'))));
    pending = pending.flatMap(({ r, i }) => {
      for (const t of (JSON.parse(readFileSync(file(i, 'json'), 'utf8')) as { tags: string[] }).tags) tags.push([r, t]);
      const next = /<([^>]+)>;\s*rel="next"/.exec(readFileSync(file(i, 'head'), 'latin1'))?.[1];
      return next ? [{ r, i, path: next }] : [];
    });
  }
  const ordered = tags.filter(([, t]) => t.includes(key));
  if (mode === 'floor-warm') {
    // At most 50,000 requests a curl run: curl holds every block of its -K file at once.
    const heads = tags.map(([r, t]) => block(`${arg}/v2/${r}/manifests/${t}`, '/dev/null', true));
    for (let k = 0; k < heads.length; k += 50_000) await curl(`heads-${k}`, heads.slice(k, k + 50_000));
  } else {
    // Every manifest's body: the bytes a plan frees count kept images' blobs too.
    await curl('manifests', [
      ...tags.filter(([, t]) => !t.includes(key)).map(([r, t], i) => block(`${arg}/v2/${r}/manifests/${t}`, join(dir, `k-${i}.json`))),
      ...ordered.map(([r, t], i) => block(`${arg}/v2/${r}/manifests/${t}`, join(dir, `m-${i}.json`))),
    ]);
    const configs = new Map<string, string>();
    ordered.forEach(([r], i) => configs.set(JSON.parse(readFileSync(join(dir, `m-${i}.json`), 'utf8')).config.digest, r));
    await curl('configs', [...configs].map(([d, r]) => block(`${arg}/v2/${r}/blobs/${d}`, '/dev/null')));
  }
  extra = { requests, tags: tags.length };
}
// The last line: after a plan's text in plan mode (childResult() in the benches reads it).
process.stdout.write(`\n${JSON.stringify({ ...(measured ?? measure()), ...extra })}`);
