import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/model.js';
import { PlanFileError, readPlanFile, writePlanFile } from '../plan/file.js';
import { overlay } from '../state/file.js';
import type { StateBackend } from '../backend/backend.js';
import { lockTimeoutMs, syncJournal, withBackend } from './backend-use.js';
import { applyDone, changedBy, deletedBy } from '../apply/state-update.js';
import { describeSince, sinceThePlan } from '../plan/since.js';
import { stateViewOf } from '../plan/state-view.js';
import type { Plan } from '../plan/model.js';
import { preflight } from '../apply/preflight.js';
import { Journal, journalPath, readDone } from '../apply/journal.js';
import { SkopeoRunner } from '../apply/skopeo.js';
import { countResults, execute, type FreshRead } from '../apply/executor.js';
import { policyDrift } from '../apply/recheck.js';
import { Interrupts } from '../apply/interrupt.js';
import type { Outcome } from '../apply/steps.js';
import { connect } from '../registry/connect.js';
import { makePlan, printPlan, type PolicyChoice } from './plan.js';
import { EXIT, notify, type IO } from './io.js';
import { inert } from '../util/inert.js';
import { humanBytes } from '../plan/bytes.js';
import { scrub } from '../util/secret.js';
import { durationOption } from '../util/duration-option.js';

export interface ApplyArgs {
  /** --state FILE: where the state lives (default: beside the config, or its state.path). */
  state?: string;
  plan?: string;
  config?: string;
  parallelism?: number;
  autoApprove?: boolean;
  /** --in-use FILE: what is deployed now, for the live re-check (beside delete-policy.keep-in-use). */
  inUse?: string[];
  /** -lock-timeout=DURATION: wait for the state lock. */
  lockTimeout?: string;
  /** -digest-max-age=DURATION: re-read every tag's digest during apply, this fresh at a DELETE (live-view.ts). */
  digestMaxAge?: string;
}

export const DEFAULT_PARALLELISM = 4;

/** For a plan with no copy left to do: a runner that is never called. */
const NO_COPIES = { copy: () => Promise.reject(new Error('internal: no skopeo runner for a copy')) } as unknown as SkopeoRunner;

/** `apply plan.json` carries out a saved plan; `apply -c config.yml` plans, asks, then applies. */
/** What tests may replace: the skopeo runner, and the age bound of apply's live view. */
export interface ApplyDeps {
  skopeo?: SkopeoRunner;
  maxViewAgeMs?: number;
  /** Evaluate the policy again on live data first (a saved plan; not one just made). */
  recheck?: boolean;
}

export async function applyCommand(args: ApplyArgs, io: IO, deps: ApplyDeps = {}): Promise<number> {
  if (args.parallelism !== undefined && (!Number.isInteger(args.parallelism) || args.parallelism < 1 || args.parallelism > 64)) {
    throw new Error(`--parallelism must be a whole number from 1 to 64 (got ${Number.isNaN(args.parallelism) ? 'something that is not a number' : args.parallelism})`);
  }
  const maxViewAgeMs = args.digestMaxAge === undefined ? deps.maxViewAgeMs : args.digestMaxAge.trim() === 'never' ? Infinity : durationOption('-digest-max-age', args.digestMaxAge, 'never');
  if (args.plan) {
    // Everything that can refuse the plan runs before any request.
    const plan = readPlanFile(args.plan);
    if (!args.config && !existsSync(plan.config.file)) {
      throw new PlanFileError(args.plan, `was made with the config ${plan.config.file}, which is not there from this folder: pass -c CONFIG`);
    }
    const config = loadConfig(args.config ?? plan.config.file, io.env, { statePath: args.state, notice: notify(io) });
    preflight(args.plan, plan, config);
    return applyPlan(args.plan, plan, config, io, { parallelism: args.parallelism, recheck: true, inUse: args.inUse, lockTimeoutMs: lockTimeoutMs(args.lockTimeout), ...deps, maxViewAgeMs });
  }
  if (!args.config) throw new Error('apply needs a plan file (regmgr apply plan.json) or a config (regmgr apply -c config.yml)');
  const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io) });
  return planAndApply(config, io, { policies: 'both', confirm: !args.autoApprove, parallelism: args.parallelism, skopeo: deps.skopeo, maxViewAgeMs });
}

