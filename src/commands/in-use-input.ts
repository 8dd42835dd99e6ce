import { openSync, fstatSync, readSync, closeSync } from 'node:fs';
import { parseInUse, InUseError, type InUse } from '../policy/in-use.js';
import type { Plan } from '../plan/model.js';

/** An in-use file may be a whole cluster's pods: large, but bounded. */
export const MAX_IN_USE_BYTES = 256 * 1024 * 1024;

/**
 * Reads what is deployed from each file (delete-policy.keep-in-use, --in-use), merged.
 * A file that is missing, too large or unparseable is an error naming it: an empty set
 * would let every image be deleted. Returns the input and what the plan records of it.
 */
export function loadInUse(files: readonly string[], now: Date): { inUse: InUse; record: NonNullable<Plan['in_use']> } | undefined {
  if (!files.length) return undefined;
  const merged: InUse = { format: 'list', digests: new Map(), refs: new Map(), entries: 0 };
  const record: NonNullable<Plan['in_use']> = [];
  for (const file of files) {
    let text: string;
    let modified: Date;
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const st = fstatSync(fd);
      if (!st.isFile()) throw new InUseError(`${file}: not a regular file`);
      if (st.size > MAX_IN_USE_BYTES) throw new InUseError(`${file}: ${st.size} bytes, more than ${MAX_IN_USE_BYTES}: refusing to read it`);
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      text = buf.subarray(0, off).toString('utf8');
      modified = st.mtime;
    } catch (e) {
      if (e instanceof InUseError) throw e;
      throw new InUseError(`${file}: cannot read the in-use input: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const one = parseInUse(file, text);
    for (const [d, who] of one.digests) if (!merged.digests.has(d)) merged.digests.set(d, who);
    for (const [r, who] of one.refs) if (!merged.refs.has(r)) merged.refs.set(r, who);
    merged.entries += one.entries;
    record.push({ file, format: one.format, references: one.entries, modified_at: modified.toISOString(), age_seconds: Math.max(0, Math.round((now.getTime() - modified.getTime()) / 1000)) });
  }
  return { inUse: merged, record };
}
