// Bundles the built CLI (dist/src/cli.js) and the packages it uses into dist/cli/, the
// code `regmgr` runs. Why: on Node 20 a 20-tag plan spent more CPU loading modules than
// planning; yaml alone is 84 CommonJS files (42 ms to import, 18 ms as one file), undici's
// agent 32. One file per lazily loaded part (esbuild's code splitting), so a command
// still loads only what it needs: `validate` does not load undici, `plan` not execa.
// pg is left out: it is loaded only by the PostgreSQL backend, from node_modules.
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync } from 'node:fs';
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
await build({
  entryPoints: { cli: `${root}dist/src/cli.js` },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pg'],
  // Error classes and functions keep their names (messages and `instanceof` do not need it; stack traces and logs read better).
  keepNames: true,
  // Bundled CommonJS (undici, yaml, semver...) calls require() for Node's own modules.
  banner: { js: "import { createRequire as __regmgrRequire } from 'node:module'; const require = __regmgrRequire(import.meta.url);" },
  chunkNames: '[name]-[hash]',
  legalComments: 'eof',
  plugins: [yargsPaths],
  logLevel: 'warning',
});
cpSync(`${root}node_modules/yargs/locales`, `${out}/yargs-locales`, { recursive: true });
