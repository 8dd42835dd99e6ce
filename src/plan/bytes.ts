import type { Digest } from '../oci/names.js';
import { eachBlob, type ManifestSizes } from '../oci/manifest-facts.js';
import { groupBy } from '../util/group.js';
import { KeyedNumbers } from '../util/keyed-numbers.js';
import { StringIndex, stringHash } from '../util/string-index.js';

/** What the plan's deletes free once the registry's garbage collection runs, in bytes. */
export interface BytesFreed {
  /** Blobs only the deleted manifests reference, each counted once. */
  freed: number;
  /** Blobs of the deleted manifests that stay: a kept manifest references them too. */
  shared: number;
  /** false: `freed` is an upper bound, for the reasons in `why`. */
  exact: boolean;
  why?: string[];
  repositories: Record<string, Record<string, { freed: number; shared: number }>>;
  /**
   * Per deleted manifest (`registry/repository@digest`): the bytes no other deleted
   * manifest also frees. A record when read from a file; as counted, KeyedNumbers (the
   * same record, without a string a delete: keyed-numbers.ts).
   */
  alone?: Record<string, number> | KeyedNumbers;
}

export interface BytesInput {
  /** registry -> repository -> tag -> digest, for every repository read. */
  tags: ReadonlyMap<string, ReadonlyMap<string, ReadonlyArray<{ digest: Digest }>>>;
  /** By manifest digest (content-addressed: one map for every registry). */
  sizes: ReadonlyMap<Digest, ManifestSizes>;
  /** The manifests the plan deletes (method manifest, and an index's children that go with it); untags free nothing. */
  deletes: ReadonlyArray<{ registry: string; repository: string; digest: Digest }>;
  /** Per registry, why the repositories read may not be all that reference its blobs (undefined: they are). */
  partial: ReadonlyMap<string, string | undefined>;
}

/**
 * Garbage collection (distribution's mark and sweep, registry-wide) frees a blob (a
 * layer, a config, a manifest's own bytes) only when no manifest that stays references
 * it. So, per registry: every manifest that stays (each tag not deleted, and the
 * platform manifests of every index, kept or deleted, that the plan does not delete
 * with it) marks its blobs; a deleted manifest's blobs that no one
 * marked are freed, each counted once and credited to the first repository (by name)
 * that deletes it; the marked ones stay, shared. Pure.
 */
