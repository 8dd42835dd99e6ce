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
  return {
    debug: (m) => {
      if (debug) process.stderr.write(`debug: ${m}\n`);
    },
    info: (m) => process.stderr.write(`${m}\n`),
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };
