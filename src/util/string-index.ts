/**
 * A set of strings (digests), each numbered in the order it was added, held in a table
 * of typed arrays sized once from what the caller expects. Why: the bytes count keeps
 * a set of every blob that stays and a count for every blob that goes. As V8's Set and
 * Map those take about 20 and 28 bytes an entry in tables of a power of two (a million
 * and one entries take room for two million), and each left its smaller tables behind
 * as it grew: at 1,000,000 tags, the plan's peak. Here: a list of the strings, 8 bytes
 * an entry, and a table of 4-byte slots at most half full.
 *
 * The hash is seeded per process (as V8 seeds its own): the strings come from a
 * registry, and one that knew the hash could make every digest land in one slot.
 */
export class StringIndex {
  private readonly keys: string[] = [];
  /** Each slot: a key's number + 1, or 0 for none; linear probing. */
  private slots: Int32Array;
  private mask: number;

  constructor(expected = 0) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The string's number: its own if it is here, else a new one (the next). `h`: its stringHash, where the caller has it. */
  add(s: string, h = stringHash(s)): number {
    let at = h & this.mask;
    for (;;) {
      const n = this.slots[at];
      if (n === 0) break;
      if (this.keys[n - 1] === s) return n - 1;
      at = (at + 1) & this.mask;
    }
    this.keys.push(s);
    this.slots[at] = this.keys.length;
    if (this.keys.length * 2 > this.slots.length) this.grow();
    return this.keys.length - 1;
  }

  /** The string's number, or -1. */
  indexOf(s: string, h = stringHash(s)): number {
    let at = h & this.mask;
    for (;;) {
      const n = this.slots[at];
      if (n === 0) return -1;
      if (this.keys[n - 1] === s) return n - 1;
      at = (at + 1) & this.mask;
    }
  }

  has(s: string): boolean {
    return this.indexOf(s) >= 0;
  }

  /** The string numbered n. */
  at(n: number): string {
    return this.keys[n];
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let n = 0; n < this.keys.length; n++) {
      let at = stringHash(this.keys[n]) & this.mask;
      while (this.slots[at] !== 0) at = (at + 1) & this.mask;
      this.slots[at] = n + 1;
    }
  }
}

const SEED = (Math.random() * 2 ** 32) >>> 0;

/**
 * FNV-1a over every character from a random start, then murmur3's finish (every bit of
 * the hash depends on every character). The same for every StringIndex of the process:
 * a caller looking one string up in two of them hashes it once (most of their cost: V8
 * keeps a string's own hash in it, this is made each time).
 */
export function stringHash(s: string): number {
  let h = SEED ^ 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
