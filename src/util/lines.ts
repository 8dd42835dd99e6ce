import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * Each line of a file (without its '\n'), read 1 MiB at a time: the file's whole text is
 * never in memory at once. A line longer than `maxLine` characters throws.
 */
export function eachLine(file: string, maxLine: number, f: (line: string) => void): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const text = rest + decoder.write(buf.subarray(0, n));
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        f(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
      if (rest.length > maxLine) throw new Error(`a line of ${file} is longer than ${maxLine} characters`);
    }
    rest += decoder.end();
    if (rest) f(rest);
  } finally {
    closeSync(fd);
  }
}
