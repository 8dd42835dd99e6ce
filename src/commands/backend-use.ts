import { existsSync, readFileSync } from 'node:fs';
import { openBackend, type StateBackend } from '../backend/backend.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Config } from '../config/model.js';
import { JournalError } from '../apply/journal.js';
import { durationOption } from '../util/duration-option.js';

/** Opens the config's state backend for `fn` and closes it after, whatever happens. */
export async function withBackend<T>(config: Config, env: NodeJS.ProcessEnv, fn: (b: StateBackend) => Promise<T>, opts: { journals?: boolean } = {}): Promise<T> {
  if (opts.journals && config.stateBackend.kind === 'pg' && !(process.env.REGMGR_JOURNAL_KEY ?? '')) {
    throw new Error(`${config.file}: state.backend is pg, which keeps each apply's journal for other machines to resume or restore: set REGMGR_JOURNAL_KEY (a secret of at least 32 characters, the same on every machine; e.g. openssl rand -hex 32)`);
  }
  const b = await openBackend(config, env);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** `-lock-timeout=DURATION` (Terraform's form: 0s, 30s, 5m, 1h) in milliseconds. */
export function lockTimeoutMs(text: string | undefined): number {
  return text === undefined ? 0 : durationOption('-lock-timeout', text);
}

/**
 * Backend pg: the local journal of a plan and the one beside the state become the same
 * before anything reads them. Another machine's journal comes down (to resume or
 * restore its apply here); lines this machine has and the database lacks (it was away)
 * go up. Two journals that disagree are an error: neither is taken over silently.
 */
export async function syncJournal(b: StateBackend, path: string, planSha: string): Promise<void> {
  if (!b.journals) return;
  const remote = await b.journals.load(planSha);
  const local = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  const lines = (t: string | undefined) => (t ?? '').split('\n').filter((l) => l.trim());
  const r = lines(remote);
  const l = lines(local);
  const prefix = (a: string[], b: string[]) => a.every((x, i) => b[i] === x);
  if (r.length >= l.length && prefix(l, r)) {
    // Ours is the database's or a part of it: the database's is the whole story.
    if (r.length > l.length) writeFileAtomic(path, r.map((x) => `${x}\n`).join(''), 0o600);
    return;
  }
  if (prefix(r, l)) {
    const up = b.journals.mirror(planSha, r.length);
    for (const line of l.slice(r.length)) up.push(line);
    await up.durable();
    return;
  }
  throw new JournalError(path, `differs from the journal of this plan kept in ${b.where}: two applies of one plan wrote different journals; move the local one away to use the database's`);
}
