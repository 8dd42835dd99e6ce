import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import type { Config } from '../config/model.js';
import { LockError, type LockInfo } from '../apply/lock.js';
import { nextState, parseState, stateText, type StateWrite } from '../state/file.js';
import type { State } from '../state/model.js';
import { registerSecret, scrub } from '../util/secret.js';
import { startTime } from '../util/process.js';
import type { HeldLock, JournalMirror, JournalStore, StateBackend } from './backend.js';
import { waitFor } from './wait.js';

/**
 * The state in PostgreSQL, as Terraform's `pg` backend keeps it: every write a new row
 * (serial) in one transaction, the lock a session-level advisory lock (the database
 * releases it when the holder's connection ends: a holder killed with -9 leaves no stale
 * lock) plus a row naming the holder, and each apply's journal, line by line, so that
 * another machine can resume or restore it. Tables are created on first use, versioned.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE regmgr_states (
     workspace text NOT NULL,
     serial integer NOT NULL,
     lineage text NOT NULL,
     body text NOT NULL,
     stored_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (workspace, serial)
   );
   CREATE TABLE regmgr_locks (
     workspace text PRIMARY KEY,
     info text NOT NULL,
     backend_pid integer NOT NULL
   );
   CREATE TABLE regmgr_journal_lines (
     workspace text NOT NULL,
     plan_sha256 text NOT NULL,
     seq integer NOT NULL,
     line text NOT NULL,
     PRIMARY KEY (workspace, plan_sha256, seq)
   );`,
];

/** Any constant: serialises the migrations of concurrent first uses. */
const MIGRATION_LOCK = 0x7265676d; // "regm"

export class PgStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgStateError';
  }
}

/** A database error in words, the connection string never in them. */
function dbError(where: string, e: unknown): PgStateError {
  const err = e as { message?: string; code?: string };
  return new PgStateError(`state backend pg (${where}): ${scrub(err.message ?? String(e))}${err.code ? ` [${err.code}]` : ''}`);
}

/** The advisory lock key of a workspace: 64 bits of its hash, as a signed bigint. */
function lockKey(workspace: string): string {
  return createHash('sha256').update(`regmgr-state-lock\0${workspace}`).digest().readBigInt64BE(0).toString();
}

export async function openPgBackend(config: Config, env: NodeJS.ProcessEnv): Promise<PgBackend> {
  const b = config.stateBackend;
  if (b.kind !== 'pg') throw new Error('internal: not a pg backend');
  const conn = env[b.connectionEnv];
  if (!conn) throw new PgStateError(`${config.file}: state.backend is pg, and the environment variable ${b.connectionEnv} (state.connection-env) that holds the connection string is not set`);
  let url: URL;
  try {
    url = new URL(conn);
  } catch {
    throw new PgStateError(`${b.connectionEnv} is not a connection string (postgres://user:password@host:port/database)`);
  }
  if (url.password) registerSecret(decodeURIComponent(url.password));
  registerSecret(conn);
  const backend = new PgBackend(conn, b.workspace, `PostgreSQL workspace ${b.workspace} (${url.hostname}:${url.port || 5432}${url.pathname})`);
  await backend.connect();
  return backend;
}

export class PgBackend implements StateBackend {
  readonly #conn: string;
  #db?: pg.Client;
  /** Set when the database was lost: nothing more may be written, the journal included. */
  #lost?: PgStateError;

  constructor(
    conn: string,
    readonly workspace: string,
    readonly where: string,
  ) {
    this.#conn = conn;
  }

