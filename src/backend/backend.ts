import type { Config } from '../config/model.js';
import type { State } from '../state/model.js';
import type { StateWrite } from '../state/file.js';
import type { LockInfo } from '../apply/lock.js';

/** A lock held by this process; release it exactly once. */
export interface HeldLock {
  info: LockInfo;
  release(): Promise<void>;
}

/**
 * A plan's journal kept beside the state (backend pg), so that another machine can
 * resume or restore an apply: the same HMAC'd lines as the local journal file, in order.
 */
export interface JournalStore {
  /** The journal's text for a plan, or undefined when the backend has none. */
  load(planSha: string): Promise<string | undefined>;
  /** Copies each line the local journal appends, in order; `durable()` waits until all are stored. */
  mirror(planSha: string, already: number): JournalMirror;
}

export interface JournalMirror {
  push(line: string): void;
  /** Resolves once every pushed line is stored; rejects (with the database's error) when one could not be. */
  durable(): Promise<void>;
}

/**
 * Where the state lives and how applies exclude each other: a file and a lock beside it
 * (one machine), or a PostgreSQL database (many). Commands see this, never which one.
 */
export interface StateBackend {
  /** For messages: "registry.state.json", "PostgreSQL workspace team-a". */
  readonly where: string;
  read(): Promise<State | undefined>;
  /** Writes the next serial; `prev` is what this process read under the lock. */
  write(prev: State | undefined, next: StateWrite): Promise<State>;
  /** Stores a state as it is, lineage and serial kept (state migrate); refuses to overwrite one unless `force`. */
  import(s: State, force: boolean): Promise<void>;
  /** Takes the lock, waiting up to `timeoutMs` for its holder. */
  lock(what: string, notice: (msg: string) => void, timeoutMs: number): Promise<HeldLock>;
  /** Releases a lock by its id (force-unlock). */
  forceUnlock(id: string): Promise<LockInfo | { malformed: string }>;
  /** Backend pg: journals beside the state. */
  readonly journals?: JournalStore;
  close(): Promise<void>;
}

/** The backend a config names. PostgreSQL's client is loaded only when a config asks for it. */
export async function openBackend(config: Config, env: NodeJS.ProcessEnv): Promise<StateBackend> {
  if (config.stateBackend.kind === 'pg') {
    const { openPgBackend } = await import('./pg.js');
    return openPgBackend(config, env);
  }
  const { FileBackend } = await import('./file.js');
  return new FileBackend(config.statePath);
}
