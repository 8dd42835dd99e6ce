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
