import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic.js';
import { FileError } from '../util/file-error.js';
import { canonical } from '../plan/canonical.js';
import { STATE_FORMAT_VERSION, type State, type StateSnapshot } from './model.js';
import { VERSION } from '../version.js';

export class StateFileError extends FileError {}

/** The state at `file`, or undefined when there is none yet. */
export function readState(file: string): State | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(file, `cannot read state: ${(e as Error).message}`);
  }
  let s: State;
  try {
    s = JSON.parse(text);
  } catch {
    throw new StateFileError(file, 'not a state file: invalid JSON');
  }
  if (s?.format_version !== STATE_FORMAT_VERSION || typeof s.lineage !== 'string' || !Number.isInteger(s.serial)) {
    throw new StateFileError(file, `not a regmgr state file of format ${STATE_FORMAT_VERSION}`);
  }
  return s;
}

/**
 * Writes the next version of the state: same lineage (a new one when there was no state),
 * serial + 1, atomically (temp file, fsync, rename) and readable by the owner only.
 */
export function writeState(file: string, prev: State | undefined, next: Pick<State, 'written_by' | 'apply' | 'registries' | 'snapshot'>): State {
  const s: State = {
    format_version: STATE_FORMAT_VERSION,
    lineage: prev?.lineage ?? randomUUID(),
    serial: (prev?.serial ?? 0) + 1,
    regmgr_version: VERSION,
    written_at: new Date().toISOString(),
    ...next,
  };
  writeFileAtomic(file, JSON.stringify(canonical(s), null, 2) + '\n', 0o600);
  return s;
}

/** Overlays freshly read repositories onto a recorded snapshot (other repositories stay). */
export function overlay(base: StateSnapshot, fresh: StateSnapshot): StateSnapshot {
  const out: StateSnapshot = structuredClone(base);
  for (const [reg, repos] of Object.entries(fresh)) {
    out[reg] ??= {};
    for (const [repo, tags] of Object.entries(repos)) out[reg][repo] = structuredClone(tags);
  }
  return out;
}
