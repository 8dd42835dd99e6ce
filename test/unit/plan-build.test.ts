import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { computeScope, evaluate, type RepoMap } from '../../src/policy/evaluate.js';
import { buildPlanBody, idOrderInRepository, sealPlan } from '../../src/plan/build.js';
import { deleteId, type PlanDelete } from '../../src/plan/model.js';
import { seededRandom } from '../helpers/random.js';
import { readPlanFile, writeNewPlanFile, writePlanFile } from '../../src/plan/file.js';
import { actionsDiff, DIFF_LIMITS, type DiffLimits } from '../../src/plan/check-diff.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Collected } from '../../src/planner/collect.js';
import { manifestSizes } from '../../src/oci/manifest-facts.js';
import type { TagEntry } from '../../src/snapshot/model.js';
import type { Digest, Repository } from '../../src/oci/names.js';

// `plan` builds its plan consuming what it read (buildPlanBody's `consume`), so that the
// two are never whole in memory at once; the plan must be the same as one built without.
const M = 'application/vnd.oci.image.manifest.v1+json';
const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
const created = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 60_000).toISOString();
const CONFIG = `registries:
  src:
    registry: http://127.0.0.1:1
    repositories: [app]
  dst:
    registry: http://127.0.0.1:2
delete-policy:
  registries: [src]
  mix-count: 2
  tags:
    include:
      keys: [dev, nomatch]
sync-policy:
  from: src
  to: dst
  replace: [{ old: '', new: mirror }]
  filters: ['^v']
  prune: true
`;

function collected(extra: TagEntry[] = []): Collected {
  const config = parseConfig('/t/config.yml', CONFIG, {});
  // dev-0..dev-5 (dev-4 shares dev-3's digest), v1..v3, a signature of dev-0; the mirror has v1 and v9 (gone from the source).
  const src: TagEntry[] = [
    ...[0, 1, 2, 3, 5].map((n) => ({ tag: `dev-${n}`, digest: d(n), mediaType: M, created: created(n) })),
    { tag: 'dev-4', digest: d(3), mediaType: M, created: created(3) },
    ...[1, 2, 3].map((n) => ({ tag: `v${n}`, digest: d(100 + n), mediaType: M, created: created(100 + n) })),
    { tag: `sha256-${'0'.repeat(64)}.sig`, digest: d(50), mediaType: M, created: null },
    ...extra,
  ];
  const dst: TagEntry[] = [
    { tag: 'v1', digest: d(101), mediaType: M },
    { tag: 'v9', digest: d(109), mediaType: M },
  ];
  const repos: RepoMap = new Map([
    ['src', new Map([['app', { repository: 'app' as Repository, tags: src }]])],
    ['dst', new Map([['mirror/app', { repository: 'mirror/app' as Repository, tags: dst }]])],
  ]);
  const sizes = new Map([...src, ...dst].map((t) => [t.digest, manifestSizes({ config: { digest: d(1000 + Number.parseInt(t.digest.slice(-4), 16)), size: 10 }, layers: [{ digest: d(9999), size: 1000 }] }, M, 500)]));
  const scope = computeScope(config, new Map([['src', ['app']], ['dst', ['mirror/app']]]));
  const evaluation = evaluate(config, scope, repos, { nowMs: Date.UTC(2025, 0, 1), indexChildren: new Map(), subjectsPresent: new Map() });
  assert.deepEqual(evaluation.needs, []);
  return { scope, repos, evaluation, sources: new Map([['src', 'config'], ['dst', 'catalog']]), sizes };
}

const META = { version: 'test', createdAt: '2025-01-01T00:00:00.000Z', configFile: '/t/config.yml', configSha256: '0'.repeat(64), state: { lineage: null, serial: null } };

test('a plan built consuming what was read is the same plan, and what was read is let go', () => {
  const config = parseConfig('/t/config.yml', CONFIG, {});
  const kept = sealPlan(buildPlanBody(config, collected(), META));
  const c = collected();
  let stages = 0;
  const consumed = sealPlan(buildPlanBody(config, c, META, () => stages++));
  // Not a plan of nothing: deletes (whole and tag-only), a signature, copies, a prune, bytes.
  assert.ok(kept.actions.some((a) => a.type === 'delete' && a.method === 'manifest'));
  assert.ok(kept.actions.some((a) => a.type === 'delete' && a.method === 'untag'));
  assert.ok(kept.actions.some((a) => a.type === 'delete' && a.attachment_of));
  assert.ok(kept.actions.some((a) => a.type === 'delete' && a.prune));
  assert.ok(kept.actions.some((a) => a.type === 'copy'));
  assert.ok(kept.bytes && kept.transfer && Object.keys(kept.snapshot.src.app.tags).length === 10);
  // Warnings read the tag lists too: one that only a non-empty list gives.
  assert.deepEqual(kept.warnings, ['delete-policy.tags.include: key "nomatch" matches no tag in any selected repository']);
  // As data: the two plans' `bytes.alone` tables hold functions of their own (keyed-numbers.ts).
  assert.deepEqual(JSON.parse(JSON.stringify(consumed)), JSON.parse(JSON.stringify(kept)));
  assert.ok(stages >= 2);
  // What was read and decided is emptied: the caller lets go of it.
  assert.equal(c.sizes, undefined);
  assert.deepEqual([...c.repos.values()].flatMap((r) => [...r.values()].flatMap((x) => x.tags)), []);
  assert.deepEqual([...c.evaluation.deletes, ...c.evaluation.prunes].flatMap((x) => [...x.result.actions, ...x.result.decisions]), []);
  assert.deepEqual(c.evaluation.syncs.flatMap((x) => [...x.actions, ...x.decisions]), []);
});

