import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { restoreCommand } from '../../src/commands/restore.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

// Mirrors that converge (sync-policy.prune), images in use never deleted (keep-in-use,
// --in-use), and the guard against emptying a repository: against real registries.
const tmp = tempDir('prune-in-use');
after(() => tmp.remove());
let n = 0;

function workdir(config: string) {
  const dir = join(tmp.dir, `w${++n}`);
  mkdirSync(dir);
  return { dir, config: writeFile(dir, 'c.yml', config), planFile: join(dir, 'plan.json') };
}

async function plan(config: string, planFile: string, more: { inUse?: string[]; strict?: boolean } = {}) {
  const cap = captureIO();
  const code = await planCommand({ config, out: planFile, ...more }, cap.io);
  if (code !== 0) return { code, plan: undefined as unknown as Plan, out: cap.stdout(), err: cap.stderr() };
  const p = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  assertPlanSchema(p);
  return { code, plan: p, out: cap.stdout(), err: cap.stderr() };
}

async function deleteDigest(reg: TestRegistry, repo: string, digest: string) {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' });
  assert.equal(res.status, 202);
}

const deletes = (p: Plan) => p.actions.filter((a): a is PlanDelete => a.type === 'delete');

test('prune: a mirror whose source lost three tags (two inside the filters, one outside) loses exactly the two; restore brings them back', async () => {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    const d: Record<string, string> = {};
    for (const t of ['v1', 'v2', 'v3', 'other-1']) {
      d[t] = await pushImage(src, 'team/app', [t], { seed: `prune-${t}` });
      // The mirror as an earlier sync left it (same content, same digests); other-1 was
      // put there by hand: the filters never selected it.
      await pushImage(dst, 'mirror/app', [t], { seed: `prune-${t}` });
    }
    for (const t of ['v2', 'v3', 'other-1']) await deleteDigest(src, 'team/app', d[t]);
    const w = workdir(`registries:\n  src:\n    registry: ${src.url}\n    repositories: [team/app]\n  dst:\n    registry: ${dst.url}\nsync-policy:\n  from: src\n  to: dst\n  replace: [{ old: team, new: mirror }]\n  filters: ['^v']\n  prune: true\n`);
    const { plan: p, out } = await plan(w.config, w.planFile);
    assert.equal(p.actions.filter((a) => a.type === 'copy').length, 0, 'v1 is up to date');
    assert.deepEqual(deletes(p).map((a) => [a.registry, a.repository, a.tags, a.prune]).sort((x, y) => String(x[2]).localeCompare(String(y[2]))), [['dst', 'mirror/app', ['v2'], true], ['dst', 'mirror/app', ['v3'], true]]);
    assert.equal(p.decisions.prune!.dst['mirror/app']['other-1'].verdict, 'skip');
    assert.match(String(p.decisions.prune!.dst['mirror/app']['other-1'].reason), /outside sync-policy\.filters/);
    assert.match(out, /^ {2}- prune v2 \(sha256:\w+\) +not in the source src\/team\/app \(sync-policy\.prune; matches filter \/\^v\/\)$/m);

    const a = captureIO();
    assert.equal(await applyCommand({ plan: w.planFile }, a.io), 0, a.stdout() + a.stderr());
    assert.deepEqual(await readTags(dst, 'mirror/app'), { v1: d.v1, 'other-1': d['other-1'] });

    const r = captureIO();
    assert.equal(await restoreCommand({ plan: w.planFile, autoApprove: true }, r.io), 0, r.stdout() + r.stderr());
    assert.deepEqual(await readTags(dst, 'mirror/app'), { v1: d.v1, v2: d.v2, v3: d.v3, 'other-1': d['other-1'] });
  } finally {
    await src.stop();
    await dst.stop();
  }
});

