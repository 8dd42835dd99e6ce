import semver from 'semver';
import { parseVersion } from './version.js';

export interface Orderable {
  tag: string;
  created?: string;
}

export type OrderBasis = 'created' | 'version' | 'name';

/**
 * Newest first: by image creation time, then semver precedence, then name (later name
 * first). Returns, for each comparison made, which key decided, so the plan can say it.
 */
export function newestFirst<T extends Orderable>(items: readonly T[]): { sorted: T[]; basis: Map<T, OrderBasis> } {
  const basis = new Map<T, OrderBasis>();
  const note = (a: T, b: T, by: OrderBasis) => {
    // Remember the strongest key that placed each item against a neighbour.
    for (const x of [a, b]) {
      const prev = basis.get(x);
      if (!prev || rank(by) < rank(prev)) basis.set(x, by);
    }
  };
  const sorted = [...items].sort((a, b) => {
    const ta = a.created ? Date.parse(a.created) : NaN;
    const tb = b.created ? Date.parse(b.created) : NaN;
    if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) {
      note(a, b, 'created');
      return tb - ta;
    }
    const va = parseVersion(a.tag);
    const vb = parseVersion(b.tag);
    if (va && vb) {
      const c = semver.compare(vb, va);
      if (c !== 0) {
        note(a, b, 'version');
        return c;
      }
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
