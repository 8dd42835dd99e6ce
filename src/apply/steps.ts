import type { RegistryClient } from '../registry/client.js';
import type { Digest, Repository } from '../registry/names.js';
import type { PlanCopy, PlanDelete } from '../plan/model.js';
import type { Journal } from './journal.js';
import type { SkopeoRunner } from './skopeo.js';
import type { Clients } from '../registry/connect.js';

export type Result = 'copied' | 'present' | 'deleted' | 'drifted' | 'blocked' | 'failed';

export interface Outcome {
  id: string;
  result: Result;
  detail: string;
}

// Each step: check the precondition against the live registry, act, verify, record.
// A step never "fixes up" a plan: anything unexpected is reported and left alone.

export async function copyStep(a: PlanCopy, clients: Clients, journal: Journal, skopeo: SkopeoRunner, signal: AbortSignal): Promise<Outcome> {
  const src = clients.get(a.source.registry);
  const dst = clients.get(a.target.registry);
  const dest = `${a.target.registry}/${a.target.repository}:${a.target.tag}`;
  const target = await dst.headManifest(a.target.repository as Repository, a.target.tag);
  if (target?.digest === a.source.digest) {
    journal.append(a.id, 'done', 'target already has the digest');
    return { id: a.id, result: 'present', detail: `${dest} already has ${a.source.digest}` };
  }
  const now = target?.digest ?? null;
  if (now !== a.target.digest_at_plan) {
    const detail = `${dest} changed since the plan: was ${a.target.digest_at_plan ?? 'absent'}, now ${now ?? 'absent'}`;
    journal.append(a.id, 'drifted', detail);
    return { id: a.id, result: 'drifted', detail };
  }
  const source = await src.headManifest(a.source.repository as Repository, a.source.tag);
  if (source?.digest !== a.source.digest) {
    const detail = `source ${a.source.registry}/${a.source.repository}:${a.source.tag} moved since the plan: was ${a.source.digest}, now ${source?.digest ?? 'absent'}`;
    journal.append(a.id, 'drifted', detail);
    return { id: a.id, result: 'drifted', detail };
  }
  journal.append(a.id, 'start');
  await skopeo.copy(
    { endpoint: src.endpoint, credentials: clients.credentials(a.source.registry), repository: a.source.repository, digest: a.source.digest },
    { endpoint: dst.endpoint, credentials: clients.credentials(a.target.registry), repository: a.target.repository, tag: a.target.tag },
    signal,
  );
  const after = await dst.headManifest(a.target.repository as Repository, a.target.tag);
  if (after?.digest !== a.source.digest) {
    const detail = `after the copy ${dest} is ${after?.digest ?? 'absent'}, expected ${a.source.digest}`;
    journal.append(a.id, 'failed', detail);
    return { id: a.id, result: 'failed', detail };
  }
  journal.append(a.id, 'done', 'copied');
  return { id: a.id, result: 'copied', detail: `${dest} <- ${a.source.registry}/${a.source.repository}@${a.source.digest}` };
}

/** Tag -> digest for a whole repository, as it is now. */
export async function readTagMap(client: RegistryClient, repo: Repository): Promise<Map<string, Digest>> {
  const map = new Map<string, Digest>();
  await refreshTagMap(client, repo, map, true);
  return map;
}

/** Re-lists the repository; HEADs tags that appeared (or all, when `all`). */
export async function refreshTagMap(client: RegistryClient, repo: Repository, map: Map<string, Digest>, all = false): Promise<void> {
  let tags: string[];
  try {
    tags = await client.listTags(repo);
  } catch (e) {
    if ((e as { kind?: string }).kind === 'not-found') tags = [];
    else throw e;
  }
  const listed = new Set(tags);
  for (const t of [...map.keys()]) if (!listed.has(t)) map.delete(t);
  const fresh = all ? [...listed] : [...listed].filter((t) => !map.has(t));
  await Promise.all(
    fresh.map(async (t) => {
      const ref = await client.headManifest(repo, t);
      if (ref) map.set(t, ref.digest);
      else map.delete(t);
    }),
  );
}

/**
 * Deletes one planned digest if, right now, every planned tag still points at it and no
 * other tag does. `current` is the repository's live tag map, refreshed by the caller.
 */
export async function deleteStep(a: PlanDelete, client: RegistryClient, current: Map<string, Digest>, journal: Journal): Promise<Outcome> {
  const repo = a.repository as Repository;
  const where = `${a.registry}/${a.repository}@${a.digest}`;
  const moved = a.tags.filter((t) => current.has(t) && current.get(t) !== a.digest);
  const gone = a.tags.filter((t) => !current.has(t));
  const others = [...current].filter(([t, d]) => d === a.digest && !a.tags.includes(t)).map(([t]) => t);
  const record = (result: Result, detail: string): Outcome => {
    journal.append(a.id, result === 'deleted' ? 'done' : (result as 'drifted' | 'blocked' | 'failed'), detail);
    return { id: a.id, result, detail };
  };
  if (others.length) return record('blocked', `${where}: tag${others.length === 1 ? '' : 's'} ${others.join(', ')} now point${others.length === 1 ? 's' : ''} at this digest; not deleted`);
  if (moved.length) return record('drifted', `${where}: ${moved.map((t) => `${t} now points at ${current.get(t)}`).join('; ')}; not deleted`);
  if (gone.length === a.tags.length) {
    // Every tag is gone: finished before a crash (we had started it), or done by someone else.
    const still = await client.headManifest(repo, a.digest);
    if (!still && journal.wasStarted(a.id)) return record('deleted', `${where} (completed before an interruption)`);
    return record('drifted', `${where}: tags ${a.tags.join(', ')} are already gone${still ? ' but the manifest remains' : ''} (changed outside this apply)`);
  }
  if (gone.length) return record('drifted', `${where}: tag${gone.length === 1 ? '' : 's'} ${gone.join(', ')} no longer exist${gone.length === 1 ? 's' : ''}; not deleted`);
  journal.append(a.id, 'start');
  await client.deleteManifest(repo, a.digest);
  const left: string[] = [];
  for (const t of a.tags) if (await client.headManifest(repo, t)) left.push(t);
  if (left.length) return record('failed', `${where}: tags ${left.join(', ')} still resolve after the delete`);
  for (const t of a.tags) current.delete(t);
  return record('deleted', `${where} (${a.tags.join(', ')})`);
}