  #client(): pg.Client {
    const c = new pg.Client({ connectionString: this.#conn, connectionTimeoutMillis: 10_000, query_timeout: 30_000, application_name: 'regmgr' });
    // A connection that drops later must not crash the process: it is reported where used.
    c.on('error', (e) => (this.#lost ??= dbError(this.where, e)));
    return c;
  }

  async connect(): Promise<void> {
    const c = this.#client();
    try {
      await c.connect();
    } catch (e) {
      throw dbError(this.where, e);
    }
    this.#db = c;
    await this.#migrate();
  }

  async #q<R extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.#lost) throw this.#lost;
    try {
      return await this.#db!.query<R>(text, values);
    } catch (e) {
      const err = dbError(this.where, e);
      // A connection error (not a refused statement) loses the database for this run.
      if (!(e as { code?: string }).code) this.#lost ??= err;
      throw err;
    }
  }

  async #migrate(): Promise<void> {
    await this.#q('BEGIN');
    try {
      await this.#q('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await this.#q('CREATE TABLE IF NOT EXISTS regmgr_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const { rows } = await this.#q<{ v: number | null }>('SELECT max(version) AS v FROM regmgr_migrations');
      const have = rows[0]?.v ?? 0;
      if (have > MIGRATIONS.length) throw new PgStateError(`${this.where}: the database is at schema version ${have}, newer than this regmgr knows (${MIGRATIONS.length}): upgrade regmgr`);
      for (let v = have + 1; v <= MIGRATIONS.length; v++) {
        await this.#q(MIGRATIONS[v - 1]);
        await this.#q('INSERT INTO regmgr_migrations (version) VALUES ($1)', [v]);
      }
      await this.#q('COMMIT');
    } catch (e) {
      await this.#q('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  async read(): Promise<State | undefined> {
    const { rows } = await this.#q<{ body: string }>('SELECT body FROM regmgr_states WHERE workspace = $1 ORDER BY serial DESC LIMIT 1', [this.workspace]);
    return rows.length ? parseState(rows[0].body, this.where) : undefined;
  }

  async write(prev: State | undefined, next: StateWrite): Promise<State> {
    const s = nextState(prev, next);
    try {
      await this.#q('INSERT INTO regmgr_states (workspace, serial, lineage, body) VALUES ($1, $2, $3, $4)', [this.workspace, s.serial, s.lineage, stateText(s)]);
    } catch (e) {
      if (/\[23505\]$/.test((e as Error).message)) throw new PgStateError(`${this.where}: serial ${s.serial} was written by someone else meanwhile (a writer without the lock); nothing written`);
      throw e;
    }
    return s;
  }

  async import(s: State, force: boolean): Promise<void> {
    await this.#q('BEGIN');
    try {
      const { rows } = await this.#q<{ n: string }>('SELECT count(*) AS n FROM regmgr_states WHERE workspace = $1', [this.workspace]);
      if (Number(rows[0].n) && !force) throw new PgStateError(`${this.where} already holds a state; pass --force to replace it`);
      await this.#q('DELETE FROM regmgr_states WHERE workspace = $1', [this.workspace]);
      await this.#q('INSERT INTO regmgr_states (workspace, serial, lineage, body) VALUES ($1, $2, $3, $4)', [this.workspace, s.serial, s.lineage, stateText(s)]);
      await this.#q('COMMIT');
    } catch (e) {
      await this.#q('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /** Serials stored for this workspace, newest first (state history). */
  async serials(): Promise<Array<{ serial: number; stored_at: string }>> {
    const { rows } = await this.#q<{ serial: number; stored_at: Date }>('SELECT serial, stored_at FROM regmgr_states WHERE workspace = $1 ORDER BY serial DESC LIMIT 100', [this.workspace]);
    return rows.map((r) => ({ serial: r.serial, stored_at: r.stored_at.toISOString() }));
  }

  async lock(what: string, notice: (msg: string) => void, timeoutMs: number): Promise<HeldLock> {
    const session = this.#client();
    try {
      await session.connect();
    } catch (e) {
      throw dbError(this.where, e);
    }
    const key = lockKey(this.workspace);
    const info: LockInfo = { id: randomUUID(), pid: process.pid, host: hostname(), since: new Date().toISOString(), what, pid_start: startTime(process.pid) };
    const tryOnce = async () => {
      const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      return rows[0].ok ? true : undefined;
    };
    const holderNow = async () => {
      const { rows } = await session.query<{ info: string }>('SELECT info FROM regmgr_locks WHERE workspace = $1', [this.workspace]);
      return rows[0] ? (JSON.parse(rows[0].info) as LockInfo) : undefined;
    };
    const waiting = async () => {
      const h = await holderNow();
      notice(`waiting up to ${Math.round(timeoutMs / 1000)} s for the lock of ${this.where}${h ? `, held by process ${h.pid} on ${h.host} (${h.what})` : ''}`);
    };
    try {
      await waitFor(timeoutMs, tryOnce, async () => {
        if (await tryOnce()) return true;
        const holder = await holderNow();
        throw new LockError(
          holder
            ? `locked: ${this.where} is held by process ${holder.pid} on ${holder.host} since ${holder.since} (${holder.what}); lock id ${holder.id}.\n` +
                `The database releases it when that process's connection ends (a crash or kill -9 included); wait for it (-lock-timeout=5m), or if it hangs: regmgr force-unlock ${holder.id} -c CONFIG`
            : `locked: ${this.where} is held by another session; run again`,
          holder,
        );
      }, waiting);
      // The row is for messages only: the advisory lock is what excludes.
      await session.query('INSERT INTO regmgr_locks (workspace, info, backend_pid) VALUES ($1, $2, pg_backend_pid()) ON CONFLICT (workspace) DO UPDATE SET info = EXCLUDED.info, backend_pid = EXCLUDED.backend_pid', [this.workspace, JSON.stringify(info)]);
    } catch (e) {
      await session.end().catch(() => undefined);
      if (e instanceof LockError) throw e;
      throw dbError(this.where, e);
    }
    // The advisory lock lives as long as this session: lost, another apply may take it,
    // so nothing more may change the registry (the journal's durable() then refuses).
    let released = false;
    session.on('end', () => {
      if (!released) this.#lost ??= new PgStateError(`${this.where}: the connection holding the lock was lost`);
    });
    return {
      info,
      release: async () => {
        released = true;
        try {
          await session.query('DELETE FROM regmgr_locks WHERE workspace = $1 AND backend_pid = pg_backend_pid()', [this.workspace]);
          await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
        } catch {
          // The session is gone: so is its lock.
        } finally {
          await session.end().catch(() => undefined);
        }
      },
    };
  }

  /** Ends the holder's session (the database then releases its lock) and removes the row. */
  async forceUnlock(id: string): Promise<LockInfo | { malformed: string }> {
    const { rows } = await this.#q<{ info: string; backend_pid: number }>('SELECT info, backend_pid FROM regmgr_locks WHERE workspace = $1', [this.workspace]);
    if (!rows.length) throw new LockError(`no lock row for ${this.where}`);
    const holder = JSON.parse(rows[0].info) as LockInfo;
    if (holder.id !== id) throw new LockError(`the lock of ${this.where} does not have id ${id}; nothing released. It is held by process ${holder.pid} on ${holder.host} since ${holder.since}`);
    await this.#q('SELECT pg_terminate_backend($1)', [rows[0].backend_pid]);
    await this.#q('DELETE FROM regmgr_locks WHERE workspace = $1', [this.workspace]);
    return holder;
  }

  readonly journals: JournalStore = {
    load: async (planSha) => {
      const { rows } = await this.#q<{ line: string }>('SELECT line FROM regmgr_journal_lines WHERE workspace = $1 AND plan_sha256 = $2 ORDER BY seq', [this.workspace, planSha]);
      return rows.length ? rows.map((r) => `${r.line}\n`).join('') : undefined;
    },
    mirror: (planSha, already) => {
      let seq = already;
      let chain: Promise<void> = Promise.resolve();
      let failed: Error | undefined;
      const mirror: JournalMirror = {
        push: (line) => {
          const n = seq++;
          chain = chain.then(async () => {
            if (failed) return;
            try {
              await this.#q('INSERT INTO regmgr_journal_lines (workspace, plan_sha256, seq, line) VALUES ($1, $2, $3, $4)', [this.workspace, planSha, n, line]);
            } catch (e) {
              failed = e as Error;
            }
          });
        },
        durable: async () => {
          await chain;
          if (!failed && this.#lost) failed = this.#lost;
          if (failed) throw new PgStateError(`${failed.message}; the apply stops changing the registry (its journal could not be stored beside the state). Run it again once the database is back: it resumes from the journal`);
        },
      };
      return mirror;
    },
  };

  async close(): Promise<void> {
    await this.#db?.end().catch(() => undefined);
  }
}
