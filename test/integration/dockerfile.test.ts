import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join } from 'node:path';
import { tempDir } from '../helpers/processes.js';

// This machine has no Docker engine, and buildah (which runs here) cannot fetch the
// node:20-slim base image: Docker Hub is not reachable. So the Dockerfile's own commands
// are run here, in order, in a scratch folder per stage that stands in for the image's
// file system (/src, /tmp, /work and /usr/local are folders in it). Every instruction
// must be one this test knows how to check: a new kind of line fails the test until it
// is taught here. What cannot run here is checked instead, and said so below:
// - apt-get install (needs root and changes this machine): each package must be a
//   Debian package installed here;
// - useradd: the final commands run under that uid, which owns nothing in the image;
// - npm reaches no registry in a test: it runs offline from the cache that `npm ci` and
//   scripts/warm-npm-cache.sh filled (a global install of a .tgz needs registry metadata).
const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const tmp = tempDir('dockerfile');
after(() => tmp.remove());

interface Instruction { op: string; args: string; line: number }

/** Dockerfile lines joined across `\` continuations, without comments; grouped by stage. */
function stages(text: string): Array<{ from: string; name?: string; steps: Instruction[] }> {
  const out: Array<{ from: string; name?: string; steps: Instruction[] }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let l = lines[i];
    while (l.endsWith('\\')) l = l.slice(0, -1) + ' ' + lines[++i].trim();
    if (!l.trim() || l.trim().startsWith('#')) continue;
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(l.trim())!;
    if (op === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      out.push({ from, name, steps: [] });
    } else out.at(-1)!.steps.push({ op, args, line: start });
  }
  return out;
}

test('the Dockerfile: its commands, run in a scratch folder per stage, give a regmgr that runs as a non-root user', async () => {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const all = stages(text);
  assert.deepEqual(all.map((s) => s.from), ['node:20-slim', 'node:20-slim'], 'Node 20 slim, in both stages');
  chmodSync(tmp.dir, 0o755); // the non-root user must reach the stand-in for /usr/local
  const hostCache = (await run('npm', ['config', 'get', 'cache'])).stdout.trim();
  const fsOf = new Map<string, string>();
  let user: number | undefined;
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let workdir = '/';
  let fsRoot = '';

  // A path of the image, in this stage's scratch folder.
  const at = (p: string) => join(fsRoot, p);
  const inImage = (command: string) => command.replace(/(^|[\s=])(\/(?:src|tmp|work|usr\/local)(?=[/\s]|$))/g, (_m, pre, p) => `${pre}${at(p)}`);

  for (const [n, stage] of all.entries()) {
    fsRoot = join(tmp.dir, `stage-${n}`);
    workdir = '/';
    for (const d of ['tmp', 'usr/local', 'work']) mkdirSync(at(d), { recursive: true });
    if (stage.name) fsOf.set(stage.name, fsRoot);
    for (const { op, args, line } of stage.steps) {
      const where = `Dockerfile:${line}: ${op} ${args}`;
      const env = { ...process.env, npm_config_offline: 'true', npm_config_prefix: at('/usr/local'), npm_config_update_notifier: 'false' };
      if (op === 'WORKDIR') {
        workdir = args;
        mkdirSync(at(workdir), { recursive: true });
      } else if (op === 'COPY' && args === '. .') {
        // The build context: the checkout but for .dockerignore's names.
        cpSync(root, at(workdir), {
          recursive: true,
          filter: (src) => !ignored.some((pat) => (pat.startsWith('*') ? basename(src).endsWith(pat.slice(1)) : src === join(root, pat))),
        });
      } else if (op === 'COPY' && args.startsWith('--from=')) {
        const [, from, src, dest] = /^--from=(\S+)\s+(\S+)\s+(\S+)$/.exec(args)!;
        mkdirSync(dirname(at(dest)), { recursive: true });
        copyFileSync(join(fsOf.get(from)!, src), at(dest));
      } else if (op === 'RUN' && args.startsWith('apt-get update && apt-get install')) {
        const [, pkgs] = /apt-get install -y --no-install-recommends ([a-z0-9 .+-]+?) &&/.exec(args)!;
        for (const p of pkgs.split(' ')) {
          const s = await run('dpkg-query', ['-W', '-f', '${Status}', p]);
          assert.equal(s.stdout, 'install ok installed', `${where}: ${p} is a Debian package (installed here)`);
        }
      } else if (op === 'RUN' && args.startsWith('useradd')) {
        user = Number(/--uid (\d+)/.exec(args)![1]);
      } else if (op === 'RUN') {
        // The --cache of the image is this machine's npm cache (offline), not emptied by the rm.
        if (args.includes('--cache /tmp/npm-cache')) symlinkSync(hostCache, at('/tmp/npm-cache'));
        await run('sh', ['-ec', inImage(args)], { cwd: at(workdir), env, maxBuffer: 64 << 20 }).catch((e) => assert.fail(`${where}\n${e.message}\n${e.stderr ?? ''}`));
      } else if (op === 'USER') {
        assert.equal(args, `${user}:${user}`, `${where}: the user made by useradd`);
        assert.notEqual(user, 0);
      } else if (op === 'ENTRYPOINT') entrypoint = JSON.parse(args);
      else if (op === 'CMD') cmd = JSON.parse(args);
      else assert.fail(`${where}: this test does not know how to check this instruction; teach it`);
    }
  }

  // docker run IMAGE, then docker run IMAGE --version and validate, as that user.
  assert.ok(user && entrypoint.length, 'a USER and an ENTRYPOINT');
  copyFileSync(join(root, 'examples', 'seed-config.yml'), at('/work/config.yml'));
  const asUser = process.getuid?.() === 0 ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups', '--'] : [];
  const image = async (...args: string[]) => {
    const [exe, ...rest] = [...asUser, ...entrypoint, ...args];
    const env = { PATH: `${at('/usr/local/bin')}:${process.env.PATH}`, HOME: '/nonexistent', NO_COLOR: '1' };
    return run(exe, rest, { cwd: at(workdir), env });
  };
  assert.match((await image(...cmd)).stdout, /regmgr plan/);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal((await image('--version')).stdout.trim(), pkg.version);
  assert.match((await image('validate', '-c', 'config.yml')).stdout, /config\.yml: valid\. 2 registries \(harbor, aliyun\)/);
});
