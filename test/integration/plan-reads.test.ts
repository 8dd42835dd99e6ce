import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProxiedRegistry } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { planCommand } from '../../src/commands/plan.js';
import type { Plan } from '../../src/plan/model.js';

// What plan sends, counted at a proxy in front of a real registry: a tag whose creation
// time the policy needs costs a GET of its manifest and a GET of its config (no HEAD
// first); any other tag a HEAD. A second plan of the same registry reads creation times
// from the content cache: a HEAD per tag and nothing else. The plans are the same.
let env: Awaited<ReturnType<typeof startProxiedRegistry>>;
const tmp = tempDir('plan-reads');
const repo = 'team/app';
const day = (d: number) => new Date(Date.UTC(2024, 0, d)).toISOString();

before(async () => {
  env = await startProxiedRegistry();
  for (let i = 1; i <= 6; i++) await pushImage(env.reg, repo, [`dev-${i}`], { seed: `dev-${i}`, created: day(i) });
  await pushImage(env.reg, repo, ['dev-7', 'dev-7-again'], { seed: 'dev-7', created: day(7) }); // two tags, one image
  await pushImage(env.reg, repo, ['dev-multi'], { seed: 'dev-multi', created: day(8), platforms: ['amd64', 'arm64'] });
  for (const t of ['v1', 'v2', 'latest']) await pushImage(env.reg, repo, [t], { seed: t, created: day(9) });
});
after(async () => {
  await env?.stop();
  tmp.remove();
});

const config = () =>
  writeFile(tmp.dir, 'config.yml', `registries:\n  r:\n    registry: ${env.proxy.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [r]\n  mix-count: 3\n  tags:\n    include:\n      keys: dev\n`);

async function plan(cacheDir: string, name: string) {
  env.proxy.log.length = 0;
  const cap = captureIO({ REGMGR_CACHE_DIR: cacheDir });
  const out = join(tmp.dir, `${name}.json`);
  assert.equal(await planCommand({ config: config(), out }, cap.io), 0, cap.stderr());
  const p = JSON.parse(readFileSync(out, 'utf8')) as Plan;
  const count = (method: string, re: RegExp) => env.proxy.log.filter((l) => l.startsWith(`${method} `) && re.test(l)).length;
  return {
    p,
    head: count('HEAD', /\/manifests\//),
    getByTag: count('GET', /\/manifests\/(?!sha256:)/),
    getByDigest: count('GET', /\/manifests\/sha256:/),
    blobs: count('GET', /\/blobs\//),
  };
}

const decisions = (p: Plan) => JSON.stringify({ actions: p.actions, decisions: p.decisions, blocked: p.blocked, snapshot: p.snapshot });

test('first plan: one GET per tag (its body counts for bytes freed), no HEAD before it; second plan: a HEAD per tag, nothing else', async () => {
  const cache = join(tmp.dir, 'cache');
  const first = await plan(cache, 'first');
  // Every tag's manifest by tag, whole (a first plan counts the bytes it frees, and kept
  // images count: what they reference stays), no HEAD before it. Configs: 8 images. By
  // digest: the index's amd64 child for its config, then both children for their sizes
  // (the amd64 one read twice: its config read does not keep its sizes).
  assert.deepEqual({ head: first.head, getByTag: first.getByTag, getByDigest: first.getByDigest, blobs: first.blobs }, { head: 0, getByTag: 12, getByDigest: 3, blobs: 8 });
  const deleted = first.p.actions.flatMap((a) => (a.type === 'delete' ? a.tags : []));
  // mix-count counts tags: dev-multi, dev-7 and dev-7-again are the 3 newest.
  assert.deepEqual(deleted.sort(), ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6']);

  const second = await plan(cache, 'second');
  assert.deepEqual({ head: second.head, getByTag: second.getByTag, getByDigest: second.getByDigest, blobs: second.blobs }, { head: 12, getByTag: 0, getByDigest: 0, blobs: 0 });
  assert.equal(decisions(second.p), decisions(first.p), 'the same plan from the cache');

  // A new image: only its own manifest and config are read.
  await pushImage(env.reg, repo, ['dev-9'], { seed: 'dev-9', created: day(10) });
  const third = await plan(cache, 'third');
  assert.deepEqual({ head: third.head, getByTag: third.getByTag, getByDigest: third.getByDigest, blobs: third.blobs }, { head: 13, getByTag: 0, getByDigest: 1, blobs: 1 });
  const fresh = await plan(join(tmp.dir, 'cache-fresh'), 'fresh');
  assert.equal(decisions(third.p), decisions(fresh.p), 'the plan from the cache is the plan without it');
  assert.ok(third.p.actions.some((a) => a.type === 'delete' && a.tags.includes('dev-7')), 'dev-9 is newer: dev-7 falls beyond mix-count 3');
});

test('a cache file that is not what regmgr writes is ignored, entry by entry, and rewritten', async () => {
  const cache = join(tmp.dir, 'cache-bad');
  const clean = await plan(cache, 'clean');
  const file = join(cache, 'content-v2.json');
  const written = JSON.parse(readFileSync(file, 'utf8'));
  const created = Object.values(clean.p.snapshot.r[repo].tags).map((t) => t.digest + (t.created === undefined ? '' : ' created'));
  assert.equal(written.created.length, new Set(created.filter((c) => c.endsWith(' created'))).size, 'one entry per image whose time was read');
  // Not JSON at all: read afresh, the plan is the same.
  writeFileSync(file, '{ not json');
  const afterGarbage = await plan(cache, 'garbage');
  assert.equal(decisions(afterGarbage.p), decisions(clean.p));
  assert.equal(afterGarbage.blobs, clean.blobs);
  // Entries of the wrong shape are dropped one by one: those digests are read again.
  const forged = JSON.parse(readFileSync(file, 'utf8'));
  forged.created[0][1] = 'yesterday';
  forged.created[1][1] = { $gt: 1 };
  forged.created.push(['not-a-digest', '2030-01-01T00:00:00Z']);
  writeFileSync(file, JSON.stringify(forged));
  const afterForged = await plan(cache, 'forged');
  assert.equal(decisions(afterForged.p), decisions(clean.p));
  assert.equal(afterForged.blobs, 2, 'the two bad entries are read from the registry again');
});
