// Compiles the JSON schemas into standalone validator modules at build time (ajv's
// standalone code), so no command pays for loading ajv's compiler (about 10 MiB and
// 30 ms) or for compiling a schema: most of `regmgr validate`'s start-up time before.
// The options must stay those the error messages of config and plan checks are written for.
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const header = (schema) => `// Generated from schema/${schema} by scripts/gen-validators.mjs at build time. Do not edit.\n`;

/**
 * ajv's ESM output still calls require() for its few runtime helpers (ucs2length): each
 * becomes an import, which the bundle (scripts/bundle.mjs) can follow; a require() made
 * through createRequire it cannot, and the packed regmgr would need ajv installed. The
 * default import of a CommonJS module is its module.exports, as require() returns.
 */
function withImports(code) {
  const specifiers = [...new Set([...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))];
  const body = specifiers.reduce((c, s, i) => c.split(`require("${s}")`).join(`__runtime${i}`), code);
  if (/\brequire\(/.test(body)) throw new Error('gen-validators: a require() of another form is left in the standalone code');
  return specifiers.map((s, i) => `import __runtime${i} from '${s}${s.endsWith('.js') ? '' : '.js'}';\n`).join('') + body;
}

function generate(schema, out, options, setup = () => {}) {
  const ajv = new Ajv({ ...options, code: { source: true, esm: true } });
  setup(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(`${root}schema/${schema}`, 'utf8')));
  mkdirSync(`${root}dist/${out.slice(0, out.lastIndexOf('/'))}`, { recursive: true });
  writeFileSync(`${root}dist/${out}`, header(schema) + withImports(standaloneCode(ajv, validate)));
}

generate('config.schema.json', 'src/config/config-schema.validate.js', { allErrors: true, useDefaults: false, strict: true, allowUnionTypes: true, verbose: true });
// date-time (created_at) is checked by src/plan/schema-check.ts: a format function
// cannot be carried into standalone code.
generate('plan.schema.json', 'src/plan/plan-schema.validate.js', { allErrors: true, strict: false }, (ajv) => ajv.addFormat('date-time', true));
