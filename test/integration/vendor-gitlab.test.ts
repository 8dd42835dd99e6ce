import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGitlab } from '../helpers/gitlab-emulator.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { restoreCommand } from '../../src/commands/restore.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

// kind: gitlab, tested against an emulation of GitLab's documented Container Registry API
// (test/helpers/gitlab-emulator.ts) with a real distribution registry: a group's
// repositories through the API, a tag alone through GitLab's tag API, images by the OCI
// API, a protected tag reported blocked with GitLab's words, CI_JOB_TOKEN limited to its
// own project.
const tmp = tempDir('gitlab');
after(() => tmp.remove());
const sha = (d: string) => d.slice(7);

test("GitLab: a group's repositories through the API, a shared tag removed through GitLab's tag API, a multi-arch index and a signature by the OCI API, a protected tag blocked with GitLab's words; restore puts them back", async () => {
  const g = await startGitlab({ group: 'grp', projects: ['grp/app', 'grp/tools'], protectedTags: /^release-/, pageSize: 1 });
  try {
    const v1 = await pushImage(g.reg, 'grp/app', ['v1', 'dev-1'], { seed: 'gl-shared' });
    const idx = await pushImage(g.reg, 'grp/app/worker', ['dev-2'], { seed: 'gl-index', platforms: ['amd64', 'arm64'] });
    await pushImage(g.reg, 'grp/app/worker', ['v2'], { seed: 'gl-worker-v2' });
    const d3 = await pushImage(g.reg, 'grp/app', ['dev-3'], { seed: 'gl-3' });
    const sig = `sha256-${sha(d3)}.sig`;
    const sigDigest = await pushImage(g.reg, 'grp/app', [sig], { seed: 'gl-3-sig' });
    const rel = await pushImage(g.reg, 'grp/tools', ['release-dev', 'v9'], { seed: 'gl-rel' });
    const dir = join(tmp.dir, 'w');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  gl:\n    registry: ${g.ociUrl}\n    kind: gitlab\n    api: ${g.apiUrl}\n    owner: grp\ndelete-policy:\n  registries: [gl]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const env = { GITLAB_TOKEN: g.token };
    const planFile = join(dir, 'plan.json');
    const p = captureIO(env);
    assert.equal(await planCommand({ config, out: planFile }, p.io), 0, p.stderr());
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
    assertPlanSchema(plan);
    assert.deepEqual(Object.keys(plan.snapshot.gl).sort(), ['grp/app', 'grp/app/worker', 'grp/tools']);
    assert.ok(g.apiLog.some((l) => /^GET \/api\/v4\/groups\/grp\/registry\/repositories\?.*page=2/.test(l)), 'the second page was read');
    assert.deepEqual(plan.capabilities, { gl: { delete: true, tag_delete: true, referrers: false, via: "GitLab's API" } });
    const del = plan.actions.filter((a): a is PlanDelete => a.type === 'delete');
    const by = (t: string) => del.find((a) => a.tags.includes(t))!;
    assert.equal(by('dev-1').method, 'oci');
    assert.equal(by('release-dev').method, 'oci');
    assert.equal(by('dev-2').children?.length, 2);
    assert.deepEqual(by(sig).attachment_of, { subject: d3, orphaned: false });
    assert.match(p.stdout(), /^ {2}- delete tag via GitLab's API dev-1 /m);

    g.apiLog.length = 0;
    g.oci.log.length = 0;
    const a = captureIO(env);
    assert.equal(await applyCommand({ plan: planFile }, a.io), 3, a.stdout() + a.stderr());
    assert.match(a.stdout(), /^blocked +.*GitLab refused to delete grp\/tools:release-dev: 403 Forbidden - Protected container tags: release-dev matches a protection rule of the project/m);
    assert.ok(g.apiLog.some((l) => /^DELETE \/api\/v4\/projects\/1\/registry\/repositories\/\d+\/tags\/dev-1$/.test(l)), g.apiLog.join('\n'));
    assert.equal(g.oci.log.filter((l) => l.startsWith('PUT')).length, 0, 'no placeholder manifest');
    assert.deepEqual(await readTags(g.reg, 'grp/app'), { v1 });
    assert.deepEqual(await readTags(g.reg, 'grp/app/worker'), { v2: (await readTags(g.reg, 'grp/app/worker')).v2 });
    assert.deepEqual(await readTags(g.reg, 'grp/tools'), { 'release-dev': rel, v9: rel });

    const r = captureIO(env);
    assert.equal(await restoreCommand({ plan: planFile, autoApprove: true }, r.io), 0, r.stdout() + r.stderr());
    assert.deepEqual(await readTags(g.reg, 'grp/app'), { 'dev-1': v1, 'dev-3': d3, [sig]: sigDigest, v1 });
    assert.equal((await readTags(g.reg, 'grp/app/worker'))['dev-2'], idx);
  } finally {
    await g.stop();
  }
});

test("GitLab: CI_JOB_TOKEN deletes a tag of its own project only; another project's tag fails with GitLab's answer and the fix", async () => {
  const g = await startGitlab({ group: 'grp', projects: ['grp/app', 'grp/other'], jobProject: 'grp/app' });
  try {
    await pushImage(g.reg, 'grp/app', ['v1', 'dev-1'], { seed: 'glj-1' });
    await pushImage(g.reg, 'grp/other', ['v1', 'dev-1'], { seed: 'glj-2' });
    const dir = join(tmp.dir, 'w2');
    mkdirSync(dir);
    const config = writeFile(dir, 'c.yml', `registries:\n  gl:\n    registry: ${g.ociUrl}\n    kind: gitlab\n    api: ${g.apiUrl}\n    repositories: [grp/app, grp/other]\ndelete-policy:\n  registries: [gl]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
    const env = { CI_JOB_TOKEN: g.jobToken };
    const planFile = join(dir, 'plan.json');
    assert.equal(await planCommand({ config, out: planFile }, captureIO(env).io), 0);
    const a = captureIO(env);
    assert.equal(await applyCommand({ plan: planFile }, a.io), 1, a.stdout());
    assert.match(a.stdout(), /^failed +.*grp\/other.*403: 403 Forbidden; the token needs the api scope and the Maintainer role \(a CI_JOB_TOKEN only reaches its own project\)/m);
    assert.deepEqual(Object.keys(await readTags(g.reg, 'grp/app')), ['v1']);
    assert.deepEqual(Object.keys(await readTags(g.reg, 'grp/other')).sort(), ['dev-1', 'v1']);
    assert.ok(!a.stdout().includes(g.jobToken) && !a.stderr().includes(g.jobToken), 'the token is never printed');
  } finally {
    await g.stop();
  }
});
