import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOci11Registry } from '../helpers/oci11-registry.js';
import { pushImage, pushReferrer, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { restoreCommand } from '../../src/commands/restore.js';
import { planHash } from '../../src/plan/canonical.js';
import type { Digest } from '../../src/oci/names.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

// Untagged attachments (OCI 1.1 `subject`, no tag) are found through the referrers API
// where the registry answers it, and follow their subject: deleted with a deleted image,
// kept with a kept one. distribution 2.8 has no such API: the server in front of it is
// built from the OCI distribution spec 1.1 (test/helpers/oci11-registry.ts) and pages
// every two descriptors, so that the client must follow its Link headers.
const tmp = tempDir('referrers');
after(() => tmp.remove());
let n = 0;

const SPDX = 'application/spdx+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

async function world() {
  const oci = await startOci11Registry({ pageSize: 2 });
  const reg = oci.reg;
  const doomed = await pushImage(reg, 'ref/app', ['dev-1'], { seed: 'ref-doomed' });
  const kept = await pushImage(reg, 'ref/app', ['v1'], { seed: 'ref-kept' });
  const sbom = await pushReferrer(reg, 'ref/app', doomed, SPDX, '{"spdxVersion":"SPDX-2.3","name":"doomed"}');
  const sbomSig = await pushReferrer(reg, 'ref/app', sbom, SIG, 'signature of the sbom');
  const sig = await pushReferrer(reg, 'ref/app', doomed, SIG, 'signature of the image');
  const prov = await pushReferrer(reg, 'ref/app', doomed, 'application/vnd.in-toto+json', '{"predicateType":"slsa"}');
  const keptSbom = await pushReferrer(reg, 'ref/app', kept, SPDX, '{"spdxVersion":"SPDX-2.3","name":"kept"}');
  return { oci, doomed, kept, sbom, sbomSig, sig, prov, keptSbom };
}

async function plan(url: string) {
  const dir = join(tmp.dir, `w${++n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'c.yml', `registries:\n  r:\n    registry: ${url}\n    repositories: [ref/app]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(dir, 'plan.json');
  const cap = captureIO();
  assert.equal(await planCommand({ config, out: planFile }, cap.io), 0, cap.stderr());
  const p = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  assertPlanSchema(p);
  return { plan: p, planFile, out: cap.stdout() };
}

async function exists(url: string, digest: string): Promise<boolean> {
  const res = await fetch(`${url}/v2/ref/app/manifests/${digest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return res.status === 200;
}

test('untagged referrers of a deleted image are found through the API (all pages, a chain too), shown in the plan, deleted after it and restored with it; a kept image keeps its SBOM', async () => {
  const w = await world();
  try {
    const { plan: p, planFile, out } = await plan(w.oci.url);
    assert.equal(p.capabilities!.r.referrers, true);
    const del = p.actions.filter((a): a is PlanDelete => a.type === 'delete');
    assert.equal(del.length, 1);
    assert.equal(del[0].digest, w.doomed);
    // Three referrers of the image (two pages), and the signature of its SBOM (a chain).
    assert.deepEqual(
      [...del[0].referrers!].sort((a, b) => (a.digest < b.digest ? -1 : 1)),
      [
        { digest: w.sbom, subject: w.doomed, artifact_type: SPDX },
        { digest: w.sbomSig, subject: w.sbom, artifact_type: SIG },
        { digest: w.sig, subject: w.doomed, artifact_type: SIG },
        { digest: w.prov, subject: w.doomed, artifact_type: 'application/vnd.in-toto+json' },
      ].sort((a, b) => (a.digest < b.digest ? -1 : 1)),
    );
    assert.ok(!JSON.stringify(p.actions).includes(w.keptSbom), 'the kept image keeps its SBOM');
    assert.ok(w.oci.proxy.log.some((l) => /\/referrers\/sha256:\w+\?page=2/.test(l)), 'the second page was read');
    assert.match(out, new RegExp(`^ {2}- dev-1 \\(${w.doomed.slice(0, 19)}\\)`, 'm'));
    assert.match(out, new RegExp(`↳ referrer ${w.sbom.slice(0, 19)} \\(application/spdx\\+json, untagged\\) +refers to ${w.doomed.slice(0, 19)}; deleted with it`));

    const a = captureIO();
    assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout() + a.stderr());
    assert.match(a.stdout(), /with 4 referrers/);
    for (const d of [w.doomed, w.sbom, w.sbomSig, w.sig, w.prov]) assert.equal(await exists(w.oci.url, d), false, `${d} deleted`);
    assert.equal(await exists(w.oci.url, w.keptSbom), true, 'the kept image SBOM stays');
    assert.deepEqual(await readTags(w.oci.reg, 'ref/app'), { v1: w.kept });

    const r = captureIO();
    assert.equal(await restoreCommand({ plan: planFile, autoApprove: true }, r.io), 0, r.stdout() + r.stderr());
    for (const d of [w.doomed, w.sbom, w.sbomSig, w.sig, w.prov]) assert.equal(await exists(w.oci.url, d), true, `${d} restored`);
    assert.deepEqual(await readTags(w.oci.reg, 'ref/app'), { 'dev-1': w.doomed, v1: w.kept });
    // Back, they are the image's referrers again.
    const back = (await (await fetch(`${w.oci.url}/v2/ref/app/referrers/${w.doomed}?artifactType=${encodeURIComponent(SPDX)}`)).json()) as { manifests: Array<{ digest: string }> };
    assert.deepEqual(back.manifests.map((m) => m.digest), [w.sbom]);
  } finally {
    await w.oci.stop();
  }
});

test('a plan edited to take a kept image\'s SBOM as a referrer of a deleted image: apply reads its subject and leaves it', async () => {
  const w = await world();
  try {
    const { plan: p, planFile } = await plan(w.oci.url);
    const del = p.actions.find((a): a is PlanDelete => a.type === 'delete')!;
    del.referrers = [{ digest: w.keptSbom as Digest, subject: w.doomed as Digest, artifact_type: SPDX }];
    delete (p as { sha256?: string }).sha256;
    p.sha256 = planHash(p);
    writeFileSync(planFile, JSON.stringify(p));
    const a = captureIO();
    await applyCommand({ plan: planFile }, a.io);
    assert.match(a.stdout(), /referrer left in place: sha256:\w+ \(its manifest does not name sha256:\w+ as subject/);
    assert.equal(await exists(w.oci.url, w.keptSbom), true, 'the kept image SBOM stays');
    assert.equal(await exists(w.oci.url, w.doomed), false);
  } finally {
    await w.oci.stop();
  }
});

test('without the referrers API (distribution 2.8 alone) an untagged referrer is not seen: the plan says the registry cannot be asked', async () => {
  const w = await world();
  try {
    const { plan: p } = await plan(w.oci.reg.url);
    assert.equal(p.capabilities!.r.referrers, false);
    const del = p.actions.find((a): a is PlanDelete => a.type === 'delete')!;
    assert.equal(del.referrers, undefined);
  } finally {
    await w.oci.stop();
  }
});
