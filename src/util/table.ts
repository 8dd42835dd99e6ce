import { inert } from './inert.js';

/** Left-aligned columns separated by two spaces; no trailing blanks. Every cell is shown inert. */
export function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(inert));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
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
