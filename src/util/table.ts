import { inert } from './inert.js';

/**
 * A table's lines (each without its newline), made as they are taken: left-aligned
 * columns separated by two spaces, the last one unpadded, every cell shown inert.
 * `rows` is called twice (the widths, then the lines): the rows need not all exist at
 * once.
 */
export function* tableLines(rows: () => Iterable<readonly string[]>): Generator<string, void, undefined> {
  const widths: number[] = [];
  for (const r of rows()) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, inert(c).length)));
  for (const r of rows()) yield r.map((c, i) => (i === r.length - 1 ? inert(c) : inert(c).padEnd(widths[i]))).join('  ');
}

export function shortDigest(d: string): string {
  return d.startsWith('sha256:') ? `sha256:${d.slice(7, 19)}` : d;
}

const MEDIA: Record<string, string> = {
  'application/vnd.oci.image.index.v1+json': 'oci-index',
  'application/vnd.oci.image.manifest.v1+json': 'oci-image',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'docker-list',
  'application/vnd.docker.distribution.manifest.v2+json': 'docker-image',
};

export function shortMediaType(m: string): string {
  return MEDIA[m] ?? m;
}