test('prune: a tag back in the source between plan and apply is left (apply re-checks the source on live data)', async () => {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    const v2 = await pushImage(src, 'app', ['v2'], { seed: 'back-v2' });
    await pushImage(src, 'app', ['v1'], { seed: 'back-v1' });
    await pushImage(dst, 'app', ['v1'], { seed: 'back-v1' });
    await pushImage(dst, 'app', ['v2'], { seed: 'back-v2' });
    await deleteDigest(src, 'app', v2);
    const w = workdir(`registries:\n  src:\n    registry: ${src.url}\n    repositories: [app]\n  dst:\n    registry: ${dst.url}\nsync-policy:\n  from: src\n  to: dst\n  replace: [{ old: '', new: mirror }]\n  filters: ['^v']\n  prune: true\n`);
    // The target is mirror/app: put the images there.
    await pushImage(dst, 'mirror/app', ['v1'], { seed: 'back-v1' });
    await pushImage(dst, 'mirror/app', ['v2'], { seed: 'back-v2' });
    const { plan: p } = await plan(w.config, w.planFile);
    assert.deepEqual(deletes(p).map((a) => a.tags), [['v2']]);
    await pushImage(src, 'app', ['v2'], { seed: 'back-v2' });
    const a = captureIO();
    await applyCommand({ plan: w.planFile }, a.io);
    assert.match(a.stdout(), /the sync policy no longer prunes this: v2 is now kept: in the source src\/app/);
    assert.equal((await readTags(dst, 'mirror/app')).v2, v2);
  } finally {
    await src.stop();
    await dst.stop();
  }
});

async function platformDigests(reg: TestRegistry, repo: string, index: string): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${index}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
  return ((await res.json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest);
}

/** What `kubectl get pods -A -o json` prints (trimmed to the fields kubelet fills for images). */
function podsJson(host: string, pods: Array<{ ns: string; name: string; init?: boolean; container: string; image: string; imageID: string }>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    metadata: { resourceVersion: '' },
    items: pods.map((p) => {
      const c = { name: p.container, image: p.image };
      const s = { name: p.container, image: p.image, imageID: p.imageID, ready: true, restartCount: 0, started: true, state: { running: { startedAt: '2026-12-01T10:00:00Z' } } };
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace: p.ns, name: p.name, uid: `${p.ns}-${p.name}` },
        spec: p.init ? { initContainers: [c], containers: [{ name: 'app', image: `${host}/other:v0` }] } : { containers: [c] },
        status: { phase: 'Running', ...(p.init ? { initContainerStatuses: [s] } : { containerStatuses: [s] }) },
      };
    }),
  }, null, 2);
}

test('keep-in-use: images a recorded kubectl get pods -A -o json runs are kept, and the plan says which pod; a platform digest keeps its multi-arch index', async () => {
  const reg = await startRegistry();
  try {
    const v1 = await pushImage(reg, 'shop/web', ['v1'], { seed: 'use-v1' });
    const v2 = await pushImage(reg, 'shop/web', ['v2'], { seed: 'use-v2', platforms: ['amd64', 'arm64'] });
    const v3 = await pushImage(reg, 'shop/web', ['v3'], { seed: 'use-v3' });
    const v4 = await pushImage(reg, 'shop/web', ['v4'], { seed: 'use-v4' });
    await pushImage(reg, 'shop/web', ['latest'], { seed: 'use-latest' });
    const arm = (await platformDigests(reg, 'shop/web', v2))[1];
    const w = workdir(`registries:\n  r:\n    registry: ${reg.url}\n    repositories: [shop/web]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n  tags:\n    include:\n      regex: '^v'\n`);
    const pods = writeFile(w.dir, 'pods.json', podsJson(reg.host, [
      { ns: 'shop', name: 'web-7d9f', container: 'web', image: `${reg.host}/shop/web:v1`, imageID: `${reg.host}/shop/web@${v1}` },
      // An arm64 node pulled the platform manifest of v2's index.
      { ns: 'shop', name: 'web-arm-1', container: 'web', image: `${reg.host}/shop/web@${arm}`, imageID: `docker-pullable://${reg.host}/shop/web@${arm}` },
      // Referenced by tag only (an init container whose status has no digest yet).
      { ns: 'jobs', name: 'migrate-x', init: true, container: 'migrate', image: `${reg.host}/shop/web:v3`, imageID: '' },
    ]));
    const { plan: p, out } = await plan(w.config, w.planFile, { inUse: [pods] });
    assert.deepEqual(deletes(p).map((a) => a.tags), [['v4']]);
    const why = p.decisions.delete.r['shop/web'];
    assert.equal(why.v1.reason, 'in use: pod shop/web-7d9f container web');
    assert.equal(why.v2.reason, `in use: pod shop/web-arm-1 container web (platform manifest ${arm.slice(0, 19)} of this index)`);
    assert.equal(why.v3.reason, 'in use: pod jobs/migrate-x container migrate');
    assert.equal(p.in_use![0].format, 'kubectl');
    assert.equal(p.in_use![0].file, pods);
    // Each container's spec image, status image and imageID (when set).
    assert.equal(p.in_use![0].references, 9);
    assert.match(out, /^ {2}- v4 /m);
    assert.match(out, /^In use \(kept\): \S+pods\.json, kubectl, 9 references, written \d+ s before the plan\.$/m);

    // Deployed between plan and apply: apply's re-check, given the cluster as it is now, keeps it.
    const now = writeFile(w.dir, 'pods-now.json', podsJson(reg.host, [{ ns: 'shop', name: 'web-rollback', container: 'web', image: `${reg.host}/shop/web:v4`, imageID: `${reg.host}/shop/web@${v4}` }]));
    const a = captureIO();
    await applyCommand({ plan: w.planFile, inUse: [now] }, a.io);
    assert.match(a.stdout(), /v4 is now kept: in use: pod shop\/web-rollback container web/);
    const tags = await readTags(reg, 'shop/web');
    assert.deepEqual([tags.v1, tags.v2, tags.v3, tags.v4], [v1, v2, v3, v4]);
  } finally {
    await reg.stop();
  }
});

