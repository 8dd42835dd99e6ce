import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';

let reg: TestRegistry;
const tmp = tempDir('apply-failures');

before(async () => {
  reg = await startRegistry({ deleteEnabled: false });
  await pushImage(reg, 'app', ['dev-1'], { seed: 'f-dev-1' });
  await pushImage(reg, 'app', ['v1'], { seed: 'f-v1' });
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

test('a registry that refuses deletes: the failure names the action, the answer, and what to do; a re-run retries it', async () => {
  const config = writeFile(tmp.dir, 'c.yml', `registries:\n  r:\n    registry: ${reg.url}\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(tmp.dir, 'p.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, cap.io), 1);
  assert.match(cap.stdout(), /^failed +delete r\/app@sha256:[0-9a-f]{64}: registry 'r': DELETE http:\/\/127\.0\.0\.1:\d+\/v2\/app\/manifests\/sha256:[0-9a-f]{64}: 405 UNSUPPORTED: .*the registry does not support this operation \(is deletion enabled\?\)$/m);
  assert.match(cap.stdout(), /Apply complete: 0 copied, 0 deleted, 0 drifted, 0 blocked, 1 failed\.\nFailed actions are listed above with the registry's answer\. Fix the cause and run `regmgr apply .*p\.json` again: finished actions are skipped\./);
  assert.deepEqual(Object.keys(await readTags(reg, 'app')).sort(), ['dev-1', 'v1']);
  // The failure is in the journal, and a second apply tries the action again.
  const plan = JSON.parse(readFileSync(planFile, 'utf8'));
  assert.match(readFileSync(`${planFile}.${plan.sha256.slice(0, 12)}.journal`, 'utf8'), /"event":"failed"/);
  const again = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, again.io), 1);
  assert.match(again.stdout(), /^failed +delete r\/app@/m);
});