/**
 * Plans again, now, the repositories the plan touches, with the config as it is: the
 * plan's actions that this fresh plan does not have are left alone (recheck.ts).
 */
async function recheckPolicy(plan: Plan, config: Config, io: IO, inUse?: string[]): Promise<{ drift: Map<string, string>; read: FreshRead }> {
  const touched = new Set(plan.actions.map((a) => (a.type === 'copy' ? `${a.source.registry}/${a.source.repository}` : `${a.registry}/${a.repository}`)));
  const policies: PolicyChoice = plan.policies.delete && plan.policies.sync ? 'both' : plan.policies.delete ? 'delete' : 'sync';
  const at = performance.now();
  const fresh = await makePlan(config, io, { targets: [...touched], policies, quiet: true, inUse });
  // Every tag of the touched repositories, read just now: the deletes' first view.
  // The platform manifests that may go with each index: those the live policy lets go too.
  const children = new Map(fresh.actions.flatMap((a) => (a.type === 'delete' && a.children ? [[a.id, new Set<string>(a.children)] as const] : [])));
  return { drift: policyDrift(plan, fresh), read: { snapshot: fresh.snapshot, at, took: performance.now() - at, children } };
}

/** Plans, shows the plan, and (after confirmation unless told not to ask) applies it. */
export async function planAndApply(config: Config, io: IO, o: { policies: PolicyChoice; confirm: boolean; parallelism?: number; skopeo?: SkopeoRunner; maxViewAgeMs?: number }): Promise<number> {
  const plan = await makePlan(config, io, { policies: o.policies });
  await printPlan(plan, {}, io);
  if (plan.actions.length === 0) return EXIT.ok;
  if (o.confirm) {
    if (!io.confirm) throw new Error('no terminal to confirm on: save a plan with `regmgr plan -out FILE` and apply it, or pass --auto-approve');
    const yes = await io.confirm('\nDo you want to perform these actions? Only "yes" will be accepted: ');
    if (!yes) {
      io.out('Apply cancelled.\n');
      return EXIT.error;
    }
  }
  // Kept beside the state with its journal: the saved manifests let `regmgr restore` undo it.
  const dir = `${config.statePath}.applies`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `plan-${plan.created_at.replace(/[:.]/g, '-')}.json`);
  writePlanFile(file, plan);
  return applyPlan(file, plan, config, io, { parallelism: o.parallelism, skopeo: o.skopeo, maxViewAgeMs: o.maxViewAgeMs });
}

export async function applyPlan(planFile: string, plan: Plan, config: Config, io: IO, o: { parallelism?: number; inUse?: string[]; lockTimeoutMs?: number } & ApplyDeps): Promise<number> {
  if (plan.actions.length === 0) {
    io.out('No changes: the plan has no actions.\n');
    return EXIT.ok;
  }
  return withBackend(config, io.env, async (backend) => {
    const jpath = journalPath(planFile, plan.sha256);
    // Backend pg: another machine's journal of this plan comes down first (resume it here).
    await syncJournal(backend, jpath, plan.sha256);
    return applyWith(backend, planFile, plan, config, io, o);
  }, { journals: true });
}

async function applyWith(backend: StateBackend, planFile: string, plan: Plan, config: Config, io: IO, o: { parallelism?: number; inUse?: string[]; lockTimeoutMs?: number } & ApplyDeps): Promise<number> {
  const jpath = journalPath(planFile, plan.sha256);
  // The journal's key is found in the process's real environment (io.env holds credentials variables).
  const done = readDone(jpath, plan.sha256);
  if (plan.actions.every((a) => done.has(a.id))) {
    io.out(`Nothing to do: all ${plan.actions.length} actions of this plan were already applied (journal ${jpath}).\n`);
    return EXIT.ok;
  }
  // From here on Ctrl-C is ours: the lock and the state are always left in order.
  const interrupts = new Interrupts((m) => io.err(m), `regmgr apply ${planFile}`);
  try {
    return await lockedApply(backend, planFile, plan, config, io, o, done, interrupts);
  } finally {
    interrupts.dispose();
  }
}

