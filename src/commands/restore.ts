import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { PlanFileError, readPlanFile } from '../plan/file.js';
import { preflight } from '../apply/preflight.js';
import { journalPath, readJournal } from '../apply/journal.js';
import type { StateBackend } from '../backend/backend.js';
import { lockTimeoutMs, syncJournal, withBackend } from './backend-use.js';
import { carryOutRestore, planRestore, restoredRef, type RestoreOutcome } from '../apply/restore.js';
import { connect } from '../registry/connect.js';
import { inert } from '../util/inert.js';
import { EXIT, notify, type IO } from './io.js';
import { setOwn } from '../util/own-key.js';

export interface RestoreArgs {
  state?: string;
  plan: string;
  config?: string;
  /** Put the tags back without asking (CI). */
  autoApprove?: boolean;
  /** What restore finds and does, as JSON on stdout (needs --auto-approve, as apply -json would). */
  json?: boolean;
  /** -lock-timeout=DURATION: wait for the state lock. */
  lockTimeout?: string;
}

/**
 * `regmgr restore plan.json`: puts back the tags that the apply of that plan deleted,
 * from the manifests its journal saved, until the registry's garbage collection removes
 * their blobs. Like apply: the plan is checked against the config first (a restore never
 * writes where the config does not reach), the journal must be regmgr's own, and what it
 * will put back is shown and confirmed before the first PUT. Same lock as apply.
 */
export async function restoreCommand(args: RestoreArgs, io: IO): Promise<number> {
  const plan = readPlanFile(args.plan);
  if (!args.config && !existsSync(plan.config.file)) {
    throw new PlanFileError(args.plan, `was made with the config ${plan.config.file}, which is not there from this folder: pass -c CONFIG`);
  }
  const config = loadConfig(args.config ?? plan.config.file, io.env, { statePath: args.state, notice: notify(io) });
  // Every action must stay within what the config selects now; not still be wanted by
  // its policy (a restore often follows a policy fixed after a bad apply).
  preflight(args.plan, plan, config, { restore: true });
  if (args.json && !args.autoApprove) throw new Error('restore --json needs --auto-approve: there is no prompt in JSON output');
  return withBackend(config, io.env, async (backend) => {
    const jpath = journalPath(args.plan, plan.sha256);
    // Backend pg: the journal of an apply made on another machine comes down first.
    await syncJournal(backend, jpath, plan.sha256);
    const journal = readJournal(jpath, plan.sha256);
    if (!journal) throw new PlanFileError(args.plan, `has no journal beside it (${jpath}): it was never applied from this file, so there is nothing to restore`);
    const skipped = journal.invalid.map((r) => `failed     journal ${jpath} ${inert(r.why)}; record skipped\n`);
    const started = plan.actions.filter((a) => a.type === 'delete' && journal.started.has(a.id));
    if (!started.length) {
      if (!args.json) io.out(`${skipped.join('')}Nothing to restore: the apply of this plan deleted nothing.\n`);
      else io.out(JSON.stringify({ restore: [], skipped_records: journal.invalid }, null, 2) + '\n');
      return skipped.length ? EXIT.error : EXIT.ok;
    }
    const lock = await backend.lock(`regmgr restore ${args.plan}`, notify(io), lockTimeoutMs(args.lockTimeout));
    try {
      const clients = await connect(config, new Set(started.map((a) => (a.type === 'delete' ? a.registry : ''))), { env: io.env, logger: io.logger });
      let outcomes: RestoreOutcome[];
      try {
        const found = await planRestore(plan, journal, clients);
        const todo = found.filter((o) => o.result === 'restore');
        if (!args.json) {
          for (const l of skipped) io.out(l);
          io.out(todo.length ? 'regmgr will put back these tags:\n' : 'No tag to put back.\n');
          for (const o of todo) io.out(`  + ${inert(restoredRef(o))} ${inert(o.detail)}\n`);
          for (const o of found.filter((x) => x.result !== 'restore')) io.out(`${o.result.padEnd(10)} ${inert(restoredRef(o))} ${inert(o.detail)}\n`);
        }
        if (todo.length && !args.autoApprove) {
          if (!io.confirm) throw new Error('no terminal to confirm on: pass --auto-approve to restore without asking');
          if (!(await io.confirm('\nDo you want to put these tags back? Only "yes" will be accepted: '))) {
            io.out('Restore cancelled.\n');
            return EXIT.error;
          }
        }
        const done = await carryOutRestore(todo, journal, clients);
        if (!args.json) for (const o of done) io.out(`${o.result.padEnd(10)} ${inert(restoredRef(o))} ${inert(o.detail)}\n`);
        outcomes = [...found.filter((o) => o.result !== 'restore'), ...done];
      } finally {
        await clients.close();
      }
      const n = (r: RestoreOutcome['result']) => outcomes.filter((o) => o.result === r).length;
      if (args.json) {
        io.out(JSON.stringify({ restore: outcomes.map(({ placeholder: _p, ...o }) => o), skipped_records: journal.invalid }, null, 2) + '\n');
      } else {
        io.out(`\nRestore complete: ${n('restored')} restored, ${n('present')} already there, ${n('left-alone')} left alone, ${n('gone')} gone, ${n('failed') + journal.invalid.length} failed.\n`);
        if (n('gone')) io.out('Gone images cannot come back: garbage collection removed their blobs after the apply. Push them again from a copy (a mirror, a build).\n');
      }
      await recordRestored(backend, plan.sha256, outcomes);
      if (n('failed') + journal.invalid.length) return EXIT.error;
      return n('gone') + n('left-alone') ? EXIT.drift : EXIT.ok;
    } finally {
      await lock.release();
    }
  }, { journals: true });
}

/** The state gets the tags back, under a new serial; its history names the repositories. */
async function recordRestored(backend: StateBackend, planSha: string, outcomes: RestoreOutcome[]): Promise<void> {
  // Tags only: a platform manifest has no tag for the snapshot to hold.
  const back = outcomes.filter((o) => o.result === 'restored' && !o.untagged);
  const prev = await backend.read();
  if (!prev || !back.length) return;
  const snapshot = structuredClone(prev.snapshot);
  for (const o of back) setOwn(((snapshot[o.registry] ??= {})[o.repository] ??= {}), o.tag, { digest: o.digest, media_type: o.mediaType });
  const changed = [...new Set(back.map((o) => `${o.registry}/${o.repository}`))].sort();
  await backend.write(prev, { written_by: 'restore', registries: prev.registries, snapshot, event: { plan_sha256: planSha, changed } });
}
