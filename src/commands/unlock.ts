import { loadConfig } from '../config/load.js';
import { withBackend } from './backend-use.js';
import { EXIT, notify, type IO } from './io.js';

export interface UnlockArgs {
  /** --state FILE: where the state lives (default: beside the config, or its state.path). */
  state?: string;
  id: string;
  config: string;
}

/** Releases a lock by its id, deliberately (the id is printed by the apply it stopped). */
export async function unlockCommand(args: UnlockArgs, io: IO): Promise<number> {
  // Releasing a lock sends no request: no credentials needed.
  const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io), credentials: false });
  const holder = await withBackend(config, io.env, (b) => b.forceUnlock(args.id));
  if ('malformed' in holder) io.out(`Released a malformed lock (${holder.malformed}): it named no holder.\n`);
  else io.out(`Released lock ${holder.id} (process ${holder.pid} on ${holder.host}, since ${holder.since}).\n`);
  return EXIT.ok;
}
