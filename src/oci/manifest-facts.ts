import { isIndex } from './media-types.js';
import { isDigest, type Digest } from './names.js';

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
  blobs: Array<[Digest, number]>;
  children?: Digest[];
  unsized?: true;
}

export function manifestSizes(json: any, mediaType: string, bytes: number): ManifestSizes {
  if (isIndex(mediaType)) {
    const list: unknown[] = Array.isArray(json?.manifests) ? json.manifests : [];
    const children = list.map((c: any) => c?.digest).filter((d): d is Digest => typeof d === 'string' && isDigest(d));
    return { size: bytes, blobs: [], children, ...(children.length !== list.length ? { unsized: true as const } : {}) };
  }
  const descriptors: unknown[] = [json?.config, ...(Array.isArray(json?.layers) ? json.layers : [])].filter((d) => d !== undefined);
  const blobs: Array<[Digest, number]> = [];
  let unsized = false;
  for (const d of descriptors as Array<{ digest?: unknown; size?: unknown }>) {
    if (typeof d?.digest === 'string' && isDigest(d.digest) && Number.isSafeInteger(d.size) && (d.size as number) >= 0) blobs.push([d.digest, d.size as number]);
    else unsized = true;
  }
  return { size: bytes, blobs, ...(unsized ? { unsized: true as const } : {}) };
}
