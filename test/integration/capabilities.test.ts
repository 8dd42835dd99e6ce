import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../helpers/registry.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startOci11Registry } from '../helpers/oci11-registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import type { Plan } from '../../src/plan/model.js';

// What a registry can do is probed when a plan is made, with requests that change
// nothing, and recorded in the plan: deletes a registry cannot do are blocked there, with
// the reason, instead of failing one by one at apply.
const tmp = tempDir('capabilities');
after(() => tmp.remove());
let n = 0;

async function planFor(url: string, repo: string) {
  const dir = join(tmp.dir, `w${++n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'c.yml', `registries:\n  r:\n    registry: ${url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(dir, 'plan.json');
  const cap = captureIO();
  assert.equal(await planCommand({ config, out: planFile }, cap.io), 0, cap.stderr());
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  assertPlanSchema(plan);
  return { plan, planFile, out: cap.stdout() };
}

test('distribution 2.8 with deletes on: deletes work, no tag delete, no referrers API; the probes change nothing', async () => {
  const reg = await startRegistry();
  try {
    await pushImage(reg, 'cap/app', ['dev-1', 'v1'], { seed: 'cap-shared' });
    await pushImage(reg, 'cap/app', ['dev-2'], { seed: 'cap-2' });
    const before = await readTags(reg, 'cap/app');
    const { plan } = await planFor(reg.url, 'cap/app');
    assert.deepEqual(plan.capabilities, { r: { delete: true, tag_delete: false, referrers: false } });
    // tag-delete auto: no tag delete here, so the shared digest's tag is untagged.
    assert.deepEqual(plan.actions.map((a) => (a.type === 'delete' ? [a.method, a.tags] : [])), [['untag', ['dev-1']], ['manifest', ['dev-2']]]);
    assert.deepEqual(await readTags(reg, 'cap/app'), before);
  } finally {
    await reg.stop();
  }
});

test('distribution 2.8 with deletes off: every delete is blocked in the plan with why and what to change; apply sends no DELETE', async () => {
  const reg = await startRegistry({ deleteEnabled: false });
  const proxy = await startFaultProxy(reg.url);
  try {
    await pushImage(reg, 'cap/off', ['dev-1'], { seed: 'off-1' });
    await pushImage(reg, 'cap/off', ['dev-2', 'v2'], { seed: 'off-2' });
    const { plan, planFile, out } = await planFor(proxy.url, 'cap/off');
    assert.equal(plan.capabilities!.r.delete, 'the registry has deletes turned off (405 UNSUPPORTED); on the distribution registry, set storage.delete.enabled: true');
    assert.equal(plan.actions.length, 0);
    assert.equal(plan.summary.blocked, 2);
    assert.match(out, /^ {2}! dev-1 \(sha256:\w+\) +matches include key "dev"; blocked: registries\.r cannot delete: the registry has deletes turned off \(405 UNSUPPORTED\); on the distribution registry, set storage\.delete\.enabled: true$/m);
    assert.match(out, /^No changes\. 2 blocked\.$/m);
    proxy.log.length = 0;
    const a = captureIO();
    assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout());
    assert.deepEqual(proxy.log.filter((l) => l.startsWith('DELETE')), [], 'no DELETE at apply');
  } finally {
    await proxy.close();
    await reg.stop();
  }
});

test('a registry that deletes tags and answers referrers (OCI 1.1, as distribution 3 and zot do): tag-delete auto deletes the tag by name, and apply does', async () => {
  // test/helpers/oci11-registry.ts: tag delete and the referrers API from the OCI
  // distribution spec 1.1, in front of a real 2.8 for everything else.
  const oci = await startOci11Registry();
  try {
    const digest = await pushImage(oci.reg, 'cap/oci', ['dev-1', 'v1'], { seed: 'oci-shared' });
    const { plan, planFile, out } = await planFor(oci.url, 'cap/oci');
    assert.deepEqual(plan.capabilities, { r: { delete: true, tag_delete: true, referrers: true } });
    assert.deepEqual(plan.actions.map((a) => (a.type === 'delete' ? [a.method, a.tags] : [])), [['oci', ['dev-1']]]);
    assert.match(out, /^ {2}- delete tag dev-1 \(sha256:\w+, digest kept by v1\) /m);
    oci.proxy.log.length = 0;
    const a = captureIO();
    assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout());
    assert.deepEqual(oci.proxy.log.filter((l) => l.startsWith('DELETE') || l.startsWith('PUT')), ['DELETE /v2/cap/oci/manifests/dev-1'], 'one DELETE by tag, no placeholder PUT');
    assert.deepEqual(await readTags(oci.reg, 'cap/oci'), { v1: digest });
  } finally {
    await oci.stop();
  }
});
