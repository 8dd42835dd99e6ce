import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { refusedActions } from '../../src/policy/permits.js';
import { deleteId, type PlanCopy, type PlanDelete } from '../../src/plan/model.js';
import type { Digest } from '../../src/oci/names.js';

// What apply allows from a plan file, decided by the config alone: pure, no network.
const D = `sha256:${'a'.repeat(64)}` as Digest;
const config = parseConfig(
  'c.yml',
  `registries:
  h: { registry: 'https://h.example', repositories: [team/a, team/b, 'team/c:1.0'] }
  cat: { registry: 'https://cat.example' }
  m: { registry: 'https://m.example' }
delete-policy:
  registries: [h, cat]
  start: 1
  tags: { include: { keys: dev }, exclude: { regex: '^dev-keep' } }
sync-policy:
  from: h
  to: m
  replace: [{ old: team, new: mirror }]
  filters: ['^v']
`,
  {},
);
const del = (registry: string, repository: string, tags: string[]): PlanDelete => ({ id: `delete ${registry}/${repository}@${D}`, type: 'delete', registry, repository, digest: D, media_type: 'x', tags, method: 'manifest', reasons: {} });
const copy = (repository: string, tag: string, targetRepo: string, targetTag = tag): PlanCopy => ({
  id: `copy m/${targetRepo}:${targetTag}`,
  type: 'copy',
  source: { registry: 'h', repository, tag, digest: D, media_type: 'x' },
  target: { registry: 'm', repository: targetRepo, tag: targetTag, digest_at_plan: null },
  reason: '',
});
const refused = (a: PlanDelete | PlanCopy) => refusedActions([a], config);

