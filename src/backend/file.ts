import { existsSync } from 'node:fs';
import { acquireLock, forceUnlock, LockError } from '../apply/lock.js';
import { readState, writeState, writeStateAsIs, StateFileError, type StateWrite } from '../state/file.js';
import type { State } from '../state/model.js';
import type { HeldLock, StateBackend } from './backend.js';
import { waitFor } from './wait.js';

/** The state in a file, and a lock file beside it: one machine (README "State"). */
export class FileBackend implements StateBackend {
  constructor(readonly path: string) {}

  get where(): string {
    return this.path;
  }

  async read(): Promise<State | undefined> {
    return readState(this.path);
  }

  async write(prev: State | undefined, next: StateWrite): Promise<State> {
    return writeState(this.path, prev, next);
  }

  async import(s: State, force: boolean): Promise<void> {
    if (!force && existsSync(this.path)) throw new StateFileError(this.path, 'a state is already there; pass --force to replace it');
    writeStateAsIs(this.path, s);
  }

  async lock(what: string, notice: (msg: string) => void, timeoutMs: number): Promise<HeldLock> {
    const held = await waitFor(timeoutMs, () => {
      try {
        return acquireLock(`${this.path}.lock`, what, notice);
      } catch (e) {
        // Held by another apply: wait for it, up to the timeout; anything else is final.
        if (e instanceof LockError && e.holder) return undefined;
        throw e;
      }
    }, () => acquireLock(`${this.path}.lock`, what, notice), () => notice(`waiting up to ${Math.round(timeoutMs / 1000)} s for the lock ${this.path}.lock`));
    return { info: held.info, release: async () => held.release() };
  }

  async forceUnlock(id: string) {
    return forceUnlock(`${this.path}.lock`, id);
  }

  async close(): Promise<void> {}
}
