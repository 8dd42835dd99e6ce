import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { renderMarkdown, COMMENT_LIMIT } from '../../src/plan/markdown.js';
import type { Plan, PlanDelete } from '../../src/plan/model.js';

const dg = (i: number) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}` as PlanDelete['digest'];
const RULE = 'matches include regex /^(pr|nightly|feature|release-candidate|hotfix)-[0-9]+(-[a-z0-9]+)*$/';

/** A plan of `n` deletions over two repositories, with long, shared reasons. */
function bigPlan(n: number): Plan {
  const actions: PlanDelete[] = Array.from({ length: n }, (_, i) => {
    const repository = i % 2 ? 'team/backend-service' : 'team/frontend-application';
    const tag = `pr-${i}-build-${'x'.repeat(20)}`;
    return { id: `delete r/${repository}@${dg(i)}`, type: 'delete', registry: 'harbor', repository, digest: dg(i), media_type: 'application/vnd.oci.image.manifest.v1+json', tags: [tag], method: 'manifest', reasons: { [tag]: `${RULE}; #${i + 11} newest of ${n + 10} candidates by image creation time, beyond mix-count 10` } };
  });
  return {
    format_version: 1, regmgr_version: '0.1.0', created_at: '2026-12-01T00:00:00Z', config: { file: 'c.yml', sha256: 'x' }, state: { lineage: null, serial: null },
    registries: { harbor: { url: 'https://h', insecure: false } }, policies: { delete: ['harbor'], sync: null, target: null }, snapshot: {}, decisions: { delete: {}, sync: {} },
    changed_outside: [], skipped: [], actions, blocked: [], warnings: ['registries.harbor.repositories: team/gone does not exist (the repository is unknown to the registry)'],
    summary: { copy: 0, delete: n, tags_deleted: n, blocked: 0 }, sha256: 'a'.repeat(64),
  };
}

test('5,000 deletions fit one GitHub comment; the totals are exact; what is left out is counted and pointed to', () => {
  const md = renderMarkdown(bigPlan(5000), { planFile: 'plan.json' });
  assert.ok(md.length <= COMMENT_LIMIT, `${md.length} characters`);
  assert.match(md, /^\*\*Plan: 0 to copy, 5000 to delete, 0 blocked\.\*\*$/m);
  assert.match(md, /^\| <code>harbor\/team\/backend-service<\/code> \| 2500 to delete \|$/m);
  assert.match(md, /^\| <code>harbor\/team\/frontend-application<\/code> \| 2500 to delete \|$/m);
  assert.match(md, /^- registries\.harbor\.repositories: team\/gone does not exist/m);
  const shown = md.split('\n').filter((l) => /^- pr-\d+/.test(l)).length;
  const left = Number(/\*\*(\d+) lines not shown\*\* to fit one comment; the counts above are complete\. See every line with `regmgr show plan\.json`\./.exec(md)?.[1]);
  assert.ok(shown > 100, `${shown} lines shown`);
  assert.equal(shown + left, 5000, 'every line is either shown or counted as left out');
  // The rule is printed once per run of lines, not on every line.
  assert.ok(md.split(RULE).length - 1 <= 2, 'the shared reason is factored');
  // <details> balance.
  assert.equal((md.match(/<details>/g) ?? []).length, (md.match(/<\/details>/g) ?? []).length);
});

test('a small plan is shown whole, and a repository with a few lines is not collapsed', () => {
  const md = renderMarkdown(bigPlan(4));
  assert.doesNotMatch(md, /not shown/);
  assert.doesNotMatch(md, /<details>/);
  assert.equal(md.split('\n').filter((l) => /^- pr-\d+/.test(l)).length, 4);
});

/** `repos` repositories of `tags` deletions each, with long names and reasons. */
function widePlan(repos: number, tags: number): Plan {
  const base = bigPlan(0);
  const actions: PlanDelete[] = [];
  for (let r = 0; r < repos; r++) {
    const repository = `department-${r}/${'very-long-service-name-'.repeat(3)}${r}`;
    for (let t = 0; t < tags; t++) {
      const tag = `feature-${t}-${'a-rather-long-branch-name-'.repeat(3)}${r}`;
      const i = r * tags + t;
      actions.push({ id: `delete harbor/${repository}@${dg(i)}`, type: 'delete', registry: 'harbor', repository, digest: dg(i), media_type: 'application/vnd.oci.image.manifest.v1+json', tags: [tag], method: 'manifest', reasons: { [tag]: `${RULE}; #${t + 1} newest` } });
    }
  }
  const warnings = Array.from({ length: 3000 }, (_, i) => `registries.harbor.repositories: gone-${i}/${'x'.repeat(40)} does not exist (the repository is unknown to the registry)`);
  return { ...base, actions, warnings, summary: { copy: 0, delete: actions.length, tags_deleted: actions.length, blocked: 0 } };
}

for (const [repos, tags] of [
  [20, 500],
  [1200, 3],
  [3000, 1],
] as const) {
  test(`${repos} repositories x ${tags} long tags and 3,000 warnings fit one comment; every count is still there`, () => {
    const md = renderMarkdown(widePlan(repos, tags), { planFile: 'plan.json' });
    assert.ok(md.length <= COMMENT_LIMIT, `${md.length} characters`);
    assert.match(md, new RegExp(`^\\*\\*Plan: 0 to copy, ${repos * tags} to delete, 0 blocked\\.\\*\\*$`, 'm'));
    // The table: each row a repository, or one row summing up the smaller ones; deletions add up.
    const rows = md.split('\n').filter((l) => /^\| (<code>|\d+ more repositor)/.test(l));
    const counted = rows.reduce((n, l) => n + Number(/\| (\d+) to delete \|$/.exec(l)?.[1] ?? NaN), 0);
    assert.equal(counted, repos * tags, 'the table accounts for every deletion');
    if (repos > 100) assert.match(md, /^\| \d+ more repositories \(smaller\) \| \d+ to delete \|$/m);
    assert.match(md, /^- … and \d+ more: see `regmgr show plan\.json`$/m);
    const shown = md.split('\n').filter((l) => /^- feature-\d+/.test(l)).length;
    const left = Number(/\*\*(\d+) lines? not shown\*\*/.exec(md)?.[1] ?? 0);
    assert.equal(shown + left, repos * tags, 'every line is either shown or counted');
    assert.equal((md.match(/<details>/g) ?? []).length, (md.match(/<\/details>/g) ?? []).length);
  });
}
