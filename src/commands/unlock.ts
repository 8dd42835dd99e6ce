import { loadConfig } from '../config/load.js';
import { forceUnlock } from '../apply/lock.js';
import { EXIT, notify, type IO } from './io.js';

export interface UnlockArgs {
  /** --state FILE: where the state lives (default: beside the config, or its state.path). */
  state?: string;
  id: string;
  config: string;
}

/** Releases a lock by its id, deliberately (the id is printed by the apply it stopped). */
export async function unlockCommand(args: UnlockArgs, io: IO): Promise<number> {
  const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io) });
  const holder = forceUnlock(`${config.statePath}.lock`, args.id);
  io.out(`Released lock ${holder.id} (process ${holder.pid} on ${holder.host}, since ${holder.since}).\n`);
  return EXIT.ok;
}
