import { loadConfig } from '../config/load.js';
import { planAndApply } from './apply.js';
import { makePlan, printPlan } from './plan.js';
import { EXIT, notify, type IO } from './io.js';

export interface SeedArgs {
  /** --state FILE: where the state lives (default: beside the config, or its state.path). */
  state?: string;
  config: string;
  parallelism?: number;
}

/**
 * The predecessor's `delete` and `sync`: plan with that policy only; with `dry-run: true`
 * (the default) print the plan and change nothing, otherwise apply it right away with the
 * same checks as `apply`.
 */
export function seedCommand(policy: 'delete' | 'sync') {
  return async (args: SeedArgs, io: IO): Promise<number> => {
    const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io) });
    const p = policy === 'delete' ? config.deletePolicy : config.syncPolicy;
    if (!p) throw new Error(`${args.config}: no ${policy}-policy section: nothing to ${policy}`);
    if (p.dryRun) {
      const plan = await makePlan(config, io, { policies: policy });
      await printPlan(plan, {}, io);
      io.out(`\ndry-run: nothing was changed. Set ${policy}-policy.dry-run: false to ${policy}, or save a plan with \`regmgr plan -out FILE\` and apply it.\n`);
      return EXIT.ok;
    }
    return planAndApply(config, io, { policies: policy, confirm: false, parallelism: args.parallelism });
  };
}
