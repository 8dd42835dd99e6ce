// Compiles the JSON schemas into standalone validator modules at build time (ajv's
// standalone code), so no command pays for loading ajv's compiler (about 10 MiB and
// 30 ms) or for compiling a schema: most of `regmgr validate`'s start-up time before.
// The options must stay those the error messages of config and plan checks are written for.
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// ajv's ESM output still calls require() for its few runtime helpers (ucs2length).
const header = (schema) => `// Generated from schema/${schema} by scripts/gen-validators.mjs at build time. Do not edit.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
`;

function generate(schema, out, options, setup = () => {}) {
  const ajv = new Ajv({ ...options, code: { source: true, esm: true } });
  setup(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(`${root}schema/${schema}`, 'utf8')));
  mkdirSync(`${root}dist/${out.slice(0, out.lastIndexOf('/'))}`, { recursive: true });
  writeFileSync(`${root}dist/${out}`, header(schema) + standaloneCode(ajv, validate));
}

generate('config.schema.json', 'src/config/config-schema.validate.js', { allErrors: true, useDefaults: false, strict: true, allowUnionTypes: true, verbose: true });
// date-time (created_at) is checked by src/plan/schema-check.ts: a format function
// cannot be carried into standalone code.
generate('plan.schema.json', 'src/plan/plan-schema.validate.js', { allErrors: true, strict: false }, (ajv) => ajv.addFormat('date-time', true));
