import { constants, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryEndpoint } from '../config/model.js';
import { scrub, type Credentials } from '../util/secret.js';
import { inert } from '../util/inert.js';
import { isAlive } from '../util/process.js';
import { privateDir } from '../util/private-dir.js';

/** A failed skopeo run: the command (no secrets are ever on it), exit code and stderr. */
export class SkopeoError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    // skopeo repeats registries' answers on stderr: scrubbed and made inert like them.
    super(inert(scrub(`skopeo ${args.join(' ')}: ${timedOut ? 'timed out' : `exit ${exitCode}`}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
    this.name = 'SkopeoError';
  }
}

export interface CopySide {
  endpoint: RegistryEndpoint;
  credentials?: Credentials;
  repository: string;
}

export const AUTH_PREFIX = 'regmgr-auth-';

/**
 * kill -9 leaves no chance to clean up: the next run removes auth folders whose
 * process (named in the folder) is no longer running. Only this user's own entries, in
 * this user's private folder; a sweep that cannot remove something never fails a run.
 */
export function sweepStaleAuthDirs(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = new RegExp(`^${AUTH_PREFIX}(\\d+)-`).exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    try {
      const st = lstatSync(join(dir, name));
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // Left for a later run (or the user): it holds nothing of this run's.
    }
  }
}

// execa takes ~115 ms to load: only an apply with copies pays for it, from the runner's
// construction on, so that it loads while apply reads the registries.
let execaModule: Promise<typeof import('execa')> | undefined;
async function execa(file: string, args: readonly string[], options: import('execa').Options) {
  return (await (execaModule ??= import('execa'))).execa(file, args, options);
}

// Every temporary auth folder still on disk; removed on exit, including Ctrl-C and errors.
const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
});

/**
 * The one subprocess boundary. Credentials reach skopeo only through a containers
 * auth file (mode 0600 in a private temp folder, removed afterwards), never on its
 * command line, where `ps` would show them.
 */
export class SkopeoRunner {
  constructor(
    readonly bin = 'skopeo',
    /** How long skopeo may take for one image (a batch: that much per image in it). */
    readonly timeoutMs = 10 * 60_000,
    /** Where auth files live: a folder of this user's only (see privateDir). */
    readonly authRoot = privateDir(),
  ) {
    sweepStaleAuthDirs(authRoot);
    execaModule ??= import('execa');
  }

  /**
   * Checks that skopeo runs here, before the first action: a missing binary must not
   * surface as one failure per copy halfway through an apply.
   */
  async check(): Promise<void> {
    const res = await execa(this.bin, ['--version'], { reject: false, timeout: 30_000, stdin: 'ignore' });
    if ((res as { code?: string }).code === 'ENOENT' || res.exitCode === undefined) {
      throw new Error(`skopeo is not installed (or not on PATH as '${this.bin}'); this plan copies images, which regmgr does with skopeo: install it (Debian/Ubuntu: apt-get install -y skopeo) and run apply again; nothing was changed`);
    }
    if (res.exitCode !== 0) throw new Error(`'${this.bin} --version' failed (exit ${res.exitCode}): ${inert(String(res.stderr ?? '')).slice(0, 300)}; nothing was changed`);
  }

  /** skopeo copy --all --preserve-digests SRC@DIGEST DST:TAG. */
  async copy(src: CopySide & { digest: string }, dst: CopySide & { tag: string }, signal?: AbortSignal): Promise<void> {
    await this.#run([src, dst], signal, this.timeoutMs, (dir) => [
      'copy',
      '--all',
      '--preserve-digests',
      '--retry-times',
      '2',
      ...tlsArgs('src', src.endpoint, dir),
      ...tlsArgs('dest', dst.endpoint, dir),
      `docker://${src.endpoint.host}/${src.repository}@${src.digest}`,
      `docker://${dst.endpoint.host}/${dst.repository}:${dst.tag}`,
    ]);
  }

  /**
   * One skopeo process for many images: each source digest is pushed, untagged and
   * with its digest, into `dst.repository`, which must end in the source repositories'
   * own last name (skopeo sync names a destination DEST/<last name>@<digest>; it cannot
   * rename, and it cannot pin a digest and set a tag at once). The caller tags. Why: a
   * copy process spent ~75 ms of CPU here before its first byte, a sync ~13 ms an
   * image. `--keep-going`: one bad image does not stop the others.
   */
  async syncDigests(src: Omit<CopySide, 'repository'> & { images: ReadonlyMap<string, readonly string[]> }, dst: CopySide, signal?: AbortSignal): Promise<void> {
    const slash = dst.repository.lastIndexOf('/');
    for (const repo of src.images.keys()) {
      if (!syncNames(repo, dst.repository)) throw new Error(`skopeo sync cannot copy ${repo} into ${dst.repository}: the last names differ`);
    }
    const images = [...src.images.values()].reduce((n, ds) => n + ds.length, 0);
    await this.#run([src, dst], signal, this.timeoutMs * images, (dir) => {
      // JSON is YAML: no YAML writer needed, and every name in it was validated (oci/names).
      const source = join(dir, 'images.yaml');
      const cert = src.endpoint.ca && !tlsOff(src.endpoint) ? certDir('src', src.endpoint.ca.pem, dir) : undefined;
      const entry = { 'tls-verify': !tlsOff(src.endpoint), ...(cert ? { 'cert-dir': cert } : {}), images: Object.fromEntries([...src.images].map(([r, ds]) => [r, [...ds]])) };
      writeFileSync(source, JSON.stringify({ [src.endpoint.host]: entry }), { mode: 0o600, flag: 'wx' });
      return [
        'sync',
        '--all',
        '--preserve-digests',
        '--keep-going',
        '--retry-times',
        '2',
        ...tlsArgs('dest', dst.endpoint, dir),
        '--src',
        'yaml',
        '--dest',
        'docker',
        source,
        slash < 0 ? dst.endpoint.host : `${dst.endpoint.host}/${dst.repository.slice(0, slash)}`,
      ];
    });
  }

  /**
   * Runs skopeo with credentials in a fresh private folder: a containers auth file for
   * the sides that have them, and whatever `args` writes there (cert dirs, a sync list).
   */
  async #run(sides: Array<Omit<CopySide, 'repository'>>, signal: AbortSignal | undefined, timeoutMs: number, args: (dir: string) => string[]): Promise<void> {
    const dir = mkdtempSync(join(this.authRoot, `${AUTH_PREFIX}${process.pid}-`));
    liveDirs.add(dir);
    try {
      const authFile = join(dir, 'auth.json');
      const auths: Record<string, { auth: string }> = {};
      for (const side of sides) {
        if (side.credentials) auths[side.endpoint.host] = { auth: Buffer.from(`${side.credentials.username}:${side.credentials.password.reveal()}`).toString('base64') };
      }
      // A new file, never one planted in its place.
      const fd = openSync(authFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, JSON.stringify({ auths }));
      } finally {
        closeSync(fd);
      }
      const [command, ...rest] = args(dir);
      const argv = [command, '--authfile', authFile, ...rest];
      const res = await execa(this.bin, argv, { reject: false, timeout: timeoutMs, cancelSignal: signal, stdin: 'ignore', env: { ...process.env, REGISTRY_AUTH_FILE: authFile } });
      if (res.exitCode !== 0 || res.failed) throw new SkopeoError(argv, res.exitCode, String(res.stderr ?? ''), Boolean(res.timedOut));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
  }
}

/** The TLS options of one side: off, or a registry's ca-file as a cert dir holding ca.crt (containers' convention). */
function tlsArgs(side: 'src' | 'dest', ep: RegistryEndpoint, dir: string): string[] {
  if (tlsOff(ep)) return [`--${side}-tls-verify=false`];
  return ep.ca ? [`--${side}-cert-dir`, certDir(side, ep.ca.pem, dir)] : [];
}

function certDir(side: 'src' | 'dest', pem: string, dir: string): string {
  const d = join(dir, `${side}-certs`);
  mkdirSync(d, { mode: 0o700 });
  writeFileSync(join(d, 'ca.crt'), pem, { mode: 0o600, flag: 'wx' });
  return d;
}

/** Whether skopeo sync can copy from `src` into `dst`: it names a destination after the source's last name. */
export function syncNames(src: string, dst: string): boolean {
  return src.slice(src.lastIndexOf('/') + 1) === dst.slice(dst.lastIndexOf('/') + 1);
}

// skopeo does not treat 127.0.0.1 as insecure: plain HTTP and skipped verification both
// need tls-verify=false (registry-facts.md).
function tlsOff(ep: RegistryEndpoint): boolean {
  return ep.plainHttp || ep.insecure;
}
