import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { readPlanFile } from '../../src/plan/file.js';

const tmp = tempDir('plan-file');
after(() => tmp.remove());

test('a plan of another format_version is refused with what this regmgr supports, before anything else is read from it', () => {
  const file = join(tmp.dir, 'future.json');
  // A plan a later regmgr might write: the version decides before the schema or the hash.
  writeFileSync(file, JSON.stringify({ format_version: 2, actions: 'whatever', sha256: 'x' }));
  assert.throws(() => readPlanFile(file), /future\.json: plan format_version 2 is not supported by this regmgr \(supports 1\); re-run plan$/);
  writeFileSync(file, JSON.stringify({ actions: [] }));
  assert.throws(() => readPlanFile(file), /future\.json: not a plan file: no format_version$/);
});
