import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideDelete } from '../../src/policy/delete.js';
import { decideSync, mapRepository } from '../../src/policy/sync.js';
import { newestFirst } from '../../src/policy/order.js';
import { isVersionTag } from '../../src/policy/version.js';
import { compileRegex, firstHit, parseKeys, type CompiledRegex, type TagRules } from '../../src/policy/matchers.js';
import type { DeletePolicy, RetentionRule, SyncPolicy } from '../../src/config/model.js';
import type { RepoSnapshot } from '../../src/snapshot/model.js';
import type { Digest, Repository } from '../../src/oci/names.js';

const IMG = 'application/vnd.oci.image.manifest.v1+json';
const NOW = Date.parse('2026-12-01T00:00:00Z');
const IDX = 'application/vnd.oci.image.index.v1+json';
const dg = (n: number) => `sha256:${String(n).padStart(64, '0')}` as Digest;
const re = (s: string) => compileRegex(s) as CompiledRegex;

function repo(tags: Array<[string, number, string?, (string | null)?]>): RepoSnapshot {
  return { repository: 'app' as Repository, tags: tags.map(([tag, d, media, created]) => ({ tag, digest: dg(d), mediaType: media ?? IMG, ...(created !== undefined ? { created } : {}) })) };
}

function policy(p: Partial<DeletePolicy> = {}): DeletePolicy {
  return { registries: ['r'], start: 0, dryRun: true, mixCount: 0, rules: [], semVer: false, include: { keys: ['dev'], regex: [] }, exclude: { keys: [], regex: [re('^latest$')] }, allowEmpty: false, keepInUse: [], ...p };
}

const whole = { whole: true, explicit: new Set<string>() };
const run = (r: RepoSnapshot, p = policy(), sel = whole, children = new Map<Digest, Digest[]>(), more: Partial<Parameters<typeof decideDelete>[0]> = {}) =>
  // Most cases here empty their repository on purpose: the guard has its own tests.
  decideDelete({ registry: 'r', repo: r, selection: sel, policy: p, indexChildren: children, nowMs: NOW, allowEmpty: true, ...more });
const verdicts = (res: ReturnType<typeof run>) => Object.fromEntries(res.decisions.map((d) => [d.tag, d.verdict]));

test('keys are literal substrings: trimmed, empties ignored, regex characters not special', () => {
  assert.deepEqual(parseKeys('a, ,b,'), ['a', 'b']);
  assert.deepEqual(parseKeys('a,,b'), ['a', 'b']); // the seed turned this into "match everything"
  const r = run(repo([['v1.x', 1], ['v1x', 2]]), policy({ include: { keys: ['.x'], regex: [] } }));
  assert.deepEqual(verdicts(r), { 'v1.x': 'delete', v1x: 'keep' });
});

test('exclude beats include; every tag is evaluated (not only versions)', () => {
  const r = run(repo([['dev-1', 1], ['latest', 2], ['develop', 3], ['feature', 4]]), policy({ include: { keys: ['dev'], regex: [re('^lat')] } }));
  assert.deepEqual(verdicts(r), { 'dev-1': 'delete', latest: 'keep', develop: 'delete', feature: 'keep' });
  assert.equal(r.decisions.find((d) => d.tag === 'latest')!.reason, 'excluded by regex /^latest$/');
});

test('regexes are unanchored, as in the seed', () => {
  const r = run(repo([['x-rc1-y', 1]]), policy({ include: { keys: [], regex: [re('rc\\d')] } }));
  assert.equal(verdicts(r)['x-rc1-y'], 'delete');
});

test('mix-count keeps the N newest by creation time', () => {
  const r = run(repo([['dev-a', 1, IMG, '2024-01-03T00:00:00Z'], ['dev-b', 2, IMG, '2024-01-01T00:00:00Z'], ['dev-c', 3, IMG, '2024-01-02T00:00:00Z']]), policy({ mixCount: 2 }));
  assert.deepEqual(verdicts(r), { 'dev-a': 'keep', 'dev-b': 'delete', 'dev-c': 'keep' });
});

