import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// The README's compatibility table claims, per registry, how support was tested. A claim
// must name a test file that exists; a row without one must say "not tested", and no row
// may call an emulation "tested" (it is "tested against an emulation").
const root = fileURLToPath(new URL('../../../', import.meta.url));

test('README compatibility table: every "tested" claim names test files that exist; the rest say "not tested"', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('| registry | list | delete |');
  assert.ok(start > 0, 'the table is there');
  const lines = readme.slice(start).split('\n').slice(2);
  const rows = lines.slice(0, lines.findIndex((l) => !l.startsWith('|')));
  assert.ok(rows.length >= 5, `${rows.length} rows`);
  for (const row of rows) {
    const tested = row.split('|').at(-2)!.trim();
    const files = [...tested.matchAll(/`(test\/[^`]+\.ts)`/g)].map((m) => m[1]);
    if (tested === 'not tested') continue;
    assert.ok(files.length, `a claim without a test file: ${row}`);
    for (const f of files) assert.ok(existsSync(join(root, f)), `${f} does not exist`);
    if (/emulat/.test(tested)) assert.match(tested, /tested against an emulation/);
  }
  assert.ok(!/works with any registry/i.test(readme), 'no blanket claim');
});
