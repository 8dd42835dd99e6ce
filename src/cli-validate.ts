// `regmgr validate -c FILE` (cli-quick.ts), bundled alone into dist/cli/validate.cjs
// (scripts/bundle.mjs). Why a bundle of its own: node reads the whole of the bundle it
// runs, and V8 rebuilds the top level of all of it from the code cache, before a line of
// the command runs. main.cjs is 2.4 MB for every command; validate needs its config
// loader, yaml and re2js, about a quarter of it. On Node 24: 72.5 ms before, 61.6 after
// (docs/performance.md, a nineteenth pass). Any other spelling of validate goes through
// main.cjs and yargs, and answers the same (test/unit/cli-quick.test.ts).
import { run } from './cli-run.js';
import { quickCommand } from './cli-quick.js';
import { validateCommand } from './commands/validate.js';

export async function main(args: string[]): Promise<void> {
  const quick = quickCommand(args);
  if (typeof quick !== 'object') throw new Error(`validate.cjs runs only 'validate -c FILE', not: ${args.join(' ')}`);
  // Its answer is one line: written with write(2) (makeIO).
  await run(async () => validateCommand, true)({ config: quick.config });
}
