import type { PlanDelete } from '../plan/model.js';
import type { Repository } from '../oci/names.js';
import type { Journal } from './journal.js';
import type { LiveView } from './live-view.js';

/** How many actions ahead of the DELETE chain the saver may be. */
export const SAVE_AHEAD = 32;

/**
 * Saves (journals; on the disk before the DELETE, with its start) the manifest bytes of
 * a repository's delete actions ahead of their DELETEs, one GET at a time, in plan
 * order, at most SAVE_AHEAD actions ahead.
 * A digest names its bytes, so a read made early is as good as one made just before
 * the DELETE; taking the GET off the chain of DELETEs and listings shortens that chain
 * by a third. A step whose save failed or was not reached reads the manifest itself.
 */
export class ManifestSaver {
  readonly #done = new Map<string, Promise<void>>();
  readonly #finished = new Set<string>();
  #at = 0;
  #stopped = false;
  #resume: (() => void) | undefined;
  #current: Promise<void> | undefined;

  constructor(
    readonly view: LiveView,
    readonly journal: Journal,
    readonly actions: readonly PlanDelete[],
  ) {}

  start(): void {
    void this.#run();
  }

  /** The chain has reached action i: the saver may run up to SAVE_AHEAD past it. */
  reached(i: number): void {
    this.#at = i;
    this.#resume?.();
  }

  /**
   * Resolves when the save of this action was tried (whatever came of it): true when
   * that meant waiting for its GET, so that the chain's last listing is older now.
   */
  async settled(id: string): Promise<boolean> {
    const p = this.#done.get(id);
    if (!p || this.#finished.has(id)) return false;
    await p;
    return true;
  }

  /** No save starts after this; resolves when the one in flight has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#resume?.();
    await this.#current;
  }

  async #run(): Promise<void> {
    for (const [i, a] of this.actions.entries()) {
      while (!this.#stopped && i > this.#at + SAVE_AHEAD) await new Promise<void>((r) => (this.#resume = r));
      if (this.#stopped) return;
      if (this.journal.saved.has(a.id)) continue;
      this.#current = this.#save(a)
        .catch(() => undefined)
        .finally(() => this.#finished.add(a.id));
      this.#done.set(a.id, this.#current);
      await this.#current;
    }
  }

  async #save(a: PlanDelete): Promise<void> {
    await saveManifest(a, this.view, this.journal, () => this.#stopped);
  }
}

/**
 * GETs an action's manifest (digest-checked; read once per digest, as the untags of one
 * digest share it) and journals its bytes, durably. False when the manifest is gone.
 * Nothing is journaled once `stopped()` (the journal may be closing) or when saved already.
 */
export async function saveManifest(a: PlanDelete, view: LiveView, journal: Journal, stopped = () => false): Promise<boolean> {
  const m = view.manifests.get(a.digest) ?? (await view.client.getManifest(a.repository as Repository, a.digest));
  if (!m) return false;
  view.manifests.set(a.digest, { bytes: m.bytes, mediaType: m.mediaType });
  if (!stopped() && !journal.saved.has(a.id)) journal.save(a.id, { bytes: m.bytes, mediaType: m.mediaType });
  return true;
}
