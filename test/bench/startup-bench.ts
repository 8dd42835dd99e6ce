// npm run bench (fifth part): start-up. `regmgr --version` and `regmgr validate -c
// examples/seed-config.yml` (node with the binary's own flags, as the bin link runs it)
// against `node -e 0`, and against the least a validate can do with the libraries it is
// built on: a node that imports yaml and re2js, parses the same file and compiles its
// regexes (every string under a `regex` or `filters` key). The commands run in turn
// within every round (so a machine that slows down slows them all); medians of ROUNDS. BENCH_NODES: a comma-separated list of node
// binaries to run it with (default: the node running the bench), e.g. Node 22's from
// `npx -y node@22 -p process.execPath`. regmgr compiles its code through V8's code cache
// (src/util/code-cache.ts), made by the unmeasured first round; a last row shows
// validate with it turned off (REGMGR_NO_COMPILE_CACHE), as a first run is. regmgr runs
// from its bundle (scripts/bundle.mjs), so the floor is given both ways: the two libraries
// bundled as regmgr's are (through a code cache as regmgr's are, and without one), and
// imported from node_modules (the floor of earlier rounds).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { CLI, NODE_FLAGS } from '../helpers/cli.js';

const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 30);
const NODES = (process.env.BENCH_NODES ?? process.execPath).split(',').filter(Boolean);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const seed = fileURLToPath(new URL('../../../examples/seed-config.yml', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const FLOOR = [
  "import { parseDocument } from 'yaml';",
  "import { RE2JS } from 're2js';",
  "import { readFileSync } from 'node:fs';",
  `const data = parseDocument(readFileSync(${JSON.stringify(seed)}, 'utf8')).toJS();`,
  'const walk = (v, re) => { if (re && typeof v === "string") RE2JS.compile(v); else if (v && typeof v === "object") for (const [k, w] of Object.entries(v)) walk(w, re || k === "regex" || k === "filters"); };',
  'walk(data, false);',
].join(' ');
const tmp = mkdtempSync(join(tmpdir(), 'regmgr-startup-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
writeFileSync(join(tmp, 'floor.mjs'), FLOOR);
// As scripts/bundle.mjs bundles regmgr: ESM, and a require() for the CommonJS in it.
buildSync({
  entryPoints: [join(tmp, 'floor.mjs')],
  outfile: join(tmp, 'floor-bundle.mjs'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  nodePaths: [join(root, 'node_modules')],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: 'warning',
});
// The floor as regmgr runs its own code: one CommonJS file compiled through V8's code
// cache (src/util/code-cache.ts), which the unmeasured first round writes. What yaml and
// re2js cost when nothing of them is compiled: regmgr's validate cannot go below it
// without doing less of their work.
buildSync({
  entryPoints: [join(tmp, 'floor.mjs')],
  outfile: join(tmp, 'floor-bundle.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  nodePaths: [join(root, 'node_modules')],
  logLevel: 'warning',
});
writeFileSync(
  join(tmp, 'floor-cached.cjs'),
  [
    "const { readFileSync, writeFileSync } = require('node:fs'); const { Script } = require('node:vm'); const Module = require('node:module'); const { join } = require('node:path');",
    "const file = join(__dirname, 'floor-bundle.cjs'); const cache = join(__dirname, `floor-${process.version}.v8`);",
    'let cachedData; try { cachedData = readFileSync(cache); } catch {}',
    "const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });",
    'const m = { exports: {} }; script.runInThisContext()(m.exports, Module.createRequire(file), m, file, __dirname);',
    'if (!cachedData || script.cachedDataRejected) writeFileSync(cache, script.createCachedData());',
  ].join('\n'),
);

for (const node of NODES) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const rows: Array<{ name: string; args: string[]; env?: NodeJS.ProcessEnv }> = [
    { name: 'node -e 0', args: ['-e', '0'] },
    { name: 'regmgr --version', args: [...NODE_FLAGS, CLI, '--version'] },
    { name: 'regmgr validate', args: [...NODE_FLAGS, CLI, 'validate', '-c', seed] },
    { name: 'yaml + re2js, bundled, code cache', args: [join(tmp, 'floor-cached.cjs')] },
    { name: 'yaml + re2js alone, bundled', args: [join(tmp, 'floor-bundle.mjs')] },
    { name: 'yaml + re2js from node_modules', args: ['--input-type=module', '-e', FLOOR] },
  ];
  rows.push({ name: 'regmgr validate, no compile cache', args: [...NODE_FLAGS, CLI, 'validate', '-c', seed], env: { REGMGR_NO_COMPILE_CACHE: '1' } });
  const times = rows.map(() => [] as number[]);
  // One unmeasured round: the page cache, and the compile cache where there is one.
  for (let round = 0; round <= ROUNDS; round++) {
    rows.forEach((row, i) => {
      const start = process.hrtime.bigint();
      const r = spawnSync(node, row.args, { cwd: root, env: { ...process.env, NO_COLOR: '1', ...row.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (r.status !== 0) throw new Error(`${row.name} (${node}) exited ${r.status}: ${r.stderr}`);
      if (round > 0) times[i].push(ms);
    });
  }
  const base = median(times[0]);
  console.log(`start-up, node ${version} (median of ${ROUNDS}, commands in turn each round):`);
  rows.forEach((row, i) => {
    const m = median(times[i]);
    console.log(`  ${row.name.padEnd(37)} ${m.toFixed(0).padStart(4)} ms  ${(m / base).toFixed(2)}x node -e 0`);
  });
}
