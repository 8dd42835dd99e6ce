// npm run bench (pure part): the code between listing and output, with no registry:
// policy, plan, hash, plan file text, terminal and pull-request renderings, for TAGS
// synthetic tags in one repository (default 100,000; BENCH_PURE_TAGS), shaped like the
// plan bench's (dev/v1 tags, one image per 5 tags shared, mix-count 10, creation times
// known). Prints the time of each step and the memory the process held at its peak.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { parseConfig } from '../../src/config/load.js';
import { computeScope, evaluate, type RepoMap } from '../../src/policy/evaluate.js';
import { buildPlan } from '../../src/plan/build.js';
import { writePlanText } from '../../src/plan/canonical.js';
import { renderText } from '../../src/plan/render.js';
import { renderMarkdown } from '../../src/plan/markdown.js';
import type { Digest, Repository } from '../../src/oci/names.js';
import type { TagEntry } from '../../src/snapshot/model.js';
import { collectGarbage } from '../../src/util/gc.js';
import { NODE_FLAGS } from '../helpers/cli.js';

// Run as the binary runs: with the node flags of its `#!` line (the heap's shape, and gc).
if (NODE_FLAGS.some((f) => !process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const TAGS = Number(process.env.BENCH_PURE_TAGS ?? 100_000);
const repo = 'bench/app' as Repository;
const yaml = `registries:\n  bench:\n    registry: http://127.0.0.1:1\n    repositories: [${repo}]\ndelete-policy:\n  registries: [bench]\n  mix-count: 10\n  tags:\n    include:\n      keys: dev\n`;
const config = parseConfig('/bench/config.yml', yaml, {});

let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage.rss()));
const timer = setInterval(sample, 5);
const base = process.memoryUsage.rss();
const steps: string[] = [];
const step = <T>(name: string, f: () => T): T => {
  const t = performance.now();
  const r = f();
  sample();
  steps.push(`${name.padEnd(28)} ${((performance.now() - t) / 1000).toFixed(2)} s   RSS ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MiB, heap used ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`);
  return r;
};

const tags: TagEntry[] = step('synthetic snapshot', () => {
  const out: TagEntry[] = [];
  const tag = (k: number) => (k % 3 === 0 ? `v1.${k}.0` : `dev-${k}`);
  let digest = '' as Digest;
  for (let i = 0; i < TAGS; i++) {
    if (i % 5 !== 1) digest = `sha256:${createHash('sha256').update(String(i)).digest('hex')}` as Digest;
    out.push({ tag: tag(i), digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', created: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString() });
  }
  return out.sort((a, b) => (a.tag < b.tag ? -1 : 1));
});
const started = performance.now();
const repos: RepoMap = new Map([['bench', new Map([[repo, { repository: repo, tags }]])]]);
const scope = step('scope', () => computeScope(config, new Map([['bench', [repo]]])));
const evaluation = step('policy (evaluate)', () => evaluate(config, scope, repos, { nowMs: Date.UTC(2025, 0, 1), indexChildren: new Map(), subjectsPresent: new Map() }));
if (evaluation.needs.length) throw new Error('the synthetic snapshot lacks data the policy needs');
collectGarbage(); // where the plan command collects: after its reads and policy, ...
const plan = step('plan (build + hash)', () =>
  buildPlan(config, { scope, repos, evaluation, sources: new Map([['bench', 'config']]) }, { version: 'bench', createdAt: '2025-01-01T00:00:00Z', configFile: '/bench/config.yml', configSha256: '0'.repeat(64), state: { lineage: null, serial: null } }),
);
collectGarbage(); // ... and once the plan is built
let bytes = 0;
step('plan file text', () => writePlanText(plan, (s) => (bytes += Buffer.byteLength(s))));
const text = step('render (terminal)', () => renderText(plan, { color: false }));
const md = step('render (markdown, explain)', () => renderMarkdown(plan, { explain: true }));
const total = performance.now() - started;
clearInterval(timer);
console.log(`\npure code, ${TAGS} tags in one repository (${plan.summary.delete} deletes, plan file ${(bytes / 1048576).toFixed(1)} MiB, text ${(text.length / 1048576).toFixed(1)} MiB, markdown ${(md.length / 1024).toFixed(0)} KiB):`);
for (const s of steps) console.log(`  ${s}`);
console.log(`  total from snapshot to output   ${(total / 1000).toFixed(2)} s (${((total / TAGS) * 1000).toFixed(1)} µs per tag)`);
console.log(`  peak RSS ${(peak / 1048576).toFixed(0)} MiB (${(base / 1048576).toFixed(0)} MiB at start): ${(((peak - base) / TAGS) / 1024).toFixed(2)} KiB per tag`);
