import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { proxiedSuite } from '../helpers/suite.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import { journalPath } from '../../src/apply/journal.js';
import { planHash } from '../../src/plan/canonical.js';
import { deleteId, type Plan, type PlanDelete } from '../../src/plan/model.js';

// Restore, journals and locks are as untrusted as plan files: anyone who can push to the
// pull request can edit a plan (and recompute its sha256) or commit a journal beside it.
const suite = proxiedSuite('restore-trust');
const tmp = suite.tmp;
let n = 0;
const root = process.getuid?.() === 0;

/** dev-1, dev-2 deleted by an applied plan; v1 and latest kept; a sync target registry that delete-policy does not name. */
async function applied() {
  const repo = `trust/app-${++n}`;
  for (const t of ['dev-1', 'dev-2']) await pushImage(suite.env.reg, repo, [t], { seed: `${repo}-${t}` });
  await pushImage(suite.env.reg, repo, ['v1', 'latest'], { seed: `${repo}-v1` });
  await pushImage(suite.env.reg, 'secret/db', ['prod'], { seed: `secret-db-${n}` });
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const url = suite.env.proxy.url;
  const config = writeFile(
    dir,
    'config.yml',
    `registries:\n  reg:\n    registry: ${url}\n    repositories: [${repo}]\n  mirror:\n    registry: ${url}\n    repositories: [mirror/${repo}]\ndelete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\nsync-policy:\n  from: reg\n  to: mirror\n  replace: [{ old: "", new: mirror }]\n  filters: ['^nothing$']\n`,
  );
  const planFile = join(dir, 'plan.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  const a = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, a.io), 0, a.stdout() + a.stderr());
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  return { repo, dir, config, planFile, plan, journal: journalPath(planFile, plan.sha256) };
}

/** A plan of `repo` in its own folder (prefix + n) whose policy deletes every `dev` tag; the plan file's path. */
async function planDevDeletes(repo: string, prefix: string): Promise<string> {
  const dir = join(tmp.dir, `${prefix}${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'config.yml', `registries:\n  reg:\n    registry: ${suite.env.proxy.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  const planFile = join(dir, 'plan.json');
  assert.equal(await planCommand({ config, out: planFile }, captureIO().io), 0);
  return planFile;
}

/**
 * Runs `regmgr apply PLAN` and kills it (-9) as its first DELETE matching `path` leaves;
 * `carriedOut`: the registry still does that DELETE (the test sends it), else it never
 * arrives. Either way the request itself is dropped: a killed client's cannot be forwarded.
 */
async function applyKilledAtDelete(planFile: string, path: RegExp, carriedOut: boolean) {
  let child: ChildProcess | undefined;
  suite.env.proxy.inject((req) => req.method === 'DELETE' && path.test(req.url!), {
    before: async (req) => {
      if (carriedOut) assert.equal((await fetch(`${suite.env.reg.url}${req.url}`, { method: 'DELETE' })).status, 202);
      const exited = once(child!, 'exit');
      child!.kill('SIGKILL');
      await exited;
    },
    dropRequest: true,
  });
  const r = await runCli(['apply', planFile], {}, (c) => (child = c));
  assert.equal(r.signal, 'SIGKILL');
}

const manifestWrites = () => suite.env.proxy.log.filter((l) => /^(PUT|DELETE) \/v2\/.*\/manifests\//.test(l));

test('restore with an edited plan (sha256 recomputed) and a planted journal writes nothing outside the config: refused before any request', async () => {
  const w = await applied();
  const victim = w.plan.actions[0] as PlanDelete;
  const evil = (registry: string, repository: string, tags: string[]): PlanDelete => {
    const a = { ...victim, registry, repository, tags, method: 'manifest' as const };
    return { ...a, id: deleteId(a) };
  };
  const edited: Plan = { ...w.plan, actions: [...w.plan.actions, evil('reg', 'evil/new', ['pwned', 'latest']), evil('reg', 'secret/db', ['prod']), evil('mirror', `mirror/${w.repo}`, ['owned'])] };
  const { sha256: _old, ...body } = edited;
  edited.sha256 = planHash(body);
  const file = join(w.dir, 'edited.json');
  writeFileSync(file, JSON.stringify(edited));
  // A journal planted for it: every action "started", the victim's manifest "saved".
  const saved = readFileSync(w.journal, 'utf8').split('\n').find((l) => l.includes('"saved"'))!;
  const lines = [{ plan: edited.sha256, t: 'x' }, ...edited.actions.map((a) => ({ t: 'x', id: a.id, event: 'start' }))].map((l) => JSON.stringify(l));
  writeFileSync(journalPath(file, edited.sha256), [...lines, ...edited.actions.map((a) => saved.replace(/"id":"[^"]+"/, `"id":${JSON.stringify(a.id)}`))].join('\n') + '\n', { mode: 0o600 });
  suite.env.proxy.log.length = 0;
  const r = await runCli(['restore', file, '-auto-approve']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /edited\.json: cannot be applied with .*config\.yml:\n {2}action "delete reg\/evil\/new@sha256:\w+": repository 'evil\/new' is not in registries\.reg\.repositories\n {2}action "delete reg\/secret\/db@sha256:\w+": repository 'secret\/db' is not in registries\.reg\.repositories\n {2}action "delete mirror\/mirror\/trust\/app-\d+@sha256:\w+": registry 'mirror' is not in delete-policy\.registries \(reg\)/);
  assert.deepEqual(suite.env.proxy.log, [], 'no request at all');
  assert.deepEqual(await readTags(suite.env.reg, 'secret/db'), { prod: (await readTags(suite.env.reg, 'secret/db')).prod });
});

test("a planted journal for the plan itself is refused whole; appended 'lost' records are skipped with a failed line; only the plan's own tags come back", async () => {
  const w = await applied();
  const genuine = readFileSync(w.journal, 'utf8');
  // Planted: the same records, written without regmgr's key.
  writeFileSync(w.journal, genuine.split('\n').filter(Boolean).map((l) => { const { mac: _m, ...rest } = JSON.parse(l); return JSON.stringify(rest); }).join('\n') + '\n', { mode: 0o600 });
  suite.env.proxy.log.length = 0;
  const planted = await runCli(['restore', w.planFile, '-auto-approve']);
  assert.equal(planted.code, 1);
  assert.match(planted.stderr, /^error: journal .*plan\.json\.[0-9a-f]{12}\.journal: it was not written by regmgr with this user's journal key \(committed, copied from another machine, planted or edited\): restore trusts only journals regmgr wrote\n$/);
  assert.deepEqual(suite.env.proxy.log, []);
  // Apply refuses it too: a planted "done" would make it skip everything.
  const a = await runCli(['apply', w.planFile]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /journal .*: it was not written by regmgr with this user's journal key .*move this one away to apply from the start/);

  // The genuine journal, with 'lost' lines appended for tags the apply never touched.
  const id = w.plan.actions[0].id;
  writeFileSync(w.journal, genuine, { mode: 0o600 });
  appendFileSync(w.journal, ['latest', 'release-2.0'].map((tag) => JSON.stringify({ t: 'x', id, event: 'lost', tag })).join('\n') + '\n');
  suite.env.proxy.log.length = 0;
  const r = await runCli(['restore', w.planFile, '-auto-approve']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = genuine.split('\n').filter(Boolean).length;
  assert.match(r.stdout, new RegExp(`^failed {5}journal .*journal line ${lines + 1} \\(${id.replace(/[/.]/g, '\\$&')}\\) does not carry regmgr's signature for this plan; record skipped$`, 'm'));
  assert.match(r.stdout, /^regmgr will put back these tags:\n {2}\+ reg\/trust\/app-\d+:dev-1 deleted by the apply; back on sha256:\w+\n {2}\+ reg\/trust\/app-\d+:dev-2 /m);
  assert.match(r.stdout, /Restore complete: 2 restored, 0 already there, 0 left alone, 0 gone, 2 failed\./);
  assert.deepEqual(Object.keys(await readTags(suite.env.reg, w.repo)).sort(), ['dev-1', 'dev-2', 'latest', 'v1'], 'no release-2.0, latest untouched');
  assert.deepEqual(manifestWrites().map((l) => l.replace(/sha256:\w+/, 'D').replace(/app-\d+/, 'app')), ['PUT /v2/trust/app/manifests/dev-1', 'PUT /v2/trust/app/manifests/dev-2'].sort((x, y) => (x < y ? -1 : 1)));
});

test('a journal that others may write, or that another user owns, is refused by apply and restore with one line', async () => {
  const w = await applied();
  chmodSync(w.journal, 0o664);
  suite.env.proxy.log.length = 0;
  for (const cmd of [['apply', w.planFile], ['restore', w.planFile, '-auto-approve']]) {
    const r = await runCli(cmd);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: journal .*\.journal: refusing it: it is writable by its group \(mode 664\); regmgr writes its journals as this user, mode 0600/);
  }
  assert.deepEqual(suite.env.proxy.log, []);
  if (!root) return;
  chmodSync(w.journal, 0o644);
  chownSync(w.journal, 65534, 65534);
  const r = await runCli(['apply', w.planFile]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusing it: it belongs to uid 65534, not to this user \(uid 0\)/);
});

test("restore finishes an untag cut short by kill -9 between its placeholder PUT and the placeholder's DELETE", async () => {
  const repo = `trust/untag-${++n}`;
  const shared = await pushImage(suite.env.reg, repo, ['dev-shared', 'keep-x'], { seed: `${repo}-shared` });
  const planFile = await planDevDeletes(repo, 'u');
  // The placeholder's DELETE is the untag's only DELETE: the apply is killed as it sends
  // it, and the request never reaches the registry.
  await applyKilledAtDelete(planFile, /\/manifests\//, false);
  const onPlaceholder = (await readTags(suite.env.reg, repo))['dev-shared'];
  assert.notEqual(onPlaceholder, shared, 'the tag was left on the placeholder');
  const r = await runCli(['restore', planFile, '-auto-approve']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^ {2}\\+ reg/${repo}:dev-shared replacing regmgr's untag placeholder ${onPlaceholder.slice(0, 19)} \\(an untag cut short\\); back on ${shared}$`, 'm'));
  assert.deepEqual(await readTags(suite.env.reg, repo), { 'dev-shared': shared, 'keep-x': shared });
  const head = await fetch(`${suite.env.reg.url}/v2/${repo}/manifests/${onPlaceholder}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(head.status, 404, "regmgr's placeholder is deleted");
});

/** dev-1, dev-2 on digests of their own, v1 kept; a plan deleting the two. */
async function planned() {
  const repo = `trust/resume-${++n}`;
  for (const t of ['dev-1', 'dev-2', 'v1']) await pushImage(suite.env.reg, repo, [t], { seed: `${repo}-${t}` });
  const planFile = await planDevDeletes(repo, 'r');
  return { repo, planFile };
}

/**
 * Runs apply and kills it (-9) as its first DELETE of a manifest leaves; that DELETE is
 * carried out all the same (the test sends it to the registry itself, since a killed
 * client's request cannot be forwarded): sent, its outcome never recorded.
 */
const killedAtFirstDelete = (planFile: string) => applyKilledAtDelete(planFile, /\/manifests\/sha256:/, true);

test('a DELETE sent but not recorded (kill -9 right as it left): the next apply finds it done and says so; nothing is deleted twice', async () => {
  const w = await planned();
  await killedAtFirstDelete(w.planFile);
  const again = await runCli(['apply', w.planFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^deleted +reg\/trust\/resume-\d+@sha256:\w+ \(completed before an interruption\)$/m);
  assert.match(again.stdout, /Apply complete: 0 copied, 2 deleted, 0 drifted, 0 blocked, 0 failed/);
  assert.deepEqual(Object.keys(await readTags(suite.env.reg, w.repo)), ['v1']);
});

test('restore after kill -9 right as a DELETE left: the half-done action is restored too', async () => {
  const w = await planned();
  const before = await readTags(suite.env.reg, w.repo);
  await killedAtFirstDelete(w.planFile);
  assert.equal(Object.keys(await readTags(suite.env.reg, w.repo)).length, 2, 'the DELETE was carried out');
  const r = await runCli(['restore', w.planFile, '-auto-approve']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Restore complete: 1 restored/);
  assert.deepEqual(await readTags(suite.env.reg, w.repo), before);
});

test('a tag another client moves during an untag (after the placeholder PUT) is left where that client put it; the placeholder is cleaned up', async () => {
  const repo = `trust/untag-race-${++n}`;
  const shared = await pushImage(suite.env.reg, repo, ['dev-shared', 'keep-x'], { seed: `${repo}-shared` });
  const theirs = await pushImage(suite.env.reg, repo, [], { seed: `${repo}-theirs` });
  const planFile = await planDevDeletes(repo, 'ur');
  // Once the placeholder is PUT on dev-shared, the next read of that tag finds another
  // client's image there: it moved the tag in between.
  let placeholder = '';
  suite.env.proxy.inject((r) => r.method === 'PUT' && (r.url ?? '').endsWith(`/${repo}/manifests/dev-shared`), { before: async () => void (placeholder = 'put') });
  suite.env.proxy.inject((r) => placeholder === 'put' && r.method === 'HEAD' && (r.url ?? '').endsWith(`/${repo}/manifests/dev-shared`), {
    before: async () => {
      placeholder = (await readTags(suite.env.reg, repo))['dev-shared'];
      await tagDigest(suite.env.reg, repo, 'dev-shared', theirs);
    },
  });
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, cap.io), 3, cap.stdout());
  suite.env.proxy.clear();
  assert.match(cap.stdout(), new RegExp(`^drifted +reg/${repo}:dev-shared was moved to ${theirs} by another client during the untag; left there$`, 'm'));
  assert.deepEqual(await readTags(suite.env.reg, repo), { 'dev-shared': theirs, 'keep-x': shared });
  const head = await fetch(`${suite.env.reg.url}/v2/${repo}/manifests/${placeholder}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(head.status, 404, "regmgr's placeholder is deleted");
});

test('a tag lost to a DELETE whose put-back fails is reported as LOST with what to run; restore then brings it back from the journal', async () => {
  const w = await planned();
  const digests = await readTags(suite.env.reg, w.repo);
  // release-x exists on an image of its own (the plan does not name it); another client
  // moves it onto dev-1's digest just before that DELETE lands, and the registry refuses
  // regmgr's PUT that would put release-x back.
  await pushImage(suite.env.reg, w.repo, ['release-x'], { seed: `${w.repo}-release-x` });
  suite.env.proxy.inject((r) => r.method === 'DELETE' && (r.url ?? '').endsWith(`/manifests/${digests['dev-1']}`), { before: () => tagDigest(suite.env.reg, w.repo, 'release-x', digests['dev-1']) });
  suite.env.proxy.inject((r) => r.method === 'PUT' && (r.url ?? '').endsWith('/manifests/release-x'), { status: 500 }, Infinity);
  const a = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, a.io), 1, a.stdout());
  suite.env.proxy.clear();
  assert.match(a.stdout(), /^failed +reg\/trust\/resume-\d+@sha256:\w+: LOST release-x: it was moved onto sha256:\w+ during apply and the DELETE removed it; putting it back failed: .*500.*; run `regmgr restore` on this plan with credentials that may push$/m);
  assert.equal((await readTags(suite.env.reg, w.repo))['release-x'], undefined, 'lost for now');
  const r = await runCli(['restore', w.planFile, '-auto-approve']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}\+ reg\/trust\/resume-\d+:release-x lost to the DELETE during apply; back on sha256:\w+$/m);
  assert.equal((await readTags(suite.env.reg, w.repo))['release-x'], digests['dev-1']);
});

test("apply resumes an untag cut short by kill -9 between its placeholder PUT and the placeholder's DELETE: it finishes it (the tag goes, the placeholder too)", async () => {
  const repo = `trust/untag-resume-${++n}`;
  const shared = await pushImage(suite.env.reg, repo, ['dev-shared', 'keep-x'], { seed: `${repo}-shared` });
  const planFile = await planDevDeletes(repo, 'u');
  await applyKilledAtDelete(planFile, /\/manifests\//, false);
  const onPlaceholder = (await readTags(suite.env.reg, repo))['dev-shared'];
  assert.notEqual(onPlaceholder, shared, 'the tag was left on the placeholder');
  const r = await runCli(['apply', planFile]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^deleted +reg\/trust\/untag-resume-\d+:dev-shared untagged \(via sha256:\w+\); sha256:\w+ kept by keep-x$/m);
  assert.deepEqual(await readTags(suite.env.reg, repo), { 'keep-x': shared });
  const head = await fetch(`${suite.env.reg.url}/v2/${repo}/manifests/${onPlaceholder}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(head.status, 404, "regmgr's placeholder is deleted");
});
