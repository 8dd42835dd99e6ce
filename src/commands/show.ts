import { readPlanFile } from '../plan/file.js';
import { printPlan } from './plan.js';
import { EXIT, type IO } from './io.js';

export interface ShowArgs {
  plan: string;
  json?: boolean;
  markdown?: boolean;
  explain?: boolean;
}

/** Prints a saved plan exactly as `plan` printed it (or as JSON / Markdown). */
export async function showCommand(args: ShowArgs, io: IO): Promise<number> {
  const plan = readPlanFile(args.plan);
  await printPlan(plan, { ...args, planFile: args.plan }, io);
  return EXIT.ok;
}
