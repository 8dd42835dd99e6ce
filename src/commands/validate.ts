import { loadConfig } from '../config/load.js';
import type { Config } from '../config/model.js';
import { EXIT, type IO } from './io.js';

export interface ValidateArgs {
  config: string;
}

/** Schema and semantic checks; no network, no credential helper. */
export async function validateCommand(args: ValidateArgs, io: IO): Promise<number> {
  const config = loadConfig(args.config, io.env);
  io.out(`${args.config}: valid. ${describe(config)}\n`);
  return EXIT.ok;
}

export function describe(c: Config): string {
  const parts = [`${c.registries.size} registr${c.registries.size === 1 ? 'y' : 'ies'} (${[...c.registries.keys()].join(', ')})`];
  if (c.deletePolicy) parts.push(`delete policy on ${c.deletePolicy.registries.join(', ')}${c.deletePolicy.dryRun ? ' (dry-run)' : ''}`);
  if (c.syncPolicy) parts.push(`sync ${c.syncPolicy.from} -> ${c.syncPolicy.to}${c.syncPolicy.dryRun ? ' (dry-run)' : ''}`);
  return parts.join('; ') + '.';
}
