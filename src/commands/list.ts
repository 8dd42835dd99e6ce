import { loadConfig } from '../config/load.js';
import { connect } from '../registry/connect.js';
import { readRegistry, Counter } from '../snapshot/read.js';
import type { RegistrySnapshot } from '../snapshot/model.js';
import { shortDigest, shortMediaType, tableLines } from '../util/table.js';
import { progressLine } from '../util/progress.js';
import { jsonLines } from '../util/json-lines.js';
import { EXIT, printLines, type IO } from './io.js';

export interface ListArgs {
  config: string;
  json?: boolean;
  registry?: string[];
}

/** Registries, repositories and tags (with digests) that the config selects, sorted. */
export async function listCommand(args: ListArgs, io: IO): Promise<number> {
  const config = loadConfig(args.config, io.env);
  const names = args.registry?.length ? args.registry : [...config.registries.keys()].sort();
  for (const n of names) if (!config.registries.has(n)) throw new Error(`unknown registry '${n}'; known: ${[...config.registries.keys()].join(', ')}`);
  const clients = await connect(config, names, { env: io.env, logger: io.logger });
  const progress = progressLine(io, 'reading tags');
  const counter = new Counter(progress.update);
  try {
    const snapshots: RegistrySnapshot[] = [];
    for (const name of names) {
      const client = clients.get(name);
      const { repositories, source } = await clients.dialect(name).listRepositories();
      const snap = await readRegistry(client, repositories, source, counter);
      // `repo:tag` entries select that image only.
      const only = new Map<string, Set<string>>();
      for (const s of client.endpoint.repositories ?? []) {
        if (s.tag) only.set(s.repository, (only.get(s.repository) ?? new Set()).add(s.tag));
        else only.set(s.repository, new Set(['*']));
      }
      for (const r of snap.repositories) {
        const sel = only.get(r.repository);
        if (sel && !sel.has('*')) r.tags = r.tags.filter((t) => sel.has(t.tag));
      }
      snapshots.push(snap);
    }
    progress.done(); // before printing, so the counter line does not mix with the table
    if (args.json) await printLines(io, jsonLines(listJson(snapshots, config.registries)));
    else await printLines(io, listLines(snapshots));
    return EXIT.ok;
  } finally {
    progress.done();
    await clients.close();
  }
}

function listJson(snaps: RegistrySnapshot[], regs: Map<string, { origin: string }>) {
  return {
    registries: snaps.map((s) => ({
      name: s.name,
      url: regs.get(s.name)!.origin,
      source: s.source,
      repositories: s.repositories.map((r) => ({ name: r.repository, ...(r.missing ? { missing: true } : {}), tags: r.tags })),
    })),
  };
}

/** The listing's lines (each without its newline), made as they are taken: no row or line per tag is held. */
export function* listLines(snaps: RegistrySnapshot[]): Generator<string, void, undefined> {
  let tags = 0;
  let repos = 0;
  for (const s of snaps) {
    repos += s.repositories.length;
    for (const r of s.repositories) tags += r.tags.length;
  }
  yield* tableLines(function* () {
    yield ['REGISTRY', 'REPOSITORY', 'TAG', 'DIGEST', 'TYPE'];
    for (const s of snaps) {
      for (const r of s.repositories) {
        if (r.tags.length === 0) yield [s.name, r.repository, r.missing ? '(no such repository)' : '(no tags)', '', ''];
        for (const t of r.tags) yield [s.name, r.repository, t.tag, shortDigest(t.digest), shortMediaType(t.mediaType)];
      }
    }
  });
  yield '';
  yield `${snaps.length} registr${snaps.length === 1 ? 'y' : 'ies'}, ${repos} repositor${repos === 1 ? 'y' : 'ies'}, ${tags} tag${tags === 1 ? '' : 's'}.`;
}
