#!/usr/bin/env node
// `npm run test:mutations` (a developer's tool, not part of `npm test`): breaks one safety
// protection at a time in the built code (dist/), runs the test files that claim to prove
// it, puts the code back, and reports which mutations survived (the tests still passed:
// the promise is not proved). Run `npm run build` first. One mutation at a time, in order;
// `node scripts/mutations.mjs NAME...` runs only those.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const T = (f) => `dist/test/${f.includes('/') ? f : `integration/${f}`}.test.js`;

/** Each: the promise it breaks, the one-line change, the tests that claim the promise. */
const MUTATIONS = [
  // Written in place: the old content is gone before the new one is whole.
  { name: 'state written atomically (temp file + rename)', file: 'util/atomic.js', find: 'const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);', replace: 'const tmp = file; rmSync(file, { force: true });', tests: [T('state')] },
  { name: 'restore puts back an action cut short (started, not done)', file: 'apply/restore.js', find: "a.type === 'delete' && journal.started.has(a.id)", replace: "a.type === 'delete' && journal.started.has(a.id) && journal.last.get(a.id)?.event === 'done'", tests: [T('restore-trust'), T('restore')] },
  { name: 'a DELETE sent but not recorded is found done on resume', file: 'apply/delete-step.js', find: 'if (!still && journal.wasStarted(a.id)) {', replace: 'if (false) {', tests: [T('restore-trust'), T('apply-safety')] },
  { name: 'an untag cut short is finished on resume', file: 'apply/untag-step.js', find: "if (half && journal.wasStarted(a.id) && (now?.digest === half || !now))", replace: 'if (false)', tests: [T('restore-trust'), T('apply-safety')] },
  { name: 'a tag moved during an untag is left where it was put', file: 'apply/untag-step.js', find: 'if (on && on.digest !== unique) {', replace: 'if (false) {', tests: [T('restore-trust')] },
  { name: 'a delete whose image failed to copy is held', file: 'apply/executor.js', find: 'if (failedSources.has(`${a.registry}/${a.repository}@${a.digest}`)) {', replace: 'if (false) {', tests: [T('apply-safety')] },
  { name: 'a tag lost to a DELETE is put back at once', file: 'apply/delete-step.js', find: '    for (const t of lost) {', replace: '    for (const t of []) {', tests: [T('apply-concurrent'), T('restore-trust')] },
  { name: 'a failed put-back is reported as LOST', file: 'apply/delete-step.js', find: '            failures.push(`LOST ${t}:', replace: '            void (`LOST ${t}:', tests: [T('restore-trust')] },
  { name: 'credentials reach a token server only over TLS or on this machine', file: 'registry/transport.js', find: "if (url.protocol === 'https:' || isLoopback(url.hostname))", replace: 'if (true)', tests: [T('hostile')] },
  { name: 'answers are capped at 64 MiB', file: 'registry/transport.js', find: 'const MAX_BODY = 64 * 1024 * 1024;', replace: 'const MAX_BODY = Infinity;', tests: [T('hostile'), T('faults')] },
  // A plan file past 256 MiB is read in parts: they must refuse what JSON.parse refuses, and build what it builds.
  { name: 'a plan read in parts refuses a trailing comma beside a large member', file: 'util/json-file.js', find: 'if (runMembers === 1 && seps.length > 1 && !text.trim())', replace: 'if (false)', tests: [T('unit/json-file')] },
  { name: 'a plan read in parts keeps a "__proto__" key an own key', file: 'util/json-file.js', find: 'object ? setOwn(out, key, v) : out.push(v)', replace: 'object ? (out[key] = v) : out.push(v)', tests: [T('unit/json-file')] },
  { name: 'a plan read in parts refuses bytes after a large member', file: 'util/json-file.js', find: '                this.#onlySpace(large.end, to);', replace: '                ;', tests: [T('unit/json-file')] },
  { name: 'a plan of another format_version is refused', file: 'plan/file.js', find: '    if (plan.format_version !== FORMAT_VERSION) {', replace: '    if (false) {', tests: [T('apply-safety'), T('unit/plan-file')] },
  { name: "apply re-checks the policy on live data", file: 'apply/executor.js', find: 'const todo = pending.filter((a) => !opts.policyDrift?.has(a.id));', replace: 'const todo = pending;', tests: [T('pr-workflow'), T('prune-in-use')] },
  { name: 'with -digest-max-age, a tag moved onto a planned digest before the last re-read stops its delete', file: 'apply/live-view.js', find: 'if (this.age <= this.maxAgeMs)\n            return;', replace: 'return;', tests: [T('apply-concurrent')] },
  { name: 'a tag now on a planned digest stops its delete', file: 'apply/delete-step.js', find: '    if (others.length)', replace: '    if (false)', tests: [T('apply-safety'), T('apply-concurrent')] },
  { name: 'an action the config does not allow is refused before any request', file: 'apply/preflight.js', find: '    problems.push(...refusedActions(plan.actions, config, opts));', replace: '', tests: [T('apply-safety'), T('restore-trust')] },
  { name: 'secrets are scrubbed from what is shown', file: 'util/secret.js', find: "            out = out.split(v).join('<redacted>');", replace: '            out = out;', tests: [T('hostile'), T('apply-seed'), T('faults')] },
  { name: 'an untagged referrer is deleted only if it names the planned subject', file: 'apply/delete-step.js', find: '(json?.subject?.digest === r.subject ? undefined', replace: '(true ? undefined', tests: [T('referrers')] },
  { name: 'no digest is deleted while a kept tag points at it (the deleted tags go alone)', file: 'policy/delete.js', find: "        if (others.length)\n            out.shared(digest, group, others,", replace: "        if (false)\n            out.shared(digest, group, others,", tests: [T('shared-and-attachments'), T('unit/policy')] },
  { name: 'a digest with a kept tag is not deleted whole (the fast path for a digest whose every tag goes)', file: 'policy/delete.js', find: 'if (!keeps && !onDigest)', replace: 'if (!onDigest)', tests: [T('shared-and-attachments'), T('unit/policy')] },
  // The plan's order is what `plan --check` compares: the deletes are sorted without their ids now (made last).
  { name: 'deletes of one repository are ordered as their ids (tag-only removals before manifests)', file: 'plan/build.js', find: 'return am ? 1 : -1;', replace: 'return am ? -1 : 1;', tests: [T('unit/plan-build')] },
  { name: 'tag-only removals of one repository are ordered by tag', file: 'plan/build.js', find: 'return am ? cmp(a.digest, b.digest) : cmp(a.tags[0], b.tags[0]);', replace: 'return am ? cmp(a.digest, b.digest) : 0;', tests: [T('unit/plan-build')] },
  { name: "a digest's tags are grouped in their order (Groups)", file: 'util/group.js', find: 'this.#items[n] = [had, it];', replace: 'this.#items[n] = [it, had];', tests: [T('unit/group'), T('unit/policy')] },
  { name: 'a signature on a kept image keeps the digest it shares with a deleted tag', file: 'policy/delete.js', find: 'return subject !== p.entry.digest && !allOrdinaryGo(subject) && present(subject);', replace: 'return false;', tests: [T('shared-and-attachments'), T('unit/policy')] },
  { name: 'images in use are kept', file: 'policy/delete.js', find: 'const who = usedBy(p.entry, input);', replace: 'const who = undefined;', tests: [T('prune-in-use'), T('unit/in-use')] },
  { name: 'a plan never empties a repository by accident', file: 'policy/delete.js', find: 'const warnings = input.allowEmpty || !selection.whole ? [] :', replace: 'const warnings = true ? [] :', tests: [T('prune-in-use'), T('unit/in-use')] },
  { name: 'one apply at a time across machines (PostgreSQL advisory lock)', file: 'backend/pg.js', find: 'return rows[0].ok ? true : undefined;', replace: 'return true;', tests: [T('state-pg')] },
  { name: 'no registry change before its journal line is stored (backend pg)', file: 'apply/delete-step.js', find: '    await journal.durable();\n    // A DELETE', replace: '    // A DELETE', tests: [T('state-pg')] },
  { name: 'prune stops when the tag is back in the source', file: 'apply/recheck.js', find: 'return stop.length ? ', replace: 'return false ? ', tests: [T('prune-in-use')] },
  { name: 'a second Ctrl-C stops the copies in flight', file: 'apply/interrupt.js', find: '                this.stopInFlight.abort();', replace: '', tests: [T('interrupt')] },
  { name: "a copy never overwrites a target tag another client set (checked right before regmgr's PUT)", file: 'apply/steps.js', find: '    if (now !== a.target.digest_at_plan) {', replace: '    if (false) {', tests: [T('apply-copy-batch')] },
  { name: 'a tag PUT whose answer does not name its digest is read back', file: 'apply/steps.js', find: 'return put.confirmed ? copied(a, journal) : verifyCopy(a, clients, journal);', replace: 'return copied(a, journal);', tests: [T('apply-copy-batch')] },
  { name: 'every journal line is on the disk before the next request that changes a registry', file: 'apply/journal.js', find: '    async durable() {\n        this.flush();', replace: '    async durable() {', tests: [T('unit/journal-sync')] },
  { name: 'a lone copy (skopeo copy sets the tag) is checked live, not from the re-check', file: 'apply/copy-lane.js', find: '(seen ? copyStep : copyImage)(batch[0]', replace: 'copyImage(batch[0]', tests: [T('apply-copy-batch')] },
  { name: 'GHCR: a version is deleted only with the tags regmgr saw', file: 'registry/ghcr-dialect.js', find: "if (expectTags && tags.join(',') !== [...expectTags].sort().join(',')) {", replace: 'if (false) {', tests: [T('vendor-ghcr')] },
  // The figures a plan states: bytes freed, each blob once, and what deleting one manifest alone frees.
  { name: 'bytes freed: a blob that goes is counted once', file: 'plan/bytes.js', find: '                uses[i] = 0;', replace: '', tests: [T('unit/bytes')] },
  { name: 'bytes freed: a blob that stays is counted once as shared', file: 'plan/bytes.js', find: 'if (countedLive[kept])\n                    return;', replace: 'if (false)\n                    return;', tests: [T('unit/bytes')] },
  { name: 'bytes freed alone leave out what a kept manifest references', file: 'plan/bytes.js', find: 'if (live.indexOf(b, h) >= 0)\n                return;', replace: 'if (false)\n                return;', tests: [T('unit/bytes')] },
  { name: "bytes freed alone: a manifest deleted twice is one key of the plan's record", file: 'util/keyed-numbers.js', find: '                values[order[d]] = NaN;', replace: '                ;', tests: [T('unit/keyed-numbers')] },
  // The plan's hash and file: every record's keys in order, whatever order they were set in.
  { name: "the canonical writer sorts a record's keys when they are out of order", file: 'util/canonical.js', find: '                sortKeys(keys);', replace: '                ;', tests: [T('unit/canonical')] },
  { name: "the canonical writer's insertion sort puts each key in its place", file: 'util/canonical.js', find: '        keys[j + 1] = k;', replace: '        ;', tests: [T('unit/canonical')] },
  // regmgr's own files read back: ASCII as Latin-1, anything else as UTF-8; lines whole across chunks.
  { name: 'bytes that are not ASCII are decoded as UTF-8', file: 'util/text.js', find: "return isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');", replace: "return buf.toString('latin1');", tests: [T('unit/text')] },
  { name: 'a line a chunk leaves open is joined to its end in the next', file: 'util/lines.js', find: 'emit(utf8Text(rest.length ? Buffer.concat([rest, view.subarray(0, first)]) : view.subarray(0, first)));', replace: 'emit(utf8Text(view.subarray(0, first)));', tests: [T('unit/text'), T('unit/content-cache')] },
  // The content cache's layout 2: the file of layout 1 is read until it is replaced, then removed.
  { name: 'a content cache of layout 1 is read while there is none of layout 2', file: 'snapshot/content-cache.js', find: 'source = join(dir, LEGACY_NAME);', replace: 'return cache;', tests: [T('unit/content-cache')] },
  { name: 'a content cache of layout 1 is removed once layout 2 holds its entries', file: 'snapshot/content-cache.js', find: 'rmSync(this.replaces, { force: true });', replace: 'void 0;', tests: [T('unit/content-cache')] },
  // plan -out makes the plan's hash and its file in one walk, the hash written last over a placeholder.
  { name: "a new plan's hash is written over its placeholder", file: 'plan/file.js', find: 'at = written() + 1', replace: 'at = written()', tests: [T('unit/plan-build'), T('pr-workflow')] },
  { name: "a new plan's hash leaves out sha256 and created_at", file: 'util/canonical.js', find: 'top && also.leaveOut.has(k)', replace: 'false', tests: [T('unit/canonical'), T('unit/plan-build')] },
  // V8 checks a code cache against the source's length only: the key must tell bundles apart.
  { name: 'a code cache is keyed by the bundle it was made from (size, mtime)', file: 'util/code-cache.js', find: 'end: `-${size}-${Math.trunc(mtimeMs)}.v8`', replace: "end: '.v8'", tests: [T('unit/code-cache')] },
  { name: "a code cache write keeps this build's other bundle's caches", file: 'util/code-cache.js', find: ', ...siblings.flatMap(siblingMark)]', replace: ']', tests: [T('unit/code-cache')] },
  // Requests skip the URL parser for paths it would leave alone: never one it would change.
  { name: 'a path with a dot segment goes through the URL parser', file: 'registry/transport.js', find: '(?:\\/(?!\\.\\.?(?:[/?]|$))[A-Za-z0-9._:@-]*)+', replace: '(?:\\/[A-Za-z0-9._:@-]*)+', tests: [T('unit/request-target')] },
  { name: 'a repository name is checked before a URL is built from it, whatever names were valid before', file: 'registry/client.js', find: '        if (this.#checkedRepos.has(repo))\n            return repo;', replace: '        return repo;', tests: [T('hostile')] },
];

