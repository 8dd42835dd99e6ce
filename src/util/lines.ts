import { closeSync, openSync, readSync } from 'node:fs';
import { utf8Text } from './text.js';

const NEWLINE = 0x0a;

/**
 * Each line of a file (without its '\n'), read `chunk` bytes at a time: the file's whole
 * text is never in memory at once. A line longer than `maxLine` characters throws.
 * Lines are decoded once whole: a newline byte is never part of a longer UTF-8
 * sequence, so a character split by a chunk's end is whole by then, and whole chunks of
 * ASCII are decoded at Latin-1's cost (text.ts).
 */
export function eachLine(file: string, maxLine: number, f: (line: string) => void, chunk = 1 << 20): void {
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
      const last = buf.lastIndexOf(NEWLINE, n - 1);
      if (last === -1) {
        rest = Buffer.concat([rest, buf.subarray(0, n)]);
      } else {
        const text = utf8Text(rest.length ? Buffer.concat([rest, buf.subarray(0, last)]) : buf.subarray(0, last));
        let start = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
          emit(text.slice(start, nl));
          start = nl + 1;
        }
        emit(text.slice(start));
        rest = Buffer.from(buf.subarray(last + 1, n));
      }
      // A character is at most 4 bytes: past that many, the line is too long whatever it holds.
      if (rest.length > 4 * maxLine) throw tooLong();
    }
    if (rest.length) emit(utf8Text(rest));
  } finally {
    closeSync(fd);
  }
}