test('mix-count asks for creation times only when it must order', () => {
  const r = repo([['dev-a', 1], ['dev-b', 2], ['dev-c', 3]]);
  assert.deepEqual(run(r, policy({ mixCount: 2 })).needsCreated, [dg(1), dg(2), dg(3)]);
  assert.deepEqual(run(r, policy({ mixCount: 3 })).needsCreated, []); // all kept: no order needed
  assert.deepEqual(run(r, policy({ mixCount: 0 })).needsCreated, []); // none kept
});

test('ordering falls back to semver precedence, then name, and says which decided', () => {
  const { sorted, basis } = newestFirst([{ tag: 'v1.10.0' }, { tag: 'v1.9.0' }, { tag: 'b' }, { tag: 'a' }, { tag: 'v2', created: '2020-01-01T00:00:00Z' }, { tag: 'v0.1', created: '2021-01-01T00:00:00Z' }]);
  // Unknown creation time counts as newest (kept first); then versions by precedence, then names.
  assert.deepEqual(sorted.map((s) => s.tag), ['v1.10.0', 'v1.9.0', 'b', 'a', 'v0.1', 'v2']);
  assert.equal(basis[5], 'created');
  assert.equal(basis[1], 'version');
  const names = newestFirst([{ tag: 'b' }, { tag: 'a' }, { tag: 'c' }]);
  assert.deepEqual(names.sorted.map((s) => s.tag), ['c', 'b', 'a']);
  assert.equal(names.basis[0], 'name');
});

test('a digest shared with a kept tag: the tag goes alone (untag) and the digest stays; with tag-delete: never it is blocked', () => {
  const r = run(repo([['dev-1', 1], ['latest', 1], ['dev-2', 2]]));
  assert.deepEqual(r.actions.map((a) => [a.method, a.tags, a.keptBy]), [['untag', ['dev-1'], ['latest']], ['manifest', ['dev-2'], undefined]]);
  assert.equal(r.blocked.length, 0);
  assert.match(String(r.decisions.find((d) => d.tag === 'dev-1')!.reason), /; untagged alone: digest kept by latest$/);
  const oci = run(repo([['dev-1', 1], ['latest', 1]]), policy(), whole, new Map(), { tagDelete: 'oci' });
  assert.deepEqual(oci.actions.map((a) => a.method), ['oci']);
  const never = run(repo([['dev-1', 1], ['latest', 1], ['dev-2', 2]]), policy(), whole, new Map(), { tagDelete: 'never' });
  assert.deepEqual(never.actions.map((a) => a.tags), [['dev-2']]);
  assert.equal(never.blocked.length, 1);
  assert.deepEqual(never.blocked[0].tags, ['dev-1']);
  assert.deepEqual(never.blocked[0].wouldLose.map((l) => l.tag), ['latest']);
  assert.equal(verdicts(never)['dev-1'], 'blocked');
});

test('tags sharing a digest that are all candidates are one action', () => {
  const r = run(repo([['dev-1', 1], ['dev-1b', 1]]));
  assert.deepEqual(r.actions.map((a) => [a.digest, a.tags]), [[dg(1), ['dev-1', 'dev-1b']]]);
});

