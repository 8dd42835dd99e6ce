import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fsyncSync, lstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { scrub } from '../util/secret.js';
import { privateDir } from '../util/private-dir.js';
import { ownFileProblem } from '../util/own-file.js';
import { isDigest, tagProblem } from '../oci/names.js';
import { quoted } from '../util/inert.js';

/**
 * `saved`: the manifest's exact bytes, recorded before its DELETE so that a tag lost to
 * that DELETE (or every tag of the action, by `regmgr restore`) can be put back.
 * `lost`: a tag the plan did not name vanished with the DELETE; `restored`: put back.
 */
export type JournalEvent = 'start' | 'done' | 'drifted' | 'blocked' | 'failed' | 'saved' | 'lost' | 'restored';

export interface JournalEntry {
  t: string;
  id: string;
  event: JournalEvent;
  detail?: string;
  /** With `saved`: the manifest, base64, and its media type. */
  manifest?: string;
  media_type?: string;
  /** With `lost` and `restored`. */
  tag?: string;
}

/** What a journal says about one delete action, for repair and `regmgr restore`. */
export interface SavedManifest {
  bytes: Buffer;
  mediaType: string;
}

/** Events that describe an action's outcome; `saved`/`lost`/`restored` come alongside. */
const OUTCOME_EVENTS = new Set<JournalEvent>(['start', 'done', 'drifted', 'blocked', 'failed']);

/**
 * Append-only, one JSON line per event, so that a killed apply knows what it finished and
 * what it may have half-done. A line cut short by a crash (the last one) is ignored on read.
 * Each line is written at once (a killed process loses none) and fsync'd, with every line
 * before it, before the next request that changes a registry (`durable()`, `flush()`) and
 * at close: one fsync per change, not one per line. What a machine crash can still lose
 * is an outcome written after the last change: the next apply then checks that action
 * against the registry again, as it does any action not recorded done, and finds it done.
 *
 * A journal decides what apply skips ("done") and what restore puts back ("saved",
 * "lost"), so it is trusted only as regmgr's own: a regular file of this user that nobody
 * else may write, and every line carries an HMAC, keyed by a secret in this user's
 * private folder and bound to the plan's sha256. A journal committed to a repository,
 * planted by another user, or edited by hand fails that check.
 */
export class Journal {
  readonly #fd: number;
  readonly #key: Buffer;
  /** Last event per action id, as read at open and updated on each append. */
  readonly last = new Map<string, JournalEntry>();
  /** Actions whose request may have been sent (a 'start' was recorded). */
  readonly started = new Set<string>();
  /** Manifests saved before their DELETE, by action id. */
  readonly saved = new Map<string, SavedManifest>();
  /** Tags not named by the plan that a DELETE removed and apply put back, by action id. */
  readonly restored = new Map<string, Set<string>>();
  /** Backend pg: every line also goes beside the state, for another machine. */
  mirror?: { push(line: string): void; durable(): Promise<void> };
  /** Lines in the journal file, the header included. */
  lines = 0;
  /** Lines written since the last fsync. */
  #unsynced = false;

