import { closeSync, openSync, readSync } from 'node:fs';
import { utf8Text } from './text.js';

const NEWLINE = 0x0a;
/** 960 KiB: under Node's bound for a string held outside V8's heap (1,031,913 bytes, EXTERN_APEX). */
const CHUNK = 960 * 1024;

/**
 * Each line of a file (without its '\n'), read `chunk` bytes at a time: the file's whole
 * text is never in memory at once. A line longer than `maxLine` characters throws.
 * Lines are decoded once whole: a newline byte is never part of a longer UTF-8
 * sequence, so a character split by a chunk's end is whole by then, and runs of ASCII
 * are decoded at Latin-1's cost (text.ts). A chunk stays under the size past which Node
 * holds a Latin-1 string outside V8's heap (with 1 MiB chunks a million-tag second plan,
 * reading its cache, peaked 50 MiB higher), yet large enough that its text is not a
 * young string (64 KiB chunks: ~6 MiB higher; one run each, docs/performance.md).
 */
export function eachLine(file: string, maxLine: number, f: (line: string) => void, chunk = CHUNK): void {
  const tooLong = () => new Error(`a line of ${file} is longer than ${maxLine} characters`);
  const emit = (line: string) => {
    if (line.length > maxLine) throw tooLong();
    f(line);
  };
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(chunk);
    // The bytes after the last newline read so far (a copy: buf is read into again).
    let rest = Buffer.alloc(0);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const view = buf.subarray(0, n);
      const first = view.indexOf(NEWLINE);
      if (first === -1) {
        rest = Buffer.concat([rest, view]);
      } else {
        // The line left open ends here; the lines after it are whole up to the last newline.
        emit(utf8Text(rest.length ? Buffer.concat([rest, view.subarray(0, first)]) : view.subarray(0, first)));
        const last = view.lastIndexOf(NEWLINE);
        if (last > first) {
          const text = utf8Text(view.subarray(first + 1, last));
          let start = 0;
          for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
            emit(text.slice(start, nl));
            start = nl + 1;
          }
          emit(text.slice(start));
        }
        rest = Buffer.from(view.subarray(last + 1));
      }
      // A character is at most 4 bytes: past that many, the line is too long whatever it holds.
      if (rest.length > 4 * maxLine) throw tooLong();
    }
    if (rest.length) emit(utf8Text(rest));
  } finally {
    closeSync(fd);
  }
}
