import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { isDigest, type Digest } from '../oci/names.js';
import { normaliseCreated } from '../oci/created.js';
import { blobPairs, sharedDigest, sizesOf, type ManifestSizes } from '../oci/manifest-facts.js';
import { writeFileAtomicPieces } from '../util/atomic.js';
import { pieces } from '../util/pieces.js';
import { eachLine } from '../util/lines.js';
import { interner } from '../util/intern.js';
import { ownDirProblem } from '../util/private-dir.js';
import { readText } from '../util/text.js';

/**
 * What never changes for a digest, kept between plans so a second plan of unchanged
 * registries reads no manifest body and no config blob: a manifest digest's image
 * creation time (its config follows from its bytes), an index digest's children.
 * Content-addressed, so one cache serves every registry. It lives in the user's cache
 * folder, never beside the state: a file in a repository is anyone's to edit in a pull
 * request, and a forged creation time would change which tags mix-count keeps.
 * It is only an optimisation: any file that is not exactly what regmgr writes is ignored.
 */
export class ContentCache {
  readonly created = new Map<Digest, string | null>();
  readonly children = new Map<Digest, Digest[]>();
  /** What each manifest makes the registry store (its own bytes, its blobs), for bytes freed. */
  readonly sizes = new Map<Digest, ManifestSizes>();
  /** `origin/repository` planned before: its candidates' times are likely here. */
  readonly seen = new Set<string>();
  #dirty = false;
  /**
   * The file's one string per digest (its loader's interner), kept while the plan reads
   * its registries so that each tag read shares the cache's copy of its digest; let go
   * once they are read (readsDone). Without it a second plan of 1,000,000 tags held two
   * copies of every digest through its evaluations (~70 MiB).
   */
  #digests: ((d: Digest) => Digest) | undefined;

  /** `replaces`: a file of the layout before, read because `file` was not there yet; removed once `file` is written. */
  constructor(
    readonly file?: string,
    readonly replaces?: string,
  ) {
    // Written in this layout at the end of the plan, even if nothing new was read.
    if (replaces) this.#dirty = true;
  }

