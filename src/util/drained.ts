import type { Writable } from 'node:stream';

/**
 * Resolves when `stream` has written what it queued, or can write no more (closed,
 * failed: what to do about that is the writer's business, not this wait's).
 */
export function drained(stream: Writable): Promise<void> {
  if (!stream.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      for (const e of EVENTS) stream.off(e, done);
      resolve();
    };
    for (const e of EVENTS) stream.once(e, done);
  });
}

const EVENTS = ['drain', 'close', 'error'] as const;
