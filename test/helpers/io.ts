import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IO } from '../../src/commands/io.js';
import type { Logger } from '../../src/util/log.js';

export interface Captured {
  io: IO;
  stdout(): string;
  stderr(): string;
}

/** An IO that records everything a command prints, debug lines included. */
export function captureIO(env: NodeJS.ProcessEnv = {}, debug = true): Captured {
  let out = '';
  let err = '';
  const logger: Logger = {
    debug: (m) => {
      if (debug) err += `debug: ${m}\n`;
    },
    info: (m) => (err += `${m}\n`),
    warn: (m) => (err += `warning: ${m}\n`),
  };
  return {
    io: { out: (t) => (out += t), err: (t) => (err += t), env: { HOME: '/nonexistent', ...env }, tty: false, color: false, logger },
    stdout: () => out,
    stderr: () => err,
  };
}

export function writeFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
