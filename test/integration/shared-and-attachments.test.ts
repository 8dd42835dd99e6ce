import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { showCommand } from '../../src/commands/show.js';
import { restoreCommand } from '../../src/commands/restore.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

let env: Awaited<ReturnType<typeof startProxiedRegistry>>;
let mirror: TestRegistry;
const tmp = tempDir('shared');
let n = 0;
const run = promisify(execFile);

before(async () => {
  [env, mirror] = await Promise.all([startProxiedRegistry(), startRegistry()]);
});
after(async () => {
  await env?.stop();
  await mirror?.stop();
  tmp.remove();
});

async function planApply(policyYaml: string, repo: string, extra = '') {
  const dir = join(tmp.dir, `w${++n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'c.yml', `registries:\n  reg:\n    registry: ${env.proxy.url}\n    repositories: [${repo}]\n${extra}delete-policy:\n  registries: [reg]\n${policyYaml}`);
  const planFile = join(dir, 'plan.json');
  const p = captureIO();
  assert.equal(await planCommand({ config, out: planFile }, p.io), 0, p.stderr());
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  assertPlanSchema(plan);
  const a = captureIO();
  env.proxy.log.length = 0;
  const code = await applyCommand({ plan: planFile }, a.io);
  return { plan, planFile, planOut: p.stdout(), out: a.stdout(), code, config };
}

const sha = (d: string) => d.slice('sha256:'.length);

test('pr-N tags built from the same commit as main are untagged; main keeps its digest; the plan shows the method; one untag costs a handful of requests', async () => {
  const repo = 'ci/app';
  const main = await pushImage(env.reg, repo, ['main', 'pr-1', 'pr-2', 'pr-3'], { seed: 'main' });
  const own = await pushImage(env.reg, repo, ['pr-4'], { seed: 'pr-4' });
  const r = await planApply('  mix-count: 0\n  tags:\n    include:\n      regex: ^pr-\n', repo);
  const untags = r.plan.actions.filter((a): a is PlanDelete => a.type === 'delete' && a.method === 'untag');
  assert.deepEqual(untags.map((a) => [a.tags[0], a.kept_by]), [['pr-1', ['main']], ['pr-2', ['main']], ['pr-3', ['main']]]);
  assert.match(r.planOut, /^ {2}- untag pr-1 \(sha256:\w{12}, digest kept by main\) +matches include regex \/\^pr-\//m);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await readTags(env.reg, repo), { main });
  assert.ok(!(await readTags(env.reg, repo))['pr-4']);
  assert.notEqual(own, main);
  // What one untag sent, after the repository's first: a HEAD, the PUT, a HEAD, the
  // DELETE of the PUT manifest, a HEAD that the tag is gone, a HEAD that the kept tag
  // still resolves. Six requests (the original manifest, saved for restore, was read once
  // for the three tags on its digest).
  const log = env.proxy.log;
  assert.equal(log.filter((l) => l.startsWith('GET /v2/ci/app/manifests/sha256:')).length, 2, 'main\'s manifest read once for three untags, pr-4\'s once');
  const start = log.indexOf('HEAD /v2/ci/app/manifests/pr-2', log.indexOf('PUT /v2/ci/app/manifests/pr-1'));
  const one = log.slice(start, log.indexOf('HEAD /v2/ci/app/manifests/main', start) + 1).map((l) => l.replace(/sha256:\w+/, 'D'));
  assert.deepEqual(one, ['HEAD /v2/ci/app/manifests/pr-2', 'PUT /v2/ci/app/manifests/pr-2', 'HEAD /v2/ci/app/manifests/pr-2', 'DELETE /v2/ci/app/manifests/D', 'HEAD /v2/ci/app/manifests/pr-2', 'HEAD /v2/ci/app/manifests/main'], log.join('\n'));
  assert.equal(log.filter((l) => l.startsWith('DELETE ') && l.includes('/manifests/')).length, 4, 'three untags and one whole delete: one DELETE each');
  const md = captureIO();
  await showCommand({ plan: r.planFile, markdown: true }, md.io);
  assert.match(md.stdout(), /^- untag pr-2 \(sha256:\w{12}, digest kept by main\)  # matches include regex/m);
});

test('a platform manifest with a tag of its own under a kept multi-arch index loses only the tag; the index stays pullable', async () => {
  const repo = 'multi/app';
  const index = await pushImage(env.reg, repo, ['v1'], { seed: 'multi', platforms: ['amd64', 'arm64'] });
  const res = await fetch(`${env.reg.url}/v2/${repo}/manifests/${index}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
  const amd64 = ((await res.json()) as { manifests: Array<{ digest: string }> }).manifests[0].digest;
  await tagDigest(env.reg, repo, 'dev-amd64', amd64);
  const r = await planApply('  mix-count: 0\n  tags:\n    include:\n      keys: dev\n', repo);
  assert.deepEqual(
    r.plan.actions.map((a) => a.type === 'delete' && [a.method, a.tags, a.kept_by]),
    [['untag', ['dev-amd64'], ['v1']]],
  );
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await readTags(env.reg, repo), { v1: index });
  // Pullable: skopeo reads the index and every platform manifest in it.
  await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${env.reg.host}/${repo}@${amd64}`]);
  await run('skopeo', ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${env.reg.host}/${repo}:v1`, `docker://${mirror.host}/pulled/app:v1`]);
  assert.equal((await readTags(mirror, 'pulled/app')).v1, index);
});

