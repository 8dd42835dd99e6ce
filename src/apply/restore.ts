import { createHash } from 'node:crypto';
import type { Plan, PlanDelete } from '../plan/model.js';
import type { Clients } from '../registry/connect.js';
import type { RegistryClient } from '../registry/client.js';
import { isIndex } from '../oci/media-types.js';
import { isDigest, type Digest, type Repository } from '../oci/names.js';
import type { JournalRead } from './journal.js';
import { childId, referrerId, putBack } from './delete-step.js';

/** One tag's fate in a restore: `restore` is what it will do, before it is done. */
export interface RestoreOutcome {
  registry: string;
  repository: string;
  tag: string;
  digest: Digest;
  mediaType: string;
  result: 'restore' | 'restored' | 'present' | 'left-alone' | 'gone' | 'failed';
  detail: string;
  /** The action it belongs to, and (an untag cut short) regmgr's own placeholder on the tag now. */
  action: string;
  placeholder?: Digest;
  /**
   * Untagged, put back by digest (`tag` holds its digest): a platform manifest deleted
   * with its index (back before the index), or a referrer deleted with its subject (back
   * after it).
   */
  untagged?: 'platform manifest' | 'referrer';
}

/** How a restore line names what it puts back. */
export function restoredRef(o: RestoreOutcome): string {
  return o.untagged ? `${o.registry}/${o.repository}@${o.digest} (${o.untagged})` : `${o.registry}/${o.repository}:${o.tag}`;
}

/**
 * What a restore would do, read from the registry: every tag that the apply of `plan`
 * deleted (and every tag it lost to a concurrent re-tag, by the journal's own records),
 * on its original digest, from the manifest bytes the journal saved before each DELETE.
 * Only a tag the plan's action names, or one the journal recorded as lost to that
 * action's DELETE, in that action's repository, is ever considered. The registry deletes
 * softly: the blobs stay until garbage collection, so the same bytes give the same
 * digest. An image whose blobs are gone is refused whole, before any PUT, so nothing
 * comes back half. A tag that exists now with another digest is someone else's: left
 * alone; unless that digest is regmgr's own untag placeholder (an untag cut short), which
 * is replaced. Sends only reads.
 */
export async function planRestore(plan: Plan, journal: JournalRead, clients: Clients): Promise<RestoreOutcome[]> {
  const out: RestoreOutcome[] = [];
  // Referrers come back after every subject: a registry may refuse a subject it lacks.
  const referrers: RestoreOutcome[] = [];
  const deletes = plan.actions.filter((a): a is PlanDelete => a.type === 'delete' && journal.started.has(a.id));
  for (const a of deletes) {
    const client = clients.get(a.registry);
    const repo = a.repository as Repository;
    for (const r of a.referrers ?? []) {
      const id = referrerId(a, r.digest);
      const bytes = journal.saved.get(id);
      if (!journal.started.has(id) || !bytes) continue;
      const item = (result: RestoreOutcome['result'], detail: string) => referrers.push({ registry: a.registry, repository: a.repository, tag: r.digest, digest: r.digest, mediaType: bytes.mediaType, result, detail, action: id, untagged: 'referrer' });
      if (`sha256:${createHash('sha256').update(bytes.bytes).digest('hex')}` !== r.digest) item('failed', `the journal's saved referrer does not hash to ${r.digest}: the journal was altered`);
      else if (await client.headManifest(repo, r.digest)) item('present', 'already there');
      else {
        const gone = await missingContent(client, repo, bytes.bytes, bytes.mediaType);
        if (gone.length) item('gone', `cannot come back: garbage collection already removed what it needs (${gone.slice(0, 3).join(', ')})`);
        else item('restore', `deleted with its subject ${r.subject.slice(0, 19)}; back by digest`);
      }
    }
  }
  for (const a of deletes) {
    const client = clients.get(a.registry);
    const repo = a.repository as Repository;
    const lost = a.method === 'manifest' ? [...(journal.lost.get(a.id) ?? [])] : [];
    const tags = [...new Set([...a.tags, ...lost])].sort();
    const note = (tag: string, result: RestoreOutcome['result'], detail: string, placeholder?: Digest) =>
      out.push({ registry: a.registry, repository: a.repository, tag, digest: a.digest, mediaType: a.media_type, result, detail, action: a.id, ...(placeholder ? { placeholder } : {}) });
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
    // Platform manifests deleted with this index come back first: the index needs them.
    const coming = new Set<string>();
    for (const child of a.children ?? []) {
      const id = childId(a, child);
      const bytes = journal.saved.get(id);
      if (!journal.started.has(id) || !bytes) continue;
      const item = (result: RestoreOutcome['result'], detail: string) => out.push({ registry: a.registry, repository: a.repository, tag: child, digest: child, mediaType: bytes.mediaType, result, detail, action: id, untagged: 'platform manifest' });
      if (`sha256:${createHash('sha256').update(bytes.bytes).digest('hex')}` !== child) item('failed', `the journal's saved platform manifest does not hash to ${child}: the journal was altered`);
      else if (await client.headManifest(repo, child)) item('present', 'already there');
      else {
        const gone = await missingContent(client, repo, bytes.bytes, bytes.mediaType);
        if (gone.length) item('gone', `cannot come back: garbage collection already removed what it needs (${gone.slice(0, 3).join(', ')})`);
        else (item('restore', `deleted with its index; back by digest`), coming.add(child));
      }
    }
    const ours = journal.placeholders.get(a.id) ?? new Set<string>();
    const missing: Array<{ tag: string; placeholder?: Digest }> = [];
    for (const t of tags) {
      const now = await client.headManifest(repo, t);
      if (now?.digest === a.digest) note(t, 'present', 'already points at its original digest');
      else if (now && ours.has(now.digest)) missing.push({ tag: t, placeholder: now.digest });
      else if (now) note(t, 'left-alone', `exists now with another digest (${now.digest}): changed after the apply; left alone`);
      else missing.push({ tag: t });
    }
    if (!missing.length) continue;
    const gone = await missingContent(client, repo, saved.bytes, saved.mediaType, coming);
    if (gone.length) {
      const what = gone.slice(0, 3).join(', ') + (gone.length > 3 ? ` and ${gone.length - 3} more` : '');
      for (const m of missing) note(m.tag, 'gone', `cannot come back: garbage collection already removed what the image needs (${what})`);
      continue;
    }
    for (const m of missing) {
      const why = m.placeholder ? `replacing regmgr's untag placeholder ${m.placeholder.slice(0, 19)} (an untag cut short)` : lost.includes(m.tag) && !a.tags.includes(m.tag) ? 'lost to the DELETE during apply' : 'deleted by the apply';
      note(m.tag, 'restore', `${why}; back on ${a.digest}`, m.placeholder);
    }
  }
  return [...out, ...referrers];
}

