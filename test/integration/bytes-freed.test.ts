import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../helpers/registry.js';
import { pushImage } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { cleanEnv, tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import type { Plan } from '../../src/plan/model.js';
import { renderText } from '../../src/plan/render.js';
import { readState } from '../../src/state/file.js';

// The figure a plan gives for the bytes it frees, against what the real registry's
// garbage collection frees: the blob data files that disappear from its storage.
const run = promisify(execFile);
const tmp = tempDir('bytes-freed');
after(() => tmp.remove());

/** Every blob data file of a registry's storage: digest -> bytes. */
function blobs(data: string): Map<string, number> {
  const out = new Map<string, number>();
  const root = join(data, 'docker', 'registry', 'v2', 'blobs', 'sha256');
  if (!existsSync(root)) return out;
  for (const prefix of readdirSync(root)) for (const hex of readdirSync(join(root, prefix))) {
    const file = join(root, prefix, hex, 'data');
    if (existsSync(file)) out.set(`sha256:${hex}`, statSync(file).size);
  }
  return out;
}

/**
 * A registry whose images share blobs in every way that matters for garbage collection:
 * two tags on one digest; a deleted image sharing a base layer with a kept one; a layer
 * in two repositories; a multi-arch index whose platform manifests share a layer with a
 * kept image; a deleted image whose config is a kept image's. Plans (listing every
 * repository, or only gc/app), applies, stops the registry, collects garbage and
 * returns the plan and the bytes that garbage collection freed.
 */
async function world(name: string, listed: boolean, scope = '') {
  const data = join(tmp.dir, name);
  mkdirSync(data);
  const reg = await startRegistry({ dataDir: data });
  try {
    await pushImage(reg, 'gc/app', ['dev-pair-a', 'dev-pair-b'], { seed: 'pair', layers: ['pair'] });
    await pushImage(reg, 'gc/app', ['dev-base'], { seed: 'base-dev', layers: ['base', 'dev-only'] });
    await pushImage(reg, 'gc/app', ['v1'], { seed: 'base-kept', layers: ['base', 'kept-only'] });
    await pushImage(reg, 'gc/app', ['dev-two'], { seed: 'two-app', layers: ['in-two-repositories'] });
    await pushImage(reg, 'gc/other', ['keep-b'], { seed: 'two-other', layers: ['in-two-repositories'] });
    await pushImage(reg, 'gc/app', ['dev-multi'], { seed: 'multi', platforms: ['amd64', 'arm64'], layers: ['kept-only'] });
    await pushImage(reg, 'gc/app', ['dev-samecfg'], { seed: 'samecfg-dev', configSeed: 'one-config', layers: ['samecfg-dev'] });
    await pushImage(reg, 'gc/app', ['v2'], { seed: 'samecfg-kept', configSeed: 'one-config', layers: ['samecfg-kept'] });
    const dir = join(tmp.dir, `${name}-work`);
    mkdirSync(dir);
    const repos = (listed ? '    repositories: [gc/app]\n' : '') + scope;
    const config = writeFile(dir, 'c.yml', `registries:\n  r:\n    registry: ${reg.url}\n${repos}delete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const planFile = join(dir, 'plan.json');
    const p = captureIO({}, false);
    assert.equal(await planCommand({ config, out: planFile }, p.io), 0, p.stderr());
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
    assertPlanSchema(plan);
    const a = captureIO();
    assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout());
    return { plan, planOut: p.stdout(), reg, data, dir };
  } finally {
    await reg.stop();
  }
}

async function collectGarbage(data: string): Promise<number> {
  const before = blobs(data);
  const cfg = join(tmp.dir, `gc-${Date.now()}-${Math.random()}.yml`);
  writeFileSync(cfg, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${data}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n`);
  await run('/usr/bin/docker-registry', ['garbage-collect', cfg], { env: cleanEnv(), maxBuffer: 16 << 20 });
  const afterGc = blobs(data);
  let freed = 0;
  for (const [d, size] of before) if (!afterGc.has(d)) freed += size;
  return freed;
}

test('every repository read: the plan says, to the byte, what garbage collection frees', async () => {
  const w = await world('exact', false);
  const b = w.plan.bytes!;
  assert.equal(b.exact, true, JSON.stringify(b.why));
  // The deleted index takes its two platform manifests along (garbage collection keeps a
  // repository's every manifest, so left behind they would keep their blobs for ever).
  const index = w.plan.actions.find((a) => a.type === 'delete' && a.tags.includes('dev-multi'));
  assert.equal(index?.type === 'delete' && index.children?.length, 2);
  assert.match(w.planOut, /^ {2}- dev-multi \(sha256:\w+, with its 2 platform manifests\) /m);
  // --explain: each deleted image's size and what deleting it alone frees (5 images and the
  // index's 2 platform manifests); the state keeps sizes.
  const explained = renderText(w.plan, { color: false, explain: true });
  assert.match(explained, /^ {2}- dev-base \(sha256:\w+, [\d.]+ KiB, frees [\d.]+ (B|KiB) alone\) /m);
  const alone = Object.values(b.alone ?? {});
  assert.ok(alone.length === 7 && alone.reduce((x, y) => x + y, 0) <= b.freed, JSON.stringify(b.alone));
  const state = readState(join(w.dir, 'c.state.json'))!;
  assert.ok((state.snapshot.r['gc/app'].v1.size ?? 0) > 0, 'the state records image sizes');
  assert.ok(b.freed > 0 && b.shared > 0);
  const freed = await collectGarbage(w.data);
  assert.equal(b.freed, freed, 'the plan figure is what garbage collection freed');
  assert.equal(b.repositories.r['gc/app'].freed, b.freed);
  assert.match(w.planOut, /^Frees \d+(\.\d)? KiB once garbage collection runs; \d+(\.\d)? KiB of these images' blobs stay, shared with kept images\.$/m);
});

test('only gc/app read: the figure is an upper bound, says why, and is at least what garbage collection frees', async () => {
  const w = await world('bound', true);
  const b = w.plan.bytes!;
  assert.equal(b.exact, false);
  assert.deepEqual(b.why, ['r: the config lists its repositories (registries.r.repositories); blobs they share with repositories it does not list are not known (reclaim-scope: registry counts them)']);
  const freed = await collectGarbage(w.data);
  assert.ok(b.freed >= freed, `${b.freed} >= ${freed}`);
  assert.ok(b.freed > freed, 'the layer gc/other keeps was counted: an honest bound, not the exact figure');
  assert.match(w.planOut, /^Frees up to \d+(\.\d)? KiB once garbage collection runs; .* \(an upper bound: r: the config lists its repositories/m);
});

test('only gc/app planned, with reclaim-scope: registry: the other repositories are read for references only, and the figure is exact again', async () => {
  const w = await world('scope', true, '    reclaim-scope: registry\n');
  const b = w.plan.bytes!;
  assert.equal(b.exact, true, JSON.stringify(b.why));
  assert.deepEqual(Object.keys(w.plan.snapshot.r), ['gc/app'], 'nothing is planned in gc/other');
  assert.equal(b.freed, await collectGarbage(w.data));
});

test('regmgr reclaim: "not yet" (exit 2) after apply, "freed" (exit 0) after garbage collection; read-only', async () => {
  const data = join(tmp.dir, 'reclaim');
  mkdirSync(data);
  const reg = await startRegistry({ dataDir: data });
  try {
    await pushImage(reg, 'rc/app', ['dev-1'], { seed: 'rc-dev-1', layers: ['rc-only-1'] });
    await pushImage(reg, 'rc/app', ['dev-multi'], { seed: 'rc-multi', platforms: ['amd64', 'arm64'], layers: ['rc-multi'] });
    await pushImage(reg, 'rc/app', ['v1'], { seed: 'rc-v1', layers: ['rc-kept'] });
    const dir = join(tmp.dir, 'reclaim-work');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  r:\n    registry: ${reg.url}\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const planFile = join(dir, 'plan.json');
    assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
    const a = captureIO();
    assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout());
    assert.match(a.stdout(), /^To get the storage back \(the plan counted \d+(\.\d)? KiB\), run the registry's garbage collection: `docker-registry garbage-collect CONFIG` with the registry read-only or stopped, never with --delete-untagged \(Harbor: its Garbage Collection job\)\. Then check what it removed: regmgr reclaim .*plan\.json$/m);
    const { reclaimCommand } = await import('../../src/commands/reclaim.js');
    const before = captureIO();
    assert.equal(await reclaimCommand({ plan: planFile }, before.io), 2, before.stdout() + before.stderr());
    // dev-1: config + its own layer; the index's 2 platform manifests: a config each, one shared layer.
    assert.match(before.stdout(), /^Garbage collection has not run since the apply \(or has not removed everything\): 5 of the 5 blobs it freed \([\d.]+ KiB of [\d.]+ KiB\) are still served\.$/m);
    // No request that changes anything: collect garbage (no pushes run meanwhile), ask again.
    const cfg = join(tmp.dir, 'reclaim-gc.yml');
    writeFileSync(cfg, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${data}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n`);
    await run('/usr/bin/docker-registry', ['garbage-collect', cfg], { env: cleanEnv(), maxBuffer: 16 << 20 });
    const after = captureIO();
    assert.equal(await reclaimCommand({ plan: planFile }, after.io), 0, after.stdout() + after.stderr());
    assert.match(after.stdout(), /^Freed: none of the 5 blobs the apply freed \([\d.]+ KiB\) is served any more\.$/m);
  } finally {
    await reg.stop();
  }
});
