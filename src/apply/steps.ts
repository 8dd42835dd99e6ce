import type { Repository } from '../oci/names.js';
import type { PlanCopy } from '../plan/model.js';
import type { Journal } from './journal.js';
import type { SkopeoRunner } from './skopeo.js';
import type { Clients } from '../registry/connect.js';

/** `restored`: deleted as planned, and a tag the plan did not name, lost to the DELETE, was put back. */
export type Result = 'copied' | 'present' | 'deleted' | 'restored' | 'drifted' | 'blocked' | 'failed';

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
