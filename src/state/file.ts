import { randomUUID } from 'node:crypto';
import { writeFileAtomicPieces } from '../util/atomic.js';
import { FileError } from '../util/file-error.js';
import { writeCanonical } from '../util/canonical.js';
import { readJsonFile, type JsonFileLimits } from '../util/json-file.js';
import { DELETED_TAGS_LIMIT, HISTORY_LIMIT, STATE_FORMAT_VERSION, type DeletedTags, type State, type StateEvent, type StateSnapshot } from './model.js';
import { VERSION } from '../version.js';
import { isDigest, repositoryProblem, tagProblem } from '../oci/names.js';
import { quoted } from '../util/inert.js';
import { REGISTRY_NAME } from '../config/registry-name.js';

export class StateFileError extends FileError {
  override name = 'StateFileError';
}

/**
 * The state at `file`, or undefined when there is none yet. Written in pieces, a state
 * can be more text than one string holds: it is read as a plan file is (json-file.ts).
 * `limits`: for tests.
 */
export function readState(file: string, limits?: JsonFileLimits): State | undefined {
  let value: unknown;
  try {
    value = readJsonFile(file, limits);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof SyntaxError) throw new StateFileError(file, 'not a state file: invalid JSON');
    throw new StateFileError(file, `cannot read state: ${(e as Error).message}`);
  }
  return checkState(value, file);
}

/** A state's text, checked as from a file (`where` names it in errors): from a file or a database alike. */
export function parseState(text: string, where: string): State {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StateFileError(where, 'not a state file: invalid JSON');
  }
  return checkState(value, where);
}

function checkState(value: unknown, where: string): State {
  const s = value as State;
  if (s?.format_version !== STATE_FORMAT_VERSION || typeof s.lineage !== 'string' || !Number.isInteger(s.serial)) {
    throw new StateFileError(where, `not a regmgr state file of format ${STATE_FORMAT_VERSION}`);
  }
  const bad = snapshotProblem(s.snapshot) ?? historyProblem(s.history) ?? deletedProblem(s.deleted_tags);
  if (bad) throw new StateFileError(where, `not a valid state file: ${bad}`);
  return s;
}

/** A state as it is stored: canonical JSON, so two backends holding one state hold the same text. */
export function stateText(s: State): string {
  const parts: string[] = [];
  writeStateText(s, (p) => void parts.push(p));
  return parts.join('');
}

/**
 * The same text in pieces of ~64 KiB, for a file: no sorted copy of the state and no
 * whole text beside it (500,000 tags: 624 -> 332 MiB at the peak of a write; at ~225
 * bytes a tag, 2,400,000 tags are more text than one V8 string holds).
 */
function writeStateText(s: State, write: (piece: string) => void): void {
  writeCanonical(s, write, '  ');
  write('\n');
}

const WRITERS = new Set(['apply', 'refresh', 'restore']);
const SHA256 = /^[0-9a-f]{64}$/;

function historyProblem(history: unknown): string | undefined {
  if (history === undefined) return undefined;
  if (!Array.isArray(history) || history.length > HISTORY_LIMIT) return `history is not a list of at most ${HISTORY_LIMIT} entries`;
  for (const [i, e] of history.entries()) {
    const where = `history[${i}]`;
    if (!isPlainMap(e) || !Number.isInteger(e.serial) || !WRITERS.has(e.written_by) || typeof e.written_at !== 'string' || Number.isNaN(Date.parse(e.written_at))) return `${where} is not a state write (serial, written_by, written_at)`;
    if (e.plan_sha256 !== undefined && !(typeof e.plan_sha256 === 'string' && SHA256.test(e.plan_sha256))) return `${where}.plan_sha256 is not a sha256`;
    if (e.plan_created_at !== undefined && (typeof e.plan_created_at !== 'string' || Number.isNaN(Date.parse(e.plan_created_at)))) return `${where}.plan_created_at is not a time`;
    if (e.changed !== undefined) {
      if (!Array.isArray(e.changed)) return `${where}.changed is not a list`;
      for (const c of e.changed) {
        const [reg, ...rest] = typeof c === 'string' ? c.split('/') : [];
        if (!reg || !REGISTRY_NAME.test(reg) || repositoryProblem(rest.join('/'))) return `${where}.changed names ${quoted(String(c))}, not registry/repository`;
      }
    }
  }
  return undefined;
}

