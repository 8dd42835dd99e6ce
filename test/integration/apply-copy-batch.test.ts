import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';
import { wrappedSkopeo, type SkopeoCall } from '../helpers/skopeo.js';
import { applyCommand } from '../../src/commands/apply.js';

// Copies into one target repository go through one `skopeo sync` pinned to digests, then
// regmgr tags each image (copy-lane.ts). What must hold: every tag lands on its planned
// digest, whatever another client does meanwhile to the source; a target tag another
// client sets meanwhile is left alone; a batch that fails partway costs nothing.
let src: Awaited<ReturnType<typeof startProxiedRegistry>>, dst: Awaited<ReturnType<typeof startProxiedRegistry>>;
const tmp = tempDir('copy-batch');
let n = 0;
const run = promisify(execFile);

before(async () => {
  [src, dst] = await Promise.all([startProxiedRegistry(), startProxiedRegistry()]);
});
after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  tmp.remove();
});

/** A real runner that records each skopeo process it starts: copy (one image) or sync (a batch). */
function recordingRunner() {
  const calls: SkopeoCall[] = [];
  return { runner: wrappedSkopeo((call, work) => (calls.push(call), work())), calls };
}

/** A source repository with tags v1..v3 (v3 multi-arch) and v4 + v4-alias on one digest; a plan copying them to mirror/. */
async function world(extraReplace = '', extraRepos: string[] = []) {
  const repo = `batch/app-${++n}`;
  const digests: Record<string, string> = {};
  for (const t of ['v1', 'v2']) digests[t] = await pushImage(src.reg, repo, [t], { seed: `${repo}-${t}` });
  digests.v3 = await pushImage(src.reg, repo, ['v3'], { seed: `${repo}-v3`, platforms: ['amd64', 'arm64'] });
  digests.v4 = digests['v4-alias'] = await pushImage(src.reg, repo, ['v4', 'v4-alias'], { seed: `${repo}-v4` });
  for (const r of extraRepos) for (const t of ['v1', 'v2']) await pushImage(src.reg, r, [t], { seed: `${r}-${t}` });
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(
    dir,
    'c.yml',
    `registries:\n  src:\n    registry: ${src.proxy.url}\n    repositories: [${[repo, ...extraRepos].join(', ')}]\n  dst:\n    registry: ${dst.proxy.url}\nsync-policy:\n  from: src\n  to: dst\n  replace: [${extraReplace}{ old: "", new: mirror }]\n`,
  );
  const planFile = join(dir, 'plan.json');
  const p = await runCli(['plan', '-c', config, '-out', planFile]);
  assert.equal(p.code, 0, p.stderr);
  return { repo, target: `mirror/${repo}`, digests, planFile };
}

test('copies into one repository share one skopeo sync pinned to their digests, then each tag lands on its planned digest (multi-arch, two tags on one digest; a top-level repository too); a repository renamed by replace is copied image by image', async () => {
  const other = `batch/other-${n + 1}`;
  const solo = `solo-${n + 1}`; // kept at the top level: skopeo sync's destination is the registry itself
  const w = await world(`{ old: ${other}, new: elsewhere/renamed }, { old: ${solo}, new: ${solo} }, `, [other, solo]);
  const { runner, calls } = recordingRunner();
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io, { skopeo: runner }), 0, cap.stdout() + cap.stderr());
  assert.match(cap.stdout(), /Apply complete: 9 copied, 0 deleted, 0 drifted, 0 blocked, 0 failed\./);
  const syncs = calls.filter((c) => c.kind === 'sync').sort((a, b) => (a.repository < b.repository ? -1 : 1));
  const srcSolo = await readTags(src.reg, solo);
  assert.deepEqual(
    syncs,
    [
      { kind: 'sync', repository: w.target, digests: [w.digests.v1, w.digests.v2, w.digests.v3, w.digests.v4] },
      { kind: 'sync', repository: solo, digests: [srcSolo.v1, srcSolo.v2] },
    ],
    'one process a repository, each digest once',
  );
  assert.deepEqual(await readTags(dst.reg, solo), srcSolo);
  assert.deepEqual(
    calls.filter((c) => c.kind === 'copy').map((c) => c.repository),
    ['elsewhere/renamed', 'elsewhere/renamed'],
    'skopeo sync cannot rename: those go one by one',
  );
  assert.deepEqual(await readTags(dst.reg, w.target), w.digests);
  const srcOther = await readTags(src.reg, other);
  assert.deepEqual(await readTags(dst.reg, 'elsewhere/renamed'), srcOther);
  // The index came whole: a copy out of the target needs every platform manifest.
  await run('skopeo', ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${dst.reg.host}/${w.target}:v3`, `docker://${dst.reg.host}/pulled/app-${n}:v3`]);
  const again = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, again.io, { skopeo: runner }), 0);
  assert.equal(calls.length, 4, 'a second apply starts no skopeo');
});

