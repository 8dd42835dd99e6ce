import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, spawn, tempDir, track } from './processes.js';

/**
 * A real PostgreSQL 15 (Debian's postgresql-15) for one test file: initdb into a temp
 * folder, the server on a free 127.0.0.1 port (and a socket in that folder, never the
 * system's), a password-protected role, stopped by its PID. Run as root (CI), initdb and
 * the server run as the `postgres` user, which PostgreSQL requires.
 */
export interface TestPostgres {
  port: number;
  /** postgres://regmgr:<password>@127.0.0.1:<port>/postgres */
  url: string;
  password: string;
  pid: number;
  /** Stops the server (fast shutdown: every client's connection is ended), by PID. */
  stop(): Promise<void>;
  /** Starts it again on the same data and port. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
}

export function postgresBin(): string {
  const dir = process.env.REGMGR_PG_BINDIR ?? '/usr/lib/postgresql/15/bin';
  if (!existsSync(join(dir, 'initdb'))) throw new Error(`PostgreSQL 15 is not installed (${dir}/initdb): apt-get install -y postgresql-15, or set REGMGR_PG_BINDIR`);
  return dir;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const tmp = tempDir('pg');
  const data = join(tmp.dir, 'data');
  const sock = join(tmp.dir, 'sock');
  mkdirSync(sock);
  const password = randomBytes(12).toString('hex');
  writeFileSync(join(tmp.dir, 'pw'), `${password}\n`);
  // PostgreSQL refuses to run as root: as root, everything runs as the postgres user.
  const asUser = process.getuid?.() === 0 ? (() => {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chmodSync(tmp.dir, 0o755);
    for (const p of [tmp.dir, sock, join(tmp.dir, 'pw')]) chownSync(p, uid, gid);
    return { uid, gid };
  })() : {};
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'regmgr', '--auth=scram-sha-256', `--pwfile=${join(tmp.dir, 'pw')}`, '-E', 'UTF8', '--no-sync', '--no-instructions'], { ...asUser, stdio: 'pipe' });
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = track(spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', sock, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'logging_collector=off'], { ...asUser, stdio: ['ignore', 'ignore', 'pipe'] }));
    child = c;
    let log = '';
    // Ready when the server says so: an event, not a wait.
    await new Promise<void>((resolve, reject) => {
      c.stderr!.on('data', (d) => {
        log += d;
        if (/database system is ready to accept connections/.test(log)) resolve();
      });
      c.once('exit', (code) => reject(new Error(`postgres exited (${code}) before it was ready: ${log.slice(-2000)}`)));
    });
  };
  await start();
  const pg: TestPostgres = {
    port,
    password,
    url: `postgres://regmgr:${password}@127.0.0.1:${port}/postgres`,
    get pid() {
      return child!.pid!;
    },
    start,
    async stop() {
      const c = child!;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      process.kill(c.pid!, 'SIGINT');
      await exited;
    },
    async remove() {
      await pg.stop();
      tmp.remove();
    },
  };
  return pg;
}