  constructor(
    readonly path: string,
    readonly planSha: string,
    env: NodeJS.ProcessEnv = process.env,
    mirrorFrom?: (linesInFile: number) => { push(line: string): void; durable(): Promise<void> },
    /** How a line reaches the disk (tests count the calls). */
    private readonly sync: (fd: number) => void = fsyncSync,
  ) {
    this.#key = journalKey(env);
    const existing = readOwn(path);
    if (existing) {
      const parsed = parseJournal(existing, planSha, this.#key);
      const bad = parsed.problem ?? parsed.invalid[0]?.why;
      if (bad) throw new JournalError(path, `${bad}. Apply trusts only journals it wrote; move this one away to apply from the start (every action checks the registry first)`);
      for (const [id, e] of parsed.last) this.last.set(id, e);
      for (const id of parsed.started) this.started.add(id);
      for (const [id, m] of parsed.saved) this.saved.set(id, m);
      for (const [id, t] of parsed.restored) this.restored.set(id, t);
      this.lines = existing.split('\n').filter((l) => l.trim()).length;
    }
    // Never through a symbolic link (it would append to whatever it points at); a new
    // journal is created exclusively, so nothing planted meanwhile is taken over.
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | (existing === undefined ? constants.O_CREAT | constants.O_EXCL : 0);
    try {
      this.#fd = openSync(path, flags, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new JournalError(path, 'it is a symbolic link: refusing to follow it');
      throw e;
    }
    this.mirror = mirrorFrom?.(this.lines);
    if (!existing) this.#write({ plan: planSha, t: new Date().toISOString() });
  }

  isDone(id: string): boolean {
    return this.last.get(id)?.event === 'done';
  }

  wasStarted(id: string): boolean {
    return this.started.has(id);
  }

  append(id: string, event: JournalEvent, detail?: string, extra: Pick<JournalEntry, 'tag'> = {}): void {
    const e: JournalEntry = { t: new Date().toISOString(), id, event, ...(detail ? { detail: scrub(detail) } : {}), ...extra };
    this.#write(e);
    if (OUTCOME_EVENTS.has(event)) this.last.set(id, e);
    if (event === 'start') this.started.add(id);
    if (event === 'restored' && extra.tag) this.restored.set(id, (this.restored.get(id) ?? new Set()).add(extra.tag));
  }

  /** Records a manifest's bytes; the DELETE that removes it is sent only after `durable()`. */
  save(id: string, m: SavedManifest): void {
    this.#write({ t: new Date().toISOString(), id, event: 'saved', media_type: m.mediaType, manifest: m.bytes.toString('base64') } satisfies JournalEntry);
    this.saved.set(id, m);
  }

  #write(obj: object) {
    const text = JSON.stringify(obj);
    const line = JSON.stringify({ ...obj, mac: mac(this.#key, this.planSha, text) });
    writeSync(this.#fd, `${line}\n`);
    this.#unsynced = true;
    this.lines++;
    this.mirror?.push(line);
  }

  /**
   * Every line so far on the disk (the file only, not the database): before a request
   * that must not wait for the database, such as putting back a tag a DELETE took.
   */
  flush(): void {
    if (!this.#unsynced) return;
    this.sync(this.#fd);
    this.#unsynced = false;
  }

  /**
   * Resolves once every line so far is stored where the apply must find it again: the
   * file and, with backend pg, the database. Awaited before each request that changes
   * the registry: with the disk or the database gone, nothing more changes.
   */
  async durable(): Promise<void> {
    this.flush();
    await this.mirror?.durable();
  }

  close() {
    this.flush();
    closeSync(this.#fd);
  }
}

export class JournalError extends Error {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`journal ${path}: ${why}`);
    this.name = 'JournalError';
  }
}

/** The journal of a plan file sits beside it, named after the plan's hash. */
export function journalPath(planFile: string, sha: string): string {
  return `${planFile}.${sha.slice(0, 12)}.journal`;
}

/** The actions a journal records as done (to tell whether a plan is finished); refuses a journal not ours. */
export function readDone(path: string, planSha: string, env: NodeJS.ProcessEnv = process.env): Set<string> {
  const text = readOwn(path);
  if (text === undefined) return new Set();
  const parsed = parseJournal(text, planSha, journalKey(env));
  const bad = parsed.problem ?? parsed.invalid[0]?.why;
  if (bad) throw new JournalError(path, `${bad}. Apply trusts only journals it wrote; move this one away to apply from the start (every action checks the registry first)`);
  return new Set([...parsed.last].filter(([, e]) => e.event === 'done').map(([id]) => id));
}

export interface JournalRead {
  /** Last outcome event per action. */
  last: Map<string, JournalEntry>;
  /** Actions whose request may have been sent. */
  started: Set<string>;
  saved: Map<string, SavedManifest>;
  /** Tags lost to a DELETE (not named by the plan), by action id, and those put back. */
  lost: Map<string, Set<string>>;
  restored: Map<string, Set<string>>;
  /** The manifests an untag PUT on its tag ("untag via DIGEST"), by action id: regmgr's own placeholders. */
  placeholders: Map<string, Set<string>>;
  /** Records that are not regmgr's own (bad HMAC, bad shape): skipped, each with its line. */
  invalid: Array<{ line: number; id?: string; why: string }>;
}

/**
 * The whole journal, read only (for `regmgr restore`); undefined when there is none.
 * A journal that is not this user's, or whose first line is not regmgr's header for
 * this plan, is refused whole; a bad record further on is reported in `invalid`.
 */
export function readJournal(path: string, planSha: string, env: NodeJS.ProcessEnv = process.env): JournalRead | undefined {
  const text = readOwn(path);
  if (text === undefined) return undefined;
  const parsed = parseJournal(text, planSha, journalKey(env));
  if (parsed.problem) throw new JournalError(path, `${parsed.problem}: restore trusts only journals regmgr wrote`);
  return parsed;
}

/** The journal's text if it is regmgr's own file (this user's, nobody else may write it), undefined if absent. */
function readOwn(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (st.isSymbolicLink()) throw new JournalError(path, 'it is a symbolic link: refusing to follow it');
  const problem = ownFileProblem(st);
  if (problem) throw new JournalError(path, `refusing it: ${problem}; regmgr writes its journals as this user, mode 0600`);
  if (st.size === 0) return '';
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The secret that signs this user's journals: REGMGR_JOURNAL_KEY (at least 32
 * characters; set the same one on every machine that must resume or restore another's
 * applies), else a random key kept in the private folder, made on first use.
 */
export function journalKey(env: NodeJS.ProcessEnv): Buffer {
  const given = env.REGMGR_JOURNAL_KEY;
  if (given !== undefined && given !== '') {
    if (given.length < 32) throw new Error('REGMGR_JOURNAL_KEY must be at least 32 characters (a random secret; e.g. `openssl rand -hex 32`)');
    return Buffer.from(given, 'utf8');
  }
  const cached = keys.get(env);
  if (cached) return cached;
  // Not under $XDG_RUNTIME_DIR, which is emptied at logout: a journal must outlive a reboot.
  const file = join(privateDir(env, 'keys', { persistent: true }), 'journal.key');
  let key: Buffer;
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    key = randomBytes(32);
    try {
      writeSync(fd, key.toString('hex'));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const problem = ownFileProblem(lstatSync(file));
    if (problem) throw new Error(`refusing the journal key ${file}: ${problem}`);
    const hex = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`the journal key ${file} is not 64 hex digits: remove it (journals signed with it can then no longer be resumed or restored)`);
    key = Buffer.from(hex, 'hex');
  }
  keys.set(env, key);
  return key;
}
const keys = new WeakMap<NodeJS.ProcessEnv, Buffer>();

function mac(key: Buffer, planSha: string, text: string): string {
  return createHmac('sha256', key).update(`${planSha}\n${text}`).digest('hex');
}

function macOk(key: Buffer, planSha: string, e: Record<string, unknown>): boolean {
  const { mac: given, ...rest } = e;
  if (typeof given !== 'string' || !/^[0-9a-f]{64}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(mac(key, planSha, JSON.stringify(rest)), 'hex'));
}

const EVENTS = new Set<string>(['start', 'done', 'drifted', 'blocked', 'failed', 'saved', 'lost', 'restored']);

/** Why a record (MAC already checked) is not in the shape regmgr writes, or undefined. */
function shapeProblem(e: Record<string, unknown>): string | undefined {
  if (typeof e.id !== 'string' || e.id.length > 2048) return 'no action id';
  if (typeof e.event !== 'string' || !EVENTS.has(e.event)) return `unknown event ${quoted(String(e.event))}`;
  if (e.event === 'saved' && (typeof e.manifest !== 'string' || typeof e.media_type !== 'string')) return 'a saved record without its manifest';
  if (e.event === 'lost' || e.event === 'restored') {
    if (typeof e.tag !== 'string') return `a ${e.event} record without a tag`;
    const tp = tagProblem(e.tag);
    if (tp) return tp;
  }
  return undefined;
}

/** The header's plan hash, the last event per action, the actions ever started, saved manifests. */
function parseJournal(text: string, planSha: string, key: Buffer): JournalRead & { problem?: string } {
  const out: JournalRead & { problem?: string } = { last: new Map(), started: new Set(), saved: new Map(), lost: new Map(), restored: new Map(), placeholders: new Map(), invalid: [] };
  const add = (m: Map<string, Set<string>>, id: string, v: string) => m.set(id, (m.get(id) ?? new Set()).add(v));
  // Every record ends with a newline: what follows the last one is empty, or a record a
  // crash cut short (never durable, so never acted on).
  const complete = text.split('\n').slice(0, -1);
  complete.forEach((line, i) => {
    const n = i + 1;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new Error();
    } catch {
      if (i === 0) out.problem = 'its first line is not a regmgr journal header';
      else out.invalid.push({ line: n, why: `line ${n} is not a journal record` });
      return;
    }
    if (i === 0) {
      if (e.plan !== planSha) out.problem = typeof e.plan === 'string' ? `it belongs to another plan (sha256 ${String(e.plan).slice(0, 12)})` : 'its first line is not a regmgr journal header';
      else if (!macOk(key, planSha, e)) out.problem = "it was not written by regmgr with this user's journal key (committed, copied from another machine, planted or edited)";
      return;
    }
    if (out.problem) return;
    const id = typeof e.id === 'string' ? e.id : undefined;
    if (!macOk(key, planSha, e)) return void out.invalid.push({ line: n, id, why: `line ${n}${id ? ` (${id})` : ''} does not carry regmgr's signature for this plan` });
    const shape = shapeProblem(e);
    if (shape) return void out.invalid.push({ line: n, id, why: `line ${n}${id ? ` (${id})` : ''}: ${shape}` });
    const r = e as unknown as JournalEntry;
    if (r.event === 'saved') out.saved.set(r.id, { bytes: Buffer.from(r.manifest!, 'base64'), mediaType: r.media_type! });
    else if (r.event === 'lost' || r.event === 'restored') add(r.event === 'lost' ? out.lost : out.restored, r.id, r.tag!);
    else {
      out.last.set(r.id, r);
      if (r.event === 'start') {
        out.started.add(r.id);
        const via = /^untag via (sha256:[a-f0-9]{64})$/.exec(r.detail ?? '')?.[1];
        if (via && isDigest(via)) add(out.placeholders, r.id, via);
      }
    }
  });
  if (!complete.length && text !== '') out.problem = 'its first line is not a regmgr journal header';
  return out;
}
