import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { setOwn } from './own-key.js';

/** Above `whole` bytes a file is read in parts of at most `part` bytes (tests make both small). */
export interface JsonFileLimits {
  whole: number;
  part: number;
}

// A V8 string holds at most 2^29 - 24 characters: JSON.parse of one text cannot read
// a plan of about 600,000 tags or more (a million tags write ~870 MB). Below `whole`
// the file is one JSON.parse, as it always was.
const LIMITS: JsonFileLimits = { whole: 256 * 1024 * 1024, part: 32 * 1024 * 1024 };

/**
 * Containers this deep or less may be split into parts; deeper ones are only counted,
 * and parsed whole inside a part (JSON.parse then checks their brackets). A plan's
 * large containers are at depth 4 at most (`decisions.delete[registry][repository]`);
 * the bound keeps what a deeply nested file costs to a counter.
 */
const SPLIT_DEPTH = 8;

/**
 * JSON.parse of a file's UTF-8 text, for files of any size: the same value, keys in the
 * same order, "__proto__" an own key, the last of duplicate keys winning, and a
 * SyntaxError for what JSON.parse refuses. A large file is scanned once for the
 * structure of its large containers; what lies between is parsed by JSON.parse in parts.
 * Throws the fs error when the file cannot be read.
 */
export function readJsonFile(file: string, limits: JsonFileLimits = LIMITS): unknown {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= limits.whole) return JSON.parse(readFileSync(fd, 'utf8'));
    return new SplitParser(fd, size, limits.part).parse();
  } finally {
    closeSync(fd);
  }
}

interface Frame {
  open: number; // '{' or '['
  start: number;
  /** Where this frame's separators (its bracket, then each comma) start in `seps`. */
  sepBase: number;
  /** Children larger than a part, already built, in file order. */
  large: Array<{ start: number; end: number; value: unknown }>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const invalid = (what: string) => new SyntaxError(`invalid JSON: ${what}`);

class SplitParser {
  readonly #seps: number[] = [];
  readonly #stack: Frame[] = [];

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly part: number,
  ) {}

  parse(): unknown {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let inString = false;
    let escape = false;
    let root: { value: unknown } | undefined;
    let rootSeen = false;
    // Brackets open below SPLIT_DEPTH.
    let deep = 0;
    for (let base = 0; base < this.size; ) {
      const n = readSync(this.fd, chunk, 0, Math.min(chunk.length, this.size - base), base);
      if (n <= 0) throw invalid('the file ended while being read');
      for (let i = 0; i < n; i++) {
        const b = chunk[i];
        if (inString) {
          if (escape) escape = false;
          else if (b === BACKSLASH) escape = true;
          else if (b === QUOTE) inString = false;
          continue;
        }
        if (isSpace(b)) continue;
        const stack = this.#stack;
        if (!stack.length) {
          // Outside the root: only whitespace, then one object or array.
          if (rootSeen || (b !== OPEN_OBJECT && b !== OPEN_ARRAY)) throw invalid(`unexpected byte at ${base + i}`);
          rootSeen = true;
        }
        if (b === QUOTE) inString = true;
        else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
          if (deep || stack.length === SPLIT_DEPTH) deep++;
          else {
            stack.push({ open: b, start: base + i, sepBase: this.#seps.length, large: [] });
            this.#seps.push(base + i);
          }
        } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
          if (deep) {
            deep--;
            continue;
          }
          const f = stack.pop();
          if (!f || f.open !== (b === CLOSE_OBJECT ? OPEN_OBJECT : OPEN_ARRAY)) throw invalid(`unmatched bracket at ${base + i}`);
          const end = base + i + 1;
          if (!stack.length) root = { value: this.#build(f, end) };
          else if (end - f.start > this.part) stack[stack.length - 1].large.push({ start: f.start, end, value: this.#build(f, end) });
          this.#seps.length = f.sepBase;
        } else if (b === COMMA && !deep) this.#seps.push(base + i);
      }
      base += n;
    }
    if (!root || inString) throw invalid('unexpected end of the file');
    return root.value;
  }

  /** The value of a split container from its members: runs of small ones by JSON.parse, large ones as built. */
  #build(f: Frame, end: number): unknown {
    const object = f.open === OPEN_OBJECT;
    const out: unknown[] | Record<string, unknown> = object ? {} : [];
    const add = (v: unknown, key?: string) => (object ? setOwn(out as Record<string, unknown>, key!, v) : (out as unknown[]).push(v));
    const seps = this.#seps.slice(f.sepBase);
    // Members: from just after a separator to the next separator (or the closing bracket).
    let runFrom = -1;
    let runTo = -1;
    let runMembers = 0;
    const flush = () => {
      if (runFrom < 0) return;
      const text = this.#text(runFrom, runTo);
      // A blank member beside others parses as an empty container: JSON.parse refuses it
      // in one (`[{...},]`), and so must this. Alone, it is an empty container.
      if (runMembers === 1 && seps.length > 1 && !text.trim()) throw invalid(`empty member near ${runFrom}`);
      const parsed = JSON.parse(object ? `{${text}}` : `[${text}]`) as Record<string, unknown> | unknown[];
      if (object) for (const k of Object.keys(parsed)) add((parsed as Record<string, unknown>)[k], k);
      else for (const v of parsed as unknown[]) add(v);
      runFrom = -1;
    };
    let li = 0;
    for (let m = 0; m < seps.length; m++) {
      const from = seps[m] + 1;
      const to = m + 1 < seps.length ? seps[m + 1] : end - 1;
      const large = li < f.large.length && f.large[li].start < to ? f.large[li++] : undefined;
      if (large) {
        flush();
        if (object) add(large.value, this.#keyBefore(from, large.start));
        else this.#onlySpace(from, large.start);
        this.#onlySpace(large.end, to);
        if (!object) add(large.value);
        continue;
      }
      // Small members go together, a part at a time; the commas between them come along.
      if (runFrom >= 0 && to - runFrom > this.part) flush();
      if (runFrom < 0) (runFrom = from), (runMembers = 0);
      runTo = to;
      runMembers++;
    }
    flush();
    return out;
  }

  /** `"key" :` (whitespace around) between from and a large value's start: the key. */
  #keyBefore(from: number, valueStart: number): string {
    // JSON's whitespace only: trimEnd() would also drop a no-break space JSON.parse refuses.
    const text = this.#text(from, valueStart).replace(/[ \t\n\r]+$/, '');
    if (!text.endsWith(':')) throw invalid(`expected ':' before ${valueStart}`);
    const key: unknown = JSON.parse(text.slice(0, -1));
    if (typeof key !== 'string') throw invalid(`expected a key before ${valueStart}`);
    return key;
  }

  #onlySpace(from: number, to: number): void {
    const bytes = this.#bytes(from, to);
    for (const b of bytes) if (!isSpace(b)) throw invalid(`unexpected byte near ${from}`);
  }

  #bytes(from: number, to: number): Buffer {
    const buf = Buffer.allocUnsafe(to - from);
    for (let got = 0; got < buf.length; ) {
      const n = readSync(this.fd, buf, got, buf.length - got, from + got);
      if (n <= 0) throw invalid('the file ended while being read');
      got += n;
    }
    return buf;
  }

  #text(from: number, to: number): string {
    return this.#bytes(from, to).toString('utf8');
  }
}
