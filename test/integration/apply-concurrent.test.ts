import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { proxiedSuite } from '../helpers/suite.js';
import { pushImage, readTags, tagDigest } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

// Another client re-tags the repository while apply deletes, at chosen requests: the
// fault proxy runs the re-tag right before it forwards that request to the registry.
const suite = proxiedSuite('apply-concurrent');
const tmp = suite.tmp;
let n = 0;

/** 50 `d..` tags to delete and 10 kept `k..` tags, each on its own image. */
async function world() {
  const repo = `conc/app-${++n}`;
  const d: Record<string, string> = {};
  for (let i = 1; i <= 50; i++) d[`d${String(i).padStart(2, '0')}`] = await pushImage(suite.env.reg, repo, [`d${String(i).padStart(2, '0')}`], { seed: `${repo}-d${i}` });
  for (let i = 1; i <= 10; i++) d[`k${String(i).padStart(2, '0')}`] = await pushImage(suite.env.reg, repo, [`k${String(i).padStart(2, '0')}`], { seed: `${repo}-k${i}` });
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(
    dir,
    'config.yml',
    `registries:\n  reg:\n    registry: ${suite.env.proxy.url}\n    repositories: [${repo}]\n` + `delete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      regex: '^d'\n    exclude:\n      regex: '^k'\n`,
  );
  const planFile = join(dir, 'plan.json');
  const cap = captureIO();
  assert.equal(await planCommand({ config, out: planFile }, cap.io), 0, cap.stderr());
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  const deletes = plan.actions.filter((a): a is PlanDelete => a.type === 'delete');
  assert.equal(deletes.length, 50);
  return { repo, d, planFile, deletes };
}

const digestIn = (req: IncomingMessage) => /\/manifests\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')?.[1];

/**
 * Plays the other client: right before the DELETE of each `on` digest reaches the
 * registry, it moves `tag` onto `to` (a rollback re-tag); `also` sees every request.
 */
function retagOnDeletes(repo: string, moves: Array<{ on: string; tag: string; to: string; what: string }>, happened: string[], also?: (req: IncomingMessage) => Promise<void>) {
  suite.env.proxy.clear();
  suite.env.proxy.inject(
    () => true,
    {
      before: async (req) => {
        const digest = digestIn(req);
        for (const m of moves) {
          if (req.method !== 'DELETE' || digest !== m.on) continue;
          await tagDigest(suite.env.reg, repo, m.tag, m.to);
          happened.push(m.what);
        }
        await also?.(req);
      },
    },
    Infinity,
  );
}

for (const [mode, digestMaxAge] of [
  ['-digest-max-age=never: digests not re-read during apply, the moved tags are put back', 'never'],
  ['-digest-max-age=0s re-reads them before every delete: a moved existing tag blocks its delete', '0s'],
] as const) {
  test(`concurrent re-tags during apply (${mode}); every kept tag survives`, async () => {
    const w = await world();
    const [d10, d19, d20, d30, d35] = [w.deletes[9], w.deletes[18], w.deletes[19], w.deletes[29], w.deletes[34]];
    const tagOf = (a: PlanDelete) => a.tags[0];
    let afterD19 = false;
    const happened: string[] = [];
    const moves = [
      // A rollback re-tags kept k01 onto the digest being deleted, as the DELETE leaves.
      { on: d10.digest, tag: 'k01', to: d10.digest, what: 'k01 moved onto the 10th digest right before its DELETE' },
      // An existing kept tag moves onto a digest deleted five actions later.
      { on: d30.digest, tag: 'k02', to: d35.digest, what: 'k02 moved onto the 35th digest' },
    ];
    retagOnDeletes(w.repo, moves, happened, async (req) => {
      if (req.method === 'DELETE' && digestIn(req) === d19.digest) afterD19 = true;
      else if (afterD19 && req.method === 'GET' && /\/tags\/list/.test(req.url ?? '')) {
        // A new tag on the 20th digest, pushed right before the first listing after the
        // 19th DELETE (in regmgr, the last read before the 20th DELETE).
        afterD19 = false;
        await tagDigest(suite.env.reg, w.repo, 'n01', d20.digest);
        happened.push('n01 pushed onto the 20th digest right before the listing that precedes its DELETE');
      }
    });
    const cap = captureIO();
    const code = await applyCommand({ plan: w.planFile, parallelism: 4, digestMaxAge }, cap.io);
    suite.env.proxy.clear();
    const out = cap.stdout();
    assert.equal(happened.length, 3, happened.join('\n'));
    assert.equal(code, 3, out + cap.stderr());

    // Every tag ends exactly as planned, apart from what the other client did.
    const k02Blocked = digestMaxAge === '0s';
    const expected: Record<string, string> = {};
    for (let i = 1; i <= 10; i++) expected[`k${String(i).padStart(2, '0')}`] = w.d[`k${String(i).padStart(2, '0')}`];
    expected.k01 = d10.digest;
    expected.k02 = d35.digest;
    expected.n01 = d20.digest;
    expected[tagOf(d20)] = d20.digest;
    if (k02Blocked) expected[tagOf(d35)] = d35.digest;
    assert.deepEqual(await readTags(suite.env.reg, w.repo), Object.fromEntries(Object.entries(expected).sort()));

    // k01 was lost to the DELETE and put back at once, loudly, on the digest it was moved to.
    assert.match(out, new RegExp(`^restored +reg/${w.repo}@${d10.digest} \\(${tagOf(d10)}\\); restored k01: it was moved onto ${d10.digest} during apply`, 'm'));
    // n01 was seen by the listing right before the DELETE: that delete never happened.
    assert.match(out, new RegExp(`^blocked +reg/${w.repo}@${d20.digest}: tag n01 now points at this digest; not deleted$`, 'm'));
    if (k02Blocked) assert.match(out, new RegExp(`^blocked +reg/${w.repo}@${d35.digest}: tag k02 now points at this digest; not deleted$`, 'm'));
    else assert.match(out, new RegExp(`^restored +reg/${w.repo}@${d35.digest} \\(${tagOf(d35)}\\); restored k02: it was moved onto ${d35.digest}`, 'm'));
    assert.match(out, new RegExp(`Apply complete: 0 copied, ${k02Blocked ? 48 : 49} deleted \\(${k02Blocked ? 1 : 2} with a lost tag put back\\), 0 drifted, ${k02Blocked ? 2 : 1} blocked, 0 failed\\.`));
  });
}

