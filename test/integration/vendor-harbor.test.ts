import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarbor } from '../helpers/harbor-emulator.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { TEST_PASSWORD, TEST_USER } from '../helpers/registry.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { restoreCommand } from '../../src/commands/restore.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

// kind: harbor, tested against an emulation of Harbor's documented API
// (test/helpers/harbor-emulator.ts, from api/v2.0/swagger.yaml) in front of a real
// distribution registry: repositories through the projects API (no catalog for
// non-admins), a tag alone through Harbor's tag API, images through its artifact API,
// immutability refusals reported as blocked with Harbor's words.
const tmp = tempDir('harbor');
after(() => tmp.remove());
const sha = (d: string) => d.slice(7);

test('Harbor: plan lists repositories through the projects API, removes a shared tag through the tag API, takes a multi-arch index with its platform manifests and a signature with its image; an immutable tag is blocked with Harbor\'s reason; restore puts them back', async () => {
  const h = await startHarbor({ immutable: /^frozen-/, pageSize: 1 });
  try {
    const v1 = await pushImage(h.reg, 'library/app', ['v1', 'dev-1'], { seed: 'h-shared' });
    const idx = await pushImage(h.reg, 'library/app', ['dev-2'], { seed: 'h-index', platforms: ['amd64', 'arm64'] });
    const d3 = await pushImage(h.reg, 'library/app', ['dev-3'], { seed: 'h-3' });
    const sig = `sha256-${sha(d3)}.sig`;
    await pushImage(h.reg, 'library/app', [sig], { seed: 'h-3-sig' });
    const frozen = await pushImage(h.reg, 'library/app', ['frozen-dev'], { seed: 'h-frozen' });
    await pushImage(h.reg, 'team/tool', ['v9'], { seed: 'h-tool' });
    const dir = join(tmp.dir, 'w');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  harbor:\n    registry: ${h.url}\n    kind: harbor\n    username: ${TEST_USER}\n    password: \${HARBOR_PASSWORD}\ndelete-policy:\n  registries: [harbor]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const env = { HARBOR_PASSWORD: TEST_PASSWORD };
    const planFile = join(dir, 'plan.json');
    const p = captureIO(env);
    assert.equal(await planCommand({ config, out: planFile }, p.io), 0, p.stderr());
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
    assertPlanSchema(plan);
    // No catalog (401 for non-admins): the projects, page by page.
    assert.ok(h.apiLog.some((l) => l.startsWith('GET /api/v2.0/projects?page=2')), 'the second page of projects was read');
    assert.deepEqual(Object.keys(plan.snapshot.harbor).sort(), ['library/app', 'team/tool']);
    assert.deepEqual(plan.capabilities, { harbor: { delete: true, tag_delete: true, referrers: false, via: "Harbor's API" } });
    const del = plan.actions.filter((a): a is PlanDelete => a.type === 'delete');
    const by = (t: string) => del.find((a) => a.tags.includes(t))!;
    assert.equal(by('dev-1').method, 'oci');
    assert.equal(by('dev-2').children?.length, 2);
    assert.deepEqual(by(sig).attachment_of, { subject: d3, orphaned: false });
    assert.equal(by('dev-3').method, 'manifest');
    assert.match(p.stdout(), /^ {2}- delete tag via Harbor's API dev-1 \(sha256:\w+, digest kept by v1\)/m);

    h.apiLog.length = 0;
    h.proxy.log.length = 0;
    const a = captureIO(env);
    const code = await applyCommand({ plan: planFile }, a.io);
    assert.equal(code, 3, a.stdout() + a.stderr());
    assert.match(a.stdout(), /^blocked +delete harbor\/library\/app@sha256:\w+: Harbor refused to delete library\/app@sha256:\w+: PRECONDITION: the artifact .* has immutable tags \(frozen-dev\), cannot be deleted/m);
    assert.ok(h.apiLog.includes(`DELETE /api/v2.0/projects/library/repositories/app/artifacts/dev-1/tags/dev-1`), h.apiLog.join('\n'));
    assert.ok(h.apiLog.includes(`DELETE /api/v2.0/projects/library/repositories/app/artifacts/${idx}`));
    assert.equal(h.proxy.log.filter((l) => l.startsWith('PUT')).length, 0, 'no placeholder manifest: the tag API removes the tag alone');
    assert.equal(h.proxy.log.filter((l) => /^DELETE \/v2\//.test(l)).length, 0, 'every delete went through Harbor\'s API');
    assert.deepEqual(await readTags(h.reg, 'library/app'), { 'frozen-dev': frozen, v1 });

    const r = captureIO(env);
    assert.equal(await restoreCommand({ plan: planFile, autoApprove: true }, r.io), 0, r.stdout() + r.stderr());
    assert.deepEqual(await readTags(h.reg, 'library/app'), { 'dev-1': v1, 'dev-2': idx, 'dev-3': d3, 'frozen-dev': frozen, [sig]: (await readTags(h.reg, 'library/app'))[sig], v1 });
  } finally {
    await h.stop();
  }
});

test('Harbor: a project in a repository name encoded twice (a/b/c), and wrong credentials named with Harbor\'s answer', async () => {
  const h = await startHarbor();
  try {
    await pushImage(h.reg, 'proj/sub/app', ['dev-1'], { seed: 'hs-1' });
    await pushImage(h.reg, 'proj/sub/app', ['v1'], { seed: 'hs-2' });
    const dir = join(tmp.dir, 'w2');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  harbor:\n    registry: ${h.url}\n    kind: harbor\n    username: ${TEST_USER}\n    password: \${HARBOR_PASSWORD}\ndelete-policy:\n  registries: [harbor]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const planFile = join(dir, 'plan.json');
    const bad = captureIO({ HARBOR_PASSWORD: 'wrong-password' });
    await assert.rejects(planCommand({ config, out: planFile }, bad.io), /registry 'harbor': GET http:\/\/127\.0\.0\.1:\d+\/api\/v2\.0\/projects\?page=1&page_size=100&with_detail=false: 401: UNAUTHORIZED: unauthorized/);
    const p = captureIO({ HARBOR_PASSWORD: TEST_PASSWORD });
    assert.equal(await planCommand({ config, out: planFile }, p.io), 0, p.stderr());
    const a = captureIO({ HARBOR_PASSWORD: TEST_PASSWORD });
    assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout());
    assert.ok(h.apiLog.some((l) => l.startsWith('DELETE /api/v2.0/projects/proj/repositories/sub%252Fapp/artifacts/sha256:')), h.apiLog.join('\n'));
    assert.deepEqual(Object.keys(await readTags(h.reg, 'proj/sub/app')), ['v1']);
  } finally {
    await h.stop();
  }
});
