import { loadInUse } from './in-use-input.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/model.js';
import { connect } from '../registry/connect.js';
import { cacheFile, loadCache, type ContentCache } from '../snapshot/content-cache.js';
import { collect } from '../planner/collect.js';
import { Counter } from '../snapshot/read.js';
import { buildPlanBody, sealPlan } from '../plan/build.js';
import type { Plan } from '../plan/model.js';
import { readPlanFile, writeNewPlanFile } from '../plan/file.js';
import { canonicalHash } from '../plan/canonical.js';
import { textLines } from '../plan/render.js';
import { renderMarkdown } from '../plan/markdown.js';
import { progressLine } from '../util/progress.js';
import { VERSION } from '../version.js';
import { readState } from '../state/file.js';
import type { State } from '../state/model.js';
import { withBackend } from './backend-use.js';
import { explainDifference } from '../plan/check.js';
import { actionsDiff } from '../plan/check-diff.js';
import { EXIT, notify, printLines, type IO } from './io.js';
import { inert } from '../util/inert.js';
import { jsonLines } from '../util/json-lines.js';
import { collectGarbage, collectGarbageIfLarge } from '../util/gc.js';

export interface PlanArgs {
  /** --state FILE: where the state lives (default: beside the config, or its state.path). */
  state?: string;
  config: string;
  out?: string;
  json?: boolean;
  markdown?: boolean;
  explain?: boolean;
  detailedExitcode?: boolean;
  target?: string[];
  /** Warnings are errors (exit 1, no plan file): for CI. */
  strict?: boolean;
  /** A committed plan file: exit 0 when a fresh plan has the same actions, 2 with a diff when not. */
  check?: string;
  /** The plan's time, for tests (keep-within ages are measured against it). */
  now?: () => Date;
  /** --in-use FILE: what is deployed (kept), beside delete-policy.keep-in-use. */
  inUse?: string[];
}

export type PolicyChoice = 'both' | 'delete' | 'sync';

type PlanOptions = { targets?: string[]; policies?: PolicyChoice; now?: () => Date; quiet?: boolean; inUse?: string[] };

/** Reads the registries and computes a plan; changes nothing. */
export async function makePlan(config: Config, io: IO, opts: PlanOptions = {}): Promise<Plan> {
  return sealPlan(await makePlanBody(config, io, opts));
}

/** The same, not yet sealed with its hash: `plan -out` seals it as it writes the file (writeNewPlanFile). */
async function makePlanBody(config: Config, io: IO, opts: PlanOptions): Promise<Omit<Plan, 'sha256'>> {
  const c: Config = {
    ...config,
    deletePolicy: opts.policies === 'sync' ? undefined : config.deletePolicy,
    syncPolicy: opts.policies === 'delete' ? undefined : config.syncPolicy,
  };
  if (!c.deletePolicy && !c.syncPolicy) {
    const which = opts.policies === 'delete' ? 'a delete-policy' : opts.policies === 'sync' ? 'a sync-policy' : 'a delete-policy or a sync-policy';
    throw new Error(`${config.file}: the config has no ${which.replace(/^a /, '')}: nothing to plan (add ${which})`);
  }
  for (const t of opts.targets ?? []) {
    const reg = t.split('/')[0];
    if (!c.registries.has(reg)) throw new Error(`--target ${t}: unknown registry '${reg}'; known: ${[...c.registries.keys()].join(', ')}`);
  }
  // One time for the whole plan: ages are measured against it, and it is recorded.
  const now = opts.now?.() ?? new Date();
  // What is deployed, read before any request: a bad file stops the plan with nothing sent.
  const inUse = loadInUse([...(config.deletePolicy?.keepInUse ?? []), ...(opts.inUse ?? [])], now);
  const names = new Set([...(c.deletePolicy?.registries ?? []), ...(c.syncPolicy ? [c.syncPolicy.from, c.syncPolicy.to] : [])]);
  const clients = await connect(c, names, { env: io.env, logger: io.logger });
  const progress = progressLine(io, opts.quiet ? 're-checking the policy on live data' : 'reading registries');
  // plan never writes the state: it records which one it was made from.
  const state = await readRecorded(config, io);
  try {
    // Read and decided in a function of its own: once it returns, nothing of what it read
    // stays reachable from this frame (a reference left in a register of the frame that
    // made the call kept ~90 MiB of 200,000 tags beside the plan while it was hashed).
    const body = await readAndBuild(c, clients, progress, io, opts, { createdAt: now.toISOString(), inUse, state, configFile: config.file });
    collectGarbageIfLarge();
    return body;
  } finally {
    progress.done();
    await clients.close();
  }
}

