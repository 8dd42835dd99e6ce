import { inertLines } from './inert.js';
import { scrub } from './secret.js';

/**
 * Diagnostics go to stderr. Debug lines carry method, URL, status and timing, never
 * headers or bodies, so no credential or token can reach them.
 */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export function stderrLogger(debug = Boolean(process.env.REGMGR_DEBUG)): Logger {
  // URLs carry registry names and paths: scrubbed and inert like every other output.
  const line = (m: string) => inertLines(scrub(m));
  return {
    debug: (m) => {
      if (debug) process.stderr.write(`debug: ${line(m)}\n`);
    },
    info: (m) => process.stderr.write(`${line(m)}\n`),
    warn: (m) => process.stderr.write(`warning: ${line(m)}\n`),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };
