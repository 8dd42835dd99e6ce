import { randomBytes } from 'node:crypto';
import type { RegistryClient } from './client.js';
import type { Repository } from '../oci/names.js';

/**
 * What a registry can do, as probed at plan time (recorded in the plan). Policy and plan
 * see these, never a vendor name.
 */
export interface Capabilities {
  /** Deletes manifests by digest: true, or why not (one line). */
  delete: true | string;
  /** Deletes a single tag (OCI distribution 1.1 DELETE by tag). */
  tag_delete: boolean;
  /** Answers the OCI 1.1 referrers API. */
  referrers: boolean;
  /** Where deletes go when not through the OCI API, for the plan's words ("Harbor API"). */
  via?: string;
}

/** A digest no content can have: sha256 of nothing is e3b0…, never sixty-four zeros. */
export const IMPOSSIBLE_DIGEST = `sha256:${'0'.repeat(64)}`;

/**
 * Probes with requests that change nothing (measured on distribution 2.8.2,
 * registry-facts.md): a DELETE of a digest that cannot exist answers 404 where deletes
 * work, 405 UNSUPPORTED where they are disabled, 401/403 where these credentials may not
 * delete; a DELETE of a tag that cannot exist answers 404 where the registry deletes
 * tags (it looked the tag up), 400 DIGEST_INVALID (2.8) or 405 where it does not; a GET
 * of the referrers of that digest answers 200 with an index where the API exists.
 */
export async function probeCapabilities(client: RegistryClient, repo: Repository): Promise<Capabilities> {
  const del = await client.probe(repo, 'delete-digest', IMPOSSIBLE_DIGEST);
  const codes = (c: string[]) => (c.length ? ` ${c.join(',')}` : '');
  let canDelete: true | string;
  if (del.status === 404 || del.status === 202 || del.status === 200) canDelete = true;
  else if (del.status === 405) canDelete = `the registry has deletes turned off (405${codes(del.codes)}); on the distribution registry, set storage.delete.enabled: true`;
  else if (del.status === 401 || del.status === 403) canDelete = `these credentials may not delete in ${repo} (${del.status}${codes(del.codes)}); grant delete (and push, to put back a tag lost to a re-tag)`;
  else canDelete = `a DELETE of a digest that cannot exist answered ${del.status}${codes(del.codes)}, not 404: regmgr cannot tell that deletes work here`;
  let tagDelete = false;
  if (canDelete === true) {
    const tag = await client.probe(repo, 'delete-tag', `regmgr-probe-${randomBytes(8).toString('hex')}`);
    tagDelete = tag.status === 404 && !tag.codes.includes('DIGEST_INVALID') && !tag.codes.includes('UNSUPPORTED');
  }
  const ref = await client.probe(repo, 'referrers', IMPOSSIBLE_DIGEST);
  const referrers = ref.status === 200 && typeof ref.json === 'object' && ref.json !== null && Array.isArray((ref.json as { manifests?: unknown }).manifests);
  return { delete: canDelete, tag_delete: tagDelete, referrers };
}
