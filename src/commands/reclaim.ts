import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { PlanFileError, readPlanFile } from '../plan/file.js';
import { preflight } from '../apply/preflight.js';
import { journalPath, readJournal } from '../apply/journal.js';
import { childId, referrerId } from '../apply/delete-step.js';
import { connect } from '../registry/connect.js';
import { RegistryError } from '../registry/errors.js';
import { blobPairs, eachBlob, manifestSizes, type ManifestSizes } from '../oci/manifest-facts.js';
import type { Digest, Repository } from '../oci/names.js';
import { cacheFile, loadCache } from '../snapshot/content-cache.js';
import { humanBytes } from '../plan/bytes.js';
import { mapLimit } from '../util/limit.js';
import { EXIT, notify, printLines, type IO } from './io.js';
import { jsonLines } from '../util/json-lines.js';

export interface ReclaimArgs {
  state?: string;
  plan: string;
  config?: string;
  json?: boolean;
}

/**
 * `regmgr reclaim plan.json`: has the registry's garbage collection removed what the
 * apply of that plan freed? From the journal's saved manifests: the blobs (configs,
 * layers) of every manifest the apply deleted, less those a manifest of the registry
 * still references now (they stay, and are not asked about); each of the rest is asked
 * for with a HEAD in the repository that held it. Read-only. Exit 0 when none is served
 * any more, 2 when some still are (garbage collection has not run since), 1 on error.
 * A deleted manifest's own bytes are not asked about: the API serves no deleted
 * manifest, before garbage collection or after.
 */
export async function reclaimCommand(args: ReclaimArgs, io: IO): Promise<number> {
  const plan = readPlanFile(args.plan);
  if (!args.config && !existsSync(plan.config.file)) throw new PlanFileError(args.plan, `was made with the config ${plan.config.file}, which is not there from this folder: pass -c CONFIG`);
  const config = loadConfig(args.config ?? plan.config.file, io.env, { statePath: args.state, notice: notify(io) });
  preflight(args.plan, plan, config, { restore: true });
  const journal = readJournal(journalPath(args.plan, plan.sha256), plan.sha256);
  if (!journal) throw new PlanFileError(args.plan, `has no journal beside it: it was never applied from this file, so nothing was freed`);

  // Every manifest the apply deleted (its DELETE was sent), with the bytes saved before it.
  const deleted: Array<{ registry: string; repository: Repository; sizes: ManifestSizes }> = [];
  for (const a of plan.actions) {
    if (a.type !== 'delete' || a.method !== 'manifest') continue;
    for (const id of [a.id, ...(a.children ?? []).map((c) => childId(a, c)), ...(a.referrers ?? []).map((r) => referrerId(a, r.digest))]) {
      const saved = journal.saved.get(id);
      if (!journal.started.has(id) || !saved) continue;
      let json: unknown;
      try {
        json = JSON.parse(saved.bytes.toString('utf8'));
      } catch {
        continue;
      }
      deleted.push({ registry: a.registry, repository: a.repository as Repository, sizes: manifestSizes(json, saved.mediaType, saved.bytes.length) });
    }
  }
  if (!deleted.length) {
    io.out('Nothing to reclaim: the apply of this plan deleted no manifest.\n');
    return EXIT.ok;
  }
  const registries = [...new Set(deleted.map((d) => d.registry))].sort();
  const clients = await connect(config, new Set(registries), { env: io.env, logger: io.logger });
  const cache = loadCache(cacheFile(io.env), (m) => io.logger.debug(m));
  cache.readsDone(); // no tags read here to share the cache's digests
  const rows: Array<{ registry: string; repository: string; blob: Digest; size: number; served: boolean }> = [];
  try {
    for (const registry of registries) {
      const client = clients.get(registry);
      // What stays: every blob a manifest of the repositories the plan read references now.
      const live = new Set<Digest>();
      const repos = Object.keys(plan.snapshot[registry] ?? {}).sort() as Repository[];
      for (const repo of repos) {
        // Only "no such repository" means no tags; any other failure stops the check.
        const tags = await client.listTags(repo).catch((e: unknown) => {
          if (e instanceof RegistryError && e.kind === 'not-found') return [] as string[];
          throw e;
        });
        const digests = new Set<Digest>();
        await mapLimit(tags, client.endpoint.concurrency, async (t) => {
          const ref = await client.headManifest(repo, t);
          if (ref) digests.add(ref.digest);
        });
        const mark = async (d: Digest, depth: number): Promise<void> => {
          let s = cache.sizes.get(d);
          if (!s) {
            const m = await client.getManifest(repo, d);
            if (!m) return;
            s = manifestSizes(m.json, m.mediaType, m.bytes.length);
            cache.setSizes(d, s);
          }
          eachBlob(s, (b) => live.add(b));
          if (depth < 2) for (const c of s.children ?? []) await mark(c, depth + 1);
        };
        await mapLimit([...digests], client.endpoint.concurrency, (d) => mark(d, 0));
      }
      const asked = new Set<Digest>();
      for (const d of deleted.filter((x) => x.registry === registry)) {
        for (const [blob, size] of blobPairs(d.sizes)) {
          if (live.has(blob) || asked.has(blob)) continue;
          asked.add(blob);
          rows.push({ registry, repository: d.repository, blob, size, served: await client.hasBlob(d.repository, blob) });
        }
      }
    }
    cache.save((m) => io.logger.debug(m));
  } finally {
    await clients.close();
  }
  const served = rows.filter((r) => r.served);
  const bytes = (rs: typeof rows) => rs.reduce((n, r) => n + r.size, 0);
  if (args.json) {
    await printLines(io, jsonLines({ blobs: rows.length, bytes: bytes(rows), still_served: { blobs: served.length, bytes: bytes(served) }, rows }));
  } else if (served.length) {
    io.out(`Garbage collection has not run since the apply (or has not removed everything): ${served.length} of the ${rows.length} blobs it freed (${humanBytes(bytes(served))} of ${humanBytes(bytes(rows))}) are still served.\n`);
    io.out('Run the registry\'s garbage collection (docker-registry garbage-collect CONFIG, with the registry read-only or stopped; never --delete-untagged), then run this again.\n');
  } else {
    io.out(`Freed: none of the ${rows.length} blobs the apply freed (${humanBytes(bytes(rows))}) is served any more.\n`);
  }
  return served.length ? EXIT.changes : EXIT.ok;
}