test('keep-in-use: a missing or unparseable input stops the plan before any request, naming the file', async () => {
  const w = workdir(`registries:\n  r:\n    registry: http://127.0.0.1:1\n    repositories: [a]\ndelete-policy:\n  registries: [r]\n  keep-in-use: pods.json\n  tags:\n    include:\n      keys: dev\n`);
  let cap = captureIO();
  await assert.rejects(planCommand({ config: w.config, out: w.planFile }, cap.io), (e: Error) => e.message.includes(`${join(w.dir, 'pods.json')}: cannot read the in-use input: ENOENT`));
  writeFileSync(join(w.dir, 'pods.json'), '{"kind":"List","items":[{"status":{"containerStatuses":[{"name":"c","imageID":"not a ref"}]}}]}');
  cap = captureIO();
  await assert.rejects(planCommand({ config: w.config, out: w.planFile }, cap.io), /pods\.json: items\[0\]\.status\.containerStatuses\[0\]\.imageID: 'not a ref' is not an image reference/);
});

test("guard: include regex '.' with mix-count 0 blocks every delete with the reason (and --strict fails); allow-empty-repository: true allows it", async () => {
  const reg = await startRegistry();
  try {
    for (const t of ['latest', 'v1', 'dev-1']) await pushImage(reg, 'app', [t], { seed: `guard-${t}` });
    const body = (extra: string) => `registries:\n  r:\n    registry: ${reg.url}\n    repositories: [app]\ndelete-policy:\n  registries: [r]\n  mix-count: 0\n${extra}  tags:\n    include:\n      regex: '.'\n`;
    const w = workdir(body(''));
    const { plan: p, out } = await plan(w.config, w.planFile);
    assert.equal(deletes(p).length, 0);
    assert.equal(p.summary.blocked, 3);
    assert.match(out, /^ {2}! latest \(sha256:\w+\) +matches include regex \/\.\/; blocked: would delete every tag of app \(3\): set delete-policy\.allow-empty-repository: true if that is meant$/m);
    assert.match((p.warnings ?? []).join('\n'), /r app: would delete every tag of app \(3\)/);
    const strict = await plan(w.config, w.planFile, { strict: true });
    assert.equal(strict.code, 1);
    assert.match(strict.err, /would delete every tag of app/);

    const allowed = workdir(body('  allow-empty-repository: true\n'));
    const ok = await plan(allowed.config, allowed.planFile);
    assert.deepEqual(deletes(ok.plan).map((a) => a.tags).flat().sort(), ['dev-1', 'latest', 'v1']);
    assert.deepEqual(ok.plan.warnings, []);
  } finally {
    await reg.stop();
  }
});