test('a DELETE carried out whose answer is lost: the listing after it still runs, and a tag moved onto the digest is put back', async () => {
  const w = await world();
  const d5 = w.deletes[4];
  let fired = 0;
  suite.env.proxy.clear();
  suite.env.proxy.inject(
    (r) => r.method === 'DELETE' && digestIn(r) === d5.digest,
    {
      before: async () => {
        fired++;
        await tagDigest(suite.env.reg, w.repo, 'k03', d5.digest);
      },
      dropAnswer: true,
    },
    1,
  );
  const cap = captureIO();
  const code = await applyCommand({ plan: w.planFile }, cap.io);
  suite.env.proxy.clear();
  assert.equal(fired, 1);
  const tags = await readTags(suite.env.reg, w.repo);
  assert.equal(tags.k03, d5.digest, 'k03 survives on the digest it was moved to');
  assert.deepEqual(Object.keys(tags).filter((t) => t.startsWith('d')), [], 'every planned tag is gone');
  assert.equal(code, 3, cap.stdout());
  assert.match(cap.stdout(), new RegExp(`^restored +reg/${w.repo}@${d5.digest} \\(${d5.tags[0]}\\); restored k03: it was moved onto`, 'm'));
  assert.equal(suite.env.proxy.answered.filter((l) => l.startsWith(`DELETE /v2/${w.repo}/manifests/${d5.digest}`)).length, 1, 'the DELETE was not sent twice');
});

test('concurrent re-tags with the default re-reads (in the background, beside the DELETEs): every kept tag survives, every other tag ends as planned', async () => {
  const w = await world();
  const [d10, d30, d35] = [w.deletes[9], w.deletes[29], w.deletes[34]];
  const happened: string[] = [];
  retagOnDeletes(
    w.repo,
    [
      { on: d10.digest, tag: 'k01', to: d10.digest, what: 'k01 moved onto the 10th digest right before its DELETE' },
      { on: d30.digest, tag: 'k02', to: d35.digest, what: 'k02 moved onto the 35th digest' },
    ],
    happened,
  );
  const cap = captureIO();
  suite.env.proxy.answered.length = 0;
  const code = await applyCommand({ plan: w.planFile, parallelism: 4 }, cap.io);
  suite.env.proxy.clear();
  const out = cap.stdout();
  assert.equal(happened.length, 2, happened.join('\n'));
  assert.equal(code, 3, out + cap.stderr());
  assert.match(out, new RegExp(`^restored +reg/${w.repo}@${d10.digest} \\(${d10.tags[0]}\\); restored k01: it was moved onto ${d10.digest} during apply`, 'm'));
  // k02 moved five deletes ahead: a background re-read may have seen it (blocked) or not (restored).
  const k02Blocked = new RegExp(`^blocked +reg/${w.repo}@${d35.digest}: tag k02 now points at this digest; not deleted$`, 'm').test(out);
  if (!k02Blocked) assert.match(out, new RegExp(`^restored +reg/${w.repo}@${d35.digest} \\(${d35.tags[0]}\\); restored k02: it was moved onto ${d35.digest}`, 'm'));
  const expected: Record<string, string> = {};
  for (let i = 1; i <= 10; i++) expected[`k${String(i).padStart(2, '0')}`] = w.d[`k${String(i).padStart(2, '0')}`];
  expected.k01 = d10.digest;
  expected.k02 = d35.digest;
  if (k02Blocked) expected[d35.tags[0]] = d35.digest;
  assert.deepEqual(await readTags(suite.env.reg, w.repo), Object.fromEntries(Object.entries(expected).sort()));
  // The saver read each manifest once, off the chain: no GET by digest twice.
  const gets = suite.env.proxy.answered.filter((l) => /^GET \/v2\/[^ ]+\/manifests\/sha256:/.test(l));
  assert.equal(new Set(gets).size, gets.length, gets.join('\n'));
});
