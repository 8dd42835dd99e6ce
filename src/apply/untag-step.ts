import { createHash, randomUUID } from 'node:crypto';
import type { PlanDelete } from '../plan/model.js';
import { OCI_MANIFEST } from '../oci/media-types.js';
import type { Digest, Repository } from '../oci/names.js';
import type { Journal } from './journal.js';
import type { LiveView } from './live-view.js';
import { saveManifest, type ManifestSaver } from './manifest-saver.js';
import type { Outcome, Result } from './steps.js';

// The OCI empty descriptor's content: `{}` (image-spec 1.1, application/vnd.oci.empty.v1+json).
const EMPTY = Buffer.from('{}');
const EMPTY_DIGEST = `sha256:${createHash('sha256').update(EMPTY).digest('hex')}` as Digest;

/**
 * Removes one tag and keeps its digest (other tags or a multi-arch index need it).
 * `oci`: DELETE by tag (OCI distribution 1.1). `untag`, for registries that can only
 * delete by digest (distribution 2.8): PUT a manifest that exists nowhere else (an empty
 * config, an annotation naming this removal) to the tag, check the tag resolves to it,
 * DELETE that manifest by digest (which takes only this tag: no other tag can point at a
 * digest nobody else knows), then check the tag is gone and the kept tags still resolve.
 */
export async function untagStep(a: PlanDelete, view: LiveView, journal: Journal, saver?: ManifestSaver): Promise<Outcome> {
  const client = view.client;
  const repo = a.repository as Repository;
  const tag = a.tags[0];
  const where = `${a.registry}/${a.repository}:${tag}`;
  const record = (result: Result, detail: string): Outcome => {
    journal.append(a.id, result === 'deleted' || result === 'gone' ? 'done' : (result as 'drifted' | 'blocked' | 'failed'), detail);
    return { id: a.id, result, detail };
  };
  // The original manifest's bytes, for `regmgr restore`: it puts the tag back on them.
  // Waiting for the save let time pass since the chain's last listing: list again.
  if (await saver?.settled(a.id)) view.namesCurrent = false;
  if (!journal.saved.has(a.id) && !(await saveManifest(a, view, journal))) {
    return record('drifted', `${where}: its digest ${a.digest} is gone (changed outside this apply); nothing to untag`);
  }
  view.namesCurrent = false;
  // An untag cut short by a crash left the tag on our own manifest: finish it.
  const half = /^untag via (sha256:[a-f0-9]{64})$/.exec(journal.last.get(a.id)?.detail ?? '')?.[1] as Digest | undefined;
  const now = await client.headManifest(repo, tag);
  if (half && journal.wasStarted(a.id) && (now?.digest === half || !now)) return finish(half);
  if (!now) return record('gone', `${where} is already gone (another apply or client removed it); ${a.digest.slice(0, 19)} stays`);
  if (now.digest !== a.digest) return record('drifted', `${where} now points at ${now.digest}, not ${a.digest}; left alone`);
  if (a.attachment_of?.orphaned && (await client.headManifest(repo, a.attachment_of.subject))) {
    return record('drifted', `${where}: its subject ${a.attachment_of.subject} exists again; the attachment is no longer orphaned; left alone`);
  }

  if (a.method === 'oci') {
    journal.append(a.id, 'start');
    await journal.durable();
    const res = await view.dialect.deleteTag(repo, tag);
    if (res === 'unsupported') return record('failed', `${where}: the registry refuses to delete a tag by name; set registries.${a.registry}.tag-delete: untag`);
    return verify(undefined);
  }
  if (!view.emptyConfigReady) {
    await client.pushBlob(repo, EMPTY);
    view.emptyConfigReady = true;
  }
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: EMPTY.length },
      layers: [],
      annotations: { 'io.regmgr.untag': `${tag} ${randomUUID()}` },
    }),
  );
  const unique = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  journal.append(a.id, 'start', `untag via ${unique}`);
  await journal.durable();
  await client.putManifest(repo, tag, bytes, OCI_MANIFEST);
  return finish(unique);

  async function finish(unique: Digest): Promise<Outcome> {
    const on = await client.headManifest(repo, tag);
    if (on && on.digest !== unique) {
      // Someone moved the tag between our PUT and now: theirs stands. Clean up our manifest.
      await view.dialect.deleteImage(repo, unique, []);
      return record('drifted', `${where} was moved to ${on.digest} by another client during the untag; left there`);
    }
    await view.dialect.deleteImage(repo, unique, [tag]);
    return verify(unique);
  }

  async function verify(unique: Digest | undefined): Promise<Outcome> {
    const at = view.now();
    if (await client.headManifest(repo, tag)) return record('failed', `${where} still resolves after the ${a.method}`);
    const moved: string[] = [];
    for (const k of a.kept_by ?? []) {
      const ref = await client.headManifest(repo, k);
      if (ref?.digest !== a.digest) moved.push(`${k} now ${ref ? `points at ${ref.digest}` : 'is gone'} (changed outside this apply)`);
    }
    view.drop(tag, at);
    const how = unique ? `untagged (via ${unique.slice(0, 19)})` : 'tag deleted';
    return record('deleted', `${where} ${how}; ${a.digest.slice(0, 19)} kept by ${(a.kept_by ?? []).join(', ')}${moved.length ? `; note: ${moved.join('; ')}` : ''}`);
  }
}
