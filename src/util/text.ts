import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';

/**
 * The UTF-8 text of bytes, as `toString('utf8')` gives it. What regmgr reads back of its
 * own (its content cache) is nearly always ASCII, and for ASCII bytes Latin-1
 * decoding gives the same string for a fraction of the cost: on Node 20 a 5 MB cache file
 * took ~60 ms as `readFileSync(file, 'utf8')`, ~22 ms as `toString('utf8')`, and ~2 ms
 * checked and decoded as ASCII. Past ~1 MB Node holds a Latin-1 string outside V8's heap
 * until it is collected, beside the bytes read: large files go through eachLine
 * (lines.ts) in chunks under that size, and plan files and journals, which may be large
 * and are read whole, through Node's own UTF-8 read.
 */
export function utf8Text(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
}

/** A file's text (a path or an open descriptor), the same as `readFileSync(file, 'utf8')`. */
export function readText(file: string | number): string {
  return utf8Text(readFileSync(file));
}