test('a platform manifest of a kept multi-arch index loses its own tag only (or is blocked with never); deleting an index is one action', () => {
  const r = repo([['v1', 10, IDX], ['dev-amd64', 11], ['dev-index', 20, IDX]]);
  const first = run(r);
  assert.deepEqual(first.needsChildren, [dg(10), dg(20)], "the kept index's children, and the deleted one's");
  // dev-index lists 11 (tagged dev-amd64, and in kept v1), 12 (in kept v1) and 21 (its own).
  const children = new Map([[dg(10), [dg(11), dg(12)]], [dg(20), [dg(11), dg(12), dg(21)]]]);
  const second = run(r, policy(), whole, children);
  assert.deepEqual(second.actions.map((a) => [a.method, a.tags, a.keptBy]), [['manifest', ['dev-index'], undefined], ['untag', ['dev-amd64'], ['v1']]]);
  assert.deepEqual(second.actions[0].children, [dg(21)], 'only the platform manifest no tag and no kept index uses goes with the index');
  const never = run(r, policy(), whole, children, { tagDelete: 'never' });
  assert.deepEqual(never.actions.map((a) => a.tags), [['dev-index']]);
  assert.equal(never.blocked[0].reason, 'is a platform manifest of kept multi-arch tag v1; deleting it would break that image (tag-delete: never)');
});

const sig = (d: number, ext = 'sig') => `sha256-${String(d).padStart(64, '0')}.${ext}`;