// plan -out seals a new plan as it writes its file, the hash written last over a
// placeholder (writeNewPlanFile): the file must be the one the sealed plan gives, byte
// for byte, even where characters before the hash take more than a byte each.
test('a new plan written and sealed in one walk is the sealed plan\'s file byte for byte, and reads back', () => {
  const config = parseConfig('/t/config.yml', CONFIG, {});
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-seal-'));
  try {
    const body = buildPlanBody(config, collected(), { ...META, configFile: '/t/配置-é/config.yml' });
    const sealed = sealPlan(body);
    writePlanFile(join(dir, 'two-walks.json'), sealed);
    const plan = writeNewPlanFile(join(dir, 'one-walk.json'), body);
    assert.equal(plan.sha256, sealed.sha256);
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), JSON.parse(JSON.stringify(sealed)));
    const text = readFileSync(join(dir, 'one-walk.json'), 'utf8');
    assert.equal(text, readFileSync(join(dir, 'two-walks.json'), 'utf8'));
    assert.ok(text.includes(`"sha256": "${sealed.sha256}"`) && text.includes('配置-é'));
    assert.equal(readPlanFile(join(dir, 'one-walk.json')).sha256, sealed.sha256);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deletes are ordered by `registry/repository` as one string, as plans always were: `reg-b/app` before `reg/app`', () => {
  // '-' sorts before '/': a registry-then-repository comparison would put reg first, and a
  // plan committed before an upgrade would then differ from a fresh one in `plan --check`.
  const yaml = `registries:
  reg:
    registry: http://127.0.0.1:1
    repositories: [app]
  reg-b:
    registry: http://127.0.0.1:2
    repositories: [app]
delete-policy:
  registries: [reg, reg-b]
  mix-count: 1
  tags:
    include:
      keys: dev
`;
  const config = parseConfig('/t/config.yml', yaml, {});
  const tags = (base: number): TagEntry[] => [0, 1, 2].map((n) => ({ tag: `dev-${n}`, digest: d(base + n), mediaType: M, created: created(n) }));
  const repos: RepoMap = new Map(['reg', 'reg-b'].map((r, i) => [r, new Map([['app', { repository: 'app' as Repository, tags: tags(10 * i) }]])]));
  const scope = computeScope(config, new Map([['reg', ['app']], ['reg-b', ['app']]]));
  const evaluation = evaluate(config, scope, repos, { nowMs: Date.UTC(2025, 0, 1), indexChildren: new Map(), subjectsPresent: new Map() });
  const plan = buildPlanBody(config, { scope, repos, evaluation, sources: new Map([['reg', 'config'], ['reg-b', 'config']]) }, META);
  assert.deepEqual(
    plan.actions.map((a) => a.id),
    [`delete reg-b/app@${d(10)}`, `delete reg-b/app@${d(11)}`, `delete reg/app@${d(0)}`, `delete reg/app@${d(1)}`],
  );
});

test('deletes of one repository are sorted as their ids are, without the ids (made last)', () => {
  // Tags and digests that share prefixes and differ in case, digits and punctuation; both
  // kinds of delete, and the same tag or digest twice.
  const next = seededRandom(0x9e3779b9);
  const chars = 'aAzZ09._-';
  for (let round = 0; round < 200; round++) {
    const list: PlanDelete[] = Array.from({ length: 2 + next(12) }, () => {
      const manifest = next(2) === 0;
      const tag = Array.from({ length: 1 + next(4) }, () => chars[next(chars.length)]).join('');
      const digest = `sha256:${String(next(4)).repeat(64)}` as Digest;
      return { id: '', type: 'delete', registry: 'reg', repository: 'app', digest, media_type: M, tags: [tag], method: manifest ? 'manifest' : next(2) ? 'untag' : 'oci', reasons: {} };
    });
    const byIds = [...list].sort((a, b) => (deleteId(a) < deleteId(b) ? -1 : deleteId(a) > deleteId(b) ? 1 : 0));
    assert.deepEqual([...list].sort(idOrderInRepository).map(deleteId), byIds.map(deleteId));
  }
  // And a plan's deletes carry their ids.
  const plan = buildPlanBody(parseConfig('/t/config.yml', CONFIG, {}), collected(), META);
  const deletes = plan.actions.filter((a): a is PlanDelete => a.type === 'delete');
  assert.ok(deletes.length >= 4);
  for (const a of deletes) assert.equal(a.id, deleteId(a));
});

