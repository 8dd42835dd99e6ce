// Bundles the built CLI (dist/src/) and the packages it uses into dist/cli/, the code
// `regmgr` runs, as three CommonJS files:
// - cli.js, the entry (src/cli.ts): answers --version, else loads one of the others;
// - validate.cjs: cli-validate.ts, `validate -c FILE` alone (the config loader, yaml,
//   re2js: a quarter of main.cjs, which node would read and V8 rebuild whole);
// - main.cjs: cli-main.ts and everything it uses, loaded through V8's code cache
//   (src/util/code-cache.ts). A module imported with import() (each command's, yargs,
//   execa) stays a function run when first imported, so a command still runs only what
//   it needs; all of it is in one file because node's code cache is for a script, and
//   node 20 can cache no ES module.
// Why bundle: a plan of 20 tags opened 273 module and package.json files and took 0.50 s
// of CPU on Node 20; bundled, 30 files and 0.38 s (yaml alone is 84 CommonJS files: 42
// ms to import, 18 ms as one file). Why CommonJS: node runs an ES module through its
// ESM loader (~6 ms more than a script) and builds the namespace of each built-in module
// it imports, which loads node's streams. pg is left out: it is loaded only by the
// PostgreSQL backend, from node_modules.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/cli`;

/**
 * Lines of the bundled packages replaced as they are bundled; a package whose file no
 * longer has its line fails the build instead.
 */
const PATCHES = [
  {
    // yargs finds its locale files and its caller's package.json from where its own
    // module lies (`node_modules/yargs/...`); bundled, that is dist/cli/. Pointed at a
    // copy of the locales beside the bundle and at regmgr's package folder, so help reads
    // as it did (`LANG=de_DE.UTF-8 regmgr --help`) and no package.json of the user's
    // folder is read.
    file: /yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/,
    swaps: [
      ["const mainFilename = __dirname.substring(0, __dirname.lastIndexOf('node_modules'));", "const mainFilename = fileURLToPath(new URL('../../', import.meta.url));"],
      ["directory: resolve(__dirname, '../../../locales'),", "directory: fileURLToPath(new URL('./yargs-locales/', import.meta.url)),"],
    ],
  },
  {
    // The copies of string-width under cliui and wrap-ansi (yargs' help layout) make an
    // Intl.Segmenter when they load: 14-21 ms here for ICU's data, in every command that
    // parses its command line, though only help text measures a string. Made when first
    // used instead. (yargs' own copy is loaded only when first used: see below.)
    file: /(cliui|wrap-ansi)[\\/]node_modules[\\/]string-width[\\/]index\.js$/,
    swaps: [["const segmenter = new Intl.Segmenter();", "let segmenterMade; const segmenter = { segment: (s) => (segmenterMade ??= new Intl.Segmenter()).segment(s) };"]],
  },
  {
    // undici's client loads its HTTP/2 half, and with it node:http2, when it loads; it is
    // used only where a TLS handshake picks h2, which regmgr's agent never offers
    // (allowH2 off). Loaded when first used.
    file: /undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/,
    swaps: [["const connectH2 = require('./client-h2.js')", "const connectH2 = (...args) => require('./client-h2.js')(...args)"]],
  },
];

/** Classes the bundle names otherwise than their source, each read for what its name is used for (checkClassNames). */
const RENAMED_CLASSES = new Map([
  ['Agent', "undici's; nothing reads its name (undici tells its classes apart by symbols)"],
  ['YAMLOMap', "yaml's; its name shows only if stringify meets an object it has no tag for"],
  ['YAMLSet', "yaml's; the same"],
  ['MachineUTF8Input', "re2js's matcher input; nothing reads its name"],
  ['YError', 'yargs sets this.name = "YError" in its constructor'],
]);

const patches = {
  name: 'patches',
  setup(b) {
    // yargs' own string-width (the newest: its Unicode-property regexes with the v flag
    // take ~25 ms to make when it loads) is loaded when yargs first measures a string,
    // which only help text does: a module of one function that require()s it then (the
    // bundle runs a require()d module when it is first required).
    const shim = /yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/;
    b.onResolve({ filter: /^string-width$/ }, (args) => (shim.test(args.importer) ? { path: 'string-width', namespace: 'lazy', pluginData: args.resolveDir } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
      contents: "let made; export default function stringWidth(s, o) { return (made ??= require('string-width').default)(s, o); }",
      resolveDir: args.pluginData,
      loader: 'js',
    }));
    for (const { file, swaps } of PATCHES) {
      b.onLoad({ filter: file }, (args) => {
        let text = readFileSync(args.path, 'utf8');
        for (const [from, to] of swaps) {
          if (!text.includes(from)) throw new Error(`scripts/bundle.mjs: ${args.path} no longer has: ${from}`);
          text = text.replace(from, to);
        }
        return { contents: text, loader: 'js' };
      });
    }
  },
};