export function bytesFreed(input: BytesInput): BytesFreed {
  const out: BytesFreed = { freed: 0, shared: 0, exact: true, repositories: {} };
  const why = new Set<string>();
  const unsized = new Set<Digest>();
  // What each deleted manifest frees alone, in the order the record was assigned before
  // (registries by name, then the deletes as given); NaN: not sized, no key.
  const aloneOf: BytesInput['deletes'][number][] = [];
  const aloneBytes = new Float64Array(input.deletes.length).fill(NaN);
  // groupBy, not a spread per item: that copies the list each time (quadratic; 13 s of a 50,000-tag plan).
  const deletesBy = groupBy(input.deletes, (d) => d.registry);
  for (const [registry, deletes] of [...deletesBy].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const partial = input.partial.get(registry);
    if (partial) why.add(`${registry}: ${partial}`);
    // By repository, then digest: no string made per delete and per tag to look them up.
    // StringIndex, not V8's Set and Map, for the sets of digests here (string-index.ts).
    const perRepository = new Map<string, number>();
    for (const d of deletes) perRepository.set(d.repository, (perRepository.get(d.repository) ?? 0) + 1);
    const goneBy = new Map<string, StringIndex>();
    for (const [repository, n] of perRepository) goneBy.set(repository, new StringIndex(n));
    for (const d of deletes) goneBy.get(d.repository)!.add(d.digest);
    const tagLists = input.tags.get(registry) ?? new Map();
    let tagCount = 0;
    for (const tags of tagLists.values()) tagCount += tags.length;
    const live = new StringIndex(tagCount);
    // The callbacks are made once, not once a manifest: at 200,000 tags the closures, sets
    // and lists made per delete were ~40 MiB of garbage.
    const addLive = (b: Digest) => void live.add(b);
    const mark = (d: Digest, depth = 0) => {
      if (depth > 2) return;
      const known = live.size;
      if (live.add(d) < known) return;
      const m = input.sizes.get(d);
      if (!m) return void unsized.add(d);
      if (m.unsized) unsized.add(d);
      eachBlob(m, addLive);
      if (m.children) for (const c of m.children) mark(c, depth + 1);
    };
    for (const [repository, tags] of tagLists) {
      const gone = goneBy.get(repository);
      for (const t of tags) {
        if (!gone?.has(t.digest)) mark(t.digest);
        // A deleted index's platform manifests that the plan does not delete stay: they
        // are manifests of their own.
        else {
          const children = input.sizes.get(t.digest)?.children;
          if (children) for (const c of children) if (!gone.has(c)) mark(c, 1);
        }
      }
    }
    // How many deleted manifests reference each blob that goes: a blob only one of them
    // references is what deleting that one alone would free.
    // Sized for every blob the deleted manifests name (an upper bound: no growth), up to
    // a manifest and its config each (images sharing their layers name them again and
    // again; past that, it grows).
    let named = 0;
    for (const d of deletes) named += ((input.sizes.get(d.digest)?.blobs.length ?? 0) >> 1) + 1;
    named = Math.min(named, 2 * deletes.length);
    const users = new StringIndex(named);
    let uses: Int32Array = new Int32Array(Math.max(16, named));
    const use = (b: Digest) => {
      const h = stringHash(b);
      if (live.indexOf(b, h) >= 0) return;
      const n = users.add(b, h);
      if (n === uses.length) uses = grown(uses);
      uses[n]++;
    };
    for (const d of deletes) {
      const m = input.sizes.get(d.digest);
      if (m) eachDistinct(d.digest, m, use);
    }
    let alone = 0;
    const own = (b: Digest, n: number) => {
      const i = users.indexOf(b);
      if (i >= 0 && uses[i] === 1) alone += n;
    };
    for (const d of deletes) {
      const m = input.sizes.get(d.digest);
      const at = aloneOf.push(d) - 1;
      if (!m) continue;
      alone = 0;
      eachDistinct(d.digest, m, own);
      aloneBytes[at] = alone;
    }
    // Each blob counted once, the first time a deleted manifest names it: one that goes
    // has its count of users set to 0 as it is counted; one that stays is marked.
    const countedLive = new Uint8Array(live.size);
    let repo = { freed: 0, shared: 0 };
    const count = (blob: Digest, size: number) => {
      const h = stringHash(blob);
      const kept = live.indexOf(blob, h);
      if (kept >= 0) {
        if (countedLive[kept]) return;
        countedLive[kept] = 1;
        repo.shared += size;
        out.shared += size;
      } else {
        const i = users.indexOf(blob, h);
        if (i < 0 || uses[i] === 0) return;
        uses[i] = 0;
        repo.freed += size;
        out.freed += size;
      }
    };
    for (const d of [...deletes].sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0))) {
      repo = (out.repositories[registry] ??= {})[d.repository] ??= { freed: 0, shared: 0 };
      const m = input.sizes.get(d.digest);
      if (!m) {
        unsized.add(d.digest);
        continue;
      }
      if (m.unsized) unsized.add(d.digest);
      eachDistinct(d.digest, m, count);
    }
  }
  const table = aloneTable(aloneOf, aloneBytes);
  if (table.size) out.alone = table;
  if (unsized.size) why.add(`${unsized.size} manifest${unsized.size === 1 ? '' : 's'} could not be sized (missing, or a descriptor without a valid size)`);
  if (why.size) {
    out.exact = false;
    out.why = [...why];
  }
  return out;
}

/** The same numbers in an array twice as long. */
function grown(a: Int32Array): Int32Array {
  const out = new Int32Array(a.length * 2);
  out.set(a);
  return out;
}

/**
 * The bytes each deleted manifest frees alone, keyed `registry/repository@digest` when
 * written; two keys in the same repository compare as their digests do. At module level:
 * a closure in bytesFreed would keep its input (every tag list and size) alive with it.
 */
