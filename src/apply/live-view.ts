import type { RegistryClient } from '../registry/client.js';
import type { Digest, Repository } from '../oci/names.js';
import { mapLimit } from '../util/limit.js';

/**
 * How old the digests of a repository's tags may be when a DELETE is checked against
 * them: this long, or READ_COST_FACTOR times as long as the last full read took when
 * that is longer (1,500 tags: about 7 s, measured by `npm run bench`). Names are re-listed after every DELETE (one request), so a new tag is seen at
 * once; a tag that keeps its name but moves is only seen by a full re-read (a HEAD per
 * tag). A move that lands inside the window is caught after the DELETE instead, and the
 * tag put back (delete-step.ts): the re-read decides between blocking and repairing, so
 * its cost is kept near a fifth of the work rather than paid before every DELETE.
 */
export const MAX_VIEW_AGE_MS = 2_000;
export const READ_COST_FACTOR = 4;

/** Tag -> digest of one repository as the registry answered, with the age of that answer. */
export class LiveView {
  readonly tags = new Map<string, Digest>();
  /** When the last full read started (its oldest answer is at most this old). */
  #fullReadAt = -Infinity;
  /** Full reads done, and their durations (ms), for the report and the benchmark. */
  readonly fullReads: number[] = [];
  /**
   * True when the last request about this repository was a listing merged into the view:
   * then a DELETE checked now sees every tag name that existed one request ago.
   */
  namesCurrent = false;
  /** The empty config blob that untag manifests use is in this repository (pushed once). */
  emptyConfigReady = false;
  /** Manifests read by digest: a digest names its bytes, so one read serves every action on it. */
  readonly manifests = new Map<Digest, { bytes: Buffer; mediaType: string }>();

  /** The oldest digests a DELETE was checked against, in ms (for the report and the benchmark). */
  oldestChecked = 0;

  constructor(
    readonly client: RegistryClient,
    readonly repo: Repository,
    /** The floor of the age bound; 0 re-reads before every DELETE, Infinity never. */
    readonly minAgeMs = MAX_VIEW_AGE_MS,
    readonly now: () => number = Date.now,
  ) {}

  get age(): number {
    return this.now() - this.#fullReadAt;
  }

  /** The age bound now: the floor, or four times the last full read when that is longer. */
  get maxAgeMs(): number {
    const last = this.fullReads.at(-1) ?? 0;
    return this.minAgeMs === 0 ? 0 : Math.max(this.minAgeMs, READ_COST_FACTOR * last);
  }

  /** Re-reads every tag's digest when the view is older than the bound. */
  async ensureFresh(): Promise<void> {
    if (this.age > this.maxAgeMs) await this.fullRead();
  }

  /** Notes the age of the view a DELETE is about to be sent on. */
  noteCheck(): void {
    this.oldestChecked = Math.max(this.oldestChecked, this.age);
  }

  async fullRead(): Promise<void> {
    const started = this.now();
    const names = await this.list();
    this.tags.clear();
    await this.#headAll([...names]);
    this.#fullReadAt = started;
    this.fullReads.push(this.now() - started);
    // Names may have appeared during the HEADs: list once more before any DELETE.
    this.namesCurrent = false;
  }

  /** Lists again and merges: the last read before a DELETE. */
  async relist(): Promise<Set<string>> {
    const names = await this.list();
    await this.merge(names);
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

  /** Takes a fresh listing: drops names that are gone, HEADs names that are new. */
  async merge(listed: ReadonlySet<string>): Promise<void> {
    for (const t of [...this.tags.keys()]) if (!listed.has(t)) this.tags.delete(t);
    await this.#headAll([...listed].filter((t) => !this.tags.has(t)));
  }

  async #headAll(names: string[]): Promise<void> {
    await mapLimit(names, this.client.endpoint.concurrency, async (t) => {
      const ref = await this.client.headManifest(this.repo, t);
      if (ref) this.tags.set(t, ref.digest);
      else this.tags.delete(t);
    });
  }
}
