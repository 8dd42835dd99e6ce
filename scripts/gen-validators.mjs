// Compiles schema/config.schema.json into a standalone validator module at build time
// (ajv's standalone code), so a command pays neither for loading ajv's compiler nor for
// compiling the schema: most of `regmgr validate`'s start-up time before this.
// The options must stay those the config's error messages are written for.
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ajv = new Ajv({ allErrors: true, useDefaults: false, strict: true, allowUnionTypes: true, verbose: true, code: { source: true, esm: true } });
const validate = ajv.compile(JSON.parse(readFileSync(`${root}schema/config.schema.json`, 'utf8')));
mkdirSync(`${root}dist/src/config`, { recursive: true });
// ajv's ESM output still calls require() for its few runtime helpers (ucs2length).
const header = `// Generated from schema/config.schema.json by scripts/gen-validators.mjs at build time. Do not edit.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
`;
writeFileSync(`${root}dist/src/config/config-schema.validate.js`, header + standaloneCode(ajv, validate));