export function aloneTable(items: BytesInput['deletes'], values: Float64Array): KeyedNumbers {
  const keyAt = (i: number) => `${items[i].registry}/${items[i].repository}@${items[i].digest}`;
  return new KeyedNumbers(keyAt, values, (i, j) => {
    const a = items[i];
    const b = items[j];
    if (a.registry === b.registry && a.repository === b.repository) return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
    const x = keyAt(i);
    const y = keyAt(j);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** What an image stores, each blob once: its manifest, config, layers, and an index's platform manifests and theirs; undefined when not all of it could be sized. */
export function imageSize(digest: Digest, sizes: ReadonlyMap<Digest, ManifestSizes>): number | undefined {
  const seen = new Map<Digest, number>();
  let known = true;
  const walk = (d: Digest, depth: number) => {
    const m = sizes.get(d);
    if (!m || m.unsized) known = false;
    if (!m || seen.has(d)) return;
    seen.set(d, m.size);
    eachBlob(m, (b, n) => seen.set(b, n));
    if (depth < 2) for (const c of m.children ?? []) walk(c, depth + 1);
  };
  walk(digest, 0);
  return known ? [...seen.values()].reduce((a, b) => a + b, 0) : undefined;
}

/**
 * The manifest's own bytes, then each blob it references, each digest once (a layer may
 * be named twice). Up to 64 blobs, the earlier ones are looked through; a longer list (a
 * registry's answer: any length up to the body's bound) gets a set.
 */
function eachDistinct(digest: Digest, m: ManifestSizes, f: (digest: Digest, size: number) => void): void {
  f(digest, m.size);
  const b = m.blobs;
  const seen = b.length > 128 ? new Set<Digest | number>([digest]) : undefined;
  for (let i = 0; i + 1 < b.length; i += 2) {
    const d = b[i] as Digest;
    if (seen ? seen.has(d) : d === digest || namedBefore(b, i)) continue;
    seen?.add(d);
    f(d, b[i + 1] as number);
  }
}

function namedBefore(blobs: ReadonlyArray<Digest | number>, i: number): boolean {
  for (let j = 0; j < i; j += 2) if (blobs[j] === blobs[i]) return true;
  return false;
}

/** Bytes as `du -h` says them: binary units, one decimal below 10. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return u === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** What the plan's copies send: blobs each target repository lacks, and those it has. */
export interface BytesCopied {
  transfer: number;
  present: number;
  /** false: some manifest could not be sized; the figures leave it out. */
  exact: boolean;
  repositories: Record<string, Record<string, { transfer: number; present: number }>>;
}

/**
 * Per target repository: every blob of the copied images (each manifest's own bytes,
 * config and layers, an index's platform manifests and theirs) that none of the
 * repository's manifests references now must be sent; the rest is there already
 * (skopeo skips it). Each blob counted once per repository. Pure.
 */
export function bytesCopied(input: {
  copies: ReadonlyArray<{ registry: string; repository: string; digest: Digest }>;
  targets: ReadonlyMap<string, ReadonlyMap<string, ReadonlyArray<{ digest: Digest }>>>;
  sizes: ReadonlyMap<Digest, ManifestSizes>;
}): BytesCopied {
  const out: BytesCopied = { transfer: 0, present: 0, exact: true, repositories: {} };
  /** Every blob a manifest stores, with its size: itself, config, layers, children's. */
  const closure = (d: Digest, into: Map<Digest, number>, depth = 0): void => {
    const m = input.sizes.get(d);
    if (!m || m.unsized) out.exact = false;
    if (!m || into.has(d)) return;
    into.set(d, m.size);
    eachBlob(m, (b, n) => into.set(b, n));
    if (depth < 2) for (const c of m.children ?? []) closure(c, into, depth + 1);
  };
  const byTarget = groupBy(input.copies, (c) => `${c.registry}\0${c.repository}`);
  for (const [key, copies] of [...byTarget].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [registry, repository] = key.split('\0');
    const there = new Map<Digest, number>();
    for (const t of input.targets.get(registry)?.get(repository) ?? []) closure(t.digest, there);
    const sent = new Map<Digest, number>();
    for (const c of copies) closure(c.digest, sent);
    const repo = ((out.repositories[registry] ??= {})[repository] ??= { transfer: 0, present: 0 });
    for (const [blob, size] of sent) {
      if (there.has(blob)) (repo.present += size), (out.present += size);
      else (repo.transfer += size), (out.transfer += size);
    }
  }
  return out;
}
