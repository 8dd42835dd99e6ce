import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGhcr } from '../helpers/ghcr-emulator.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { restoreCommand } from '../../src/commands/restore.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

// kind: ghcr, tested against an emulation of GitHub's documented Packages API and of
// ghcr.io's OCI refusals (test/helpers/ghcr-emulator.ts) in front of a real distribution
// registry: repositories are the owner's packages, images are package versions, a tag
// alone goes by placeholder, GitHub's refusals are blocked, its rate limits waited out,
// and restore uses GitHub's own restore of deleted versions.
const tmp = tempDir('ghcr');
after(() => tmp.remove());
const sha = (d: string) => d.slice(7);

test('GHCR: packages as repositories, versions deleted through the API (none through the OCI API), a shared tag removed by placeholder, a multi-arch index with its platform versions, a signature with its image; a popular version blocked with GitHub\'s words; rate limits waited out; restore through GitHub\'s restore', async () => {
  const g = await startGhcr({ org: 'acme', pageSize: 2 });
  try {
    const v1 = await pushImage(g.reg, 'acme/app', ['v1', 'dev-1'], { seed: 'g-shared' });
    const idx = await pushImage(g.reg, 'acme/app', ['dev-2'], { seed: 'g-index', platforms: ['amd64', 'arm64'] });
    const d3 = await pushImage(g.reg, 'acme/app', ['dev-3'], { seed: 'g-3' });
    const sig = `sha256-${sha(d3)}.sig`;
    const sigDigest = await pushImage(g.reg, 'acme/app', [sig], { seed: 'g-3-sig' });
    const d4 = await pushImage(g.reg, 'acme/app', ['dev-4'], { seed: 'g-4' });
    await pushImage(g.reg, 'acme/tools/cli', ['v2'], { seed: 'g-cli' });
    await pushImage(g.reg, 'acme/web', ['v3'], { seed: 'g-web' });
    g.popular.add(d4);
    const dir = join(tmp.dir, 'w');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  gh:\n    registry: ${g.ociUrl}\n    kind: ghcr\n    api: ${g.apiUrl}\n    owner: acme\ndelete-policy:\n  registries: [gh]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const env = { GITHUB_TOKEN: g.token };
    const planFile = join(dir, 'plan.json');
    // GitHub's primary limit on the first package listing: waited out, said as progress.
    g.rateLimit(/^GET \/orgs\/acme\/packages\?/, 1, 'primary');
    const p = captureIO(env);
    assert.equal(await planCommand({ config, out: planFile }, p.io), 0, p.stderr());
    assert.match(p.stderr(), /gh: the API's rate limit was reached; waiting \d+ s as it asks \(GET \/orgs\/acme\/packages\)/);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
    assertPlanSchema(plan);
    // No catalog on GHCR: the owner's packages, page by page (two per page here).
    assert.deepEqual(Object.keys(plan.snapshot.gh).sort(), ['acme/app', 'acme/tools/cli', 'acme/web']);
    assert.ok(g.apiLog.some((l) => /^GET \/orgs\/acme\/packages\?.*page=2/.test(l)));
    assert.deepEqual(plan.capabilities, { gh: { delete: true, tag_delete: false, referrers: false, via: "GitHub's Packages API" } });
    const del = plan.actions.filter((a): a is PlanDelete => a.type === 'delete');
    const by = (t: string) => del.find((a) => a.tags.includes(t))!;
    assert.equal(by('dev-1').method, 'untag');
    assert.equal(by('dev-2').children?.length, 2);
    assert.deepEqual(by(sig).attachment_of, { subject: d3, orphaned: false });

    g.apiLog.length = 0;
    g.oci.log.length = 0;
    // A secondary limit in the middle of apply: waited out too.
    g.rateLimit(/^GET \/orgs\/acme\/packages\/container\/app\/versions/, 1, 'secondary');
    const a = captureIO(env);
    const code = await applyCommand({ plan: planFile }, a.io);
    assert.equal(code, 3, a.stdout() + a.stderr());
    assert.match(a.stderr(), /rate limit was reached; waiting 1 s/);
    assert.match(a.stdout(), /^blocked +delete gh\/acme\/app@sha256:\w+: GitHub refused to delete version \d+ of acme\/app: Publicly visible package versions with more than 5000 downloads cannot be deleted/m);
    assert.equal(g.oci.answered.filter((l) => l.startsWith('DELETE')).length, 0, 'no DELETE reached the OCI API');
    const versionDeletes = g.apiLog.filter((l) => /^DELETE \/orgs\/acme\/packages\/container\/app\/versions\/\d+$/.test(l));
    // dev-2 and its 2 platform versions, dev-3, its signature, dev-1's placeholder, and dev-4's refused one.
    assert.equal(versionDeletes.length, 7, g.apiLog.join('\n'));
    assert.deepEqual(await readTags(g.reg, 'acme/app'), { 'dev-4': d4, v1 });

    const r = captureIO(env);
    assert.equal(await restoreCommand({ plan: planFile, autoApprove: true }, r.io), 0, r.stdout() + r.stderr());
    assert.match(r.stdout(), /restored +gh\/acme\/app:dev-3 points at sha256:\w+ again \(restored through GitHub's Packages API\)/);
    assert.ok(g.apiLog.some((l) => /^POST \/orgs\/acme\/packages\/container\/app\/versions\/\d+\/restore$/.test(l)));
    assert.deepEqual(await readTags(g.reg, 'acme/app'), { 'dev-1': v1, 'dev-2': idx, 'dev-3': d3, 'dev-4': d4, [sig]: sigDigest, v1 });
  } finally {
    await g.stop();
  }
});

test('GHCR: no token is named in the plan as the reason deletes are blocked, and the owner is required to list packages', async () => {
  const g = await startGhcr({ org: 'acme' });
  try {
    await pushImage(g.reg, 'acme/app', ['dev-1'], { seed: 'gn-1' });
    await pushImage(g.reg, 'acme/app', ['v1'], { seed: 'gn-2' });
    const dir = join(tmp.dir, 'w2');
    mkdirSync(dir);
    const noOwner = writeFile(dir, 'o.yml', `registries:\n  gh:\n    registry: ${g.ociUrl}\n    kind: ghcr\n    api: ${g.apiUrl}\ndelete-policy:\n  registries: [gh]\n  tags:\n    include:\n      keys: dev\n`);
    await assert.rejects(planCommand({ config: noOwner, out: join(dir, 'p.json') }, captureIO().io), /registries\.gh\.owner.*kind ghcr lists repositories through the owner's packages \(GHCR has no catalog\): set owner, or list repositories/s);
    const config = writeFile(dir, 'c.yml', `registries:\n  gh:\n    registry: ${g.ociUrl}\n    kind: ghcr\n    api: ${g.apiUrl}\n    repositories: [acme/app]\ndelete-policy:\n  registries: [gh]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const p = captureIO({});
    assert.equal(await planCommand({ config, out: join(dir, 'p.json') }, p.io), 0, p.stderr());
    assert.match(p.stdout(), /blocked: registries\.gh cannot delete: registries\.gh \(kind ghcr\) needs a GitHub token with read:packages \(and delete:packages to delete\): set GITHUB_TOKEN, or the registry's password/);
  } finally {
    await g.stop();
  }
});

test("GHCR: a version that gained a tag after regmgr's check is not deleted (GitHub's tags for it are read just before the DELETE): blocked, the tag stays", async () => {
  const g = await startGhcr({ org: 'acme' });
  try {
    const d1 = await pushImage(g.reg, 'acme/app', ['dev-1'], { seed: 'gt-1' });
    await pushImage(g.reg, 'acme/app', ['v1'], { seed: 'gt-2' });
    const dir = join(tmp.dir, 'w3');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  gh:\n    registry: ${g.ociUrl}\n    kind: ghcr\n    api: ${g.apiUrl}\n    repositories: [acme/app]\ndelete-policy:\n  registries: [gh]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const env = { GITHUB_TOKEN: g.token };
    const planFile = join(dir, 'plan.json');
    assert.equal(await planCommand({ config, out: planFile }, captureIO(env).io), 0);
    // Another client tags the image between regmgr's OCI check and its version DELETE.
    g.beforeVersionGet = async (repo, digest) => {
      if (digest !== d1) return;
      const got = await fetch(`${g.reg.url}/v2/${repo}/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const put = await fetch(`${g.reg.url}/v2/${repo}/manifests/release-1`, { method: 'PUT', headers: { 'content-type': String(got.headers.get('content-type')) }, body: new Uint8Array(await got.arrayBuffer()) });
      assert.equal(put.status, 201);
    };
    const a = captureIO(env);
    assert.equal(await applyCommand({ plan: planFile }, a.io), 3, a.stdout() + a.stderr());
    assert.match(a.stdout(), /^blocked +.*version \d+ of acme\/app \(sha256:\w+\) has tags \[dev-1, release-1\] in GitHub's API, not the \[dev-1\] regmgr saw: deleting the version would take them all; left alone/m);
    assert.equal(g.apiLog.filter((l) => l.startsWith('DELETE')).length, 0, 'no version deleted');
    assert.deepEqual(await readTags(g.reg, 'acme/app'), { 'dev-1': d1, 'release-1': d1, v1: (await readTags(g.reg, 'acme/app')).v1 });
  } finally {
    await g.stop();
  }
});
