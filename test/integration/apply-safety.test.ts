import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { assertPlanSchema } from '../helpers/plan-schema.js';
import { tempDir } from '../helpers/processes.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { startTime } from '../../src/util/process.js';
import { unlockCommand } from '../../src/commands/unlock.js';
import { seedCommand } from '../../src/commands/seed.js';
import type { Plan, PlanCopy, PlanDelete } from '../../src/plan/model.js';
import { planHash } from '../../src/plan/canonical.js';

// Two plain registries, each behind a fault proxy that logs every request, so a test can
// say exactly what apply sent.
let src: TestRegistry, dst: TestRegistry, sp: FaultProxy, dp: FaultProxy;
const tmp = tempDir('apply-safety');
let n = 0;

before(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  [sp, dp] = await Promise.all([startFaultProxy(src.url), startFaultProxy(dst.url)]);
});
after(async () => {
  await Promise.all([sp?.close(), dp?.close()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  tmp.remove();
});
beforeEach(() => {
  sp.clear();
  dp.clear();
  sp.log.length = 0;
  dp.log.length = 0;
  sp.answered.length = 0;
  dp.answered.length = 0;
});

// The push-permission probe (an upload session opened and cancelled) changes nothing.
// apply's push probe (a mount), and plan's capability probes: DELETEs of a digest and a
// tag that cannot exist (registry/capabilities.ts); none can change anything.
const probe = (l: string) => / \/v2\/[^ ]+\/blobs\/uploads\//.test(l) || /^DELETE \/v2\/[^ ]+\/manifests\/(sha256:0{64}|regmgr-probe-[0-9a-f]{16})$/.test(l);
const changing = (l: string) => /^(DELETE|PUT|POST|PATCH) /.test(l) && !probe(l);

/** A fresh repository pair per test: `app-N` in src, synced to `mirror/app-N` in dst. */
async function world(opts: { dev?: number; versions?: number; dryRun?: boolean } = {}) {
  const repo = `app-${++n}`;
  const d: Record<string, string> = {};
  for (let i = 0; i < (opts.dev ?? 3); i++) d[`dev-${i}`] = await pushImage(src, repo, [`dev-${i}`], { seed: `${repo}-dev-${i}` });
  for (let i = 0; i < (opts.versions ?? 2); i++) d[`v1.${i}`] = await pushImage(src, repo, [`v1.${i}`], { seed: `${repo}-v1.${i}` });
  d.latest = await pushImage(src, repo, ['latest', 'keep-me'], { seed: `${repo}-latest` });
  d['keep-me'] = d.latest;
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(
    dir,
    'config.yml',
    `registries:\n  src:\n    registry: ${sp.url}\n    repositories: [${repo}]\n  dst:\n    registry: ${dp.url}\n    repositories: [mirror/${repo}]\n` +
      `delete-policy:\n  registries: [src]\n  mix-count: 0\n  dry-run: ${opts.dryRun ?? true}\n  tags:\n    include:\n      keys: dev\n` +
      `sync-policy:\n  from: src\n  to: dst\n  dry-run: ${opts.dryRun ?? true}\n  replace:\n    - old: ""\n      new: mirror\n  filters: ['^v']\n`,
  );
  return { repo, d, dir, config, planFile: join(dir, 'plan.json') };
}

async function plan(config: string, out: string): Promise<Plan> {
  const cap = captureIO();
  assert.equal(await planCommand({ config, out }, cap.io), 0, cap.stderr());
  const p = JSON.parse(readFileSync(out, 'utf8'));
  assertPlanSchema(p);
  return p;
}

test('an edited plan is refused before any request', async () => {
  const w = await world();
  const p = await plan(w.config, w.planFile);
  // mix-count 0 needs no ordering: plan read tag lists and each manifest once (a first
  // plan GETs them whole for the bytes it frees; the content cache serves later ones); no image configs.
  assert.ok(sp.log.length > 0 && sp.log.every((l) => probe(l) || /^(GET \/v2\/$|GET \/v2\/[^ ]+\/tags\/list|(HEAD|GET) \/v2\/[^ ]+\/(manifests|referrers)\/)/.test(l)), sp.log.join('\n'));
  const del = p.actions.find((a): a is PlanDelete => a.type === 'delete')!;
  del.digest = w.d.latest as PlanDelete['digest']; // aim a delete at the kept image
  writeFileSync(w.planFile, JSON.stringify(p, null, 2));
  sp.log.length = dp.log.length = 0;
  const cap = captureIO();
  await assert.rejects(applyCommand({ plan: w.planFile }, cap.io), /plan\.json: the plan was modified after it was written \(sha256 does not match its content\); re-run plan/);
  // A plan of the wrong shape is refused by the schema, naming the field, whatever its hash.
  const bad = structuredClone(p) as unknown as { actions: Array<Record<string, unknown>>; sha256: string };
  const i = bad.actions.findIndex((a) => a.type === 'delete');
  bad.actions[i].tags = 'dev-0';
  bad.actions[i].extra = true;
  writeFileSync(w.planFile, JSON.stringify(bad, null, 2));
  await assert.rejects(applyCommand({ plan: w.planFile }, cap.io), new RegExp(`plan\\.json: not a valid plan file:\\n  /actions/${i}: must NOT have additional properties 'extra'\\n  /actions/${i}/tags: must be array`));
  writeFileSync(w.planFile, readFileSync(w.planFile, 'utf8').slice(0, 200));
  await assert.rejects(applyCommand({ plan: w.planFile }, cap.io), /plan\.json: not a plan file: invalid JSON \(truncated\?\)/);
  assert.deepEqual([...sp.log, ...dp.log], []);
  assert.equal((await readTags(src, w.repo)).latest, w.d.latest);
});

test('a deliberately edited plan with a recomputed sha256 is refused when the config does not allow an action, before any request', async () => {
  const w = await world();
  const p = await plan(w.config, w.planFile);
  const secret = await pushImage(src, 'secret/db', ['prod'], { seed: `${w.repo}-secret` });
  const del = p.actions.find((a): a is PlanDelete => a.type === 'delete')!;
  const copy = p.actions.find((a): a is PlanCopy => a.type === 'copy')!;
  // Each edit is one an attacker with push access to the pull request could make.
  const edits: Array<[string, (q: Plan) => void, RegExp]> = [
    [
      'a delete in a repository the config never selects',
      (q) => q.actions.push({ ...del, id: `delete src/secret/db@${secret}`, repository: 'secret/db', digest: secret as PlanDelete['digest'], tags: ['prod'], reasons: { prod: 'x' } }),
      /action "delete src\/secret\/db@sha256:\w+": repository 'secret\/db' is not in registries\.src\.repositories/,
    ],
    [
      'a delete of a tag that no include rule matches',
      (q) => q.actions.push({ ...del, id: `delete src/${w.repo}@${w.d.latest}`, digest: w.d.latest as PlanDelete['digest'], tags: ['latest', 'keep-me'], reasons: {} }),
      /action "delete src\/app-\d+@sha256:\w+": tag 'latest' is not a delete candidate under \S+config\.yml: matches no include rule/,
    ],
    [
      'a delete in a registry outside delete-policy.registries',
      (q) => q.actions.push({ ...del, id: `delete dst/mirror/${w.repo}@${del.digest}`, registry: 'dst', repository: `mirror/${w.repo}` }),
      /registry 'dst' is not in delete-policy\.registries \(src\)/,
    ],
    [
      'a copy into another repository than replace maps to',
      (q) => q.actions.push({ ...copy, id: `copy dst/elsewhere:${copy.target.tag}`, target: { ...copy.target, repository: 'elsewhere' } }),
      /action "copy dst\/elsewhere:v1\.\d": sync-policy\.replace maps 'app-\d+' to 'mirror\/app-\d+', not to 'elsewhere'/,
    ],
    [
      'a copy of a tag the filters do not accept',
      (q) => q.actions.push({ ...copy, id: `copy dst/mirror/${w.repo}:dev-0`, source: { ...copy.source, tag: 'dev-0' }, target: { ...copy.target, tag: 'dev-0' } }),
      /tag 'dev-0' is not synced under \S+config\.yml: matches no filter/,
    ],
    [
      'an action whose id does not say what it does',
      (q) => ((q.actions.find((a) => a.type === 'delete') as PlanDelete).id = `delete src/${w.repo}@${w.d.latest}`),
      /its id does not match what it does/,
    ],
    ['a repository name that would leave the repository in a URL', (q) => q.actions.push({ ...del, repository: `${w.repo}/../secret/db` }), /not a valid plan file:\n {2}\/actions\/\d+\/repository: must match pattern/],
  ];
  for (const [what, edit, expected] of edits) {
    const q = structuredClone(p);
    edit(q);
    q.sha256 = planHash(q);
    writeFileSync(w.planFile, JSON.stringify(q, null, 2));
    sp.log.length = dp.log.length = 0;
    await assert.rejects(applyCommand({ plan: w.planFile }, captureIO().io), expected, what);
    assert.deepEqual([...sp.log, ...dp.log], [], `${what}: no request sent`);
  }
  assert.equal((await readTags(src, 'secret/db')).prod, secret);
  assert.equal((await readTags(src, w.repo)).latest, w.d.latest);
});

test('a plan for other registries is refused before any request', async () => {
  const w = await world();
  await plan(w.config, w.planFile);
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace(`registry: ${dp.url}`, `registry: ${dst.url}`));
  sp.log.length = dp.log.length = 0;
  await assert.rejects(applyCommand({ plan: w.planFile }, captureIO().io), /cannot be applied with \S+config\.yml:\n {2}registry 'dst' is http:\/\/127\.0\.0\.1:\d+ in the plan but http:\/\/127\.0\.0\.1:\d+ in /);
  assert.deepEqual([...sp.log, ...dp.log], []);
});

test('drift: a moved tag is skipped as drifted; a tag newly pointing at a planned digest stops that delete; a changed copy target is left alone', async () => {
  const w = await world();
  const p = await plan(w.config, w.planFile);
  assert.equal(p.summary.delete, 3);
  assert.equal(p.summary.copy, 2);
  await tagDigest(src, w.repo, 'dev-0', w.d['v1.0']); // moved
  await tagDigest(src, w.repo, 'release-x', w.d['dev-1']); // new tag on a planned digest
  const foreign = await pushImage(dst, `mirror/${w.repo}`, ['v1.1'], { seed: 'foreign' }); // target changed since plan
  const cap = captureIO();
  const code = await applyCommand({ plan: w.planFile }, cap.io);
  assert.equal(code, 3, cap.stdout());
  assert.match(cap.stdout(), /^drifted +src\/app-\d+@sha256:\w+: dev-0 now points at sha256:\w+; not deleted$/m);
  assert.match(cap.stdout(), /^blocked +src\/app-\d+@sha256:\w+: tag release-x now points at this digest; not deleted$/m);
  assert.match(cap.stdout(), /^drifted +dst\/mirror\/app-\d+:v1\.1 changed since the plan: was absent, now sha256:/m);
  assert.match(cap.stdout(), /Apply complete: 1 copied, 1 deleted, 2 drifted, 1 blocked, 0 failed\./);
  const left = await readTags(src, w.repo);
  assert.deepEqual(Object.keys(left).sort(), ['dev-0', 'dev-1', 'keep-me', 'latest', 'release-x', 'v1.0', 'v1.1']);
  assert.equal(left['dev-1'], w.d['dev-1']);
  assert.equal((await readTags(dst, `mirror/${w.repo}`))['v1.1'], foreign);
  // Only the one delete that was still safe was sent.
  assert.equal(sp.count((l) => l.startsWith('DELETE') && !probe(l)), 1);
});

test('kill -9 at several points of a 60-action apply, then re-apply: exactly the plan, no digest deleted twice, nothing else touched', async () => {
  const w = await world({ dev: 50, versions: 10 });
  const p = await plan(w.config, w.planFile);
  assert.equal(p.actions.length, 60);
  sp.log.length = dp.log.length = sp.answered.length = 0;
  // Slow the changes a little so that the kills land in the middle of the work.
  sp.inject((r) => r.method === 'DELETE', { delayMs: 40 }, Infinity);
  dp.inject((r) => r.method === 'PUT' && /manifests/.test(r.url ?? ''), { delayMs: 40 }, Infinity);
  const journal = `${w.planFile}.${p.sha256.slice(0, 12)}.journal`;
  const lines = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).length : 0);
  const stderrs: string[] = [];
  let kills = 0;
  for (const killAt of [8, 40, 75, 100]) {
    const r = await runCli(['apply', w.planFile, '--parallelism', '4'], {}, (child) => {
      const poll = setInterval(() => {
        if (lines() >= killAt) {
          clearInterval(poll);
          child.kill('SIGKILL');
        }
      }, 2);
      child.on('exit', () => clearInterval(poll));
    });
    stderrs.push(r.stderr);
    if (r.signal !== 'SIGKILL') break; // finished before the kill point
    kills++;
  }
  assert.ok(kills >= 2, `only ${kills} kill(s) landed mid-apply`);
  const last = await runCli(['apply', w.planFile]);
  assert.ok(last.code === 0, last.stdout + last.stderr);
  // A lock left by a killed apply is taken over with a notice.
  assert.match(stderrs.slice(1).join('') + last.stderr, /notice: taking over lock [0-9a-f-]+ of process \d+ .*no longer running/);
  const left = await readTags(src, w.repo);
  assert.deepEqual(Object.keys(left).sort(), ['keep-me', 'latest', ...Array.from({ length: 10 }, (_, i) => `v1.${i}`)].sort());
  for (const [t, d] of Object.entries(left)) assert.equal(d, w.d[t]);
  const mirror = await readTags(dst, `mirror/${w.repo}`);
  assert.deepEqual(mirror, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`v1.${i}`, w.d[`v1.${i}`]])));
  // Count what the registry answered: a DELETE that a kill cut off in the proxy never
  // reached it. Exactly one 202 per planned digest, and no DELETE of a digest already gone.
  const deletes = sp.answered.filter((l) => l.startsWith('DELETE') && !probe(l));
  const planned = p.actions.filter((a): a is PlanDelete => a.type === 'delete').map((a) => `DELETE /v2/${w.repo}/manifests/${a.digest} -> 202`);
  assert.deepEqual([...deletes].sort(), [...planned].sort(), 'each planned digest deleted exactly once, nothing else');
  assert.equal(dp.count((l) => l.startsWith('DELETE')), 0);
  assert.equal(sp.answered.filter((l) => /^(PUT|POST|PATCH) /.test(l) && !probe(l)).length, 0, 'no tag pushed in the source');
  // The killed runs' temporary auth folders were swept by the runs after them.
  const { readdirSync } = await import('node:fs');
  const { privateDir } = await import('../../src/util/private-dir.js');
  const stale = readdirSync(privateDir()).filter((f) => /^regmgr-auth-\d+-/.test(f)).filter((f) => {
    try {
      process.kill(Number(f.split('-')[2]), 0);
      return false;
    } catch {
      return true;
    }
  });
  assert.deepEqual(stale, [], 'auth folders of dead processes remain');
  // And once more: nothing to do.
  const again = await runCli(['apply', w.planFile]);
  assert.match(again.stdout, /^Nothing to do/);
});

