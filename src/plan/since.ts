import type { Plan } from './model.js';
import { reliedOn } from './state-view.js';
import type { State, StateEvent } from '../state/model.js';

// What the state's history says happened since a plan was made. Pure.
//
// Apply does not refuse a plan because the state moved on since it was made: a plan
// authored on a laptop with no state, or before another pull request's apply, is still
// applied, action by action, as far as the policy wants it on live data (recheck.ts) and
// each action's own check allows. The history is used to say why an action drifted, and
// that this very plan already ran to the end (said, never trusted to skip work: a state
// file is input anyone may have edited).

export interface SincePlan {
  /** This plan's apply that finished, when nothing changed its repositories after it. */
  applied?: StateEvent;
  /** Writes after the plan was made that changed repositories it relies on, oldest first. */
  changedBy: Array<{ event: StateEvent; repositories: string[] }>;
}

export function sinceThePlan(plan: Plan, state: State | undefined): SincePlan {
  const touching = writesTouching(state, reliedOn(plan));
  const last = touching.at(-1)?.event;
  const applied = last && last.written_by === 'apply' && last.plan_sha256 === plan.sha256 && last.finished ? last : undefined;
  const made = Date.parse(plan.created_at);
  const changedBy = touching.filter((e) => e.event.plan_sha256 !== plan.sha256 && Date.parse(e.event.written_at) > made);
  return { applied, changedBy };
}

/** The history's writes that changed any of `repositories` (`registry/repository`), oldest first. */
export function writesTouching(state: State | undefined, repositories: ReadonlySet<string>): Array<{ event: StateEvent; repositories: string[] }> {
  return (state?.history ?? []).map((event) => ({ event, repositories: (event.changed ?? []).filter((r) => repositories.has(r)).sort() })).filter((e) => e.repositories.length > 0);
}

/** How the history names a write, for one line of output. */
export function describeWrite(e: StateEvent): string {
  return `${e.written_by === 'apply' ? `the apply of plan ${e.plan_sha256?.slice(0, 12) ?? '?'}` : `a ${e.written_by}`} (state serial ${e.serial}, ${e.written_at})`;
}

/** One line: which writes changed what the plan relied on, and what apply does about it. */
export function describeSince(since: SincePlan, planFile: string, configFile: string): string | undefined {
  if (!since.changedBy.length) return undefined;
  const what = since.changedBy.map(({ event }) => describeWrite(event));
  const repos = [...new Set(since.changedBy.flatMap((c) => c.repositories))];
  return `note: since ${planFile} was made, ${what.join(' and ')} changed ${repos.join(', ')}: apply does only what the policy still wants there on live data and reports the rest as drifted; to review the current plan, run \`regmgr plan -c ${configFile} -out ${planFile}\`.`;
}
