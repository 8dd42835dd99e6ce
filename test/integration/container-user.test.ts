import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { privateDir } from '../../src/util/private-dir.js';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, readTags } from '../helpers/images.js';
import { writeFile } from '../helpers/io.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/processes.js';

// `docker run --user "$(id -u):$(id -g)"`, as the README runs the image: a uid with no
// entry in the image's /etc/passwd gets HOME=/, which it cannot write. An apply with
// copies needs a private folder for skopeo's auth files; regmgr must find one. As root
// the test runs regmgr as uid 10001 (setpriv, as the container would); as any other
// user, it runs as that user with HOME=/, which no such user can write either.
const UID = 10001;
const root = process.getuid?.() === 0;
let reg: TestRegistry;
const tmp = tempDir('container-user');

before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  tmp.remove();
});

test('apply with copies as a uid with HOME=/ (no home to write): auth files go to a private folder under $TMPDIR', async () => {
  const uid = root ? UID : process.getuid!();
  await pushImage(reg, 'app', ['v1'], { seed: 'container-user-v1' });
  const work = join(tmp.dir, 'work');
  const temp = join(tmp.dir, 'tmp');
  mkdirSync(work);
  mkdirSync(temp);
  chmodSync(temp, 0o1777); // a shared, sticky temp folder, as /tmp is (mkdir's mode is cut by the umask)
  writeFile(work, 'config.yml', `registries:\n  r:\n    registry: ${reg.url}\n    repositories: [app]\nsync-policy:\n  from: r\n  to: r\n  replace: [{ old: "", new: mirror }]\n`);
  if (root) {
    // The mounted /work belongs to the user regmgr runs as; the folders above it let it through.
    chmodSync(tmp.dir, 0o755);
    chownSync(work, UID, UID);
    chownSync(join(work, 'config.yml'), UID, UID);
  }
  const env = { HOME: '/', TMPDIR: temp, XDG_RUNTIME_DIR: '', XDG_CACHE_HOME: '' };
  const as = (args: string[]) => runCli(args, env, undefined, work, root ? ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--'] : []);
  const plan = await as(['plan', '-c', 'config.yml', '-out', 'plan.json']);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  const apply = await as(['apply', 'plan.json']);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.match(apply.stdout, /Apply complete: 1 copied/);
  assert.deepEqual(Object.keys(await readTags(reg, 'mirror/app')), ['v1']);
  const priv = join(temp, `regmgr-${uid}`);
  assert.ok(existsSync(join(priv, 'auth')), `the private folder ${priv}/auth was used`);
  const st = statSync(priv);
  assert.equal(st.uid, uid);
  assert.equal(st.mode & 0o777, 0o700);
  rmSync(priv, { recursive: true, force: true });
});

test('a private folder under $TMPDIR that another user made is refused, never worked around', { skip: !root && 'making a folder of another user needs root' }, () => {
  const temp = join(tmp.dir, 'planted');
  mkdirSync(temp, { mode: 0o1777 });
  mkdirSync(join(temp, 'regmgr-0'), { mode: 0o777 });
  chownSync(join(temp, 'regmgr-0'), 65534, 65534); // planted by nobody, for root's uid
  const file = writeFile(tmp.dir, 'a-file', '');
  assert.throws(() => privateDir({ HOME: file, TMPDIR: temp }), /^Error: refusing to keep credentials in .*planted\/regmgr-0: it belongs to uid 65534, not to this user \(uid 0\)$/);
});

test('no folder can be made: one line names each place tried and the variable to set', () => {
  const uid = process.getuid!();
  // A regular file where a folder would be: nothing can be made below it, even by root.
  const file = writeFile(tmp.dir, 'not-a-folder', '');
  assert.throws(
    () => privateDir({ HOME: file, TMPDIR: file }),
    new RegExp(`^Error: no private folder for credentials: cannot create ${file}/\\.cache/regmgr/auth \\(ENOTDIR\\), ${file}/regmgr-${uid}/auth \\(ENOTDIR\\); set XDG_RUNTIME_DIR \\(or XDG_CACHE_HOME\\) to a folder this user owns and may write$`),
  );
});
