import type { Digest } from './names.js';

// Artifacts attached to an image live as tags in the image's own repository:
// cosign names them after the image digest (`sha256-<hex>.sig`, `.att`, `.sbom`), and
// the OCI 1.1 referrers fallback keeps an index of referrers at `sha256-<hex>`. Such a
// tag belongs to its subject image: never a candidate of its own.

const ATTACHMENT = /^sha256-([a-f0-9]{64})(?:\.(sig|att|sbom))?$/;

export type AttachmentKind = 'signature' | 'attestation' | 'sbom' | 'referrers';

export interface Attachment {
  subject: Digest;
  kind: AttachmentKind;
}

/** The subject of an attachment tag, or undefined for an ordinary tag. */
export function attachmentOf(tag: string): Attachment | undefined {
  const m = ATTACHMENT.exec(tag);
  if (!m) return undefined;
  const kind: AttachmentKind = m[2] === 'sig' ? 'signature' : m[2] === 'att' ? 'attestation' : m[2] === 'sbom' ? 'sbom' : 'referrers';
  return { subject: `sha256:${m[1]}` as Digest, kind };
}