test('deletes the config allows pass; every other delete is refused with the rule it breaks', () => {
  assert.deepEqual(refused(del('h', 'team/b', ['dev-1', 'develop'])), []);
  assert.deepEqual(refused(del('cat', 'anything/at-all', ['dev-1'])), [], 'a catalog registry selects any repository');
  assert.deepEqual(refused(del('h', 'team/c', ['1.0'])), [], 'an explicit repo:tag is a candidate by name');
  assert.match(refused(del('m', 'team/b', ['dev-1']))[0], /registry 'm' is not in delete-policy\.registries \(h, cat\)/);
  assert.match(refused(del('h', 'secret/db', ['dev-1']))[0], /repository 'secret\/db' is not in registries\.h\.repositories/);
  assert.match(refused(del('h', 'team/a', ['dev-1']))[0], /repository 'team\/a' is skipped by delete-policy\.start: 1/);
  assert.match(refused(del('h', 'team/b', ['dev-1', 'latest']))[0], /tag 'latest' is not a delete candidate under c\.yml: matches no include rule/);
  assert.match(refused(del('h', 'team/b', ['dev-keep-1']))[0], /tag 'dev-keep-1' is not a delete candidate under c\.yml: excluded by regex \/\^dev-keep\//);
  assert.match(refused(del('h', 'team/c', ['dev-1']))[0], /not selected: repositories names only some tags of this repository \(repo:tag\), and not this one/);
  assert.match(refused(del('h', 'team/b', ['../x']))[0], /'\.\.\/x' is not a valid tag/);
  assert.match(refused(del('cat', 'a/../b', ['dev-1']))[0], /repository name "a\/\.\.\/b" has a '\.\.' path segment/);
});

test('copies the config allows pass; other sources, targets, renames and tags are refused', () => {
  assert.deepEqual(refused(copy('team/b', 'v1', 'mirror/b')), []);
  assert.match(refused(copy('team/b', 'v1', 'elsewhere'))[0], /sync-policy\.replace maps 'team\/b' to 'mirror\/b', not to 'elsewhere'/);
  assert.match(refused(copy('team/b', 'dev-1', 'mirror/b'))[0], /tag 'dev-1' is not synced under c\.yml: matches no filter/);
  assert.match(refused(copy('team/b', 'v1', 'mirror/b', 'latest'))[0], /a copy keeps the tag's name: 'v1' cannot become 'latest'/);
  assert.match(refused(copy('secret/db', 'v1', 'secret/db'))[0], /repository 'secret\/db' is not in registries\.h\.repositories/);
  assert.match(refused({ ...copy('team/b', 'v1', 'mirror/b'), source: { registry: 'cat', repository: 'team/b', tag: 'v1', digest: D, media_type: 'x' } })[0], /copies only from sync-policy\.from 'h', not from 'cat'/);
});

test('ids must say what the action does, once', () => {
  const a = del('h', 'team/b', ['dev-1']);
  assert.match(refusedActions([{ ...a, id: 'delete h/team/b@sha256:other' }], config)[0], /its id does not match what it does \(expected "delete h\/team\/b@sha256:a+"\)/);
  assert.match(refusedActions([a, a], config)[0], /listed twice/);
});

test('an edited plan: referrers only on a manifest delete, each rooted in what the action deletes', () => {
  const R = (c: string) => `sha256:${c.repeat(64)}` as Digest;
  const base = del('h', 'team/b', ['dev-1']);
  assert.deepEqual(refused({ ...base, referrers: [{ digest: R('b'), subject: D, artifact_type: 't' }, { digest: R('c'), subject: R('b'), artifact_type: 't' }] }), [], 'a chain: the image, then its SBOM');
  assert.match(refused({ ...base, referrers: [{ digest: R('b'), subject: R('e'), artifact_type: 't' }] })[0], /referrer sha256:b+ names subject sha256:e+, which this action does not delete/);
  assert.match(refused({ ...base, referrers: [{ digest: R('c'), subject: R('b'), artifact_type: 't' }, { digest: R('b'), subject: D, artifact_type: 't' }] })[0], /names subject sha256:b+, which this action does not delete/, 'a subject must come first');
  assert.match(refused({ ...base, referrers: [{ digest: D, subject: D, artifact_type: 't' }] })[0], /is listed twice or is the deleted manifest itself/);
  assert.match(refused({ ...base, method: 'untag', kept_by: ['v1'], referrers: [{ digest: R('b'), subject: D, artifact_type: 't' }] })[0], /only a manifest delete may take untagged referrers with it/);
});

test('an edited plan: prune deletes only in the sync target, in a mapped repository, tags the filters select, and only with prune on', () => {
  const pruneConfig = parseConfig(
    'p.yml',
    `registries:
  h: { registry: 'https://h.example', repositories: [team/b] }
  m: { registry: 'https://m.example' }
sync-policy:
  from: h
  to: m
  replace: [{ old: team, new: mirror }]
  filters: ['^v']
  prune: true
`,
    {},
  );
  const p = (registry: string, repository: string, tags: string[]): PlanDelete => ({ ...del(registry, repository, tags), prune: true });
  const refusedBy = (a: PlanDelete, c = pruneConfig) => refusedActions([a], c);
  assert.deepEqual(refusedBy(p('m', 'mirror/b', ['v1'])), []);
  assert.match(refusedBy(p('h', 'team/b', ['v1']))[0], /prune deletes only in sync-policy\.to 'm', not in 'h'/);
  assert.match(refusedBy(p('m', 'mirror/other', ['v1']))[0], /no repository of sync-policy\.from 'h' maps onto 'mirror\/other'/);
  assert.match(refusedBy(p('m', 'mirror/b', ['latest']))[0], /tag 'latest' is outside sync-policy\.filters: prune never touches it/);
  assert.match(refusedBy(p('m', 'mirror/b', ['v1']), config)[0], /c\.yml does not set sync-policy\.prune, so it allows no prune/);
});

test('an edited plan: how a delete goes (method, kept_by, children), attachments, and a copy onto itself are refused', () => {
  const A = `sha256-${'c'.repeat(64)}.sig`;
  const E = `sha256-${'e'.repeat(64)}.sig`;
  const base = del('h', 'team/b', ['dev-1']);
  const rules = parseConfig('r.yml', `registries:\n  h: { registry: 'https://h.example', repositories: [team/b] }\n  n: { registry: 'https://n.example', repositories: [team/b], tag-delete: never }\n  u: { registry: 'https://u.example', repositories: [team/b], tag-delete: untag }\ndelete-policy:\n  registries: [h, n, u]\n  tags: { include: { keys: dev } }\n`, {});
  const refusedBy = (a: PlanDelete) => refusedActions([a], rules);
  assert.match(refusedBy({ ...base, method: 'untag', tags: ['dev-1', 'dev-2'], kept_by: ['v1'], id: base.id })[0], /a untag action removes exactly one tag, not 2/);
  assert.match(refusedBy({ ...base, method: 'untag' })[0], /a untag action must name the tags that keep the digest \(kept_by\)/);
  const oci: PlanDelete = { ...base, method: 'oci', kept_by: ['v1'] };
  assert.deepEqual(refusedBy({ ...oci, id: deleteId(oci) }), [], 'tag-delete auto allows a delete by tag');
  assert.match(refusedBy({ ...del('u', 'team/b', ['dev-1']), method: 'oci', kept_by: ['v1'] })[0], /registries\.u\.tag-delete is untag, so regmgr does not delete tags by name there/);
  assert.match(refusedBy({ ...del('n', 'team/b', ['dev-1']), method: 'untag', kept_by: ['v1'] })[0], /registries\.n\.tag-delete is never/);
  assert.match(refusedBy({ ...base, children: [D] })[0], /only the delete of a multi-arch index may take platform manifests \(children\) with it/);
  // An attachment goes with its subject only: deleted in the same plan, or orphaned (apply checks).
  assert.match(refusedBy(del('h', 'team/b', [A]))[0], new RegExp(`tag '${A}' is an attachment of sha256:c{64}, which the plan does not delete`));
  const subject = { ...del('h', 'team/b', ['dev-1']), digest: `sha256:${'c'.repeat(64)}` as Digest, id: `delete h/team/b@sha256:${'c'.repeat(64)}` };
  assert.deepEqual(refusedActions([subject, del('h', 'team/b', [A])], rules), [], 'with its subject');
  assert.deepEqual(refusedBy({ ...del('h', 'team/b', [E]), attachment_of: { subject: `sha256:${'e'.repeat(64)}` as Digest, orphaned: true } }), [], 'as an orphan');
  // A copy whose source and target are one repository (config validation refuses such a
  // sync first; this rule stands behind it, for a config object built otherwise).
  const two = parseConfig('s.yml', `registries:\n  h: { registry: 'https://h.example', repositories: [team/b] }\n  m: { registry: 'https://m.example' }\nsync-policy:\n  from: h\n  to: m\n`, {});
  const onItself = { ...two, syncPolicy: { ...two.syncPolicy!, to: 'h' } };
  const onto: PlanCopy = { ...copy('team/b', 'v1', 'team/b'), id: 'copy h/team/b:v1', target: { registry: 'h', repository: 'team/b', tag: 'v1', digest_at_plan: null } };
  assert.deepEqual(refusedActions([onto], onItself), ['action "copy h/team/b:v1": a copy onto itself']);
});
