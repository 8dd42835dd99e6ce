import type { Digest, Repository } from '../oci/names.js';
import type { PlanCopy } from '../plan/model.js';
import type { Journal } from './journal.js';
import type { SkopeoRunner } from './skopeo.js';
import type { Clients } from '../registry/connect.js';
import type { Manifest } from '../registry/client.js';

/**
 * `restored`: deleted as planned, and a tag the plan did not name, lost to the DELETE, was
 * put back. `present` and `gone`: what the action would bring about already holds (the
 * target has the digest; the tags and manifest are deleted, by another apply or client):
 * nothing was done, and nothing is left to do.
 */
export type Result = 'copied' | 'present' | 'deleted' | 'gone' | 'restored' | 'drifted' | 'blocked' | 'failed';

export interface Outcome {
  id: string;
  result: Result;
  detail: string;
}

// Each step: check the precondition against the live registry, act, verify, record.
// A step never "fixes up" a plan: anything unexpected is reported and left alone.

/**
 * A tag's digest as a recent read saw it (null: no such tag), or undefined when that
 * read did not cover it: the registry is asked.
 */
export type SeenDigest = (registry: string, repository: string, tag: string) => Digest | null | undefined;

/**
 * What a copy finds before it acts: the target already has the digest (done), the
 * target or the source moved since the plan (drifted), or undefined: copy it. `seen`:
 * the policy re-check's read, while it is within apply's age bound, instead of a HEAD
 * of each side. Nothing is lost by its age: skopeo copies the planned digest whatever
 * the source tag says now, and the target tag is checked again right before its PUT.
 */
export async function copyCheck(a: PlanCopy, clients: Clients, journal: Journal, seen?: SeenDigest): Promise<Outcome | undefined> {
  const digestOf = async (registry: string, repository: string, tag: string) => {
    const known = seen?.(registry, repository, tag);
    return known !== undefined ? known : ((await clients.get(registry).headManifest(repository as Repository, tag))?.digest ?? null);
  };
  const now = await digestOf(a.target.registry, a.target.repository, a.target.tag);
  if (now === a.source.digest) return present(a, journal);
  if (now !== a.target.digest_at_plan) return drifted(a, journal, `${dest(a)} changed since the plan: was ${a.target.digest_at_plan ?? 'absent'}, now ${now ?? 'absent'}`);
  const source = await digestOf(a.source.registry, a.source.repository, a.source.tag);
  if (source !== a.source.digest) {
    return drifted(a, journal, `source ${a.source.registry}/${a.source.repository}:${a.source.tag} moved since the plan: was ${a.source.digest}, now ${source ?? 'absent'}`);
  }
  return undefined;
}

/** The copied image's manifest in the target repository (its exact bytes), or undefined when the copy did not bring it. */
export async function readImage(a: PlanCopy, clients: Clients): Promise<Manifest | undefined> {
  return (await clients.get(a.target.registry).getManifest(a.target.repository as Repository, a.source.digest)) ?? undefined;
}

/** One image, one skopeo copy, pinned to the planned source digest. */
export async function copyStep(a: PlanCopy, clients: Clients, journal: Journal, skopeo: SkopeoRunner, signal: AbortSignal): Promise<Outcome> {
  return (await copyCheck(a, clients, journal)) ?? copyImage(a, clients, journal, skopeo, signal);
}

/** copyStep after its check. */
export async function copyImage(a: PlanCopy, clients: Clients, journal: Journal, skopeo: SkopeoRunner, signal: AbortSignal): Promise<Outcome> {
  journal.append(a.id, 'start');
  await journal.durable();
  await skopeo.copy(
    { endpoint: clients.get(a.source.registry).endpoint, credentials: clients.credentials(a.source.registry), repository: a.source.repository, digest: a.source.digest },
    { endpoint: clients.get(a.target.registry).endpoint, credentials: clients.credentials(a.target.registry), repository: a.target.repository, tag: a.target.tag },
    signal,
  );
  return verifyCopy(a, clients, journal);
}

/**
 * After a batch pushed the planned digest into the target repository (untagged): the
 * tag, by a PUT of the manifest's exact bytes, so the digest is the planned one. The
 * tag is checked right before the PUT: another client's change to it is left alone,
 * and the window in which it would be overwritten is one round trip. `absent`: the
 * batch did not bring the image, and the caller copies it alone.
 */
export async function tagStep(a: PlanCopy, clients: Clients, journal: Journal, read: Promise<Manifest | undefined> = readImage(a, clients)): Promise<Outcome | 'absent'> {
  const dst = clients.get(a.target.registry);
  const repo = a.target.repository as Repository;
  const image = await read;
  if (!image) return 'absent';
  const now = (await dst.headManifest(repo, a.target.tag))?.digest ?? null;
  if (now === a.source.digest) return present(a, journal);
  if (now !== a.target.digest_at_plan) {
    return drifted(a, journal, `${dest(a)} changed during apply: was ${a.target.digest_at_plan ?? 'absent'}, now ${now ?? 'absent'}; the image was copied by digest, the tag left alone`);
  }
  const put = await dst.putManifest(repo, a.target.tag, image.bytes, image.mediaType);
  // The registry said it stored exactly these bytes under the tag: that is the outcome. A
  // HEAD after it could only see whether another client has moved the tag since, which
  // the next plan reports as changed outside regmgr. (skopeo's own copies are read back.)
  return put.confirmed ? copied(a, journal) : verifyCopy(a, clients, journal);
}

async function verifyCopy(a: PlanCopy, clients: Clients, journal: Journal): Promise<Outcome> {
  const after = await clients.get(a.target.registry).headManifest(a.target.repository as Repository, a.target.tag);
  if (after?.digest !== a.source.digest) {
    const detail = `after the copy ${dest(a)} is ${after?.digest ?? 'absent'}, expected ${a.source.digest}`;
    journal.append(a.id, 'failed', detail);
    return { id: a.id, result: 'failed', detail };
  }
  return copied(a, journal);
}

function copied(a: PlanCopy, journal: Journal): Outcome {
  journal.append(a.id, 'done', 'copied');
  return { id: a.id, result: 'copied', detail: `${dest(a)} <- ${a.source.registry}/${a.source.repository}@${a.source.digest}` };
}

function present(a: PlanCopy, journal: Journal): Outcome {
  journal.append(a.id, 'done', 'target already has the digest');
  return { id: a.id, result: 'present', detail: `${dest(a)} already has ${a.source.digest}` };
}

function drifted(a: PlanCopy, journal: Journal, detail: string): Outcome {
  journal.append(a.id, 'drifted', detail);
  return { id: a.id, result: 'drifted', detail };
}

const dest = (a: PlanCopy) => `${a.target.registry}/${a.target.repository}:${a.target.tag}`;