/** Carries out the `restore` items of planRestore: each becomes `restored` or `failed`. */
export async function carryOutRestore(items: readonly RestoreOutcome[], journal: JournalRead, clients: Clients): Promise<RestoreOutcome[]> {
  const out: RestoreOutcome[] = [];
  for (const item of items) {
    const client = clients.get(item.registry);
    const repo = item.repository as Repository;
    const saved = journal.saved.get(item.action)!;
    try {
      // Where the registry keeps deleted images (GHCR), its own restore comes first.
      const dialect = clients.dialect(item.registry);
      if (!item.untagged && !item.placeholder && dialect.restoreImage && (await dialect.restoreImage(repo, item.digest)) === 'restored') {
        const now = await client.headManifest(repo, item.tag);
        if (now?.digest === item.digest) {
          out.push({ ...item, result: 'restored', detail: `points at ${item.digest} again (restored through ${dialect.via})` });
          continue;
        }
      }
      await putBack(client, repo, item.tag, item.digest, saved.bytes, saved.mediaType);
      // The placeholder is regmgr's own (a random annotation nobody else knows) and no
      // tag's now that the PUT replaced it: delete it, as the untag would have.
      if (item.placeholder) await clients.dialect(item.registry).deleteImage(repo, item.placeholder, []);
      out.push({ ...item, result: 'restored', detail: `points at ${item.digest} again${item.placeholder ? `; regmgr's placeholder ${item.placeholder.slice(0, 19)} deleted` : ''}` });
    } catch (e) {
      out.push({ ...item, result: 'failed', detail: (e as Error).message });
    }
  }
  return out;
}

/**
 * What a manifest refers to that the repository no longer holds: for an image its config
 * and layers (blobs), for an index its platform manifests. Empty when a PUT can succeed.
 */
async function missingContent(client: RegistryClient, repo: Repository, bytes: Buffer, mediaType: string, coming: ReadonlySet<string> = new Set()): Promise<string[]> {
  let json: { config?: { digest?: unknown }; layers?: Array<{ digest?: unknown }>; manifests?: Array<{ digest?: unknown }> };
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return ['a readable manifest (the saved bytes are not JSON)'];
  }
  const refs = (xs: unknown): Digest[] => (Array.isArray(xs) ? xs.map((x) => x?.digest).filter((d): d is Digest => typeof d === 'string' && isDigest(d)) : []);
  const out: string[] = [];
  if (isIndex(mediaType) || Array.isArray(json.manifests)) {
    for (const d of refs(json.manifests)) if (!coming.has(d) && !(await client.headManifest(repo, d))) out.push(`platform manifest ${d}`);
    return out;
  }
  const config = refs([json.config]);
  for (const d of config) if (!(await client.hasBlob(repo, d))) out.push(`config blob ${d}`);
  for (const d of refs(json.layers)) if (!(await client.hasBlob(repo, d))) out.push(`layer blob ${d}`);
  return out;
}
