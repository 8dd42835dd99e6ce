import type { RegistryClient } from '../registry/client.js';
import type { Dialect } from '../registry/dialect.js';
import { dialectFor } from '../registry/oci-dialect.js';
import type { Digest, Repository } from '../oci/names.js';
import { mapLimit } from '../util/limit.js';

/**
 * How old the digests of a repository's tags may be when a DELETE is checked against
 * them. Names are re-listed before every DELETE (one request), so a tag *created* on a
 * planned digest is always seen and blocks the delete. A tag that keeps its name but
 * *moves* onto a planned digest is seen only by re-reading every tag (a HEAD each):
 * moved before the last re-read, it blocks the delete; moved after, the DELETE takes it
 * and the listing after the DELETE finds it gone and puts it back at once
 * (delete-step.ts), so it is absent for about one round trip and never lost.
 *
 * Default: 30 s. Measured (`npm run bench`, 1,000 deletes in a repository of 1,500 tags,
 * one run each): a 2 s bound cost 35.5 requests a delete and 1.73x the serial floor
 * (DELETE then list, one at a time), 30 s cost 7.5 and 1.21x (digests at most 18 s old
 * at a DELETE), no re-read 4.5 and 1.14x. A tag put back is absent for about one
 * DELETE, one listing and one PUT (README, *What apply guarantees*, has the figures).
 * So 30 s keeps the blocking for every move but those of the last half minute, for
 * little; `apply -digest-max-age=0s` re-reads before every DELETE, `never` not at all.
 * The bound is this, or READ_COST_FACTOR times the last full read when that is longer:
 * a background read starts when the view is half the bound old, so the re-reads are busy
 * at most 2 / READ_COST_FACTOR of the time, whatever the repository's size.
 *
 * With a finite, non-zero bound the re-reads run in the background, two requests at a
 * time, beside the one-at-a-time DELETEs: on 2.8 a DELETE walks every tag of the
 * repository on one core, so a second request stream costs the DELETE chain less than
 * re-reads between the DELETEs (8 in flight), which held the chain up for a fifth of its
 * time. The chain waits only when a re-read falls behind the bound.
 */
export const MAX_VIEW_AGE_MS = 30_000;
/**
 * 8: the re-reads take at most a quarter of the time. At 2 a repository whose full read
 * took over 15 s was re-read without pause: measured (apply-bench.ts, 1,000 deletes in a
 * repository of 10,000 tags, 2 cores), 25 full reads, 242 requests a delete and 1.60x
 * the serial floor (DELETE then list, one at a time); at 8, 5 full reads, 51 requests a
 * delete and 1.22x, digests at most 138 s old at a DELETE (docs/performance.md, a tenth
 * pass). At 1,500 tags a read takes ~2 s: the 30 s floor still rules.
 */
export const READ_COST_FACTOR = 8;
/** Requests in flight for a background re-read (measured: 1 gave 6.3-6.7 s bounds, 2 gave 5.0-5.1 s, no slower). */
export const BACKGROUND_IN_FLIGHT = 2;

/** Tag -> digest of one repository as the registry answered, with the age of that answer. */
export class LiveView {
  readonly tags = new Map<string, Digest>();
  /**
   * When the read behind each entry of `tags` was sent (or the repair that set it was
   * done): an answer to an older request never overwrites a newer one, because the
   * background re-read runs beside the DELETEs and their repairs.
   */
  readonly #stamp = new Map<string, number>();
  /** When the last full read started (its oldest answer is at most this old). */
  #fullReadAt = -Infinity;
  /** Full reads done, and their durations (ms), for the report and the benchmark. */
  readonly fullReads: number[] = [];
  /**
   * True when the last request of the DELETE chain was a listing merged into the view:
   * then a DELETE checked now sees every tag name that existed one request ago.
   */
  namesCurrent = false;
  /** The names of the DELETE chain's last listing (background reads do not change it). */
  listed: ReadonlySet<string> = new Set();
  /** The empty config blob that untag manifests use is in this repository (pushed once). */
  emptyConfigReady = false;
  /** Manifests read by digest: a digest names its bytes, so one read serves every action on it. */
  readonly manifests = new Map<Digest, { bytes: Buffer; mediaType: string }>();

  /** The oldest digests a DELETE was checked against, in ms (for the report and the benchmark). */
  oldestChecked = 0;

  /** The full read in flight, background or not: a DELETE that needs a fresher view waits for it. */
  #reading: Promise<void> | undefined;
  #sweeping = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  /** How this registry deletes (the OCI API, or a vendor's where the OCI API cannot). */
  dialect: Dialect;

  constructor(
    readonly client: RegistryClient,
    readonly repo: Repository,
    /** The floor of the age bound; 0 re-reads before every DELETE, Infinity never. */
    readonly minAgeMs = MAX_VIEW_AGE_MS,
    readonly now: () => number = () => performance.now(),
  ) {
    this.dialect = dialectFor(client);
  }

  get age(): number {
    return this.now() - this.#fullReadAt;
  }

