/**
 * Ctrl-C (and SIGTERM) during apply, as Terraform handles it: the first stops new
 * actions and lets those in flight finish (a copy half-done helps nobody); the second
 * stops the ones in flight too; either way apply writes the state, releases its lock
 * and says how to resume. A third leaves at once.
 */
export class Interrupts {
  /** No new action may start. */
  readonly stopNew = new AbortController();
  /** Actions in flight (copies) are stopped. */
  readonly stopInFlight = new AbortController();
  #count = 0;
  readonly #handler: () => void;

  constructor(say: (msg: string) => void, resume: string) {
    this.#handler = () => {
      this.#count++;
      if (this.#count === 1) {
        say(`\ninterrupted: no new action starts; the ones in flight finish (Ctrl-C again to stop them too). Then run \`${resume}\` to resume.\n`);
        this.stopNew.abort();
      } else if (this.#count === 2) {
        say(`\ninterrupted again: stopping the actions in flight; they are re-checked when you run \`${resume}\`.\n`);
        this.stopInFlight.abort();
      } else {
        say('\ninterrupted a third time: leaving now; the lock may stay (regmgr force-unlock).\n');
        process.exit(130);
      }
    };
    process.on('SIGINT', this.#handler);
    process.on('SIGTERM', this.#handler);
  }

  get interrupted(): boolean {
    return this.#count > 0;
  }

  dispose(): void {
    process.off('SIGINT', this.#handler);
    process.off('SIGTERM', this.#handler);
  }
}