rmSync(out, { recursive: true, force: true });
const common = {
  // Paths (the metafile's, the bundle's comments) relative to the package, wherever this runs from.
  absWorkingDir: root,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['pg'],
  // No keepNames: it wraps every function the code makes at run time in a call that
  // redefines its `name` (six a request in the registry client alone), and a second plan
  // of 50,000 to 200,000 tags spent 10-15% more CPU with it (docs/performance.md, a
  // sixteenth pass). What it kept: a function's name in a stack trace where esbuild
  // renamed the function (connect -> connect2), and a class's `name` where esbuild
  // renamed the class or gave it an inner name. Error classes whose name could show are
  // checked below; regmgr's own set theirs explicitly.
  keepNames: false,
  // The sources are ES modules that find files beside them (package.json, yargs'
  // locales) from import.meta.url, which a CommonJS file does not have: its own URL.
  define: { 'import.meta.url': '__regmgrImportMetaUrl' },
  banner: { js: "var __regmgrImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
};
// Their licence comments go to main.cjs.LEGAL.txt and validate.cjs.LEGAL.txt
// (THIRD-PARTY-LICENSES.txt has the full texts): one holds a non-ASCII letter, and the
// bundles are read as latin1 (checkAscii).
const main = await build({ ...common, entryPoints: { main: `${root}dist/src/cli-main.js` }, outdir: out, outExtension: { '.js': '.cjs' }, legalComments: 'external', plugins: [patches] });
const validate = await build({ ...common, entryPoints: { validate: `${root}dist/src/cli-validate.js` }, outdir: out, outExtension: { '.js': '.cjs' }, legalComments: 'external', plugins: [patches] });
for (const [name, result] of [['main.cjs', main], ['validate.cjs', validate]]) {
  checkNoImportCalls(result.metafile);
  checkAscii(`${out}/${name}`);
}
// validate.cjs is there to be small: it must not take in the commands main.cjs imports.
if (Object.keys(validate.metafile.inputs).some((p) => /cli-main\.js$|node_modules\/(undici|yargs|execa)\//.test(p))) throw new Error('scripts/bundle.mjs: validate.cjs must not bundle cli-main.js, undici, yargs or execa');
const buildId = (file) => createHash('sha256').update(readFileSync(`${out}/${file}`)).digest('hex').slice(0, 16);
const entry = await build({
  ...common,
  entryPoints: { cli: `${root}dist/src/cli.js` },
  outdir: out,
  define: { ...common.define, __REGMGR_MAIN_BUILD_ID__: JSON.stringify(buildId('main.cjs')), __REGMGR_VALIDATE_BUILD_ID__: JSON.stringify(buildId('validate.cjs')) },
});
const metafile = { inputs: { ...entry.metafile.inputs, ...main.metafile.inputs, ...validate.metafile.inputs }, outputs: { ...entry.metafile.outputs, ...main.metafile.outputs, ...validate.metafile.outputs } };
if (Object.keys(entry.metafile.inputs).some((p) => /cli-(main|validate)\.js$/.test(p))) throw new Error('scripts/bundle.mjs: cli.js must bundle neither cli-main.js nor cli-validate.js (it loads main.cjs or validate.cjs)');
// package.json says "type": "module"; these files are CommonJS.
writeFileSync(`${out}/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);
checkClassNames(metafile);
cpSync(`${root}node_modules/yargs/locales`, `${out}/yargs-locales`, { recursive: true });
// Files only: the lazy string-width module (`lazy:string-width`) is regmgr's own.
writeFileSync(`${out}/THIRD-PARTY-LICENSES.txt`, licenses(Object.keys(metafile.inputs).filter((p) => !p.startsWith('lazy:'))));

/**
 * src/util/code-cache.ts reads the bundles as latin1 (a copy, where UTF-8 decoding also
 * validates), which reads ASCII as UTF-8 would. esbuild writes strings and names ASCII
 * (its default charset), escaping the rest; a comment is copied as it is.
 */
function checkAscii(file) {
  const bytes = readFileSync(file);
  const at = bytes.findIndex((b) => b > 0x7f);
  if (at >= 0) throw new Error(`scripts/bundle.mjs: ${file} has a non-ASCII byte at offset ${at} (${JSON.stringify(bytes.subarray(Math.max(0, at - 40), at + 10).toString('utf8'))}); it is read as latin1`);
}

/**
 * main.cjs is compiled with vm.Script (src/util/code-cache.ts), which, without a loader
 * for import() (experimental in node 20), fails any import() run in it. esbuild turns
 * each import() of a bundled module or of a CommonJS package (pg) into a call; one
 * left as import() would fail only when that code runs, so the build fails instead.
 */
function checkNoImportCalls(meta) {
  const left = Object.entries(meta.outputs).flatMap(([file, o]) => o.imports.filter((i) => i.kind === 'dynamic-import').map((i) => `${file}: import(${JSON.stringify(i.path)})`));
  if (left.length) throw new Error(`scripts/bundle.mjs: main.cjs would keep these import() calls, which fail in vm.Script:\n  ${left.join('\n  ')}`);
}

/**
 * Without keepNames a class is named as the bundle declares it, which is not always as
 * its source did: esbuild renames a class that another module of the same file also
 * declares (`var Agent2 = class`) and gives one that refers to itself an inner name
 * (`var YError = class _YError`). An error's name shows in `--debug`'s stack traces and
 * in what a library derives from it (execa: `setErrorName(ExecaError, ExecaError.name)`),
 * so the build fails when a class that extends another is renamed so, unless it is one
 * of these, each read for what its name is used for.
 */
function checkClassNames(meta) {
  const problems = [];
  for (const [file, { inputs }] of Object.entries(meta.outputs)) {
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(`${root}${file}`, 'utf8');
    const sources = Object.keys(inputs).filter((p) => !p.startsWith('lazy:')).map((p) => readFileSync(`${root}${p}`, 'utf8'));
    const declared = (name) => {
      const n = name.replaceAll('$', '\\$');
      return sources.some((src) => new RegExp(`\\bclass ${n}\\b|\\b${n}\\s*=\\s*class\\b`).test(src));
    };
    for (const m of text.matchAll(/\b(?:var|let|const)\s+([\w$]+)\s*=\s*class(?:\s+([\w$]+))?\s+extends\b|^\s*class\s+([\w$]+)\s+extends\b/gm)) {
      const binding = m[1] ?? m[3];
      const shown = m[2] ?? binding;
      if (shown === binding && declared(binding)) continue;
      // The source's name: the binding, or with esbuild's number taken off (Agent2).
      const source = declared(binding) ? binding : binding.replace(/\d+$/, '');
      if (!RENAMED_CLASSES.has(source)) problems.push(`${file}: class ${source} is named ${JSON.stringify(shown)} in the bundle`);
    }
  }
  if (problems.length) throw new Error(`scripts/bundle.mjs: without keepNames, these classes' names differ from their source's; set the name explicitly or review them into RENAMED_CLASSES:\n  ${problems.join('\n  ')}`);
}

/**
 * The packages bundled no longer come with their own folders (the package depends on pg
 * alone), so their licence texts come with the bundle: each package whose code is in
 * it, its version, its licence and the text of its LICENSE file.
 */
function licenses(inputs) {
  const dirs = new Set(inputs.map((p) => /^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[0]).filter(Boolean));
  const texts = new Map();
  for (const dir of dirs) {
    const at = `${root}${dir}`;
    const pkg = JSON.parse(readFileSync(`${at}package.json`, 'utf8'));
    const file = readdirSync(at).find((f) => /^(licen[cs]e|copying)([.-]|$)/i.test(f));
    if (!file) throw new Error(`scripts/bundle.mjs: ${pkg.name} has no LICENSE file to ship with the bundle`);
    // A package nested in several folders at one version is listed once.
    texts.set(`${pkg.name} ${pkg.version}`, `${pkg.name} ${pkg.version} (${pkg.license})\n\n${readFileSync(`${at}${file}`, 'utf8').trim()}\n`);
  }
  const parts = [...texts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, text]) => text);
  return `regmgr's bundle (dist/cli/) holds code of these packages, under these licences.\n\n${parts.join(`\n${'-'.repeat(72)}\n\n`)}`;
}