  /** The age bound now: the floor, or READ_COST_FACTOR times the last full read when that is longer. */
  get maxAgeMs(): number {
    const last = this.fullReads.at(-1) ?? 0;
    return this.minAgeMs === 0 ? 0 : Math.max(this.minAgeMs, READ_COST_FACTOR * last);
  }

  /** How long until the background starts its next full read, in ms: when the view is half the bound old. */
  get nextReadIn(): number {
    return this.maxAgeMs / 2 - this.age;
  }

  /** Whether re-reads can run in the background (a finite, non-zero bound). */
  get background(): boolean {
    return this.minAgeMs > 0 && Number.isFinite(this.minAgeMs);
  }

  /** Makes the digests at most maxAgeMs old: waits for a re-read in flight, or reads now. */
  async ensureFresh(): Promise<void> {
    if (this.age <= this.maxAgeMs) return;
    // A background read that failed ends its loop; the read below then throws or succeeds.
    if (this.#reading) await this.#reading.catch(() => undefined);
    if (this.age > this.maxAgeMs) await this.fullRead();
    // The chain waited: names may have appeared meanwhile; list once more before any DELETE.
    this.namesCurrent = false;
  }

  /** Notes the age of the view a DELETE is about to be sent on. */
  noteCheck(): void {
    this.oldestChecked = Math.max(this.oldestChecked, this.age);
  }

  /**
   * Takes a full read made elsewhere (the policy re-check's, which lists and HEADs every
   * tag), started at `at` and `took` ms long, instead of reading again.
   */
  seed(tags: ReadonlyArray<readonly [string, Digest]>, at: number, took: number): void {
    for (const [t, d] of tags) this.set(t, d, at);
    this.#fullReadAt = Math.max(this.#fullReadAt, at);
    this.fullReads.push(took);
  }

  /** Lists and HEADs every tag (at most `inFlight` at once); shared with any read already in flight. */
  fullRead(inFlight = this.client.endpoint.concurrency): Promise<void> {
    this.#reading ??= this.#fullRead(inFlight).finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #fullRead(inFlight: number): Promise<void> {
    const started = this.now();
    const names = await this.list();
    this.#dropUnlisted(names, started);
    await this.#headAll([...names], inFlight);
    this.#fullReadAt = started;
    this.fullReads.push(this.now() - started);
  }

  /**
   * Re-reads every tag in the background, BACKGROUND_IN_FLIGHT requests at a time,
   * until stop(): each read starts when the view is half its bound old, so the bound is
   * kept without reading more than that needs. Errors stop the loop; ensureFresh then
   * reads itself.
   */
  startBackground(): void {
    if (!this.background || this.#sweeping) return;
    this.#sweeping = true;
    void (async () => {
      while (this.#sweeping) {
        const wait = this.nextReadIn;
        if (wait > 0) {
          await new Promise<void>((r) => {
            this.#wake = r;
            this.#timer = setTimeout(r, wait);
          });
        }
        if (!this.#sweeping) break;
        try {
          await this.fullRead(BACKGROUND_IN_FLIGHT);
        } catch {
          break;
        }
      }
      this.#sweeping = false;
    })();
  }

  /** Ends background re-reads; resolves when none is in flight. */
  async stop(): Promise<void> {
    this.#sweeping = false;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#reading?.catch(() => undefined);
  }

  /** Lists again and merges: the last read before a DELETE. */
  async relist(): Promise<Set<string>> {
    const at = this.now();
    const names = await this.list();
    await this.merge(names, at);
    this.listed = names;
    this.namesCurrent = true;
    return names;
  }

  /** The repository's tag names now; an unknown repository has none. */
  async list(): Promise<Set<string>> {
    try {
      return new Set(await this.client.listTags(this.repo));
    } catch (e) {
      if ((e as { kind?: string }).kind === 'not-found') return new Set();
      throw e;
    }
  }

  /** Takes a listing sent at `at`: drops names that are gone, HEADs names that are new. */
  async merge(listed: ReadonlySet<string>, at: number): Promise<void> {
    this.#dropUnlisted(listed, at);
    await this.#headAll([...listed].filter((t) => !this.tags.has(t)), this.client.endpoint.concurrency);
  }

  /** Records what a step learnt at `at` (a repair's HEAD, say), unless a newer read says otherwise. */
  set(tag: string, digest: Digest, at: number): void {
    if ((this.#stamp.get(tag) ?? -Infinity) > at) return;
    this.tags.set(tag, digest);
    this.#stamp.set(tag, at);
  }

  /** Drops a tag found gone by a request sent at `at`, unless a newer read saw it. */
  drop(tag: string, at: number): void {
    if ((this.#stamp.get(tag) ?? -Infinity) > at) return;
    this.tags.delete(tag);
    this.#stamp.set(tag, at);
  }

  #dropUnlisted(listed: ReadonlySet<string>, at: number): void {
    for (const t of [...this.tags.keys()]) if (!listed.has(t)) this.drop(t, at);
  }

  async #headAll(names: string[], inFlight: number): Promise<void> {
    await mapLimit(names, inFlight, async (t) => {
      const at = this.now();
      const ref = await this.client.headManifest(this.repo, t);
      if (ref) this.set(t, ref.digest, at);
      else this.drop(t, at);
    });
  }
}
