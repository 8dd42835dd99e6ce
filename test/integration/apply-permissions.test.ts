import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { startRegistry, TEST_PASSWORD, TEST_USER, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { captureIO, writeFile } from '../helpers/io.js';
import { tempDir } from '../helpers/processes.js';
import { planCommand } from '../../src/commands/plan.js';
import { applyCommand } from '../../src/commands/apply.js';

// Token auth, where each action is granted on its own: a robot account may delete without
// being allowed to push. apply needs push too, to put back a tag lost to a re-tag.
let reg: TestRegistry;
const tmp = tempDir('apply-permissions');

before(async () => {
  reg = await startRegistry({ auth: 'token', users: { [TEST_USER]: TEST_PASSWORD, deleter: 'deleter-pw', pusher: 'pusher-pw' }, grants: { deleter: ['pull', 'delete'] } });
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

async function world(user: string, password: string, repo: string) {
  await pushImage(reg, repo, ['dev-1'], { seed: `${repo}-1` });
  await pushImage(reg, repo, ['dev-2'], { seed: `${repo}-2` });
  await pushImage(reg, repo, ['v1'], { seed: `${repo}-v1` });
  const config = writeFile(
    tmp.dir,
    `${user}.yml`,
    `registries:\n  reg:\n    registry: ${reg.url}\n    username: ${user}\n    password: \${PW}\n    repositories: [${repo}]\nstate:\n  path: ${user}.state.json\ndelete-policy:\n  registries: [reg]\n  mix-count: 0\n  tags:\n    include:\n      keys: dev\n`,
  );
  const planFile = join(tmp.dir, `${user}.plan.json`);
  const cap = captureIO({ PW: password });
  assert.equal(await planCommand({ config, out: planFile }, cap.io), 0, cap.stderr());
  return { config, planFile, env: { PW: password } };
}

test('credentials that may delete but not push: no DELETE is sent, and the error says why', async () => {
  const w = await world('deleter', 'deleter-pw', 'perm/a');
  const before = await readTags(reg, 'perm/a');
  reg.token!.requests.length = 0;
  const cap = captureIO(w.env);
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io), 1, cap.stdout());
  assert.match(
    cap.stdout(),
    /^failed +delete reg\/perm\/a@sha256:\w+: reg\/perm\/a: no delete was sent: regmgr needs push permission here as well as delete, so that a tag another client moves onto a digest while it is deleted can be put back at once; the registry refused a push \(401 UNAUTHORIZED\)\. Grant push on this repository to these credentials$/m,
  );
  assert.match(cap.stdout(), /Apply complete: 0 copied, 0 deleted, 0 drifted, 0 blocked, 2 failed\./);
  assert.deepEqual(await readTags(reg, 'perm/a'), before);
  // regmgr asked for push (and was given only pull); it never asked to delete.
  const scopes = reg.token!.requests.flatMap((r) => r.scopes);
  // The registry's challenge names the actions in either order (registry-facts.md).
  assert.ok(scopes.some((x) => /^repository:perm\/a:(pull,push|push,pull)$/.test(x)), scopes.join(' '));
  assert.ok(!scopes.some((s) => s.endsWith(':delete')), scopes.join(' '));
});

test('credentials with pull, push and delete: the deletes are done, with each scope asked for', async () => {
  const w = await world('pusher', 'pusher-pw', 'perm/b');
  reg.token!.requests.length = 0;
  const cap = captureIO(w.env);
  assert.equal(await applyCommand({ plan: w.planFile }, cap.io), 0, cap.stdout());
  assert.deepEqual(Object.keys(await readTags(reg, 'perm/b')), ['v1']);
  const scopes = new Set(reg.token!.requests.flatMap((r) => r.scopes));
  for (const s of ['repository:perm/b:pull', 'repository:perm/b:delete']) assert.ok(scopes.has(s), [...scopes].join(' '));
  assert.ok(scopes.has('repository:perm/b:pull,push') || scopes.has('repository:perm/b:push,pull'), [...scopes].join(' '));
  // The push probe mounts a blob the repository already holds: no upload session is left
  // in the registry's storage (a cancelled upload leaves _uploads/<uuid>/hashstates on 2.8).
  const uploads = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'repositories', 'perm', 'b', '_uploads');
  assert.deepEqual(existsSync(uploads) ? readdirSync(uploads) : [], []);
});