function bundle() {
  const r = spawnSync(process.execPath, ['scripts/bundle.mjs'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/bundle.mjs failed: ${r.stderr}`);
}

const only = process.argv.slice(2);
const results = [];
for (const m of MUTATIONS.filter((x) => !only.length || only.some((o) => x.name.includes(o)))) {
  const path = `dist/src/${m.file}`;
  const original = readFileSync(path, 'utf8');
  const count = original.split(m.find).length - 1;
  if (count !== 1) {
    results.push({ name: m.name, result: `NOT APPLIED (the line is there ${count} times: update scripts/mutations.mjs)` });
    continue;
  }
  writeFileSync(path, original.replace(m.find, m.replace));
  const t0 = Date.now();
  let run;
  try {
    // The tests run regmgr's bundle (dist/cli/), made from dist/src: made again with the mutation in it.
    bundle();
    run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=240000', ...m.tests], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  } finally {
    writeFileSync(path, original);
    bundle();
  }
  const failed = /^# fail (\d+)/m.exec(run.stdout)?.[1] ?? '?';
  const result = run.status === 0 ? 'SURVIVED (tests passed: promise not proved)' : `killed (${failed} failing)`;
  results.push({ name: m.name, result, seconds: Math.round((Date.now() - t0) / 1000), tests: m.tests.map((t) => t.replace(/^dist\/test\//, '').replace(/\.test\.js$/, '')).join(', ') });
  process.stdout.write(`${result.padEnd(44)} ${m.name}\n`);
}
const survived = results.filter((r) => !r.result.startsWith('killed'));
process.stdout.write(`\n${results.length - survived.length} of ${results.length} mutations killed; ${survived.length} survived or not applied.\n`);
for (const r of results) process.stdout.write(`| ${r.name} | ${r.tests ?? ''} | ${r.result} |\n`);
process.exit(survived.length ? 1 : 0);
