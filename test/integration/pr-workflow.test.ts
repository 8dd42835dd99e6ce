import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { proxiedSuite } from '../helpers/suite.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { stateRefreshCommand } from '../../src/commands/state.js';

const suite = proxiedSuite('pr-workflow');
const tmp = suite.tmp;
let n = 0;

/** dev-1 (oldest) .. dev-4 (newest); the policy keeps the 2 newest dev tags. */
async function world() {
  const repo = `pr/app-${++n}`;
  for (let i = 1; i <= 4; i++) await pushImage(suite.env.reg, repo, [`dev-${i}`], { seed: `${repo}-dev-${i}`, created: `2024-0${i}-01T00:00:00Z` });
  const dir = join(tmp.dir, `w${n}`);
  mkdirSync(dir);
  const config = writeFile(dir, 'registry.yml', `registries:\n  reg:\n    registry: ${suite.env.proxy.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [reg]\n  mix-count: 2\n  tags:\n    include:\n      keys: dev\n`);
  return { repo, dir, config, plan: join(dir, 'plan.json') };
}

/** Deletes a tag's manifest behind regmgr's back, as another tool (or plan) would. */
async function deleteOutside(repo: string, tag: string) {
  const digest = (await readTags(suite.env.reg, repo))[tag];
  const res = await fetch(`${suite.env.reg.url}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' });
  assert.equal(res.status, 202);
}

test('plan --check: 0 when the committed plan is current, 2 with a unified diff when the registry or config changed', async () => {
  const w = await world();
  assert.equal((await runCli(['plan', '-c', w.config, '-out', w.plan])).code, 0);
  const same = await runCli(['plan', '-c', w.config, '-check', w.plan]);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /plan\.json is current: a fresh plan has the same 2 actions\.\n$/);
  await pushImage(suite.env.reg, w.repo, ['dev-5'], { seed: `${w.repo}-dev-5`, created: '2024-05-01T00:00:00Z' });
  const differs = await runCli(['plan', '-c', w.config, '--check', w.plan]);
  assert.equal(differs.code, 2, differs.stderr);
  assert.match(differs.stdout, /^--- .*plan\.json \(committed\)\n\+\+\+ fresh plan\n@@ /m);
  assert.match(differs.stdout, /^-Plan: 0 to copy, 2 to delete, 0 blocked\.\n\+Plan: 0 to copy, 3 to delete, 0 blocked\.$/m);
  assert.match(differs.stdout, /^\+ {2}- dev-3 /m);
  assert.match(differs.stdout, /\n.*plan\.json is not current: the registries changed since it was made \([^)]+\)\.\n\nChanged in the registries since the plan was made:\n {2}reg pr\/app-\d+:dev-5 added \(sha256:[0-9a-f]{12}\)\n {2}\(the state records no regmgr apply that did this: another client, or an apply whose state this runner does not have\)\nRe-run `regmgr plan -c .*registry\.yml -out .*plan\.json` and commit it\.\n$/);
});

test('plan --check names the cause of a difference: the config, the registries, or both', async () => {
  const w = await world();
  assert.equal((await runCli(['plan', '-c', w.config, '-out', w.plan])).code, 0);
  const original = readFileSync(w.config, 'utf8');
  // The config alone: mix-count 1 deletes one more.
  writeFileSync(w.config, original.replace('mix-count: 2', 'mix-count: 1'));
  const config = await runCli(['plan', '-c', w.config, '--check', w.plan]);
  assert.equal(config.code, 2, config.stderr);
  assert.match(config.stdout, /\n.*plan\.json is not current: the config changed \(.*registry\.yml is not the file the plan was made with\) since it was made \([^)]+\)\.\nRe-run /);
  assert.doesNotMatch(config.stdout, /Changed in the registries/);
  // Both: and a tag deleted behind regmgr's back.
  await deleteOutside(w.repo, 'dev-1');
  const both = await runCli(['plan', '-c', w.config, '--check', w.plan]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stdout, /is not current: both the config and the registries changed since it was made/);
  assert.match(both.stdout, /^ {2}reg pr\/app-\d+:dev-1 removed \(was sha256:[0-9a-f]{12}\)$/m);
});

test('plan --check --strict prints the fresh plan\'s warnings and fails on them, as plan --strict does; without --strict they are printed and pass', async () => {
  const w = await world();
  // A rule whose selector was typed in the wrong case: it matches nothing, and never did.
  writeFileSync(w.config, readFileSync(w.config, 'utf8') + '  rules:\n    - tags: { keys: DEV }\n      keep-newest: 1\n');
  const planned = await runCli(['plan', '-c', w.config, '-out', w.plan, '--strict']);
  assert.equal(planned.code, 1);
  assert.match(planned.stderr, /^warning: delete-policy\.rules\[0\] \(rule 1\) matches no tag in any selected repository\nerror: --strict: 1 warning; no plan written to .*plan\.json\n$/);
  assert.equal((await runCli(['plan', '-c', w.config, '-out', w.plan])).code, 0);
  const lax = await runCli(['plan', '-c', w.config, '--check', w.plan]);
  assert.equal(lax.code, 0, lax.stderr);
  assert.match(lax.stderr, /^warning: delete-policy\.rules\[0\] \(rule 1\) matches no tag in any selected repository\n$/);
  const strict = await runCli(['plan', '-c', w.config, '--check', w.plan, '--strict']);
  assert.equal(strict.code, 1);
  assert.match(strict.stdout, /plan\.json is current: a fresh plan has the same 2 actions\.\n$/);
  assert.match(strict.stderr, /^warning: delete-policy\.rules\[0\] \(rule 1\) matches no tag in any selected repository\nerror: --strict: 1 warning\n$/);
});

for (const withState of [false, true]) {
  test(`apply re-checks the policy on live data and does only what it still wants (${withState ? 'with' : 'without'} a state file)`, async () => {
    const w = await world();
    if (withState) {
      const refreshed = captureIO();
      assert.equal(await stateRefreshCommand({ config: w.config }, refreshed.io), 0, refreshed.stderr());
      assert.match(refreshed.stdout(), /State refreshed: 4 tags in 1 registry; 0 changed since serial none; now serial 1\./);
    }
    assert.equal((await runCli(['plan', '-c', w.config, '-out', w.plan])).code, 0);
    // Another plan of the same data, or a hand, removes the two newest: dev-1 and dev-2
    // are now the two newest and mix-count 2 keeps them. The state file knows nothing.
    await deleteOutside(w.repo, 'dev-4');
    await deleteOutside(w.repo, 'dev-3');
    if (!withState) rmSync(join(w.dir, 'registry.state.json'), { force: true });
    suite.env.proxy.log.length = 0;
    const r = await runCli(['apply', w.plan]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /^drifted +delete reg\/pr\/app-\d+@sha256:\w+: the policy no longer deletes this: dev-1 is now kept: matches include key "dev"; kept by mix-count 2 \(only 2 candidates\); left alone$/m);
    assert.match(r.stdout, /Apply complete: 0 copied, 0 deleted, 2 drifted, 0 blocked, 0 failed\./);
    assert.deepEqual(Object.keys(await readTags(suite.env.reg, w.repo)), ['dev-1', 'dev-2']);
    assert.equal(suite.env.proxy.count((l) => l.startsWith('DELETE') && l.includes('/manifests/')), 0, 'no DELETE was sent');
  });
}

test('Terraform habits: long options with one dash, a one-line "did you mean", and a completion script', async () => {
  const w = await world();
  const out = join(w.dir, 'single.json');
  const r = await runCli(['plan', '-c', w.config, '-detailed-exitcode', '-json', '-target=reg', `-out=${out}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(JSON.parse(r.stdout).summary.delete, 2);
  const a = await runCli(['apply', out, '-parallelism=2', '-auto-approve']);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const typo = await runCli(['plna', '-c', w.config]);
  assert.equal(typo.code, 1);
  assert.equal(typo.stdout, '');
  assert.equal(typo.stderr.trim().split('\n').length, 1);
  assert.match(typo.stderr, /^error: unknown command 'plna'; did you mean 'plan'\? \(commands: validate, list, plan/);
  const c = await runCli(['completion']);
  assert.equal(c.code, 0);
  assert.match(c.stdout, /regmgr completion >> ~\/\.bashrc/);
});
