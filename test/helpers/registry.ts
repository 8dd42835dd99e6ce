import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { cleanEnv, freePort, spawn, stopPid, tempDir, track } from './processes.js';
import { selfSignedCert } from './tls.js';
import { startTokenServer, type TokenServer } from './token-server.js';

export interface RegistryOptions {
  auth?: 'htpasswd' | 'token';
  tls?: boolean;
  deleteEnabled?: boolean;
  users?: Record<string, string>;
  anonymousPull?: boolean;
  /** Token auth: the actions each listed user may have (others get all they ask for). */
  grants?: Record<string, string[]>;
  /** Serve this storage folder (another registry's `${dir}/data`) instead of a new one. */
  dataDir?: string;
}

export interface TestRegistry {
  /** e.g. http://127.0.0.1:5123 */
  url: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  configFile: string;
  tls: boolean;
  certFile?: string;
  token?: TokenServer;
  users: Record<string, string>;
  /** An Authorization header for the helpers' own pushes (any scope). */
  authFor(scope: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

export const TEST_USER = 'tester';
export const TEST_PASSWORD = 's3cr3t-Pa55word-never-print';

/** Starts a real distribution registry on 127.0.0.1 with its own storage folder. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const tmp = tempDir('registry');
  const dir = tmp.dir;
  const users = opts.users ?? { [TEST_USER]: TEST_PASSWORD };
  const data = opts.dataDir ?? join(dir, 'data');
  if (!opts.dataDir) mkdirSync(data);
  const tlsFiles = opts.tls ? selfSignedCert(dir) : undefined;
  let token: TokenServer | undefined;
  let authYaml = '';
  if (opts.auth === 'htpasswd') {
    // bcrypt only (MD5 entries always fail); cost 5 keeps each request ~10 ms.
    const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`);
    writeFileSync(join(dir, 'htpasswd'), lines.join('\n') + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: regmgr-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (opts.auth === 'token') {
    token = await startTokenServer(dir, users, { anonymousPull: opts.anonymousPull, grants: opts.grants });
    authYaml = `auth:\n  token:\n    realm: ${token.realm}\n    service: ${token.service}\n    issuer: ${token.issuer}\n    rootcertbundle: ${token.certFile}\n`;
  }
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const configFile = join(dir, 'config.yml');
    writeFileSync(
      configFile,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${data}`,
        '  delete:',
        `    enabled: ${opts.deleteEnabled ?? true}`,
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${randomBytes(16).toString('hex')}`,
        ...(tlsFiles ? ['  tls:', `    certificate: ${tlsFiles.cert}`, `    key: ${tlsFiles.key}`] : []),
        authYaml,
      ].join('\n'),
    );
    const child = track(spawn('/usr/bin/docker-registry', ['serve', configFile], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const scheme = tlsFiles ? 'https' : 'http';
    const up = await waitUp(`${scheme}://127.0.0.1:${port}`, child, !!tlsFiles);
    if (!up) {
      await stopPid(child);
      if (tries < 3 && /address already in use/.test(stderr)) continue;
      await token?.close();
      tmp.remove();
      throw new Error(`docker-registry did not start: ${stderr.slice(-2000)}`);
    }
    const reg: TestRegistry = {
      url: `${scheme}://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      port,
      pid: child.pid!,
      dir,
      configFile,
      tls: !!tlsFiles,
      certFile: tlsFiles?.cert,
      token,
      users,
      async authFor(scope) {
        const [u, p] = Object.entries(users)[0];
        const basic = `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
        if (opts.auth === 'htpasswd') return basic;
        if (opts.auth === 'token') {
          const url = new URL(token!.realm);
          url.searchParams.set('service', token!.service);
          url.searchParams.set('scope', scope);
          const res = await fetch(url, { headers: { authorization: basic } });
          return `Bearer ${((await res.json()) as { token: string }).token}`;
        }
        return undefined;
      },
      async stop() {
        await stopPid(child);
        await token?.close();
        tmp.remove();
      },
    };
    return reg;
  }
}

async function waitUp(url: string, child: ReturnType<typeof spawn>, tls: boolean): Promise<boolean> {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connect: { rejectUnauthorized: !tls } });
  try {
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) return false;
      try {
        const res = await request(`${url}/v2/`, { dispatcher });
        await res.body.dump();
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    return false;
  } finally {
    await dispatcher.close();
  }
}
