import { SkopeoRunner, type CopySide } from '../../src/apply/skopeo.js';

export interface SkopeoCall {
  kind: 'copy' | 'sync';
  /** The target repository. */
  repository: string;
  digests: string[];
}

/**
 * A real skopeo runner whose processes go through `around`, which sees each one (a lone
 * copy or a batch) and runs it with `work`. Every runner method that starts skopeo is
 * wrapped here: one left out would reach SkopeoRunner's private #run on an object that
 * is not a SkopeoRunner, and throw.
 */
export function wrappedSkopeo(around: (call: SkopeoCall, work: () => Promise<void>) => Promise<void>): SkopeoRunner {
  const real = new SkopeoRunner();
  return Object.assign(Object.create(SkopeoRunner.prototype), real, {
    copy: (s: CopySide & { digest: string }, d: CopySide & { tag: string }, signal?: AbortSignal) => around({ kind: 'copy', repository: d.repository, digests: [s.digest] }, () => real.copy(s, d, signal)),
    syncDigests: (s: Parameters<SkopeoRunner['syncDigests']>[0], d: CopySide, signal?: AbortSignal) =>
      around({ kind: 'sync', repository: d.repository, digests: [...s.images.values()].flat() }, () => real.syncDigests(s, d, signal)),
  }) as SkopeoRunner;
}
