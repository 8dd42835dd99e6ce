import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { startRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { writeFile } from '../helpers/io.js';

// `npm pack` gives a package that runs, and ships only what runs. regmgr runs from its
// bundle (dist/cli/, scripts/bundle.mjs), which holds every package it uses but pg (the
// PostgreSQL backend loads it from node_modules). So the tarball is unpacked with no
// node_modules at all: a package the bundle left out fails here, where in the checkout
// node_modules would have hidden it.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const tmp = tempDir('package');
after(() => tmp.remove());

test('the packed tarball runs as installed, without node_modules: --version, validate, help in the user\'s language, a plan and its apply (a delete, a copy with skopeo)', async () => {
  // --ignore-scripts: the suite built dist already, and other test files are using it.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp.dir], { cwd: root, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const paths = packed.files.map((f) => f.path);
  assert.ok(paths.includes('dist/cli/cli.js') && paths.includes('dist/cli/main.cjs') && paths.includes('dist/cli/package.json') && paths.includes('dist/cli/THIRD-PARTY-LICENSES.txt') && paths.includes('schema/config.schema.json') && paths.includes('schema/plan.schema.json'));
  assert.deepEqual(paths.filter((p) => /^(src|test|dist\/src|dist\/test|dist\/examples)\//.test(p) || p.endsWith('.map') || p.endsWith('.ts')), [], 'only what runs is shipped');
  await run('tar', ['-xzf', join(tmp.dir, packed.filename), '-C', tmp.dir]);
  const pkg = join(tmp.dir, 'package');
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  assert.deepEqual(Object.keys(manifest.dependencies), ['pg'], 'everything else is in the bundle');
  const bin = join(pkg, manifest.bin.regmgr);
  assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env -S node --max-semi-space-size=4 --expose-gc\n/, 'the bin starts with a shebang that carries its node flags');
  // npm makes the bin executable when it links it; in the tarball it is a plain file.
  // Run through its shebang, as an installed regmgr is.
  chmodSync(bin, 0o755);
  const version = await run(bin, ['--version']);
  assert.equal(version.stdout.trim(), manifest.version);
  const v = await run(bin, ['validate', '-c', join(root, 'examples', 'seed-config.yml')]);
  assert.match(v.stdout, /seed-config\.yml: valid\. 2 registries \(harbor, aliyun\)/);
  // yargs reads its locale files from beside its module; bundled, from a copy beside the bundle.
  const help = await run(bin, ['--help'], { env: { ...process.env, LANG: 'de_DE.UTF-8', LC_ALL: '' } });
  assert.match(help.stdout, /Hilfe anzeigen/);

  const [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  try {
    await pushImage(src, 'app/web', ['v1'], { seed: 'package-v1' });
    await pushImage(src, 'app/web', ['develop-1'], { seed: 'package-develop-1' });
    const dir = join(tmp.dir, 'run');
    mkdirSync(dir);
    const config = writeFile(
      dir,
      'regmgr.yml',
      `registries:\n  src:\n    registry: ${src.url}\n    repositories: [app/web]\n  dst:\n    registry: ${dst.url}\n` +
        `delete-policy:\n  registries: [src]\n  mix-count: 0\n  tags:\n    include:\n      keys: develop\n` +
        `sync-policy:\n  from: src\n  to: dst\n  filters: ['^v']\n`,
    );
    const env = { ...process.env, NO_COLOR: '1', REGMGR_CACHE_DIR: join(dir, 'cache') };
    const plan = await run(bin, ['plan', '-c', config, '-out', join(dir, 'plan.json')], { env, cwd: dir });
    assert.match(plan.stdout, /Plan: 1 to copy, 1 to delete/);
    await run(bin, ['apply', join(dir, 'plan.json')], { env, cwd: dir });
    assert.deepEqual(Object.keys(await readTags(src, 'app/web')), ['v1']);
    assert.deepEqual(Object.keys(await readTags(dst, 'app/web')), ['v1']);
  } finally {
    await Promise.all([src.stop(), dst.stop()]);
  }
});

/** Each JavaScript file of the bundle, with its text. */
function bundleFiles(): Array<[string, string]> {
  const dir = join(root, 'dist', 'cli');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.js') || f.endsWith('.cjs'))
    .map((f) => [f, readFileSync(join(dir, f), 'utf8')]);
}

// The test above runs the commands it runs; this one reads every file of the bundle: an
// import or require() of a package (not Node's own, not the bundle's own files) would be
// resolved from node_modules at run time, which an installed regmgr has only pg of.
test('the bundle imports nothing from node_modules but pg', () => {
  const outside = new Set<string>();
  for (const [file, whole] of bundleFiles()) {
    // Comments left out: undici's JSDoc names its types with import('../../types/...').
    const text = whole
      .split('\n')
      .filter((l) => !/^\s*(\*|\/\*|\/\/)/.test(l))
      .join('\n');
    const specifiers = [
      ...[...text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm)].map((m) => m[1]),
      ...[...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map((m) => m[1]),
      ...[...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]),
      // A require() in code; ajv's helpers carry their own source in a string ('require("ajv/...").default'), which never runs.
      ...[...text.matchAll(/(?<!['"])\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]),
    ];
    // node: always names Node's own module, never a package: undici probes for node:sqlite, which Node 20 lacks.
    for (const s of specifiers) if (!s.startsWith('./') && !s.startsWith('node:') && !isBuiltin(s) && s !== 'pg') outside.add(`${file}: ${s}`);
  }
  assert.deepEqual([...outside], []);
});

// The bundled packages' own folders are not installed with regmgr: their licences ship
// with the bundle (scripts/bundle.mjs writes them), one for each package whose code is in it.
test('the bundle comes with the licence of every package it holds', () => {
  const bundled = new Set<string>();
  for (const [, text] of bundleFiles()) {
    // esbuild heads each module's code with its path: `// node_modules/yaml/dist/...`.
    for (const m of text.matchAll(/^\/\/ (?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) bundled.add(m[1]);
  }
  assert.ok(bundled.has('yaml') && bundled.has('undici') && bundled.size > 10, `the bundle's packages found: ${[...bundled].join(', ')}`);
  const text = readFileSync(join(root, 'dist', 'cli', 'THIRD-PARTY-LICENSES.txt'), 'utf8');
  const listed = new Set([...text.matchAll(/^(\S+) \d+\.\d+\.\d+\S* \(([^)]+)\)$/gm)].map((m) => m[1]));
  assert.deepEqual([...bundled].filter((p) => !listed.has(p)), [], 'bundled without a licence');
  assert.match(text, /Permission is hereby granted/, 'the texts themselves, not only the names');
});
