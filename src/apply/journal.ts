import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';

export type JournalEvent = 'start' | 'done' | 'drifted' | 'blocked' | 'failed';

export interface JournalEntry {
  t: string;
  id: string;
  event: JournalEvent;
  detail?: string;
}

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

  constructor(
    readonly path: string,
    readonly planSha: string,
  ) {
    const fresh = !existsSync(path) || statSync(path).size === 0;
    if (!fresh) {
      const parsed = parseJournal(readFileSync(path, 'utf8'));
      if (parsed.plan !== undefined && parsed.plan !== planSha) throw new Error(`journal ${path} belongs to another plan (sha256 ${parsed.plan.slice(0, 12)})`);
      for (const [id, e] of parsed.last) this.last.set(id, e);
      for (const id of parsed.started) this.started.add(id);
    }
    this.#fd = openSync(path, 'a', 0o600);
    if (fresh) this.#write({ plan: planSha, t: new Date().toISOString() });
  }

  isDone(id: string): boolean {
    return this.last.get(id)?.event === 'done';
  }

  wasStarted(id: string): boolean {
    return this.started.has(id);
  }

  append(id: string, event: JournalEvent, detail?: string): void {
    const e: JournalEntry = { t: new Date().toISOString(), id, event, ...(detail ? { detail } : {}) };
    this.#write(e);
    this.last.set(id, e);
    if (event === 'start') this.started.add(id);
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
  if (!existsSync(path)) return new Set();
  const { last } = parseJournal(readFileSync(path, 'utf8'));
  return new Set([...last].filter(([, e]) => e.event === 'done').map(([id]) => id));
}

/** The header's plan hash, the last event per action, and the actions ever started. */
function parseJournal(text: string): { plan?: string; last: Map<string, JournalEntry>; started: Set<string> } {
  const last = new Map<string, JournalEntry>();
  const started = new Set<string>();
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
    else if (e.id && e.event) {
      last.set(e.id, e);
      if (e.event === 'start') started.add(e.id);
    }
  });
  return { plan, last, started };
}
