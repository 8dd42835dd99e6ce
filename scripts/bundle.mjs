// Bundles the built CLI (dist/src/cli.js) and the packages it uses into dist/cli/, the
// code `regmgr` runs. Why: a plan of 20 tags opened 273 module and package.json files
// and took 0.50 s of CPU on Node 20; bundled, 30 files and 0.38 s (yaml alone is 84
// CommonJS files: 42 ms to import, 18 ms as one file). One file per lazily loaded part
// (esbuild's code splitting), so a command still loads only what it needs: `validate`
// does not load undici, `plan` not execa. pg is left out: it is loaded only by the
// PostgreSQL backend, from node_modules.
import { build } from 'esbuild';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/cli`;

/**
 * yargs finds its locale files and its caller's package.json from where its own module
 * lies (`node_modules/yargs/...`); bundled, that is dist/cli/. Pointed at a copy of the
 * locales beside the bundle and at regmgr's package folder, so help reads as it did
 * (`LANG=de_DE.UTF-8 regmgr --help`) and no package.json of the user's folder is read.
 * A yargs whose shim no longer has these lines fails the build instead.
 */
const yargsPaths = {
  name: 'yargs-paths',
  setup(b) {
    b.onLoad({ filter: /yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      const swaps = [
        ["const mainFilename = __dirname.substring(0, __dirname.lastIndexOf('node_modules'));", "const mainFilename = fileURLToPath(new URL('../../', import.meta.url));"],
        ["directory: resolve(__dirname, '../../../locales'),", "directory: fileURLToPath(new URL('./yargs-locales/', import.meta.url)),"],
      ];
      for (const [from, to] of swaps) {
        if (!text.includes(from)) throw new Error(`scripts/bundle.mjs: ${args.path} no longer has: ${from}`);
        text = text.replace(from, to);
      }
      return { contents: text, loader: 'js' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: { cli: `${root}dist/src/cli.js` },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pg'],
  // Classes and functions keep their names: FileError names its subclasses by
  // new.target.name (PlanFileError, StateFileError), and esbuild renames a class whose
  // name another module of the same part uses. No cost this machine could measure.
  keepNames: true,
  // Bundled CommonJS (undici, yaml, semver...) calls require() for Node's own modules.
  banner: { js: "import { createRequire as __regmgrRequire } from 'node:module'; const require = __regmgrRequire(import.meta.url);" },
  chunkNames: '[name]-[hash]',
  legalComments: 'eof',
  plugins: [yargsPaths],
  metafile: true,
  logLevel: 'warning',
});
cpSync(`${root}node_modules/yargs/locales`, `${out}/yargs-locales`, { recursive: true });
writeFileSync(`${out}/THIRD-PARTY-LICENSES.txt`, licenses(Object.keys(metafile.inputs)));

/**
 * The packages bundled no longer come with their own folders (the package depends on pg
 * alone), so their licence texts come with the bundle: each package whose code is in
 * it, its version, its licence and the text of its LICENSE file.
 */
function licenses(inputs) {
  const dirs = new Set(inputs.map((p) => /^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[0]).filter(Boolean));
  const texts = new Map();
  for (const dir of dirs) {
    const at = `${root}${dir.replace(/^(\.\.\/)+/, '')}`;
    const pkg = JSON.parse(readFileSync(`${at}package.json`, 'utf8'));
    const file = readdirSync(at).find((f) => /^(licen[cs]e|copying)([.-]|$)/i.test(f));
    if (!file) throw new Error(`scripts/bundle.mjs: ${pkg.name} has no LICENSE file to ship with the bundle`);
    // A package nested in several folders at one version is listed once.
    texts.set(`${pkg.name} ${pkg.version}`, `${pkg.name} ${pkg.version} (${pkg.license})\n\n${readFileSync(`${at}${file}`, 'utf8').trim()}\n`);
  }
  const parts = [...texts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, text]) => text);
  return `regmgr's bundle (dist/cli/) holds code of these packages, under these licences.\n\n${parts.join(`\n${'-'.repeat(72)}\n\n`)}`;
}