  setCreated(d: Digest, created: string | null) {
    if (this.created.get(d) !== created) (this.created.set(d, created), (this.#dirty = true));
  }
  setChildren(d: Digest, children: Digest[]) {
    if (!this.children.has(d)) (this.children.set(d, children), (this.#dirty = true));
  }
  setSizes(d: Digest, s: ManifestSizes) {
    if (!this.sizes.has(d)) (this.sizes.set(d, s), (this.#dirty = true));
  }
  markSeen(key: string) {
    if (!this.seen.has(key)) (this.seen.add(key), (this.#dirty = true));
  }
  /** The cache's own copy of a digest while the registries are read (undefined: none kept). */
  get sameDigest(): ((d: Digest) => Digest) | undefined {
    return this.#digests;
  }
  keepDigests(same: (d: Digest) => Digest) {
    this.#digests = same;
  }
  readsDone() {
    this.#digests = undefined;
  }

  /** Writes what changed; a cache that cannot be written only makes the next plan slower. */
  save(warn: (m: string) => void): void {
    if (!this.file || !this.#dirty) return;
    // Written entry by entry, in pieces: at 1,000,000 tags the file is ~250 MiB, which as
    // one string (and the object it was made from) would double a plan's peak memory.
    // Bounded: the newest entries win (a Map keeps insertion order).
    const entries = <V>(m: ReadonlyMap<Digest, V> | ReadonlySet<string>, put: (s: string) => void, value: (v: V) => unknown = (v) => v) => {
      let skip = m.size - MAX_ENTRIES;
      let first = true;
      for (const e of m instanceof Map ? m.entries() : (m as ReadonlySet<string>).values()) {
        if (skip-- > 0) continue;
        put(`${first ? '' : ','}${Array.isArray(e) ? `[${JSON.stringify(e[0])},${JSON.stringify(value(e[1] as V))}]` : JSON.stringify(e)}\n`);
        first = false;
      }
    };
    const sections = LAYOUTS[2];
    try {
      writeFileAtomicPieces(this.file, (write) => {
        const out = pieces(write);
        // One entry a line (still one JSON document): loadCache reads it line by line.
        out.put(`${sections[0]}\n`);
        entries(this.created, out.put);
        out.put(`${sections[1]}\n`);
        entries(this.children, out.put);
        out.put(`${sections[2]}\n`);
        entries(this.sizes, out.put, inFile);
        out.put(`${sections[3]}\n`);
        entries(this.seen, out.put);
        out.put(`${sections[4]}\n`);
        out.end();
      });
      // What it was read from, in the layout before this one, is in this file now.
      if (this.replaces) rmSync(this.replaces, { force: true });
      this.#dirty = false;
    } catch (e) {
      warn(`could not write the cache ${this.file}: ${(e as Error).message}`);
    }
  }
}

const MAX_ENTRIES = 1_000_000;
/** A file written whole (before one entry a line) is parsed whole: bounded. */
const MAX_BYTES = 256 * 1024 * 1024;
/** A file written whole up to this size has its text decoded fast (text.ts). */
const FAST_TEXT = 16 * 1024 * 1024;
/** One entry a line: bounded by entries, and each line (an index of 10,000 children is ~750,000 characters). */
const MAX_LINE = 1 << 20;
/**
 * What comes between the entries of each layout's file. Version 2 writes an entry as a
 * pair (`["sha256:…","2024-…"]`); version 1 wrote it as a key (`"sha256:…":"2024-…"`),
 * and V8 interns every key it parses: a million one-key lines took ~6 s to parse, as
 * pairs ~1.2 s (20,000 images parsed whole: ~135 ms against ~50).
 */
const LAYOUTS = {
  1: ['{"version":1,"created":{', '},"children":{', '},"sizes":{', '},"seen":[', ']}'],
  2: ['{"version":2,"created":[', '],"children":[', '],"sizes":[', '],"seen":[', ']}'],
} as const;
type Version = keyof typeof LAYOUTS;
/** The file of version 1, read when there is no file of version 2 yet. */
const LEGACY_NAME = 'content-v1.json';

/**
 * The cache file: $REGMGR_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/regmgr,
 * else ~/.cache/regmgr. The folder must be the user's own, as for credentials.
 */
export function cacheFile(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.REGMGR_CACHE_DIR !== undefined ? env.REGMGR_CACHE_DIR : join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'regmgr');
  return dir ? join(dir, 'content-v2.json') : undefined;
}

/** `wholeUnder`: a file of one entry a line up to this size is parsed whole instead (tests: both ways read the same). */
export function loadCache(file: string | undefined, warn: (m: string) => void, wholeUnder = 0): ContentCache {
  let cache = new ContentCache(file);
  if (!file) return cache;
  const dir = join(file, '..');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    warn(`not using a cache: ${(e as Error).message}`);
    return new ContentCache(undefined);
  }
  try {
    const problem = ownDirProblem(dir);
    if (problem) {
      warn(`not using the cache folder ${dir}: ${problem}`);
      return new ContentCache(undefined);
    }
    // Made by another tool with a loose umask: it is ours, and what it holds steers mix-count.
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
    // No file yet: the one a regmgr before this layout wrote, if any, so that the first
    // plan after an upgrade is not a cold one. It is replaced when this plan saves.
    let source = file;
    if (statSync(file, { throwIfNoEntry: false }) === undefined) {
      source = join(dir, LEGACY_NAME);
      if (basename(file) === LEGACY_NAME || statSync(source, { throwIfNoEntry: false }) === undefined) return cache;
      cache = new ContentCache(file, source);
    }
    // One string per digest for the three maps, and for the reads that follow.
    const key = interner<Digest>(Infinity);
    const into = cache;
    const digest = (d: unknown): d is Digest => typeof d === 'string' && isDigest(d);
    const add: Adders = {
      created(d, c) {
        if (digest(d) && (c === null || (typeof c === 'string' && normaliseCreated(c) === c))) into.created.set(key(d), c);
      },
      children(d, list) {
        if (digest(d) && Array.isArray(list) && list.length <= 10_000 && list.every(digest)) into.children.set(key(d), list.map(key));
      },
      sizes(d, v) {
        if (digest(d) && sizesValid(v)) into.sizes.set(key(d), inMemory(v, key));
      },
      seen(k) {
        if (typeof k === 'string' && k.length < 1024) into.seen.add(k);
      },
    };
    // Read line by line, whatever its size: never held whole. In layout 2 that costs no
    // more CPU than one JSON.parse of the whole (20,000 images: a second plan's peak 96-100
    // MiB against 110-111; in layout 1 the whole parse took ~20% less). One written whole,
    // by a regmgr before one entry a line, is parsed whole if it is not too big.
    const size = statSync(source).size;
    if (size <= wholeUnder || !readByLine(source, add)) {
      if (size > MAX_BYTES) return cache;
      // A small file's text decoded fast (text.ts); a large one by Node, which does not
      // hold its bytes beside its text until a collection.
      const data = JSON.parse(size <= FAST_TEXT ? readText(source) : readFileSync(source, 'utf8'));
      const entries = data?.version === 2 ? pairs : data?.version === 1 ? keyed : undefined;
      if (!entries) return cache;
      for (const [d, c] of entries(data.created)) add.created(d, c);
      for (const [d, list] of entries(data.children)) add.children(d, list);
      for (const [d, v] of entries(data.sizes)) add.sizes(d, v);
      for (const k of Array.isArray(data.seen) ? data.seen : []) add.seen(k);
    }
    cache.keepDigests(key);
  } catch {
    // Unreadable or not JSON: start afresh; the next save replaces it.
    return new ContentCache(file, cache.replaces);
  }
  return cache;
}

interface Adders {
  created(d: unknown, v: unknown): void;
  children(d: unknown, v: unknown): void;
  sizes(d: unknown, v: unknown): void;
  seen(k: unknown): void;
}

/** A section of version 2 parsed whole: its pairs (anything else in it is passed over). */
function pairs(section: unknown): Array<[unknown, unknown]> {
  return Array.isArray(section) ? section.filter((e): e is [unknown, unknown] => Array.isArray(e) && e.length === 2) : [];
}

/** A section of version 1 parsed whole: its keys and values. */
function keyed(section: unknown): Array<[unknown, unknown]> {
  return section !== null && typeof section === 'object' && !Array.isArray(section) ? Object.entries(section) : [];
}

/**
 * The file one entry a line, as save() writes it (or a regmgr of version 1 did): the
 * text is never whole in memory (at 1,000,000 images, ~300 MiB, and its parsed tree
 * several times that). false when the file is in neither layout (nothing added);
 * throws when it is, but is cut short or holds more than save() writes (the caller then
 * starts afresh).
 */
function readByLine(file: string, add: Adders): boolean {
  const version = layoutOf(file);
  if (version === undefined) return false;
  const sections = LAYOUTS[version];
  const entry = version === 2 ? pairLine : keyLine;
  let section = -1;
  let count = 0;
  eachLine(file, MAX_LINE, (line) => {
    if (section === -1) {
      section = 0;
      return;
    }
    if (section < 4 && line === sections[section + 1]) {
      section++;
      count = 0;
      return;
    }
    if (section === 4 || ++count > MAX_ENTRIES) throw new Error('not a cache file');
    const body = count > 1 ? (line.startsWith(',') ? line.slice(1) : 'x') : line;
    if (section === 3) return add.seen(JSON.parse(body));
    const [d, v] = entry(body);
    if (section === 0) add.created(d, v);
    else if (section === 1) add.children(d, v);
    else add.sizes(d, v);
  });
  if (section !== 4) throw new Error('cache file cut short');
  return true;
}

/** An entry's line in layout 2: a pair. */
function pairLine(body: string): [unknown, unknown] {
  const e: unknown = JSON.parse(body);
  if (!Array.isArray(e) || e.length !== 2) throw new Error('not a cache file');
  return e as [unknown, unknown];
}

/** An entry's line in layout 1: one key and its value. */
function keyLine(body: string): [unknown, unknown] {
  const e: Record<string, unknown> = JSON.parse(`{${body}}`);
  const names = Object.keys(e);
  if (names.length !== 1) throw new Error('not a cache file');
  return [names[0], e[names[0]]];
}

/** Which layout's first line the file starts with, if either. */
function layoutOf(file: string): Version | undefined {
  const heads = ([1, 2] as const).map((v) => [v, `${LAYOUTS[v][0]}\n`] as const);
  const first = Buffer.alloc(Math.max(...heads.map(([, h]) => h.length)));
  const fd = openSync(file, 'r');
  try {
    readSync(fd, first, 0, first.length, 0);
  } finally {
    closeSync(fd);
  }
  return heads.find(([, h]) => first.toString('latin1', 0, h.length) === h)?.[0];
}

/** A size entry as the file holds it: blobs as [digest, size] pairs (the file's format since version 1). */
interface SizesInFile {
  size: number;
  blobs: Array<[Digest, number]>;
  children?: Digest[];
  unsized?: true;
}

function inFile(m: ManifestSizes): SizesInFile {
  return { ...m, blobs: blobPairs(m) };
}

function inMemory(v: SizesInFile, key: (d: Digest) => Digest): ManifestSizes {
  const blobs: Array<Digest | number> = [];
  v.blobs.forEach(([d, n], i) => blobs.push(i ? sharedDigest(d) : d, n));
  return sizesOf(v.size, blobs, v.children?.map(key), v.unsized === true);
}

/** Exactly the shape manifestSizes makes (as the file holds it), or the entry is ignored (the cache is only an optimisation). */
function sizesValid(v: any): v is SizesInFile {
  const size = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  return (
    v !== null &&
    typeof v === 'object' &&
    size(v.size) &&
    Array.isArray(v.blobs) &&
    v.blobs.length <= 10_000 &&
    v.blobs.every((b: unknown) => Array.isArray(b) && b.length === 2 && typeof b[0] === 'string' && isDigest(b[0]) && size(b[1])) &&
    (v.children === undefined || (Array.isArray(v.children) && v.children.length <= 10_000 && v.children.every((c: unknown) => typeof c === 'string' && isDigest(c)))) &&
    (v.unsized === undefined || v.unsized === true)
  );
}
