import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';

// The CI examples' regmgr command lines, run in order against a local registry: the
// examples cannot rot without this test failing.
const root = fileURLToPath(new URL('../../../', import.meta.url));
let reg: TestRegistry;
const tmp = tempDir('ci-examples');

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

/** Every `regmgr ...` line of the given scripts, in order. */
function regmgrLines(scripts: Array<string | string[] | undefined>): string[] {
  return scripts
    .flatMap((s) => (Array.isArray(s) ? s : (s ?? '').split('\n')))
    .map((l) => l.trim())
    .filter((l) => l.startsWith('regmgr '));
}

async function runInOrder(name: string, lines: string[]) {
  const repo = `ci/${name}`;
  for (const t of ['dev-1', 'dev-2', 'v1']) await pushImage(reg, repo, [t], { seed: `${repo}-${t}` });
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  writeFile(dir, 'registry.yml', `registries:\n  harbor:\n    registry: ${reg.url}\n    repositories: [${repo}]\ndelete-policy:\n  registries: [harbor]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`);
  // The author's step in the pull request: plan, and commit plan.json.
  assert.equal((await runCli(['plan', '-c', 'registry.yml', '-out', 'plan.json'], {}, undefined, dir)).code, 0);
  assert.ok(lines.some((l) => l.startsWith('regmgr apply plan.json')), 'the example applies the committed file');
  for (const line of lines) {
    const [cmd, redirect] = line.split(/\s+>\s+/);
    const r = await runCli(cmd.split(/\s+/).slice(1), {}, undefined, dir);
    assert.equal(r.code, 0, `${name}: ${line}\n${r.stdout}${r.stderr}`);
    if (redirect) writeFileSync(join(dir, redirect), r.stdout);
  }
  assert.deepEqual(Object.keys(await readTags(reg, repo)), ['v1'], `${name}: the reviewed plan was applied`);
  return dir;
}

test('examples/github-actions.yml: check, comment and apply run as written; applies never overlap', async () => {
  const wf = parse(readFileSync(`${root}examples/github-actions.yml`, 'utf8'));
  assert.equal(wf.concurrency.group, 'registry');
  assert.equal(wf.concurrency['cancel-in-progress'], false);
  const steps = (job: string) => (wf.jobs[job].steps as Array<{ run?: string }>).map((s) => s.run);
  const lines = regmgrLines([...steps('check'), ...steps('apply')]);
  assert.deepEqual(lines, ['regmgr validate -c registry.yml', 'regmgr plan -c registry.yml --check plan.json --strict', 'regmgr show plan.json --markdown > plan.md', 'regmgr plan -c registry.yml --check plan.json', 'regmgr apply plan.json']);
  const dir = await runInOrder('github', lines);
  assert.match(readFileSync(join(dir, 'plan.md'), 'utf8'), /^\*\*Plan: 0 to copy, 2 to delete, 0 blocked\.\*\*/);
});

test('examples/gitlab-ci.yml: the same, with a resource group so applies never overlap', async () => {
  const ci = parse(readFileSync(`${root}examples/gitlab-ci.yml`, 'utf8'));
  assert.equal(ci.apply.resource_group, 'registry');
  const lines = regmgrLines([ci['plan-check'].script, ci.apply.script]);
  assert.equal(lines.length, 5);
  await runInOrder('gitlab', lines);
});
