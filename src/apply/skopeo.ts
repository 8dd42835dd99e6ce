import { constants, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
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
    readonly timeoutMs = 10 * 60_000,
    /** Where auth files live: a folder of this user's only (see privateDir). */
    readonly authRoot = privateDir(),
  ) {
    sweepStaleAuthDirs(authRoot);
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
    const dir = mkdtempSync(join(this.authRoot, `${AUTH_PREFIX}${process.pid}-`));
    liveDirs.add(dir);
    try {
      const authFile = join(dir, 'auth.json');
      const auths: Record<string, { auth: string }> = {};
      for (const side of [src, dst]) {
        if (side.credentials) auths[side.endpoint.host] = { auth: Buffer.from(`${side.credentials.username}:${side.credentials.password.reveal()}`).toString('base64') };
      }
      // A new file, never one planted in its place.
      const fd = openSync(authFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, JSON.stringify({ auths }));
      } finally {
        closeSync(fd);
      }
      // A registry's ca-file reaches skopeo as a cert dir holding ca.crt (containers' convention).
      const certDir = (side: 'src' | 'dest', ep: RegistryEndpoint): string[] => {
        if (!ep.ca || tlsOff(ep)) return [];
        const d = join(dir, `${side}-certs`);
        mkdirSync(d, { mode: 0o700 });
        writeFileSync(join(d, 'ca.crt'), ep.ca.pem, { mode: 0o600, flag: 'wx' });
        return [`--${side}-cert-dir`, d];
      };
      const args = [
        'copy',
        '--all',
        '--preserve-digests',
        '--retry-times',
        '2',
        '--authfile',
        authFile,
        ...(tlsOff(src.endpoint) ? ['--src-tls-verify=false'] : certDir('src', src.endpoint)),
        ...(tlsOff(dst.endpoint) ? ['--dest-tls-verify=false'] : certDir('dest', dst.endpoint)),
        `docker://${src.endpoint.host}/${src.repository}@${src.digest}`,
        `docker://${dst.endpoint.host}/${dst.repository}:${dst.tag}`,
      ];
      const res = await execa(this.bin, args, { reject: false, timeout: this.timeoutMs, cancelSignal: signal, stdin: 'ignore', env: { ...process.env, REGISTRY_AUTH_FILE: authFile } });
      if (res.exitCode !== 0 || res.failed) throw new SkopeoError(args, res.exitCode, String(res.stderr ?? ''), Boolean(res.timedOut));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
  }
}

// skopeo does not treat 127.0.0.1 as insecure: plain HTTP and skipped verification both
// need tls-verify=false (registry-facts.md).
function tlsOff(ep: RegistryEndpoint): boolean {
  return ep.plainHttp || ep.insecure;
}
