import { scrub } from '../util/secret.js';
import { closeSync, constants, existsSync, fsyncSync, lstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';

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
 * Append-only, one JSON line per event, fsync'd before the request it announces is sent
 * and after its outcome, so that a killed apply knows what it finished and what it may
 * have half-done. A line cut short by a crash is ignored on read.
 */
export class Journal {
  readonly #fd: number;
  /** Last event per action id, as read at open and updated on each append. */
  readonly last = new Map<string, JournalEntry>();
  /** Actions whose request may have been sent (a 'start' was recorded). */
  readonly started = new Set<string>();
  /** Manifests saved before their DELETE, by action id. */
  readonly saved = new Map<string, SavedManifest>();
  /** Tags not named by the plan that a DELETE removed and apply put back, by action id. */
  readonly restored = new Map<string, Set<string>>();

  constructor(
    readonly path: string,
    readonly planSha: string,
  ) {
    refuseSymlink(path);
    const fresh = !existsSync(path) || statSync(path).size === 0;
    if (!fresh) {
      const parsed = parseJournal(readNoFollow(path));
      if (parsed.plan !== undefined && parsed.plan !== planSha) throw new Error(`journal ${path} belongs to another plan (sha256 ${parsed.plan.slice(0, 12)})`);
      for (const [id, e] of parsed.last) this.last.set(id, e);
      for (const id of parsed.started) this.started.add(id);
      for (const [id, m] of parsed.saved) this.saved.set(id, m);
      for (const [id, t] of parsed.restored) this.restored.set(id, t);
    }
    // Never through a symbolic link (it would append to whatever it points at); a new
    // journal is created exclusively, so nothing planted meanwhile is taken over.
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | (existsSync(path) ? 0 : constants.O_CREAT | constants.O_EXCL);
    try {
      this.#fd = openSync(path, flags, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`journal ${path} is a symbolic link: refusing to follow it`);
      throw e;
    }
    if (fresh) this.#write({ plan: planSha, t: new Date().toISOString() });
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

  /** Records a manifest's bytes, durably, before the DELETE that removes it is sent. */
  save(id: string, m: SavedManifest): void {
    this.#write({ t: new Date().toISOString(), id, event: 'saved', media_type: m.mediaType, manifest: m.bytes.toString('base64') } satisfies JournalEntry);
    this.saved.set(id, m);
  }

  #write(obj: object) {
    writeSync(this.#fd, JSON.stringify(obj) + '\n');
    fsyncSync(this.#fd);
  }

  close() {
    closeSync(this.#fd);
  }
}

/** The journal of a plan file sits beside it, named after the plan's hash. */
export function journalPath(planFile: string, sha: string): string {
  return `${planFile}.${sha.slice(0, 12)}.journal`;
}

/** Reads a journal without opening it for writing (to tell whether a plan is finished). */
export function readDone(path: string): Set<string> {
  refuseSymlink(path);
  if (!existsSync(path)) return new Set();
  const { last } = parseJournal(readNoFollow(path));
  return new Set([...last].filter(([, e]) => e.event === 'done').map(([id]) => id));
}

export interface JournalRead {
  plan?: string;
  /** Last outcome event per action. */
  last: Map<string, JournalEntry>;
  /** Actions whose request may have been sent. */
  started: Set<string>;
  saved: Map<string, SavedManifest>;
  /** Tags lost to a DELETE (not named by the plan), by action id, and those put back. */
  lost: Map<string, Set<string>>;
  restored: Map<string, Set<string>>;
}

/** The whole journal, read only (for `regmgr restore`); undefined when there is none. */
export function readJournal(path: string): JournalRead | undefined {
  refuseSymlink(path);
  if (!existsSync(path)) return undefined;
  return parseJournal(readNoFollow(path));
}

function refuseSymlink(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) throw new Error(`journal ${path} is a symbolic link: refusing to follow it`);
}

function readNoFollow(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The header's plan hash, the last event per action, the actions ever started, saved manifests. */
function parseJournal(text: string): JournalRead {
  const last = new Map<string, JournalEntry>();
  const started = new Set<string>();
  const saved = new Map<string, SavedManifest>();
  const lost = new Map<string, Set<string>>();
  const restored = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, id: string, tag: string) => m.set(id, (m.get(id) ?? new Set()).add(tag));
  let plan: string | undefined;
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let e: JournalEntry & { plan?: string };
    try {
      e = JSON.parse(line);
    } catch {
      // A torn last line from a crash mid-write: the event it held was not durable.
      return;
    }
    if (i === 0 && e.plan !== undefined) plan = e.plan;
    else if (typeof e.id !== 'string' || typeof e.event !== 'string') return;
    else if (e.event === 'saved') {
      if (typeof e.manifest === 'string' && typeof e.media_type === 'string') saved.set(e.id, { bytes: Buffer.from(e.manifest, 'base64'), mediaType: e.media_type });
    } else if (e.event === 'lost' || e.event === 'restored') {
      if (typeof e.tag === 'string') add(e.event === 'lost' ? lost : restored, e.id, e.tag);
    } else {
      last.set(e.id, e);
      if (e.event === 'start') started.add(e.id);
    }
  });
  return { plan, last, started, saved, lost, restored };
}
