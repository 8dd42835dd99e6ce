import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { PlanFileError, readPlanFile } from '../plan/file.js';
import { preflight } from '../apply/preflight.js';
import { journalPath, readJournal } from '../apply/journal.js';
import { acquireLock } from '../apply/lock.js';
import { restoreDeleted, type RestoreOutcome } from '../apply/restore.js';
import { connect } from '../registry/connect.js';
import { readState, writeState } from '../state/file.js';
import { EXIT, notify, type IO } from './io.js';

export interface RestoreArgs {
  state?: string;
  plan: string;
  config?: string;
}

/**
 * `regmgr restore plan.json`: puts back the tags that the apply of that plan deleted,
 * from the manifests its journal saved, until the registry's garbage collection removes
 * their blobs. Same config, credentials and lock as apply.
 */
export async function restoreCommand(args: RestoreArgs, io: IO): Promise<number> {
  const plan = readPlanFile(args.plan);
  if (!args.config && !existsSync(plan.config.file)) {
    throw new PlanFileError(args.plan, `was made with the config ${plan.config.file}, which is not there from this folder: pass -c CONFIG`);
  }
  const config = loadConfig(args.config ?? plan.config.file, io.env, { statePath: args.state, notice: notify(io) });
  // The registries must be the plan's; the policy may have changed since (that is often
  // why one restores), so the actions are not re-checked against it.
  preflight(args.plan, plan, config, { permits: false });
  const jpath = journalPath(args.plan, plan.sha256);
  const journal = readJournal(jpath);
  if (!journal) throw new PlanFileError(args.plan, `has no journal beside it (${jpath}): it was never applied from this file, so there is nothing to restore`);
  if (journal.plan !== plan.sha256) throw new PlanFileError(args.plan, `the journal ${jpath} belongs to another plan`);
  const started = plan.actions.filter((a) => a.type === 'delete' && journal.started.has(a.id));
  if (!started.length) {
    io.out('Nothing to restore: the apply of this plan deleted nothing.\n');
    return EXIT.ok;
  }
  const lock = acquireLock(`${config.statePath}.lock`, `regmgr restore ${args.plan}`, notify(io));
  try {
    const clients = await connect(config, new Set(started.map((a) => (a.type === 'delete' ? a.registry : ''))), { env: io.env, logger: io.logger });
    let outcomes: RestoreOutcome[];
    try {
      outcomes = await restoreDeleted(plan, journal, clients);
    } finally {
      await clients.close();
    }
    for (const o of outcomes) io.out(`${o.result.padEnd(10)} ${o.registry}/${o.repository}:${o.tag} ${o.detail}\n`);
    const n = (r: RestoreOutcome['result']) => outcomes.filter((o) => o.result === r).length;
    io.out(`\nRestore complete: ${n('restored')} restored, ${n('present')} already there, ${n('left-alone')} left alone, ${n('gone')} gone, ${n('failed')} failed.\n`);
    if (n('gone')) io.out('Gone images cannot come back: garbage collection removed their blobs after the apply. Push them again from a copy (a mirror, a build).\n');
    recordRestored(config.statePath, plan.sha256, outcomes);
    if (n('failed')) return EXIT.error;
    return n('gone') + n('left-alone') ? EXIT.drift : EXIT.ok;
  } finally {
    lock.release();
  }
}

/** The state gets the tags back, under a new serial; its history names the repositories. */
function recordRestored(statePath: string, planSha: string, outcomes: RestoreOutcome[]): void {
  const back = outcomes.filter((o) => o.result === 'restored');
  const prev = readState(statePath);
  if (!prev || !back.length) return;
  const snapshot = structuredClone(prev.snapshot);
  for (const o of back) ((snapshot[o.registry] ??= {})[o.repository] ??= {})[o.tag] = { digest: o.digest, media_type: o.mediaType };
  const changed = [...new Set(back.map((o) => `${o.registry}/${o.repository}`))].sort();
  writeState(statePath, prev, { written_by: 'restore', registries: prev.registries, snapshot, event: { plan_sha256: planSha, changed } });
}
