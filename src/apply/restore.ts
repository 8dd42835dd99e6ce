import { createHash } from 'node:crypto';
import type { Plan, PlanDelete } from '../plan/model.js';
import type { Clients } from '../registry/connect.js';
import type { RegistryClient } from '../registry/client.js';
import { isIndex } from '../oci/media-types.js';
import { isDigest, type Digest, type Repository } from '../oci/names.js';
import type { JournalRead } from './journal.js';
import { putBack } from './delete-step.js';

/** One tag's fate in a restore. */
export interface RestoreOutcome {
  registry: string;
  repository: string;
  tag: string;
  digest: Digest;
  mediaType: string;
  result: 'restored' | 'present' | 'left-alone' | 'gone' | 'failed';
  detail: string;
}

/**
 * Puts back every tag that the apply of `plan` deleted (and every tag it lost to a
 * concurrent re-tag), on its original digest, from the manifest bytes the journal saved
 * before each DELETE. The registry deletes softly: the blobs stay until garbage
 * collection, so the same bytes give the same digest. An image whose blobs are gone is
 * refused whole, before any PUT, so nothing comes back half. A tag that exists now with
 * another digest is someone else's: left alone. Idempotent.
 */
export async function restoreDeleted(plan: Plan, journal: JournalRead, clients: Clients): Promise<RestoreOutcome[]> {
  const out: RestoreOutcome[] = [];
  const deletes = plan.actions.filter((a): a is PlanDelete => a.type === 'delete' && journal.started.has(a.id));
  for (const a of deletes) {
    const client = clients.get(a.registry);
    const repo = a.repository as Repository;
    const tags = [...new Set([...a.tags, ...(journal.lost.get(a.id) ?? [])])].sort();
    const note = (tag: string, result: RestoreOutcome['result'], detail: string) => out.push({ registry: a.registry, repository: a.repository, tag, digest: a.digest, mediaType: a.media_type, result, detail });
    const saved = journal.saved.get(a.id);
    if (!saved) {
      for (const t of tags) note(t, 'failed', 'the journal holds no saved manifest for this delete, so its bytes are unknown');
      continue;
    }
    const actual = `sha256:${createHash('sha256').update(saved.bytes).digest('hex')}`;
    if (actual !== a.digest) {
      for (const t of tags) note(t, 'failed', `the journal's saved manifest hashes to ${actual}, not ${a.digest}: the journal was altered`);
      continue;
    }
    const missing: string[] = [];
    for (const t of tags) {
      const now = await client.headManifest(repo, t);
      if (now?.digest === a.digest) note(t, 'present', 'already points at its original digest');
      else if (now) note(t, 'left-alone', `exists now with another digest (${now.digest}): changed after the apply; left alone`);
      else missing.push(t);
    }
    if (!missing.length) continue;
    const gone = await missingContent(client, repo, saved.bytes, saved.mediaType);
    if (gone.length) {
      const what = gone.slice(0, 3).join(', ') + (gone.length > 3 ? ` and ${gone.length - 3} more` : '');
      for (const t of missing) note(t, 'gone', `cannot come back: garbage collection already removed what the image needs (${what})`);
      continue;
    }
    for (const t of missing) {
      try {
        await putBack(client, repo, t, a.digest, saved.bytes, saved.mediaType);
        note(t, 'restored', `points at ${a.digest} again`);
      } catch (e) {
        note(t, 'failed', (e as Error).message);
      }
    }
  }
  return out;
}

/**
 * What a manifest refers to that the repository no longer holds: for an image its config
 * and layers (blobs), for an index its platform manifests. Empty when a PUT can succeed.
 */
async function missingContent(client: RegistryClient, repo: Repository, bytes: Buffer, mediaType: string): Promise<string[]> {
  let json: { config?: { digest?: unknown }; layers?: Array<{ digest?: unknown }>; manifests?: Array<{ digest?: unknown }> };
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return ['a readable manifest (the saved bytes are not JSON)'];
  }
  const refs = (xs: unknown): Digest[] => (Array.isArray(xs) ? xs.map((x) => x?.digest).filter((d): d is Digest => typeof d === 'string' && isDigest(d)) : []);
  const out: string[] = [];
  if (isIndex(mediaType) || Array.isArray(json.manifests)) {
    for (const d of refs(json.manifests)) if (!(await client.headManifest(repo, d))) out.push(`platform manifest ${d}`);
    return out;
  }
  const config = refs([json.config]);
  for (const d of config) if (!(await client.hasBlob(repo, d))) out.push(`config blob ${d}`);
  for (const d of refs(json.layers)) if (!(await client.hasBlob(repo, d))) out.push(`layer blob ${d}`);
  return out;
}