test('attachments follow their subject: never candidates, never counted by mix-count, deleted with it, kept with it, orphans deleted', () => {
  // sem-ver: true makes every non-version tag a candidate, signatures included, in the old tool.
  const r = repo([
    ['v1.0', 1, IMG, '2024-01-01T00:00:00Z'],
    ['dev-4', 4, IMG, '2024-04-01T00:00:00Z'],
    ['dev-5', 5, IMG, '2024-05-01T00:00:00Z'],
    ['dev-6', 6, IMG, '2024-06-01T00:00:00Z'],
    [sig(4), 40, IMG, '2025-01-01T00:00:00Z'],
    [sig(5, 'att'), 50, IMG, '2025-01-01T00:00:00Z'],
    [sig(6), 60, IMG, '2025-02-01T00:00:00Z'],
    [sig(1), 10, IMG, '2025-01-01T00:00:00Z'],
    [sig(99), 990, IMG, '2025-03-01T00:00:00Z'],
  ]);
  const p = policy({ semVer: true, mixCount: 2, include: { keys: [], regex: [] } });
  const first = run(r, p);
  assert.deepEqual(first.needsSubjects, [dg(99)], 'an untagged subject: only the registry knows whether it exists');
  const res = run(r, p, whole, new Map(), { subjectsPresent: new Map([[dg(99), false]]) });
  const v = verdicts(res);
  // The two newest candidates are the images dev-6 and dev-5, not signatures.
  assert.deepEqual([v['dev-4'], v['dev-5'], v['dev-6'], v['v1.0']], ['delete', 'keep', 'keep', 'keep']);
  assert.equal(v[sig(4)], 'delete');
  assert.equal(v[sig(5, 'att')], 'keep');
  assert.equal(v[sig(6)], 'keep');
  assert.equal(v[sig(1)], 'keep');
  assert.equal(v[sig(99)], 'delete');
  const byTag = (t: string) => res.decisions.find((d) => d.tag === t)!.reason;
  assert.equal(byTag(sig(4)), 'signature of dev-4, deleted with it');
  assert.equal(byTag(sig(5, 'att')), 'attestation of dev-5, kept with it');
  assert.equal(byTag(sig(99)), `signature of ${dg(99)}, which no longer exists here: orphaned`);
  assert.match(String(res.decisions.find((d) => d.tag === 'dev-4')!.reason), /#3 newest of 3 candidates/);
  const attachmentActions = res.actions.filter((a) => a.attachmentOf);
  assert.deepEqual(attachmentActions.map((a) => [a.tags[0], a.attachmentOf]), [[sig(4), { subject: dg(4), orphaned: false }], [sig(99), { subject: dg(99), orphaned: true }]]);
  const present = run(r, p, whole, new Map(), { subjectsPresent: new Map([[dg(99), true]]) });
  assert.equal(verdicts(present)[sig(99)], 'keep', 'an untagged subject that exists keeps its signature');
});

test('repo:tag selects that tag by name, bypassing include/exclude and mix-count; others untouched', () => {
  const r = run(repo([['latest', 1], ['5.0', 2], ['dev-1', 3]]), policy({ mixCount: 10 }), { whole: false, explicit: new Set(['latest']) });
  assert.deepEqual(verdicts(r), { latest: 'delete', '5.0': 'skip', 'dev-1': 'skip' });
});

test('sem-ver: non-versions become candidates, exclude still protects', () => {
  const r = run(repo([['latest', 1], ['stable', 2], ['v1.2', 3], ['1.2.3-rc.1', 4]]), policy({ semVer: true, include: { keys: [], regex: [] } }));
  assert.deepEqual(verdicts(r), { latest: 'keep', stable: 'delete', 'v1.2': 'keep', '1.2.3-rc.1': 'keep' });
  assert.ok(isVersionTag('V3') && isVersionTag('1.0') && !isVersionTag('1.2.3.4') && !isVersionTag('release-1'));
});

test('replace: first matching rule, whole leading path segments, "" prefixes', () => {
  const rules = [{ old: 'library', new: 'prod' }, { old: '', new: 'mirror' }];
  assert.equal(mapRepository('library/redis', rules), 'prod/redis');
  assert.equal(mapRepository('team/library-tools', rules), 'mirror/team/library-tools');
  assert.equal(mapRepository('library', rules), 'prod');
  assert.equal(mapRepository('librarything/x', [{ old: 'library', new: 'prod' }]), 'librarything/x');
  assert.equal(mapRepository('a/b/c', [{ old: 'a/b', new: '' }]), 'c');
});

test('sync compares digests: a moved tag is copied, an equal one is not; force re-copies', () => {
  const sp: SyncPolicy = { from: 's', to: 't', start: 0, dryRun: true, force: false, replace: [], filters: [re('^v')], prune: false, allowEmpty: false };
  const source = repo([['v1', 1], ['v2', 2], ['dev', 3]]);
  const target = repo([['v1', 1], ['v2', 9]]);
  const r = decideSync({ from: 's', to: 't', source, selection: whole, targetRepository: 'app', target, policy: sp });
  assert.deepEqual(r.actions.map((a) => [a.source.tag, a.target.digestAtPlan]), [['v2', dg(9)]]);
  assert.deepEqual(Object.fromEntries(r.decisions.map((d) => [d.tag, d.verdict])), { v1: 'up-to-date', v2: 'copy', dev: 'skip' });
  const forced = decideSync({ from: 's', to: 't', source, selection: whole, targetRepository: 'app', target, policy: { ...sp, force: true } });
  assert.equal(forced.actions.length, 2);
});

const day = (d: number) => new Date(NOW - d * 86_400_000 - 3_600_000).toISOString();
const rule = (number: number, tags: { keys?: string[]; regex?: string[] }, more: Partial<RetentionRule> = {}): RetentionRule => ({ number, tags: { keys: tags.keys ?? [], regex: (tags.regex ?? []).map(re) }, ...more });

test('retention rules: each candidate belongs to the first rule that matches; each group keeps its own newest or recent; the rest falls to the pool', () => {
  const tags: Array<[string, number, string, string]> = [];
  for (let i = 1; i <= 10; i++) tags.push([`pr-${i}`, 100 + i, IMG, day(80 - i * 5)]);
  for (let i = 1; i <= 9; i++) tags.push([`nightly-${i}`, 200 + i, IMG, day(20 - i * 2)]);
  for (let i = 1; i <= 4; i++) tags.push([`feature-${i}`, 300 + i, IMG, day(i * 7)]);
  tags.push(['pr-feature-x', 400, IMG, day(1)]); // rule 1 claims it before rule 3 can
  tags.push(['misc-1', 501, IMG, day(3)], ['misc-2', 502, IMG, day(40)]);
  const p = policy({
    include: { keys: [], regex: [re('^(pr|nightly|feature|misc)-')] },
    mixCount: 0,
    keepWithin: { text: '30d', ms: 30 * 86_400_000 },
    rules: [rule(1, { regex: ['^pr-'] }, { keepNewest: 3 }), rule(2, { regex: ['^nightly-'] }, { keepNewest: 7 }), rule(3, { keys: ['feature'] }, { keepWithin: { text: '15d', ms: 15 * 86_400_000 } })],
  });
  const r = run(repo(tags.map(([t, d, m, c]) => [t, d, m, c])), p);
  const kept = r.decisions.filter((d) => d.verdict === 'keep').map((d) => d.tag).sort();
  assert.deepEqual(kept, ['feature-1', 'feature-2', 'misc-1', 'nightly-3', 'nightly-4', 'nightly-5', 'nightly-6', 'nightly-7', 'nightly-8', 'nightly-9', 'pr-10', 'pr-9', 'pr-feature-x'].sort());
  const why = (t: string) => String(r.decisions.find((d) => d.tag === t)!.reason);
  assert.equal(why('pr-8'), 'rule 1 (regex ^pr-): #4 newest of 11, beyond keep-newest 3');
  assert.equal(why('pr-9'), 'rule 1 (regex ^pr-): kept by keep-newest 3 (#3 newest of 11)');
  assert.match(why('feature-3'), /^rule 3 \(key feature\): created \d{4}-\d\d-\d\d, older than 15d$/);
  assert.match(why('feature-2'), /^rule 3 \(key feature\): kept: created \d{4}-\d\d-\d\d, within 15d$/);
  assert.match(why('misc-2'), /^matches include regex .*; #\d newest of 2 candidates by image creation time, beyond mix-count 0; created \d{4}-\d\d-\d\d, older than 30d$/);
  assert.match(why('misc-1'), /; kept by keep-within 30d \(created \d{4}-\d\d-\d\d, within 30d\)$/);
});

test('retention: an unknown creation time is kept and takes no place from a known one, for keep-newest and keep-within alike; repository globs limit a rule', () => {
  const p = policy({ rules: [rule(1, { keys: ['dev'] }, { keepNewest: 1, repositories: [{ source: 'team/*', test: (s) => /^team\/[^/]*$/.test(s) }] })], mixCount: 0 });
  const tags: Array<[string, number, string, string | null]> = [['dev-old', 1, IMG, day(90)], ['dev-unknown', 2, IMG, null], ['dev-new', 3, IMG, day(1)]];
  const inTeam = decideDelete({ registry: 'r', repo: { repository: 'team/app' as Repository, tags: tags.map(([tag, d, m, c]) => ({ tag, digest: dg(d), mediaType: m, created: c })) }, selection: whole, policy: p, indexChildren: new Map(), nowMs: NOW, allowEmpty: true });
  assert.deepEqual(Object.fromEntries(inTeam.decisions.map((d) => [d.tag, d.verdict])), { 'dev-old': 'delete', 'dev-unknown': 'keep', 'dev-new': 'keep' });
  assert.match(String(inTeam.decisions.find((d) => d.tag === 'dev-unknown')!.reason), /^rule 1 \(key dev\): kept: creation time unknown \(missing, or not an RFC 3339 time of at most 64 characters\)$/);
  const elsewhere = decideDelete({ registry: 'r', repo: { repository: 'other/app' as Repository, tags: tags.map(([tag, d, m, c]) => ({ tag, digest: dg(d), mediaType: m, created: c })) }, selection: whole, policy: p, indexChildren: new Map(), nowMs: NOW, allowEmpty: true });
  assert.ok(elsewhere.decisions.every((d) => d.verdict === 'delete'), 'the rule does not claim other/app: the pool (mix-count 0) keeps nothing');
  const within = decideDelete({ registry: 'r', repo: { repository: 'app' as Repository, tags: [{ tag: 'dev-x', digest: dg(9), mediaType: IMG, created: null }] }, selection: whole, policy: policy({ mixCount: 0, keepWithin: { text: '1d', ms: 86_400_000 } }), indexChildren: new Map(), nowMs: NOW });
  assert.match(String(within.decisions[0].reason), /; kept: creation time unknown \(missing, or not an RFC 3339 time of at most 64 characters\)$/);
});

test("a deleted candidate's reason, in each of its shapes: rule or pool, ordered by time, version or name, with and without keep-within", () => {
  const old = day(60); // older than 30d, so keep-within adds its words
  const tags: Array<[string, number, string, string]> = [
    // Pool, same time: placed by version precedence.
    ['v1.0.0', 1, IMG, old], ['v2.0.0', 2, IMG, old],
    // Rule 3 (keep-newest 1), same time, no versions: by name.
    ['n-b', 3, IMG, old], ['n-a', 4, IMG, old],
    // Rule 1 (keep-newest 1), same time: by version precedence.
    ['1.0.0', 5, IMG, old], ['2.0.0', 6, IMG, old],
    // Rule 2 (keep-newest 1, keep-within 30d): by time, and old.
    ['k-1', 7, IMG, day(61)], ['k-2', 8, IMG, old],
  ];
  const p = policy({
    include: { keys: [], regex: [re('.')] },
    mixCount: 1,
    rules: [rule(1, { regex: ['^\\d'] }, { keepNewest: 1 }), rule(2, { regex: ['^k-'] }, { keepNewest: 1, keepWithin: { text: '30d', ms: 30 * 86_400_000 } }), rule(3, { regex: ['^n-'] }, { keepNewest: 1 })],
  });
  const r = run(repo(tags), p);
  const why = (t: string) => String(r.decisions.find((d) => d.tag === t)!.reason);
  // Exact words: a deleted candidate's reason is joined from its parts (retention.ts), a kept one's is not.
  assert.equal(why('v1.0.0'), 'matches include regex /./; #2 newest of 2 candidates by version precedence, beyond mix-count 1');
  assert.equal(why('n-a'), 'rule 3 (regex ^n-): #2 newest of 2 (by tag name), beyond keep-newest 1');
  assert.equal(why('1.0.0'), 'rule 1 (regex ^\\d): #2 newest of 2 (by version precedence), beyond keep-newest 1');
  assert.equal(why('k-1'), `rule 2 (regex ^k-): #2 newest of 2, beyond keep-newest 1; created ${day(61).slice(0, 10)}, older than 30d`);
  assert.equal(why('k-2'), 'rule 2 (regex ^k-): kept by keep-newest 1 (#1 newest of 2)');
  assert.equal(why('v2.0.0'), 'matches include regex /./; kept by mix-count 1 (#1 newest of 2 candidates by version precedence)');
});

test('firstHit: regexes before keys, each in order; one hit object per rule, for every tag it matches; rules grown later are seen', () => {
  const rules: TagRules = { regex: [re('^v[0-9]'), re('tmp$')], keys: ['dev', 'tmp'] };
  assert.deepEqual(firstHit(rules, 'v1-dev'), { kind: 'regex', source: '^v[0-9]' });
  assert.deepEqual(firstHit(rules, 'dev-tmp'), { kind: 'regex', source: 'tmp$' });
  assert.deepEqual(firstHit(rules, 'dev-1'), { kind: 'key', key: 'dev' });
  assert.deepEqual(firstHit(rules, 'tmp-1'), { kind: 'key', key: 'tmp' });
  assert.equal(firstHit(rules, 'latest'), undefined);
  assert.equal(firstHit(rules, 'dev-1'), firstHit(rules, 'dev-2'));
  rules.keys.push('latest');
  assert.deepEqual(firstHit(rules, 'latest'), { kind: 'key', key: 'latest' });
  rules.keys[0] = 'de';
  assert.deepEqual(firstHit(rules, 'dev-1'), { kind: 'key', key: 'de' });
});
