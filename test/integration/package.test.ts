import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, readFileSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';

// `npm pack` gives a package that runs, and ships only what runs. A test reaches no
// network, so the tarball is unpacked as npm would install it and given the
// dependencies `npm ci` installed here; its binary then runs --version and validate.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const tmp = tempDir('package');
after(() => tmp.remove());

test('the packed tarball runs as installed: --version and validate; it holds no sources, tests or maps', async () => {
  // --ignore-scripts: the suite built dist already, and other test files are using it.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp.dir], { cwd: root, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const paths = packed.files.map((f) => f.path);
  assert.ok(paths.includes('dist/src/cli.js') && paths.includes('schema/config.schema.json') && paths.includes('schema/plan.schema.json'));
  assert.deepEqual(paths.filter((p) => /^(src|test|dist\/test|dist\/examples)\//.test(p) || p.endsWith('.map') || p.endsWith('.ts')), [], 'only what runs is shipped');
  await run('tar', ['-xzf', join(tmp.dir, packed.filename), '-C', tmp.dir]);
  const pkg = join(tmp.dir, 'package');
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const bin = join(pkg, manifest.bin.regmgr);
  assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env -S node --max-semi-space-size=4 --expose-gc\n/, 'the bin starts with a shebang that carries its node flags');
  // npm makes the bin executable when it links it; in the tarball it is a plain file.
  // Run through its shebang, as an installed regmgr is.
  chmodSync(bin, 0o755);
  const version = await run(bin, ['--version']);
  assert.equal(version.stdout.trim(), manifest.version);
  const v = await run(bin, ['validate', '-c', join(root, 'examples', 'seed-config.yml')]);
  assert.match(v.stdout, /seed-config\.yml: valid\. 2 registries \(harbor, aliyun\)/);
});