/** The registries read, the policy decided, the plan's body built: what was read is garbage once this returns. */
async function readAndBuild(
  c: Config,
  clients: Awaited<ReturnType<typeof connect>>,
  progress: ReturnType<typeof progressLine>,
  io: IO,
  opts: { targets?: string[]; quiet?: boolean },
  at: { createdAt: string; inUse: ReturnType<typeof loadInUse>; state: State | undefined; configFile: string },
): Promise<Omit<Plan, 'sha256'>> {
  const { createdAt, inUse, state } = at;
  // The cache only saves requests: trouble with it is for --debug, not a warning.
  let cache: ContentCache | undefined = loadCache(cacheFile(io.env), (m) => io.logger.debug(m));
  // apply's re-check (quiet) needs decisions, not the bytes a plan frees: no manifest reads for them.
  // A full collection whenever the heap has grown half again since the last one left
  // it (looked at every 10,000 answers read): each answer is garbage once read, but V8
  // lets the heap grow to several times what is live before it collects (at 200,000
  // tags: 681 MiB used at the end of the reads, 262 MiB of it live). Growth, not a
  // fixed count, so that a plan of 1,000,000 tags collects a few times, not fifty.
  let live = 0;
  const counter = new Counter(progress.update, (reads) => {
    if (reads % 10_000 || process.memoryUsage().heapUsed < Math.max(GC_FLOOR, live * 1.5)) return;
    collectGarbage();
    live = process.memoryUsage().heapUsed;
  });
  // Where a phase has just left what it used garbage (before each evaluation, between the
  // build's stages): a full collection, when the heap is large enough for one to matter.
  const upkeep = () => {
    if (process.memoryUsage().heapUsed < GC_FLOOR) return;
    collectGarbage();
    live = process.memoryUsage().heapUsed;
  };
  const collected = await collect(c, clients, opts.targets, counter, Date.parse(createdAt), cache, { sizes: !opts.quiet, upkeep, ...(inUse ? { inUse: inUse.inUse } : {}) });
  cache.save((m) => io.logger.debug(m));
  cache = undefined; // written: what it holds of every digest need not stay beside the plan
  collectGarbageIfLarge(); // the answers read are garbage now
  return buildPlanBody(c, collected, {
    version: VERSION,
    createdAt,
    configFile: at.configFile,
    configSha256: createHash('sha256').update(readFileSync(at.configFile)).digest('hex'),
    state: { lineage: state?.lineage ?? null, serial: state?.serial ?? null },
    targets: opts.targets,
    recorded: state?.snapshot,
    deleted: state?.deleted_tags,
    ...(inUse ? { inUse: inUse.record } : {}),
  }, upkeep);
}

/** Below this much heap, V8's own pace is fine. */
const GC_FLOOR = 128 * 1024 * 1024;

export async function printPlan(plan: Plan, args: { json?: boolean; markdown?: boolean; explain?: boolean; planFile?: string }, io: IO): Promise<void> {
  if (args.json) await printLines(io, jsonLines(plan));
  else if (args.markdown) io.out(renderMarkdown(plan, { explain: args.explain, planFile: args.planFile }));
  else await printLines(io, textLines(plan, { color: io.color, explain: args.explain }));
}

export async function planCommand(args: PlanArgs, io: IO): Promise<number> {
  const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io) });
  if (args.check) return checkCommitted(args.check, config, args, io);
  const body = await makePlanBody(config, io, { targets: args.target, now: args.now, inUse: args.inUse });
  // Saved before it is printed: the printing waits on its reader (`| less` may hold it
  // for as long as one reads), and what is printed is the same either way. Sealed as
  // it is written: one walk of the plan for its hash and its file.
  const saved = Boolean(args.out) && !(args.strict && body.warnings?.length);
  const plan = saved ? writeNewPlanFile(args.out!, body) : sealPlan(body);
  collectGarbageIfLarge(); // the hash's and the file's pieces
  await printPlan(plan, { ...args, planFile: args.out }, io);
  if (strictFailure(plan, args, io)) return EXIT.error;
  if (saved) {
    const msg = `\nSaved the plan to: ${args.out}\nTo perform exactly these actions, run: regmgr apply ${args.out}\n`;
    if (args.json) io.err(msg);
    else io.out(msg);
  }
  const changes = plan.summary.copy + plan.summary.delete > 0;
  return args.detailedExitcode && changes ? EXIT.changes : EXIT.ok;
}

/**
 * Prints the plan's warnings and notes (stderr), the same way for `plan` and `plan
 * --check`; true when --strict makes the warnings an error. Notes never fail: a rule
 * that has nothing left because regmgr deleted what it matched needs no fix.
 */
function strictFailure(plan: Plan, args: PlanArgs, io: IO): boolean {
  for (const n of plan.notes ?? []) io.err(`note: ${inert(n)}\n`);
  for (const w of plan.warnings ?? []) io.err(`warning: ${inert(w)}\n`);
  const n = plan.warnings?.length ?? 0;
  if (!args.strict || !n) return false;
  const noPlan = args.out && !args.check ? `; no plan written to ${args.out}` : '';
  io.err(`error: --strict: ${n} warning${n === 1 ? '' : 's'}${noPlan}\n`);
  return true;
}

/**
 * `plan --check plan.json`: is the committed plan still what the config plans now? Its
 * actions are compared with a fresh plan's (the snapshot and time may differ); when they
 * differ, a unified diff of the two renderings says how (the actions by id when that
 * is too large, check-diff.ts), and the cause is named: the
 * config, the registries (each tag that changed, and the apply that changed it where
 * the state knows), or both. --strict fails on the fresh plan's warnings, as `plan` does.
 */
async function checkCommitted(file: string, config: Config, args: PlanArgs, io: IO): Promise<number> {
  const committed = readPlanFile(file);
  const fresh = await makePlan(config, io, { targets: args.target ?? committed.policies.target ?? undefined, now: args.now, inUse: args.inUse });
  const strict = strictFailure(fresh, args, io);
  if (canonicalHash(committed.actions) === canonicalHash(fresh.actions)) {
    io.out(`${file} is current: a fresh plan has the same ${fresh.actions.length} action${fresh.actions.length === 1 ? '' : 's'}.\n`);
    return strict ? EXIT.error : EXIT.ok;
  }
  io.out(await actionsDiff(file, committed, fresh));
  for (const l of explainDifference(file, committed, fresh, await readRecorded(config, io))) io.out(`${l}\n`);
  io.out(`Re-run \`regmgr plan -c ${config.file} -out ${file}\` and commit it.\n`);
  return strict ? EXIT.error : EXIT.changes;
}

/** The recorded state, from the config's backend (read only: no lock). */
async function readRecorded(config: Config, io: IO): Promise<State | undefined> {
  if (config.stateBackend.kind === 'file') return readState(config.statePath);
  return withBackend(config, io.env, (b) => b.read());
}
