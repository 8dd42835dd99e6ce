import { inertLines } from './inert.js';
import { scrub } from './secret.js';

/**
 * Diagnostics go to stderr. Debug lines carry method, URL, status and timing, never
 * headers or bodies, so no credential or token can reach them.
 */
export interface Logger {
  /** false: debug() prints nothing, so callers need not build its lines (one per request). */
  debugOn?: boolean;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export function stderrLogger(debug = Boolean(process.env.REGMGR_DEBUG)): Logger {
  // URLs carry registry names and paths: scrubbed and inert like every other output.
  const line = (m: string) => inertLines(scrub(m));
  return {
    debugOn: debug,
    debug: (m) => {
      if (debug) process.stderr.write(`debug: ${line(m)}\n`);
    },
    info: (m) => process.stderr.write(`${line(m)}\n`),
    warn: (m) => process.stderr.write(`warning: ${line(m)}\n`),
  };
}

export const silentLogger: Logger = { debugOn: false, debug() {}, info() {}, warn() {} };
