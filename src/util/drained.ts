import type { Writable } from 'node:stream';

/**
 * Resolves when `stream` has written what it queued, or can write no more (closed; a
 * failed stream closes too). Its 'error' is not listened to: a listener here would
 * swallow it, and what to do about it stays the writer's business.
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

const EVENTS = ['drain', 'close'] as const;
