import type { IO } from '../commands/io.js';

/**
 * A one-line counter on stderr, only on a terminal and at most ~10 redraws a second,
 * so that piped output and CI logs stay clean.
 */
export function progressLine(io: IO, label: string): { update: (done: number, total: number) => void; done: () => void } {
  if (!io.tty || !process.stderr.isTTY) return { update() {}, done() {} };
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      shown = true;
      process.stderr.write(`\r${label}: ${done}/${total}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
