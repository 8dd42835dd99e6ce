import { inert } from '../util/inert.js';
import type { StateSnapshot, TagChange } from './model.js';
import { getOwn } from '../util/own-key.js';

/**
 * Tags added, removed and moved from `before` to `after`, over the repositories present
 * in both (a repository only one side read says nothing about the other). Pure; sorted.
 */
export function diffSnapshots(before: StateSnapshot, after: StateSnapshot): TagChange[] {
  const out: TagChange[] = [];
  for (const [registry, repos] of Object.entries(after)) {
    for (const [repository, tags] of Object.entries(repos)) {
      const old = before[registry]?.[repository];
      if (!old) continue;
      for (const [tag, t] of Object.entries(tags)) {
        const o = getOwn(old, tag);
        if (!o) out.push({ registry, repository, tag, change: 'added', before: null, after: t.digest });
        else if (o.digest !== t.digest) out.push({ registry, repository, tag, change: 'moved', before: o.digest, after: t.digest });
      }
      for (const [tag, o] of Object.entries(old)) {
        if (!getOwn(tags, tag)) out.push({ registry, repository, tag, change: 'removed', before: o.digest, after: null });
      }
    }
  }
  const key = (c: TagChange) => `${c.registry}\0${c.repository}\0${c.tag}`;
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export function describeChange(c: TagChange): string {
  const short = (d: string | null) => (d ? d.slice(0, 19) : '');
  const what = c.change === 'added' ? `added (${short(c.after)})` : c.change === 'removed' ? `removed (was ${short(c.before)})` : `moved ${short(c.before)} -> ${short(c.after)}`;
  return inert(`${c.registry} ${c.repository}:${c.tag} ${what}`);
}
