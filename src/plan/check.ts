import type { Plan } from './model.js';
import { stateViewOf } from './state-view.js';
import { describeWrite, writesTouching } from './since.js';
import { describeChange, diffSnapshots } from '../state/diff.js';
import type { State } from '../state/model.js';
import { inert } from '../util/inert.js';

/** How many changed tags `plan --check` lists before it counts the rest. */
const SHOWN = 40;

/**
 * Why a committed plan and a fresh one differ, as lines for `plan --check`: the config
 * changed (its sha256), the registries changed (the tags, over repositories both plans
 * read, with the applies the state saw change them since the plan was made), both, or
 * neither (time-based rules: ages are measured from a later time). Pure.
 */
export function explainDifference(file: string, committed: Plan, fresh: Plan, state: State | undefined): string[] {
  const config = committed.config.sha256 !== fresh.config.sha256;
  const changes = diffSnapshots(stateViewOf(committed.snapshot), stateViewOf(fresh.snapshot));
  const cause = config && changes.length ? 'both the config and the registries changed' : config ? `the config changed (${inert(fresh.config.file)} is not the file the plan was made with)` : changes.length ? 'the registries changed' : 'the same config and tags give other actions now (rules by age measure from a later time, or another regmgr version decided)';
  const out = ['', `${file} is not current: ${cause} since it was made (${committed.created_at}).`];
  if (!changes.length) return out;
  out.push('', 'Changed in the registries since the plan was made:');
  for (const c of changes.slice(0, SHOWN)) out.push(`  ${describeChange(c)}`);
  if (changes.length > SHOWN) out.push(`  ... and ${changes.length - SHOWN} more`);
  const made = Date.parse(committed.created_at);
  const writes = writesTouching(state, new Set(changes.map((c) => `${c.registry}/${c.repository}`))).filter((w) => Date.parse(w.event.written_at) > made);
  for (const w of writes) out.push(`  (${describeWrite(w.event)} changed ${w.repositories.join(', ')})`);
  if (!writes.length) out.push('  (the state records no regmgr apply that did this: another client, or an apply whose state this runner does not have)');
  return out;
}
