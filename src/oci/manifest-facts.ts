import { isIndex } from './media-types.js';
import { isDigest, type Digest } from './names.js';
import { interner } from '../util/intern.js';

/**
 * What later reads need from a manifest body, kept per digest instead of the body: an
 * image's config blob, or an index's children and the child that stands for the image
 * (the first with a real platform: attestation manifests say unknown/unknown). Pure.
 */
export interface ManifestFacts {
  config?: Digest;
  /** Index only: every child digest, when all of them are valid digests. */
  children?: Digest[];
  /** Index only: the child whose config gives the image's creation time. */
  platformChild?: Digest;
}

export function manifestFacts(json: any, mediaType: string): ManifestFacts {
  if (isIndex(mediaType)) {
    const list: unknown[] = Array.isArray(json?.manifests) ? json.manifests : [];
    const digests = list.map((c: any) => c?.digest);
    const child = list.find((c: any) => c?.platform?.os !== 'unknown') as { digest?: unknown } | undefined;
    return {
      ...(digests.every((d) => typeof d === 'string' && isDigest(d)) ? { children: digests as Digest[] } : {}),
      ...(typeof child?.digest === 'string' && isDigest(child.digest) ? { platformChild: child.digest } : {}),
    };
  }
  const cfg = json?.config?.digest;
  return typeof cfg === 'string' && /^sha256:[a-f0-9]{64}$/.test(cfg) ? { config: cfg as Digest } : {};
}

/**
 * What a manifest makes the registry store, for counting bytes: its own bytes (a
 * manifest is a blob too), the blobs it references (an image's config and layers, by
 * their descriptors' sizes), and an index's platform manifests. Sizes in descriptors
 * come from whoever pushed the image: one that is not a whole number from 0 to 2^53
 * makes the manifest `unsized`, and every figure it enters an estimate. Pure.
 */
export interface ManifestSizes {
  size: number;
  /**
   * The blobs it references, flat: digest, size, digest, size... One array instead of
   * one per blob: at 1,000,000 images the pairs were ~100 bytes an image. Read it with
   * eachBlob().
   */
  blobs: Array<Digest | number>;
  children?: Digest[];
  unsized?: true;
}

/** Each blob a manifest references, with its size. */
export function eachBlob(m: Pick<ManifestSizes, 'blobs'>, f: (digest: Digest, size: number) => void): void {
  const b = m.blobs;
  for (let i = 0; i + 1 < b.length; i += 2) f(b[i] as Digest, b[i + 1] as number);
}

/** The same as [digest, size] pairs, where a caller needs a list (to await in its loop, to write the cache). */
export function blobPairs(m: Pick<ManifestSizes, 'blobs'>): Array<[Digest, number]> {
  const out: Array<[Digest, number]> = [];
  eachBlob(m, (d, n) => out.push([d, n]));
  return out;
}

/**
 * One string per blob digest: every image of a repository names the same base layers,
 * and each JSON body read makes its own copy of the digest (88 bytes). The first blob,
 * an image's config, is its own and is not kept here. Bounded, so that a process that
 * reads more distinct layers than this stops sharing rather than growing.
 */
export const sharedDigest = interner<Digest>(1_000_000);

export function manifestSizes(json: any, mediaType: string, bytes: number): ManifestSizes {
  if (isIndex(mediaType)) {
    const list: unknown[] = Array.isArray(json?.manifests) ? json.manifests : [];
    const children = list.map((c: any) => c?.digest).filter((d): d is Digest => typeof d === 'string' && isDigest(d));
    return sizesOf(bytes, [], children, children.length !== list.length);
  }
  const descriptors: unknown[] = [json?.config, ...(Array.isArray(json?.layers) ? json.layers : [])].filter((d) => d !== undefined);
  const blobs: Array<Digest | number> = [];
  let unsized = false;
  for (const d of descriptors as Array<{ digest?: unknown; size?: unknown }>) {
    if (typeof d?.digest === 'string' && isDigest(d.digest) && Number.isSafeInteger(d.size) && (d.size as number) >= 0) blobs.push(blobs.length ? sharedDigest(d.digest) : d.digest, d.size as number);
    else unsized = true;
  }
  return sizesOf(bytes, blobs, undefined, unsized);
}

/**
 * One ManifestSizes, made to hold no more than it says: an array grown by push keeps
 * room for 17 elements (~150 bytes where an image's four need 48), and an object made by
 * spreading gets a shape of its own; one per image, 1,000,000 of them.
 */
export function sizesOf(size: number, blobs: Array<Digest | number>, children: Digest[] | undefined, unsized: boolean): ManifestSizes {
  const exact = blobs.slice();
  if (children) return unsized ? { size, blobs: exact, children, unsized: true } : { size, blobs: exact, children };
  return unsized ? { size, blobs: exact, unsized: true } : { size, blobs: exact };
}