async function lockedApply(backend: StateBackend, planFile: string, plan: Plan, config: Config, io: IO, o: { parallelism?: number; inUse?: string[]; lockTimeoutMs?: number } & ApplyDeps, done: ReadonlySet<string>, interrupts: Interrupts): Promise<number> {
  const jpath = journalPath(planFile, plan.sha256);
  // Before the lock and the state are touched: a refused private folder changes nothing.
  const skopeo = o.skopeo ?? (plan.actions.some((a) => a.type === 'copy' && !done.has(a.id)) ? new SkopeoRunner(io.env.REGMGR_SKOPEO || 'skopeo') : undefined);
  // Checked beside the lock and the re-check's reads (a skopeo process takes ~0.1 s to
  // start), and awaited before the state is marked: a missing skopeo changes nothing.
  const skopeoChecked = o.skopeo ? undefined : skopeo?.check().then(() => undefined, (e: Error) => e);
  const lock = await backend.lock(`regmgr apply ${planFile}`, notify(io), o.lockTimeoutMs ?? 0);
  try {
    // Backend pg: another machine may have gone on with this plan while we waited for the lock.
    await syncJournal(backend, jpath, plan.sha256);
    // Under the lock, so that no other apply can change the state between check and write.
    const prev = await backend.read();
    // The state never refuses or skips a plan (a plan from a laptop with no state is as
    // good as one from CI's): the re-check and each action's own check decide on live
    // data. The history only explains: whether this plan already ran, what changed since.
    const since = sinceThePlan(plan, prev);
    // A note, not a shortcut: a state file is input anyone may have edited (it can be
    // committed beside the config), so the registry is checked all the same; what was
    // done comes out as `gone`.
    if (since.applied && done.size === 0) io.out(`note: the state records this plan applied in full at state serial ${since.applied.serial} (${since.applied.written_at}); checking the registry all the same.\n`);
    const note = describeSince(since, planFile, config.file);
    if (note) io.out(`${note}\n`);
    // Before anything is marked: a failed read changes nothing.
    if (plan.in_use?.length && !o.inUse?.length && !config.deletePolicy?.keepInUse.length) {
      io.err(`note: the plan kept the images in use per ${inert(plan.in_use.map((u) => u.file).join(', '))}; this apply was given no in-use input, so its re-check cannot see what was deployed since (pass --in-use FILE)\n`);
    }
    const recheck = o.recheck ? await recheckPolicy(plan, config, io, o.inUse) : undefined;
    const noSkopeo = await skopeoChecked;
    if (noSkopeo) throw noSkopeo;
    // Mark the state at once: the history then shows an apply in progress.
    const base = overlay(prev?.snapshot ?? {}, stateViewOf(plan.snapshot));
    const registries = { ...(prev?.registries ?? {}), ...Object.fromEntries(Object.entries(plan.registries).map(([n, r]) => [n, { url: r.url }])) };
    const mark = { plan_sha256: plan.sha256, plan_created_at: plan.created_at, base_serial: plan.state.serial };
    const event = { plan_sha256: plan.sha256, plan_created_at: plan.created_at };
    const marked = await backend.write(prev, { written_by: 'apply', apply: { ...mark, finished: false }, registries, snapshot: prev?.snapshot ?? {}, event: { ...event, finished: false } });
    const journal = new Journal(jpath, plan.sha256, process.env, backend.journals ? (n) => backend.journals!.mirror(plan.sha256, n) : undefined);
    try {
      return await runActions(planFile, plan, config, journal, io, { ...o, skopeo, policyDrift: recheck?.drift, freshRead: recheck?.read, interrupts });
    } finally {
      // Record what this plan has changed so far: its finished actions, from the journal.
      const doneNow = new Set(plan.actions.filter((a) => journal.isDone(a.id)).map((a) => a.id));
      const finished = doneNow.size === plan.actions.length;
      // Every journal line stored first where it must be found (best effort: the database may be gone).
      await journal.durable().catch(() => undefined);
      await backend.write(marked, {
        written_by: 'apply',
        apply: { ...mark, finished },
        registries,
        snapshot: applyDone(base, plan, doneNow, journal.restored),
        event: { ...event, finished, changed: changedBy(plan, doneNow) },
        deleted: deletedBy(plan, doneNow),
      });
      journal.close();
    }
  } finally {
    await lock.release();
  }
}