function deletedProblem(deleted: unknown): string | undefined {
  if (deleted === undefined) return undefined;
  if (!isPlainMap(deleted)) return 'deleted_tags is not a mapping';
  for (const [reg, repos] of Object.entries(deleted)) {
    if (!REGISTRY_NAME.test(reg) || !isPlainMap(repos)) return `deleted_tags.${quoted(reg)} is not a registry's mapping`;
    for (const [repo, tags] of Object.entries(repos)) {
      if (repositoryProblem(repo)) return `deleted_tags.${reg}: repository ${quoted(repo)} ${repositoryProblem(repo)}`;
      if (!Array.isArray(tags) || tags.length > DELETED_TAGS_LIMIT) return `deleted_tags.${reg}.${repo} is not a list of at most ${DELETED_TAGS_LIMIT} tags`;
      for (const t of tags) if (typeof t !== 'string' || tagProblem(t)) return `deleted_tags.${reg}.${repo}: ${typeof t === 'string' ? tagProblem(t) : 'a tag is not a string'}`;
    }
  }
  return undefined;
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
        if (t.size !== undefined && !(Number.isSafeInteger(t.size) && t.size >= 0)) return `${reg}/${repo}:${tag} has a size that is not a whole number of bytes`;
      }
    }
  }
  return undefined;
}

function isPlainMap(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface StateWrite extends Pick<State, 'written_by' | 'apply' | 'registries' | 'snapshot'> {
  /** What the history says of this write, beyond who wrote it and when. */
  event?: Omit<StateEvent, 'serial' | 'written_by' | 'written_at'>;
  /** Tags this write deleted, added to the state's record of deleted tags. */
  deleted?: DeletedTags;
}

/**
 * The next version of the state: same lineage (a new one when there was no state),
 * serial + 1, one more history entry. Pure: a backend stores it.
 */
export function nextState(prev: State | undefined, next: StateWrite): State {
  const { event, deleted, ...rest } = next;
  const serial = (prev?.serial ?? 0) + 1;
  const writtenAt = new Date().toISOString();
  const entry: StateEvent = { serial, written_by: next.written_by, written_at: writtenAt, ...event };
  return {
    format_version: STATE_FORMAT_VERSION,
    lineage: prev?.lineage ?? randomUUID(),
    serial,
    regmgr_version: VERSION,
    written_at: writtenAt,
    ...rest,
    history: [...(prev?.history ?? []), entry].slice(-HISTORY_LIMIT),
    deleted_tags: addDeleted(prev?.deleted_tags ?? {}, deleted ?? {}),
  };
}

/** Writes the next version of the state to a file, atomically (temp file, fsync, rename), readable by the owner only. */
export function writeState(file: string, prev: State | undefined, next: StateWrite): State {
  const s = nextState(prev, next);
  writeFileAtomicPieces(file, (write) => writeStateText(s, write), 0o600);
  return s;
}

/** Writes a state as it is (state migrate): its lineage, serial and history kept. */
export function writeStateAsIs(file: string, s: State): void {
  writeFileAtomicPieces(file, (write) => writeStateText(s, write), 0o600);
}

/** `base` with `more` appended per repository, each name once, the newest kept. */
function addDeleted(base: DeletedTags, more: DeletedTags): DeletedTags {
  const out: DeletedTags = structuredClone(base);
  for (const [reg, repos] of Object.entries(more)) {
    for (const [repo, tags] of Object.entries(repos)) {
      const r = ((out[reg] ??= {})[repo] ??= []);
      const names = [...r.filter((t) => !tags.includes(t)), ...tags];
      r.splice(0, r.length, ...names.slice(-DELETED_TAGS_LIMIT));
    }
  }
  return out;
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
