import type { RegistryClient } from '../registry/client.js';
import type { Digest, Repository } from '../oci/names.js';
import type { PlanDelete } from '../plan/model.js';
import type { Journal } from './journal.js';
import type { LiveView } from './live-view.js';
import { saveManifest, type ManifestSaver } from './manifest-saver.js';
import type { Outcome, Result } from './steps.js';

/**
 * Deletes one planned digest if, right now, every planned tag still points at it and no
 * other tag does; then makes sure no other tag was lost.
 *
 * The registry has no conditional delete: between the check and the DELETE another
 * client can move a tag onto the digest, and the DELETE then removes that tag too. So the
 * manifest's bytes are saved (fsync'd) before the DELETE, the repository is listed right
 * after it, and any tag that the plan did not name, that was listed before the DELETE and
 * is gone after it, is put back from those bytes at once. Deletes of one repository run
 * one at a time, so a tag lost between two listings belongs to the one DELETE between
 * them. (Only reads run beside them: the saver's GETs by digest and the background
 * re-reads of the view, neither of which changes the registry.)
 */
export async function deleteStep(a: PlanDelete, view: LiveView, journal: Journal, saver?: ManifestSaver, allowedChildren?: ReadonlySet<string>): Promise<Outcome> {
  const client = view.client;
  const repo = a.repository as Repository;
  const where = `${a.registry}/${a.repository}@${a.digest}`;
  const record = (result: Result, detail: string): Outcome => {
    journal.append(a.id, result === 'deleted' || result === 'restored' || result === 'gone' ? 'done' : (result as 'drifted' | 'blocked' | 'failed'), detail);
    return { id: a.id, result, detail };
  };

  // Every request of the chain before the check comes first, so that the last read
  // before the DELETE is a listing: a tag created any earlier is seen and stops the
  // delete. (The saver has usually saved this manifest already, off the chain.)
  // Waiting for the save let time pass since the chain's last listing: list again.
  if (await saver?.settled(a.id)) view.namesCurrent = false;
  if (a.attachment_of?.orphaned) {
    view.namesCurrent = false;
    if (await client.headManifest(repo, a.attachment_of.subject)) return record('drifted', `${where}: its subject ${a.attachment_of.subject} exists again; the attachment is no longer orphaned; not deleted`);
  }
  if (!journal.saved.has(a.id)) {
    await saveManifest(a, view, journal);
    view.namesCurrent = false;
  }
  await view.ensureFresh();
  if (!view.namesCurrent) await view.relist();
  const current = view.tags;
  const moved = a.tags.filter((t) => current.has(t) && current.get(t) !== a.digest);
  const gone = a.tags.filter((t) => !current.has(t));
  const others = [...current].filter(([t, d]) => d === a.digest && !a.tags.includes(t)).map(([t]) => t);
  if (others.length) return record('blocked', `${where}: tag${others.length === 1 ? '' : 's'} ${others.join(', ')} now point${others.length === 1 ? 's' : ''} at this digest; not deleted`);
  if (moved.length) return record('drifted', `${where}: ${moved.map((t) => `${t} now points at ${current.get(t)}`).join('; ')}; not deleted`);
  if (gone.length === a.tags.length) {
    // Every tag is gone: finished before a crash (we had started it), or done by someone else.
    const still = await client.headManifest(repo, a.digest);
    if (!still && journal.wasStarted(a.id)) {
      // The platform manifests that go with an index come after its DELETE: finish them.
      const saved = journal.saved.get(a.id);
      const rest = a.children?.length && saved ? await deleteChildren(a, saved.bytes, view, journal, allowedChildren) : [];
      if (a.referrers?.length) rest.push(...(await deleteReferrers(a, view, journal)));
      return record('deleted', `${where} (completed before an interruption)${rest.length ? `; ${rest.join('; ')}` : ''}`);
    }
    if (!still) return record('gone', `${where}: already deleted (tags ${a.tags.join(', ')} and the manifest are gone: another apply or client deleted them)`);
    return record('drifted', `${where}: tags ${a.tags.join(', ')} are already gone but the manifest remains (changed outside this apply)`);
  }
  if (gone.length) return record('drifted', `${where}: tag${gone.length === 1 ? '' : 's'} ${gone.join(', ')} no longer exist${gone.length === 1 ? 's' : ''}; not deleted`);

  const saved = journal.saved.get(a.id);
  if (!saved) return record('drifted', `${where}: the manifest is gone although its tags are listed (changed outside this apply); not deleted`);

  // Every name the chain's last listing showed counts, even one a background read has
  // since found gone: if it comes back onto this digest, the DELETE takes it.
  const before = new Set([...current.keys(), ...view.listed]);
  view.noteCheck();
  journal.append(a.id, 'start');
  await journal.durable();
  // A DELETE that failed in transit (reset, timeout) may still have been carried out:
  // the listing and repair below run whatever it answered.
  const sent = await view.dialect.deleteImage(repo, a.digest, a.tags).then(
    () => undefined,
    (e: Error) => e,
  );
  view.namesCurrent = false;
  const listedAt = view.now();
  const after = await view.list();
  view.listed = after;

  const lost = [...before].filter((t) => !after.has(t) && !a.tags.includes(t)).sort();
  const notes: string[] = [];
  const failures: string[] = [];
  const repairedAt = new Map<string, number>();
  for (const t of lost) {
    journal.append(a.id, 'lost', `${t} vanished with the DELETE of ${a.digest}`, { tag: t });
    // On the disk before the PUT (a killed apply loses no written line; this is for a
    // machine that goes down during it): restore then knows the tag.
    journal.flush();
    try {
      await putBack(client, repo, t, a.digest, saved.bytes, saved.mediaType);
      repairedAt.set(t, view.now());
      journal.append(a.id, 'restored', `${t} put back on ${a.digest}`, { tag: t });
      after.add(t);
      notes.push(`restored ${t}: it was moved onto ${a.digest} during apply and the DELETE removed it; it points at ${a.digest} again`);
    } catch (e) {
      failures.push(`LOST ${t}: it was moved onto ${a.digest} during apply and the DELETE removed it; putting it back failed: ${(e as Error).message}; run \`regmgr restore\` on this plan with credentials that may push`);
    }
  }
  // A planned tag still listed either moved away before the DELETE (nothing lost) or survived it.
  const survived: string[] = [];
  for (const t of a.tags.filter((x) => after.has(x))) {
    const ref = await client.headManifest(repo, t);
    if (ref?.digest === a.digest) survived.push(t);
    else if (ref) notes.push(`${t} had moved to ${ref.digest} before the DELETE and was left there`);
  }
  await view.merge(after, listedAt);
  for (const [t, at] of repairedAt) view.set(t, a.digest, at);
  // The closing listing is the next step's last read, unless requests came after it.
  view.namesCurrent = lost.length === 0 && a.tags.every((t) => !after.has(t));

  if (failures.length) return record('failed', `${where}: ${failures.join('; ')}`);
  if (sent && survived.length) throw sent;
  if (survived.length) return record('failed', `${where}: tags ${survived.join(', ')} still resolve after the delete`);
  if (a.children?.length) notes.push(...(await deleteChildren(a, saved.bytes, view, journal, allowedChildren)));
  if (a.referrers?.length) notes.push(...(await deleteReferrers(a, view, journal)));
  const head = `${where} (${a.tags.join(', ')})`;
  if (lost.length) return record('restored', `${head}; ${notes.join('; ')}`);
  return record('deleted', notes.length ? `${head}; ${notes.join('; ')}` : head);
}


