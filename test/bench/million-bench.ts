// npm run bench:million: `regmgr plan` of TAGS tags (default 1,000,000; BENCH_MILLION_TAGS)
// in one repository of a synthetic registry (synthetic-registry.ts: answers from the tag
// name, no storage), a first plan (empty content cache) and a second (its cache), each
// in a fresh process with the binary's node flags, as plan-bench.ts runs them. Prints
// wall time, CPU per tag, requests per tag and peak RSS: the issue's bound is 1 GiB. Then
// the warm floor (plan-child.ts floor-warm: curl's HEADs of every tag), whose CPU a tag the
// second plan's is compared with.
// The real-registry rows (plan-bench.ts) stay the figures for speed; this registry is
// cheaper to ask than docker-registry, so only memory and CPU per tag compare.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/processes.js';
import { writeFile } from '../helpers/io.js';
import { NODE_FLAGS } from '../helpers/cli.js';
import { startSyntheticRegistry } from './synthetic-registry.js';
import { childResult } from './child-result.js';

const TAGS = Number(process.env.BENCH_MILLION_TAGS ?? 1_000_000);
const run = promisify(execFile);
const child = fileURLToPath(new URL('./plan-child.js', import.meta.url));
const repo = 'bench/million';

const reg = await startSyntheticRegistry([repo], TAGS);
const tmp = tempDir('million-bench');
try {
  const config = writeFile(tmp.dir, 'bench.yml', `registries:\n  bench:\n    registry: ${reg.url}\n    repositories: [${repo}]\n    concurrency: 8\ndelete-policy:\n  registries: [bench]\n  mix-count: 10\n  tags:\n    include:\n      keys: dev\n`);
  const cache = join(tmp.dir, 'cache');
  let secondCpuMs = 0;
  console.log(`\nmillion bench: ${TAGS} tags in one repository of a synthetic registry`);
  for (const label of ['first plan', 'second plan']) {
    const scratch = join(tmp.dir, label.replace(' ', '-'));
    mkdirSync(scratch);
    const before = { ...reg.requests };
    // No --max-old-space-size: the plan runs with node's default heap limit, as users run it.
    // The plan's text comes through a pipe this process reads as it comes (~70 MB at 1,000,000 tags).
    const r = childResult<{ ms: number; cpuMs: number; maxRssKb: number }>((await run('node', [...NODE_FLAGS, child, 'plan', config, '', '', scratch], { env: { ...process.env, REGMGR_CACHE_DIR: cache, BENCH_SKIP_READBACK: '1' }, maxBuffer: 1 << 30 })).stdout);
    const sent = Object.entries(reg.requests).map(([m, n]) => [m, n - (before[m] ?? 0)] as const).filter(([, n]) => n > 0);
    const total = sent.reduce((k, [, n]) => k + n, 0);
    console.log(`  regmgr, ${label}: ${(r.ms / 1000).toFixed(1)} s, CPU ${(r.cpuMs / 1000).toFixed(1)} s (${(r.cpuMs / TAGS).toFixed(3)} ms/tag), ${(total / TAGS).toFixed(2)} req/tag (${sent.map(([m, n]) => `${m} ${n}`).join(', ')}), peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB`);
    secondCpuMs = r.cpuMs;
  }
  // The warm floor of the plan bench at this size: curl listing the tags page by page and
  // sending a HEAD for each (a second plan's requests), 8 in flight as the plan's
  // concurrency. Here the fixed costs both pay (node's start, V8's warm-up; curl's
  // start) are a small part of a tag's CPU, which the issue's goal compares.
  const scratch = join(tmp.dir, 'warm-floor');
  mkdirSync(scratch);
  const before = { ...reg.requests };
  const f = childResult<{ ms: number; cpuMs: number; requests: number; tags: number }>((await run('node', [child, 'floor-warm', reg.url, '8', 'dev', scratch])).stdout);
  if (f.tags !== TAGS) throw new Error(`the warm floor listed ${f.tags} tags, not ${TAGS}`);
  const answered = Object.values(reg.requests).reduce((k, n) => k + n, 0) - Object.values(before).reduce((k, n) => k + n, 0);
  console.log(`  warm floor, curl HEADs: ${(f.ms / 1000).toFixed(1)} s, CPU ${(f.cpuMs / 1000).toFixed(1)} s (${(f.cpuMs / TAGS).toFixed(3)} ms/tag), ${(answered / TAGS).toFixed(2)} req/tag`);
  console.log(`  second plan against the warm floor: CPU a tag ${(secondCpuMs / f.cpuMs).toFixed(2)}x`);
} finally {
  await reg.close();
  tmp.remove();
}
