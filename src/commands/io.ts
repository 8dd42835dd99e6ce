import type { Logger } from '../util/log.js';
import { pieces } from '../util/pieces.js';

/** Where a command writes and what it may read of its surroundings; tests pass their own. */
export interface IO {
  out(text: string): void;
  /**
   * Resolves once what out() was given has left the process. Node queues in memory what
   * a pipe cannot take yet: behind a slow reader (a CI log, `| less`) a plan's whole text
   * would be held. Undefined where nothing queues (tests' IO).
   */
  drained?: () => Promise<void>;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** stdout is a terminal (colour, progress). */
  tty: boolean;
  color: boolean;
  logger: Logger;
  /** Asks a yes/no question on the terminal; undefined when there is no terminal. */
  confirm?: (question: string) => Promise<boolean>;
}

export const EXIT = {
  ok: 0,
  error: 1,
  /** plan --detailed-exitcode: the plan has changes. */
  changes: 2,
  /** apply: some actions drifted or were blocked; nothing failed. */
  drift: 3,
  /** state verify: the registries differ from the recorded state. */
  stateDrift: 2,
} as const;

/** Notices (a lock taken over, an old state file name) go to stderr, one line each. */
export function notify(io: Pick<IO, 'err'>): (message: string) => void {
  return (m) => io.err(`notice: ${m}\n`);
}

/**
 * Writes `lines` (each without its newline) to stdout in pieces of ~64 KiB, each made
 * only once the last one has drained: behind a slow reader the output is never queued
 * whole in memory (a line per tag of a plan, a listing, a state).
 */
export async function printLines(io: Pick<IO, 'out' | 'drained'>, lines: Iterable<string>): Promise<void> {
  let sent = false;
  const out = pieces((p) => {
    io.out(p);
    sent = true;
  });
  for (const line of lines) {
    out.put(`${line}\n`);
    if (sent && io.drained) {
      sent = false;
      await io.drained();
    }
  }
  out.end();
}