test('a plan file read in parts (as one of a million tags is) is the plan written, and an edit to it is still refused', () => {
  const config = parseConfig('/t/config.yml', CONFIG, {});
  const plan = sealPlan(buildPlanBody(config, collected(), META));
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-plan-parts-'));
  try {
    const file = join(dir, 'plan.json');
    writePlanFile(file, plan);
    // Every container split as far as it goes: parts of 16 bytes.
    const parts = { whole: 0, part: 16 };
    // The plan as data (a one-tag delete's reasons are held as a OneKey and written as a record).
    const written = JSON.parse(JSON.stringify(plan));
    assert.deepEqual(readPlanFile(file, parts), written);
    assert.deepEqual(readPlanFile(file), written);
    const text = readFileSync(file, 'utf8');
    const reason = /"reasons": \{\s*"[^"]+": "([^"]+)"/.exec(text)![1];
    writeFileSync(file, text.replace(reason, `${reason} (edited)`));
    assert.throws(() => readPlanFile(file, parts), /sha256 does not match its content/);
    writeFileSync(file, text.slice(0, text.length >> 1));
    assert.throws(() => readPlanFile(file, parts), /plan\.json: not a plan file: invalid JSON \(truncated\?\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tags that look like array indexes ("9", "10") keep the plan verifiable: written in text order, read back in any', () => {
  // A record lists such keys first, in numeric order, whatever the file says; the hash
  // is taken over the keys in text order, so the plan read back must hash the same.
  const config = parseConfig('/t/config.yml', CONFIG, {});
  const numeric = ['9', '10', '1', '007', '4294967295'].map((tag, i) => ({ tag, digest: d(200 + i), mediaType: M, created: created(200 + i) }));
  const plan = sealPlan(buildPlanBody(config, collected(numeric), META));
  const dir = mkdtempSync(join(tmpdir(), 'regmgr-plan-index-keys-'));
  try {
    const file = join(dir, 'plan.json');
    writePlanFile(file, plan);
    const text = readFileSync(file, 'utf8');
    const order = ['"007"', '"1"', '"10"', '"4294967295"', '"9"', '"dev-0"'].map((k) => text.indexOf(`${k}: {`));
    assert.ok(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1])), `keys in text order in the file: ${order.join(', ')}`);
    for (const parts of [undefined, { whole: 0, part: 16 }]) {
      const back = readPlanFile(file, parts);
      assert.equal(back.sha256, plan.sha256);
      assert.deepEqual(Object.keys(back.snapshot.src.app.tags).slice(0, 3), ['1', '9', '10'], 'as JSON.parse lists them');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plan --check shows a unified diff while it is small, and the actions by id past its limits', async () => {
  const config = parseConfig('/t/config.yml', CONFIG, {});
  const committed = sealPlan(buildPlanBody(config, collected(), META));
  const deletes = committed.actions.filter((a) => a.type === 'delete');
  assert.ok(deletes.length >= 3);
  // The fresh plan: the first delete gone, the second with another reason, one delete of a new (hostile) name.
  const [gone, changed] = deletes;
  const extra = { ...deletes[2], id: 'delete src/app:evil\u001b[2J', tags: ['evil\u001b[2J'] };
  const fresh = { ...committed, actions: [...committed.actions.filter((a) => a !== gone).map((a) => (a === changed ? { ...a, reasons: { [a.tags[0]]: 'another reason' } } : a)), extra] };
  const diff = await actionsDiff('plan.json', committed, fresh);
  assert.match(diff, /^--- plan\.json \(committed\)\n\+\+\+ fresh plan\n@@ /);
  assert.match(diff, /another reason/);
  const summary = (limits: Partial<DiffLimits>) => actionsDiff('plan.json', committed, fresh, { ...DIFF_LIMITS, ...limits });
  const expected = (why: string) =>
    [
      `The actions by id (${why}):`,
      '- only in plan.json (committed): 1',
      `-   ${gone.id}`,
      '+ only in the fresh plan: 1',
      '+   delete src/app:evil\\x1b[2J',
      '~ in both, with other content (tags, reasons, digests): 1',
      `~   ${changed.id}`,
      '',
    ].join('\n');
  const total = committed.actions.length + fresh.actions.length;
  assert.equal(await summary({ actions: total - 1 }), expected(`the two plans have ${total} actions, more than ${total - 1} to diff`));
  assert.equal(await summary({ edits: 1 }), expected('their renderings differ in more than 1 lines added and removed'));
  // The lists stop at `shown`, and say how many more.
  const many = { ...fresh, actions: [...fresh.actions, ...Array.from({ length: 5 }, (_, i) => ({ ...extra, id: `delete src/app:n${i}` }))] };
  const listed = await actionsDiff('plan.json', committed, many, { ...DIFF_LIMITS, actions: 1, shown: 2 });
  assert.match(listed, /\+ only in the fresh plan: 6\n\+ {3}delete src\/app:evil\\x1b\[2J\n\+ {3}delete src\/app:n0\n\+ {3}\.\.\. and 4 more\n/);
});