test('sem-ver with mix-count 2: signatures follow their images, an orphaned one goes, and none counts as a candidate', async () => {
  const repo = 'signed/app';
  const img: Record<string, string> = {};
  for (const [i, tag] of ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5'].entries()) img[tag] = await pushImage(env.reg, repo, [tag], { seed: `${repo}-${tag}`, created: `2024-0${i + 1}-01T00:00:00Z` });
  img['v1.0.0'] = await pushImage(env.reg, repo, ['v1.0.0'], { seed: `${repo}-v1`, created: '2023-01-01T00:00:00Z' });
  // Signatures are newer than every image: counted as candidates, they would win mix-count.
  const sigOf = (tag: string, ext = 'sig') => `sha256-${sha(img[tag])}.${ext}`;
  const sigs = [sigOf('dev-1'), sigOf('dev-4'), sigOf('dev-5'), sigOf('dev-5', 'att'), sigOf('v1.0.0')];
  for (const s of sigs) await pushImage(env.reg, repo, [s], { seed: `${repo}-${s}`, created: '2025-06-01T00:00:00Z' });
  const orphan = `sha256-${'e'.repeat(64)}.sig`;
  await pushImage(env.reg, repo, [orphan], { seed: `${repo}-orphan`, created: '2025-06-01T00:00:00Z' });
  const before = await readTags(env.reg, repo);

  const r = await planApply('  mix-count: 2\n  sem-ver: true\n  tags:\n    exclude:\n      regex: ^v\n', repo);
  assert.equal(r.code, 0, r.out);
  const del = r.plan.decisions.delete.reg[repo];
  assert.equal(del[sigOf('dev-1')].reason, 'signature of dev-1, deleted with it');
  assert.equal(del[sigOf('dev-5', 'att')].reason, 'attestation of dev-5, kept with it');
  assert.equal(del[orphan].reason, `signature of sha256:${'e'.repeat(64)}, which no longer exists here: orphaned`);
  assert.match(String(del['dev-4'].reason), /kept by mix-count 2 \(#2 newest of 5 candidates/);
  // Attachments are deleted before their subjects.
  const order = r.plan.actions.map((a) => (a.type === 'delete' ? a.tags[0] : ''));
  assert.ok(order.indexOf(sigOf('dev-1')) < order.indexOf('dev-1'));
  assert.match(r.planOut, new RegExp(`- dev-1 \\(sha256:\\w{12}\\) .*\\n {2}- {3}↳ ${sigOf('dev-1')} \\(`));
  const after = await readTags(env.reg, repo);
  const kept = ['dev-4', 'dev-5', 'v1.0.0', sigOf('dev-4'), sigOf('dev-5'), sigOf('dev-5', 'att'), sigOf('v1.0.0')].sort();
  assert.deepEqual(Object.keys(after).sort(), kept);
  for (const t of kept) assert.equal(after[t], before[t], `${t} unchanged`);
});

test('sync of a signed image copies its signature with the same digests, whatever the filters say', async () => {
  const repo = 'sync/app';
  const image = await pushImage(env.reg, repo, ['v2'], { seed: 'sync-v2' });
  const sig = `sha256-${sha(image)}.sig`;
  const sigDigest = await pushImage(env.reg, repo, [sig], { seed: 'sync-v2-sig' });
  const unsigned = await pushImage(env.reg, repo, ['dev-9'], { seed: 'sync-dev-9' });
  await pushImage(env.reg, repo, [`sha256-${sha(unsigned)}.sig`], { seed: 'sync-dev-9-sig' });
  const dir = join(tmp.dir, 'sync');
  mkdirSync(dir);
  const config = writeFile(
    dir,
    'c.yml',
    `registries:\n  reg:\n    registry: ${env.proxy.url}\n    repositories: [${repo}]\n  mirror:\n    registry: ${mirror.url}\nsync-policy:\n  from: reg\n  to: mirror\n  replace: [{ old: sync, new: mirrored }]\n  filters: ['^v']\n`,
  );
  const planFile = join(dir, 'plan.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  assert.deepEqual(plan.actions.map((a) => a.id).sort(), [`copy mirror/mirrored/app:${sig}`, 'copy mirror/mirrored/app:v2']);
  assert.equal(plan.decisions.sync.reg[repo][`sha256-${sha(unsigned)}.sig`].reason, 'signature of an image that is not synced');
  const a = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout());
  assert.deepEqual(await readTags(mirror, 'mirrored/app'), { [sig]: sigDigest, v2: image });
});

test('attachments that a pusher aims at the delete: a tag sha256-X.sig on X itself, a candidate on a kept image attestation digest, a signature of a signature', async () => {
  const repo = `att/hostile-${++n}`;
  // 1. A self-referencing attachment tag: one action for the digest, both tags in it.
  const self = await pushImage(env.reg, repo, ['dev-self'], { seed: `${repo}-self` });
  await tagDigest(env.reg, repo, `${self.replace(':', '-')}.sig`, self);
  // 2. A kept image whose attestation digest also carries a candidate tag.
  const kept = await pushImage(env.reg, repo, ['v1'], { seed: `${repo}-v1` });
  const att = await pushImage(env.reg, repo, [`${kept.replace(':', '-')}.att`, 'dev-on-att'], { seed: `${repo}-att` });
  // 3. A deleted image, its signature, and a signature of that signature.
  const img = await pushImage(env.reg, repo, ['dev-chain'], { seed: `${repo}-chain` });
  const sig = await pushImage(env.reg, repo, [`${img.replace(':', '-')}.sig`], { seed: `${repo}-sig` });
  await pushImage(env.reg, repo, [`${sig.replace(':', '-')}.sig`], { seed: `${repo}-sigsig` });
  const { plan, out, code } = await planApply('  mix-count: 0\n  tags:\n    include:\n      keys: dev\n', repo);
  const ids = plan.actions.map((a) => a.id);
  assert.equal(new Set(ids).size, ids.length, 'one action per id');
  const deletes = plan.actions.filter((a): a is PlanDelete => a.type === 'delete');
  const of = (d: string) => deletes.filter((a) => a.digest === d);
  assert.deepEqual(of(self).map((a) => [a.method, a.tags]), [['manifest', ['dev-self', `${self.replace(':', '-')}.sig`]]]);
  assert.deepEqual(of(att).map((a) => [a.method, a.tags, a.kept_by]), [['untag', ['dev-on-att'], [`${kept.replace(':', '-')}.att`]]]);
  assert.equal(plan.summary.blocked, 0);
  assert.deepEqual(of(sig).map((a) => a.method), ['manifest'], 'the signature goes with its image');
  assert.equal(deletes.filter((a) => a.tags.includes(`${sig.replace(':', '-')}.sig`)).length, 1, 'and its own signature with it, in the same plan');
  assert.equal(code, 0, out);
  assert.match(out, /Apply complete: 0 copied, 5 deleted, 0 drifted, 0 blocked, 0 failed\./);
  assert.deepEqual(Object.keys(await readTags(env.reg, repo)).sort(), [`${kept.replace(':', '-')}.att`, 'v1']);
});

test('a tag named __proto__ (valid in the distribution grammar) is a tag like any other: in the snapshot, the decisions, the action, the state', async () => {
  // In a plain object, `o['__proto__'] = v` sets the prototype instead of a key: the tag
  // would vanish from the plan's snapshot and its reason from the delete.
  const repo = 'odd/names';
  const gone = await pushImage(env.reg, repo, ['__proto__'], { seed: 'proto-gone' });
  const kept = await pushImage(env.reg, repo, ['constructor', 'keep'], { seed: 'proto-kept' });
  const r = await planApply('  mix-count: 0\n  tags:\n    include:\n      regex: ^__\n', repo);
  const tags = r.plan.snapshot.reg[repo].tags;
  assert.deepEqual(Object.keys(tags).sort(), ['__proto__', 'constructor', 'keep']);
  assert.equal(Object.getOwnPropertyDescriptor(tags, '__proto__')?.value.digest, gone);
  const del = r.plan.actions.find((a): a is PlanDelete => a.type === 'delete' && a.tags.includes('__proto__'));
  assert.equal(Object.getOwnPropertyDescriptor(del?.reasons ?? {}, '__proto__')?.value, 'matches include regex /^__/');
  assert.match(r.planOut, /^ {2}- __proto__ \(sha256:\w{12}.*\) +matches include regex \/\^__\//m);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(await readTags(env.reg, repo), { constructor: kept, keep: kept });
  const state = JSON.parse(readFileSync(r.config.replace(/\.yml$/, '.state.json'), 'utf8'));
  assert.deepEqual(Object.keys(state.snapshot.reg[repo]).sort(), ['constructor', 'keep']);
  assert.deepEqual(state.deleted_tags.reg[repo], ['__proto__']);
  // Put back: in the registry, and in the state the restore records.
  const back = captureIO();
  assert.equal(await restoreCommand({ plan: r.planFile, autoApprove: true }, back.io), 0, back.stdout());
  const tagsNow = await readTags(env.reg, repo);
  assert.deepEqual(Object.keys(tagsNow).sort(), ['__proto__', 'constructor', 'keep']);
  assert.equal(Object.getOwnPropertyDescriptor(tagsNow, '__proto__')?.value, gone);
  const restored = JSON.parse(readFileSync(r.config.replace(/\.yml$/, '.state.json'), 'utf8'));
  assert.deepEqual(Object.keys(restored.snapshot.reg[repo]).sort(), ['__proto__', 'constructor', 'keep']);
});