/** PUTs saved manifest bytes under `tag` and checks that the tag resolves to `digest`. */
export async function putBack(client: RegistryClient, repo: Repository, tag: string, digest: Digest, bytes: Buffer, mediaType: string): Promise<void> {
  const stored = (await client.putManifest(repo, tag, bytes, mediaType)).digest;
  if (stored !== digest) throw new Error(`the saved bytes hash to ${stored}, not ${digest}`);
  const ref = await client.headManifest(repo, tag);
  if (ref?.digest !== digest) throw new Error(`after the PUT ${tag} resolves to ${ref?.digest ?? 'nothing'}`);
}

/** The journal id of a platform manifest deleted with its index: its saved bytes and progress are kept under it. */
export function childId(a: PlanDelete, child: string): string {
  return `${a.id} child ${child}`;
}

/** The journal id of an untagged referrer deleted with its subject. */
export function referrerId(a: PlanDelete, digest: string): string {
  return `${a.id} referrer ${digest}`;
}

/**
 * After an index's DELETE: its planned platform manifests, each only if the saved index
 * (digest-checked) lists it, the live policy lets it go too (the re-check), and no tag
 * points at it now. Returns notes for the outcome line; a child left alone is said,
 * never an error.
 */
async function deleteChildren(a: PlanDelete, indexBytes: Buffer, view: LiveView, journal: Journal, allowed: ReadonlySet<string> | undefined): Promise<string[]> {
  let listed: Set<string>;
  try {
    const json = JSON.parse(indexBytes.toString('utf8'));
    listed = new Set(Array.isArray(json?.manifests) ? json.manifests.map((m: { digest?: unknown }) => m?.digest).filter((d: unknown) => typeof d === 'string') : []);
  } catch {
    listed = new Set();
  }
  const items = (a.children ?? []).map((child) => ({
    id: childId(a, child),
    digest: child as Digest,
    left: !listed.has(child)
      ? 'not listed by the index: the plan was edited'
      : // Not confirmed unused by the live re-check: a tag or a kept index uses it now, or
        // (resuming after a crash) the index is gone and the re-check no longer plans it.
        allowed && !allowed.has(child)
        ? 'the live re-check did not confirm that no tag or kept index uses it'
        : undefined,
  }));
  return deleteAll(items, 'platform manifest', view, journal);
}

