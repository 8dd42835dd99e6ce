import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic.js';
import { FileError } from '../util/file-error.js';
import { canonical } from '../plan/canonical.js';
import { STATE_FORMAT_VERSION, type State, type StateSnapshot } from './model.js';
import { VERSION } from '../version.js';
import { isDigest, repositoryProblem, tagProblem } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { REGISTRY_NAME } from '../config/registry-name.js';

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
  const bad = snapshotProblem(s.snapshot);
  if (bad) throw new StateFileError(file, `not a valid state file: ${bad}`);
  return s;
}

/**
 * The snapshot's names are checked by the grammar before any of them is used as a key
 * (a `__proto__` key would reach Object.prototype) or shown.
 */
function snapshotProblem(snapshot: unknown): string | undefined {
  if (!isPlainMap(snapshot)) return 'snapshot is not a mapping';
  for (const [reg, repos] of Object.entries(snapshot)) {
    if (!REGISTRY_NAME.test(reg)) return `registry name ${quoted(reg)} is not an identifier`;
    if (!isPlainMap(repos)) return `snapshot.${reg} is not a mapping`;
    for (const [repo, tags] of Object.entries(repos)) {
      const rp = repositoryProblem(repo);
      if (rp) return `repository ${quoted(repo)} ${rp}`;
      if (!isPlainMap(tags)) return `snapshot.${reg}.${repo} is not a mapping`;
      for (const [tag, t] of Object.entries(tags)) {
        const tp = tagProblem(tag);
        if (tp) return tp;
        if (!isPlainMap(t) || typeof t.digest !== 'string' || !isDigest(t.digest)) return `${reg}/${repo}:${tag} has no valid digest`;
      }
    }
  }
  return undefined;
}

function isPlainMap(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
