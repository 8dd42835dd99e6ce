// Generates src/config/types.generated.ts from schema/config.schema.json, the single
// source of the config format. `--check` exits 1 when the committed file is stale.
import { compileFromFile } from 'json-schema-to-typescript';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}src/config/types.generated.ts`;

export async function generate() {
  return compileFromFile(`${root}schema/config.schema.json`, {
    cwd: `${root}schema`,
    bannerComment: '/* Generated from schema/config.schema.json by `npm run gen:types`. Do not edit. */',
    additionalProperties: false,
    style: { singleQuote: true },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ts = await generate();
  if (process.argv.includes('--check')) {
    if (readFileSync(out, 'utf8') !== ts) {
      console.error(`${out} is stale: run npm run gen:types`);
      process.exit(1);
    }
  } else {
    writeFileSync(out, ts);
  }
}