test('a source tag moved by another client while the batch runs: the planned digest is what lands', async () => {
  const w = await world();
  const moved = await pushImage(src.reg, w.repo, [], { seed: `${w.repo}-moved` });
  src.proxy.inject((r) => r.method === 'GET' && /\/manifests\/sha256:/.test(r.url ?? ''), { before: () => tagDigest(src.reg, w.repo, 'v2', moved) });
  const { runner, calls } = recordingRunner();
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io, { skopeo: runner }), 0, cap.stdout() + cap.stderr());
  src.proxy.clear();
  assert.equal(calls.filter((c) => c.kind === 'sync').length, 1);
  assert.equal((await readTags(src.reg, w.repo)).v2, moved, 'the other client did move it');
  assert.equal((await readTags(dst.reg, w.target)).v2, w.digests.v2, 'the plan pinned the digest');
});

test('a target tag another client sets while the batch runs is left alone and reported; the other tags are copied', async () => {
  const w = await world();
  let theirs = '';
  dst.proxy.inject(
    (r) => r.method === 'PUT' && /\/manifests\/sha256:/.test(r.url ?? ''),
    { before: async () => void (theirs = await pushImage(dst.reg, w.target, ['v1'], { seed: `${w.repo}-theirs` })) },
  );
  const { runner } = recordingRunner();
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io, { skopeo: runner }), 3, cap.stdout() + cap.stderr());
  dst.proxy.clear();
  assert.match(cap.stdout(), new RegExp(`^drifted +dst/${w.target}:v1 changed during apply: was absent, now ${theirs}; the image was copied by digest, the tag left alone$`, 'm'));
  assert.match(cap.stdout(), /Apply complete: 4 copied, 0 deleted, 1 drifted, 0 blocked, 0 failed\./);
  assert.deepEqual(await readTags(dst.reg, w.target), { ...w.digests, v1: theirs });
});

test('a batch that fails partway: the image it did not bring is copied alone, and the apply succeeds', async () => {
  const w = await world();
  // Every push of v2's manifest by digest fails (skopeo's retries included); a push by tag passes.
  dst.proxy.inject((r) => r.method === 'PUT' && (r.url ?? '').endsWith(`/manifests/${w.digests.v2}`), { status: 500 }, Infinity);
  const { runner, calls } = recordingRunner();
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io, { skopeo: runner }), 0, cap.stdout() + cap.stderr());
  dst.proxy.clear();
  assert.deepEqual(
    calls.map((c) => c.kind),
    ['sync', 'copy'],
  );
  assert.deepEqual(calls[1].digests, [w.digests.v2]);
  assert.match(cap.stderr(), /skopeo sync .*: exit 1: .*; what it did not copy is copied alone/);
  assert.deepEqual(await readTags(dst.reg, w.target), w.digests);
});

test('a tag PUT whose answer names its digest is not read back; one whose answer does not is confirmed with a HEAD', async () => {
  for (const confirmed of [true, false]) {
    const w = await world();
    // A registry that leaves Docker-Content-Digest out of its answers to manifest PUTs by tag.
    if (!confirmed) {
      dst.proxy.inject((r) => r.method === 'PUT' && /\/manifests\/v\d/.test(r.url ?? ''), { rewrite: (res) => ({ ...res, headers: Object.fromEntries(Object.entries(res.headers).filter(([k]) => k !== 'docker-content-digest')) }) }, Infinity);
    }
    const seen = dst.proxy.log.length;
    const cap = captureIO();
    assert.equal(await applyCommand({ plan: w.planFile }, cap.io, { skopeo: recordingRunner().runner }), 0, cap.stdout() + cap.stderr());
    dst.proxy.clear();
    assert.match(cap.stdout(), /Apply complete: 5 copied, 0 deleted/);
    const heads = dst.proxy.log.slice(seen).filter((l) => l.startsWith(`HEAD /v2/${w.target}/manifests/v`));
    // The check right before each PUT; with no digest in the answer, one more after it.
    assert.equal(heads.length, confirmed ? 5 : 10, heads.join('\n'));
    assert.deepEqual(await readTags(dst.reg, w.target), w.digests);
  }
});