async function runActions(planFile: string, plan: Plan, config: Config, journal: Journal, io: IO, o: { parallelism?: number; policyDrift?: ReadonlyMap<string, string>; freshRead?: FreshRead; interrupts: Interrupts } & ApplyDeps): Promise<number> {
  const names = new Set(plan.actions.flatMap((a) => (a.type === 'copy' ? [a.source.registry, a.target.registry] : [a.registry])));
  const clients = await connect(config, names, { env: io.env, logger: io.logger });
  const bar = progressBar(io);
  try {
    const report = await execute(plan, clients, journal, o.skopeo ?? NO_COPIES, {
      parallelism: o.parallelism ?? DEFAULT_PARALLELISM,
      maxViewAgeMs: o.maxViewAgeMs,
      policyDrift: o.policyDrift,
      freshRead: o.freshRead,
      debug: (m) => io.logger.debug(m),
      signal: o.interrupts.stopNew.signal,
      killSignal: o.interrupts.stopInFlight.signal,
      onStart: (id) => bar.start(id),
      onOutcome: (out, n, total) => {
        bar.clear();
        io.out(line(out));
        bar.draw(n, total);
      },
    });
    bar.clear();
    const c = countResults(report);
    const already = report.alreadyDone ? ` (${report.alreadyDone} already done before this run)` : '';
    const present = c.present ? `, ${c.present} already present` : '';
    const head = report.interrupted || o.interrupts.interrupted ? 'Apply interrupted' : 'Apply complete';
    const restored = c.restored ? ` (${c.restored} with a lost tag put back)` : '';
    const gone = c.gone ? `, ${c.gone} already gone` : '';
    io.out(`\n${head}: ${c.copied} copied${present}, ${c.deleted} deleted${gone}${restored}, ${c.drifted} drifted, ${c.blocked} blocked, ${c.failed} failed${already}.\n`);
    if (c.restored) {
      io.out('Another client moved tags onto digests while they were being deleted; those tags were put back on the same digest (lines starting "restored" above). Check who re-tags this repository, then run `regmgr plan` again.\n');
    }
    if (c.deleted) io.out(`To put the deleted tags back (until the registry's garbage collection runs): regmgr restore ${planFile}\n`);
    if (c.deleted && plan.bytes) {
      const freed = `${plan.bytes.exact ? '' : 'up to '}${humanBytes(plan.bytes.freed)}`;
      io.out(`To get the storage back (the plan counted ${freed}), run the registry's garbage collection: \`docker-registry garbage-collect CONFIG\` with the registry read-only or stopped, never with --delete-untagged (Harbor: its Garbage Collection job). Then check what it removed: regmgr reclaim ${planFile}\n`);
    }
    if (c.failed) io.out(`Failed actions are listed above with the registry's answer. Fix the cause and run \`regmgr apply ${planFile}\` again: finished actions are skipped.\n`);
    if (c.drifted + c.blocked) io.out('Drifted or blocked actions were left alone: the registry changed since the plan. Run `regmgr plan` again to review.\n');
    if (report.interrupted || o.interrupts.interrupted) {
      io.out(`Interrupted: what finished is recorded; run \`regmgr apply ${planFile}\` to do the rest.\n`);
      return 130;
    }
    return c.failed ? EXIT.error : c.drifted + c.blocked + c.restored ? EXIT.drift : EXIT.ok;
  } finally {
    bar.clear();
    await clients.close();
  }
}

function line(o: Outcome): string {
  return `${o.result.padEnd(8)} ${inert(scrub(o.detail))}\n`;
}

/** done/total and the action in progress on a terminal; nothing when piped. */
function progressBar(io: IO) {
  const on = io.tty && Boolean(process.stderr.isTTY);
  let current = '';
  let shown = false;
  let last = { n: 0, total: 0 };
  const draw = (n: number, total: number) => {
    if (!on) return;
    last = { n, total };
    const width = 24;
    const filled = total ? Math.round((n / total) * width) : 0;
    process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${n}/${total} ${current.slice(0, 60)}\x1b[K`);
    shown = true;
  };
  return {
    start(id: string) {
      current = id;
      draw(last.n, last.total);
    },
    draw,
    clear() {
      if (on && shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
