import { writeSync } from 'node:fs';

/**
 * Writes `text` to standard output with write(2), for a command's one short answer
 * (`validate -c FILE`, cli-main.ts): making process.stdout first loads node's stream
 * classes, ~4-5 ms of a ~110 ms start. Not for long or running output: a blocking write
 * to a reader that has stopped (a paused pager) would stop everything else with it,
 * where process.stdout queues and lets the command go on.
 * - EPIPE (the reader has gone): stop quietly, as cli.ts does for the streams.
 * - Anything else (EAGAIN from a descriptor someone made non-blocking): what is left
 *   goes through process.stdout, which knows how to wait.
 */
export function writeDirect(text: string, fd = 1): boolean {
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  try {
    while (at < bytes.length) at += writeSync(fd, bytes, at);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(process.exitCode ?? 0);
    return process.stdout.write(bytes.subarray(at));
  }
  return true;
}