test('a lock held by a running apply stops a second one, naming the holder; force-unlock releases it by id', async () => {
  const w = await world();
  await plan(w.config, w.planFile);
  const lockFile = join(w.dir, 'config.state.json.lock');
  const id = '11111111-2222-3333-4444-555555555555';
  writeFileSync(lockFile, JSON.stringify({ id, pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', what: 'regmgr apply other.json', pid_start: startTime(process.pid) }), { mode: 0o600 });
  sp.log.length = dp.log.length = 0;
  await assert.rejects(applyCommand({ plan: w.planFile }, captureIO().io), new RegExp(`locked: .*held by process ${process.pid} on .* since 2026-01-01T00:00:00.000Z \\(regmgr apply other.json\\); lock id ${id}`));
  assert.deepEqual([...sp.log, ...dp.log], []);
  await assert.rejects(unlockCommand({ id: 'wrong', config: w.config }, captureIO().io), (e: Error) => /does not have id wrong; nothing released\. It is held by process \d+ on /.test(e.message) && !e.message.includes(id));
  const cap = captureIO();
  assert.equal(await unlockCommand({ id, config: w.config }, cap.io), 0);
  assert.match(cap.stdout(), /Released lock 11111111/);
  assert.equal(await applyCommand({ plan: w.planFile }, captureIO().io), 0);
});

test("the seed's delete and sync: dry-run prints the plan and changes nothing; dry-run false applies at once", async () => {
  const w = await world();
  const cap = captureIO();
  assert.equal(await seedCommand('delete')({ config: w.config }, cap.io), 0);
  assert.match(cap.stdout(), /Plan: 0 to copy, 3 to delete, 0 blocked\.\nFrees up to [\d.]+ KiB once garbage collection runs[^\n]*\n\ndry-run: nothing was changed\. Set delete-policy\.dry-run: false/);
  assert.equal(sp.count(changing) + dp.count(changing), 0);
  assert.equal(Object.keys(await readTags(src, w.repo)).length, 7);

  writeFileSync(w.config, readFileSync(w.config, 'utf8').replaceAll('dry-run: true', 'dry-run: false'));
  const s = captureIO();
  assert.equal(await seedCommand('sync')({ config: w.config }, s.io), 0, s.stdout());
  assert.match(s.stdout(), /Apply complete: 2 copied, 0 deleted/);
  assert.equal(Object.keys(await readTags(src, w.repo)).length, 7, 'sync deletes nothing');
  const d = captureIO();
  assert.equal(await seedCommand('delete')({ config: w.config }, d.io), 0, d.stdout());
  assert.match(d.stdout(), /Apply complete: 0 copied, 3 deleted/);
  assert.deepEqual(Object.keys(await readTags(src, w.repo)).sort(), ['keep-me', 'latest', 'v1.0', 'v1.1']);
});

test('apply -c plans and asks; without a terminal it needs --auto-approve', async () => {
  const w = await world();
  await assert.rejects(applyCommand({ config: w.config }, captureIO().io), /no terminal to confirm on/);
  const no = captureIO();
  no.io.confirm = async () => false;
  assert.equal(await applyCommand({ config: w.config }, no.io), 1);
  assert.match(no.stdout(), /Apply cancelled/);
  assert.equal(Object.keys(await readTags(src, w.repo)).length, 7);
  const yes = captureIO();
  assert.equal(await applyCommand({ config: w.config, autoApprove: true }, yes.io), 0, yes.stdout());
  assert.match(yes.stdout(), /Apply complete: 2 copied, 3 deleted/);
});

test('a copy whose target already has the digest is done without copying', async () => {
  const w = await world({ dev: 0, versions: 1 });
  const p = await plan(w.config, w.planFile);
  assert.equal(p.summary.copy, 1);
  await tagDigest(src, w.repo, 'v1.0', w.d['v1.0']);
  // Someone else copied it meanwhile (same digest): nothing to do but record it.
  const { pushImage: push } = await import('../helpers/images.js');
  await push(dst, `mirror/${w.repo}`, ['v1.0'], { seed: `${w.repo}-v1.0` });
  dp.log.length = 0;
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io), 0);
  assert.match(cap.stdout(), /^present +dst\/mirror\/app-\d+:v1\.0 already has sha256:/m);
  assert.equal(dp.count(changing), 0);
});

test('a delete whose image failed to copy in the same apply is held: the source may be its only copy', async () => {
  const w = await world({ dev: 1, versions: 0 });
  // v2-dev is both synced (filter ^v) and deleted (key dev): copied first, then deleted.
  const both = await pushImage(src, w.repo, ['v2-dev'], { seed: `${w.repo}-v2-dev` });
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replaceAll('dry-run: true', 'dry-run: false'));
  const p = await plan(w.config, w.planFile);
  assert.ok(p.actions.some((a) => a.type === 'copy' && a.source.tag === 'v2-dev'));
  assert.ok(p.actions.some((a) => a.type === 'delete' && a.tags.includes('v2-dev')));
  // The target refuses every push into this repository: the copy fails.
  dp.inject((r) => (r.method === 'POST' || r.method === 'PUT') && (r.url ?? '').includes(`/mirror/${w.repo}/`), { status: 500 }, Infinity);
  try {
    const cap = captureIO();
    const code = await applyCommand({ plan: w.planFile }, cap.io);
    assert.equal(code, 1, cap.stdout());
    assert.match(cap.stdout(), new RegExp(`^blocked +src/${w.repo}@${both}: its copy failed in this apply; not deleted$`, 'm'));
    assert.equal((await readTags(src, w.repo))['v2-dev'], both, 'the image is still in the source');
    assert.equal((await readTags(src, w.repo))['dev-0'], undefined, 'the other delete went ahead');
  } finally {
    dp.clear();
  }
});
