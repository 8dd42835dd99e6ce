/** What a lock file (or the PostgreSQL backend's lock row) records of its holder. */
export interface LockInfo {
  id: string;
  pid: number;
  host: string;
  since: string;
  what: string;
  /**
   * When the holder's process started (clock ticks since boot, Linux), or null where
   * that cannot be read: a pid alive now is the holder only if it started then too (pids
   * are reused, and pid 1 is always alive).
   */
  pid_start: number | null;
}

/** A lock that could not be taken or released; `holder` is who holds it, where known. */
export class LockError extends Error {
  constructor(
    message: string,
    readonly holder?: LockInfo,
  ) {
    super(message);
    this.name = 'LockError';
  }
}