test('a client that reacts to the first new target tag by setting another: that tag is left alone and reported, in every run', async () => {
  for (let run = 1; run <= 2; run++) {
    const w = await world();
    // When the first tag of the batch is PUT, the other client sets v2 before that PUT lands.
    let theirs = '';
    dst.proxy.inject(
      (r) => r.method === 'PUT' && /\/manifests\/v\d/.test(r.url ?? ''),
      { before: async () => void (theirs = await pushImage(dst.reg, w.target, ['v2'], { seed: `${w.repo}-reaction-${run}` })) },
    );
    const { runner } = recordingRunner();
    const cap = captureIO();
    assert.equal(await applyCommand({ plan: w.planFile }, cap.io, { skopeo: runner }), 3, cap.stdout() + cap.stderr());
    dst.proxy.clear();
    assert.match(cap.stdout(), new RegExp(`^drifted +dst/${w.target}:v2 changed during apply: was absent, now ${theirs}; the image was copied by digest, the tag left alone$`, 'm'), `run ${run}`);
    assert.equal((await readTags(dst.reg, w.target)).v2, theirs, `run ${run}: the other client's tag stands`);
  }
});

test("the copies' checks take the policy re-check's read while it is within -digest-max-age (0s: each tag is read again); a target tag set after that read is still left alone", async () => {
  const tagHeads: number[] = [];
  for (const age of [undefined, '0s']) {
    const w = await world();
    dst.proxy.log.length = 0;
    // Once the re-check has read the target, before skopeo pushes anything: another client sets v1.
    let theirs = '';
    dst.proxy.inject((r) => r.method === 'POST' && /\/blobs\/uploads\//.test(r.url ?? ''), { before: async () => void (theirs = await pushImage(dst.reg, w.target, ['v1'], { seed: `${w.repo}-late` })) });
    const { runner } = recordingRunner();
    const cap = captureIO();
    assert.equal(await applyCommand({ plan: w.planFile, digestMaxAge: age }, cap.io, { skopeo: runner }), 3, cap.stdout() + cap.stderr());
    dst.proxy.clear();
    assert.match(cap.stdout(), new RegExp(`^drifted +dst/${w.target}:v1 changed during apply: was absent, now ${theirs}; the image was copied by digest, the tag left alone$`, 'm'), `age ${age}`);
    assert.deepEqual(await readTags(dst.reg, w.target), { ...w.digests, v1: theirs }, `age ${age}`);
    tagHeads.push(dst.proxy.log.filter((l) => l.startsWith(`HEAD /v2/${w.target}/manifests/v`)).length);
  }
  // With 0s, one more HEAD for each of the five tags, before the sync.
  assert.equal(tagHeads[1] - tagHeads[0], 5, `HEADs of the target's tags: ${tagHeads.join(' then ')}`);
});

test('a lone image (skopeo copy sets the tag itself) is checked live, not from the re-check: a target tag set after the re-check read it is left alone', async () => {
  const repo = `batch/lone-${++n}`;
  await pushImage(src.reg, repo, ['v1'], { seed: `${repo}-v1` });
  const dir = join(tmp.dir, `lone${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'c.yml', `registries:\n  src:\n    registry: ${src.proxy.url}\n    repositories: [${repo}]\n  dst:\n    registry: ${dst.proxy.url}\nsync-policy:\n  from: src\n  to: dst\n  replace: [{ old: "", new: mirror }]\n`);
  const planFile = join(dir, 'plan.json');
  assert.equal((await runCli(['plan', '-c', config, '-out', planFile])).code, 0);
  // The first request to the target after the re-check's listing (regmgr's check, or skopeo's first): another client sets v1.
  let theirs = '';
  dst.proxy.inject((r) => !/\/tags\/list/.test(r.url ?? ''), { before: async () => void (theirs = await pushImage(dst.reg, `mirror/${repo}`, ['v1'], { seed: `${repo}-theirs` })) });
  const { runner, calls } = recordingRunner();
  const cap = captureIO();
  assert.equal(await applyCommand({ plan: planFile }, cap.io, { skopeo: runner }), 3, cap.stdout() + cap.stderr());
  dst.proxy.clear();
  assert.match(cap.stdout(), new RegExp(`^drifted +dst/mirror/${repo}:v1 changed since the plan: was absent, now ${theirs}$`, 'm'));
  assert.deepEqual(await readTags(dst.reg, `mirror/${repo}`), { v1: theirs });
  assert.equal(calls.length, 0, 'no skopeo ran');
});
