import compare from 'semver/functions/compare.js';
import { parseVersion } from './version.js';
import { REPRODUCIBLE_BEFORE_MS } from '../oci/created.js';

export interface Orderable {
  tag: string;
  created?: string;
}

export type OrderBasis = 'created' | 'version' | 'name';

/**
 * Newest first, as a total order: image creation time, then semver precedence (versions
 * before other tags), then name (later name first). A reproducible build's fixed time
 * (before 1980) is no build time: those images come after every real time, ordered
 * among themselves by version, then name. Unknown times (created.ts) are the caller's to
 * keep out: they would otherwise take the newest places. Also says, per item, the
 * strongest key that placed it against a neighbour.
 */
export function newestFirst<T extends Orderable>(items: readonly T[]): { sorted: T[]; basis: Map<T, OrderBasis> } {
  const basis = new Map<T, OrderBasis>();
  const note = (a: T, b: T, by: OrderBasis) => {
    for (const x of [a, b]) {
      const prev = basis.get(x);
      if (!prev || rank(by) < rank(prev)) basis.set(x, by);
    }
  };
  const time = (t: T) => {
    const ms = t.created ? Date.parse(t.created) : NaN;
    return Number.isNaN(ms) ? Infinity : ms < REPRODUCIBLE_BEFORE_MS ? -Infinity : ms;
  };
  const sorted = [...items].sort((a, b) => {
    const ta = time(a);
    const tb = time(b);
    if (ta !== tb) {
      note(a, b, 'created');
      return ta < tb ? 1 : -1;
    }
    const va = parseVersion(a.tag);
    const vb = parseVersion(b.tag);
    const c = va && vb ? compare(vb, va) : va ? -1 : vb ? 1 : 0;
    if (c !== 0) {
      note(a, b, 'version');
      return c;
    }
    note(a, b, 'name');
    return a.tag < b.tag ? 1 : a.tag > b.tag ? -1 : 0;
  });
  return { sorted, basis };
}

function rank(b: OrderBasis): number {
  return b === 'created' ? 0 : b === 'version' ? 1 : 2;
}

export function describeBasis(b: OrderBasis | undefined): string {
  return b === 'created' ? 'image creation time' : b === 'version' ? 'version precedence' : 'tag name';
}