/**
 * After the subject's DELETE (and its children's): the untagged manifests the plan says
 * refer to it (OCI 1.1 referrers), each only if its own manifest names the planned
 * subject (a plan file is anyone's to edit: a digest of some kept image listed here
 * names no such subject) and no tag points at it now.
 */
async function deleteReferrers(a: PlanDelete, view: LiveView, journal: Journal): Promise<string[]> {
  const items = (a.referrers ?? []).map((r) => ({
    id: referrerId(a, r.digest),
    digest: r.digest,
    confirm: (json: any) => (json?.subject?.digest === r.subject ? undefined : `its manifest does not name ${r.subject.slice(0, 19)} as subject: the plan was edited or the registry changed`),
  }));
  return deleteAll(items, 'referrer', view, journal);
}

/** Deletes each dependent manifest not done yet (deleteDependent), and says in notes how many went and which stayed, why. */
async function deleteAll(items: Array<{ id: string; digest: Digest; left?: string; confirm?: (json: any) => string | undefined }>, what: string, view: LiveView, journal: Journal): Promise<string[]> {
  const notes: string[] = [];
  const left: string[] = [];
  let done = 0;
  for (const it of items) {
    if (journal.isDone(it.id)) {
      done++;
      continue;
    }
    const r = it.left ?? (await deleteDependent(it.id, it.digest, what, view, journal, it.confirm ?? (() => undefined)));
    if (typeof r === 'string') left.push(`${it.digest.slice(0, 19)} (${r})`);
    else (done++, notes.push(...r));
  }
  view.namesCurrent = false;
  if (done) notes.push(`with ${done} ${what}${done === 1 ? '' : 's'}`);
  if (left.length) notes.push(`${what}${left.length === 1 ? '' : 's'} left in place: ${left.join(', ')}`);
  return notes;
}

/**
 * Deletes one untagged manifest that goes with a deleted one, as safely as the main
 * DELETE: no tag on it now (the view's digests, kept fresh), its bytes journaled before
 * the DELETE, a listing on each side, and a tag another client moved onto it meanwhile
 * put back at once. Returns why it was left, or the notes of its deletion.
 */
async function deleteDependent(id: string, digest: Digest, what: string, view: LiveView, journal: Journal, confirm: (json: any) => string | undefined): Promise<string | string[]> {
  const client = view.client;
  const repo = view.repo;
  await view.ensureFresh();
  const onIt = [...view.tags].filter(([, d]) => d === digest).map(([t]) => t);
  const before = await view.list();
  if (onIt.length) return `tag ${onIt.join(', ')} points at it now`;
  let saved = journal.saved.get(id);
  if (!saved) {
    const m = await client.getManifest(repo, digest);
    if (!m) return []; // gone already: what the plan wanted
    const why = confirm(m.json);
    if (why) return why;
    saved = { bytes: m.bytes, mediaType: m.mediaType };
    journal.save(id, saved);
  } else {
    let json: unknown;
    try {
      json = JSON.parse(saved.bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    const why = confirm(json);
    if (why) return why;
  }
  journal.append(id, 'start');
  await journal.durable();
  await view.dialect.deleteImage(repo, digest, []);
  const after = await view.list();
  const notes: string[] = [];
  for (const t of [...before].filter((x) => !after.has(x)).sort()) {
    journal.append(id, 'lost', `${t} vanished with the DELETE of ${digest}`, { tag: t });
    journal.flush();
    await putBack(client, repo, t, digest, saved.bytes, saved.mediaType);
    journal.append(id, 'restored', `${t} put back on ${digest}`, { tag: t });
    notes.push(`restored ${t}: it was moved onto ${what} ${digest} during apply; it points at it again`);
  }
  journal.append(id, 'done');
  return notes;
}
