import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { connect } from '../registry/connect.js';
import type { Repository } from '../oci/names.js';
import { openBackend, type StateBackend } from '../backend/backend.js';
import { FileBackend } from '../backend/file.js';
import { lockTimeoutMs, withBackend } from './backend-use.js';
import { Counter, readRegistry } from '../snapshot/read.js';
import type { RegistrySnapshot } from '../snapshot/model.js';
import { StateFileError } from '../state/file.js';
import type { State, StateSnapshot, TagChange } from '../state/model.js';
import { describeChange, diffSnapshots } from '../state/diff.js';
import { inert } from '../util/inert.js';
import { jsonLines } from '../util/json-lines.js';
import { fromRegistries, toRegistries } from '../state/convert.js';
import { listLines } from './list.js';
import { progressLine } from '../util/progress.js';
import { EXIT, notify, printLines, type IO } from './io.js';

export interface StateArgs {
  config?: string;
  state?: string;
  json?: boolean;
  lockTimeout?: string;
}

/** The state's backend: --state FILE (a file), else the config's (file or pg). Close it after. */
async function backendFor(args: StateArgs, io: IO): Promise<StateBackend> {
  if (args.state) return new FileBackend(resolve(args.state));
  if (!args.config) throw new Error('name the state with --state FILE, or the config whose state it is with -c FILE');
  // Reading the recorded state sends no request to a registry: no credentials needed.
  const config = loadConfig(args.config, io.env, { notice: notify(io), credentials: false });
  return openBackend(config, io.env);
}

async function withState<T>(args: StateArgs, io: IO, fn: (s: State, b: StateBackend) => Promise<T>): Promise<T> {
  const b = await backendFor(args, io);
  try {
    return await fn(await mustRead(b), b);
  } finally {
    await b.close();
  }
}

async function mustRead(b: StateBackend): Promise<State> {
  const s = await b.read();
  if (!s) throw new StateFileError(b.where, 'no state yet: it is written by `regmgr apply` and `regmgr state refresh`');
  return s;
}

export async function stateShowCommand(args: StateArgs, io: IO): Promise<number> {
  return withState(args, io, async (s, b) => showState(s, b.where, args, io));
}

async function showState(s: State, file: string, args: StateArgs, io: IO): Promise<number> {
  if (args.json) {
    await printLines(io, jsonLines(s));
    return EXIT.ok;
  }
  const last = s.apply ? `apply of plan ${s.apply.plan_sha256.slice(0, 12)}${s.apply.finished ? '' : ' (not finished)'}` : s.written_by;
  io.out(`State ${inert(file)}: lineage ${inert(s.lineage)}, serial ${s.serial}, written by ${inert(last)} at ${inert(s.written_at)}.\n\n`);
  await printLines(io, listLines(toRegistries(s.snapshot)));
  return EXIT.ok;
}

export async function stateListCommand(args: StateArgs, io: IO): Promise<number> {
  return withState(args, io, async (s) => listState(s, io));
}

async function listState(s: State, io: IO): Promise<number> {
  await printLines(io, stateLines(s));
  return EXIT.ok;
}

function* changeLines(changes: readonly TagChange[]): Generator<string, void, undefined> {
  for (const c of changes) yield `  ${describeChange(c)}`;
}

function* stateLines(s: State): Generator<string, void, undefined> {
  for (const r of toRegistries(s.snapshot)) for (const repo of r.repositories) for (const t of repo.tags) yield inert(`${r.name}/${repo.repository}:${t.tag} ${t.digest}`);
}

/** Re-reads every registry the config names (its selected repositories) into the state. */
export async function stateRefreshCommand(args: StateArgs & { config: string }, io: IO): Promise<number> {
  const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io) });
  const names = [...config.registries.keys()].sort();
  const clients = await connect(config, names, { env: io.env, logger: io.logger });
  const progress = progressLine(io, 'reading registries');
  let snaps: RegistrySnapshot[];
  try {
    snaps = await Promise.all(
      names.map(async (n) => {
        const client = clients.get(n);
        const { repositories, source } = await clients.dialect(n).listRepositories();
        return readRegistry(client, repositories, source, new Counter(progress.update));
      }),
    );
  } finally {
    progress.done();
    await clients.close();
  }
  return withBackend(config, io.env, async (backend) => {
    const lock = await backend.lock(`regmgr state refresh -c ${args.config}`, notify(io), lockTimeoutMs(args.lockTimeout));
    try {
      const prev = await backend.read();
      const fresh = fromRegistries(snaps);
      const changes = prev ? diffSnapshots(prev.snapshot, fresh) : [];
      const registries = { ...(prev?.registries ?? {}), ...Object.fromEntries(names.map((n) => [n, { url: config.registries.get(n)!.origin }])) };
      // The registries read replace what was recorded for them; others stay as they were.
      const s = await backend.write(prev, { written_by: 'refresh', registries, snapshot: { ...(prev?.snapshot ?? {}), ...fresh } });
      for (const c of changes) io.out(`  ${describeChange(c)}\n`);
      const tags = Object.values(fresh).flatMap((r) => Object.values(r)).reduce((k, r) => k + Object.keys(r).length, 0);
      io.out(`State refreshed: ${tags} tags in ${names.length} registr${names.length === 1 ? 'y' : 'ies'}; ${changes.length} changed since serial ${prev?.serial ?? 'none'}; now serial ${s.serial}.\n`);
      return EXIT.ok;
    } finally {
      await lock.release();
    }
  });
}

/**
 * Compares the recorded snapshot with the live registries using only tag lists and
 * HEAD requests (free on rate-limited registries). Changes nothing.
 */
export async function stateVerifyCommand(args: StateArgs & { config: string }, io: IO): Promise<number> {
  const config = loadConfig(args.config, io.env, { statePath: args.state, notice: notify(io) });
  const b = args.state ? new FileBackend(config.statePath) : await openBackend(config, io.env);
  let s: State;
  try {
    s = await mustRead(b);
  } finally {
    await b.close();
  }
  const names = Object.keys(s.snapshot).sort();
  const unknown = names.filter((n) => !config.registries.has(n));
  if (unknown.length) throw new Error(`the state records registries that ${args.config} does not define: ${unknown.join(', ')}`);
  const clients = await connect(config, names, { env: io.env, logger: io.logger });
  let live: StateSnapshot;
  try {
    live = fromRegistries(await Promise.all(names.map((n) => readRegistry(clients.get(n), Object.keys(s.snapshot[n]).sort() as Repository[], 'config'))));
  } finally {
    await clients.close();
  }
  const changes = diffSnapshots(s.snapshot, live);
  if (args.json) {
    await printLines(io, jsonLines({ lineage: s.lineage, serial: s.serial, drifted: changes.length > 0, changes }));
  } else if (changes.length) {
    io.out(`Changed outside regmgr since state serial ${s.serial} (${s.written_at}):\n`);
    await printLines(io, changeLines(changes));
    const count = (k: string) => changes.filter((c) => c.change === k).length;
    io.out(`\nDrift: ${count('added')} added, ${count('removed')} removed, ${count('moved')} moved.\n`);
  } else {
    io.out(`No drift: the registries match state serial ${s.serial}.\n`);
  }
  return changes.length ? EXIT.stateDrift : EXIT.ok;
}

/** The state's last writes, newest first: serial, who wrote it, when, which plan. */
export async function stateHistoryCommand(args: StateArgs, io: IO): Promise<number> {
  return withState(args, io, async (s, b) => {
    io.out(`State ${inert(b.where)}: lineage ${inert(s.lineage)}, serial ${s.serial}.\n`);
    for (const e of [...(s.history ?? [])].reverse()) {
      const plan = e.plan_sha256 ? ` plan ${e.plan_sha256.slice(0, 12)}` : '';
      const finished = e.finished === false ? ' (not finished)' : '';
      const changed = e.changed?.length ? `; changed ${e.changed.join(', ')}` : '';
      io.out(inert(`  serial ${e.serial}  ${e.written_at}  ${e.written_by}${plan}${finished}${changed}`) + '\n');
    }
    return EXIT.ok;
  });
}

/**
 * Copies the state between the config's backend and a file, as it is (lineage, serial,
 * history): --from FILE into the backend, --to FILE out of it. Under the backend's lock.
 */
export async function stateMigrateCommand(args: StateArgs & { config: string; from?: string; to?: string; force?: boolean }, io: IO): Promise<number> {
  if (!args.from === !args.to) throw new Error('state migrate: give --from FILE (a state file into the backend) or --to FILE (the backend into a file)');
  const config = loadConfig(args.config, io.env, { notice: notify(io), credentials: false });
  return withBackend(config, io.env, async (backend) => {
    const lock = await backend.lock(`regmgr state migrate -c ${args.config}`, notify(io), 0);
    try {
      if (args.from) {
        const file = new FileBackend(resolve(args.from));
        const s = await mustRead(file);
        await backend.import(s, args.force ?? false);
        io.out(`Copied state serial ${s.serial} (lineage ${inert(s.lineage)}) from ${inert(file.where)} into ${inert(backend.where)}.\n`);
      } else {
        const s = await mustRead(backend);
        const file = new FileBackend(resolve(args.to!));
        await file.import(s, args.force ?? false);
        io.out(`Copied state serial ${s.serial} (lineage ${inert(s.lineage)}) from ${inert(backend.where)} into ${inert(file.where)}.\n`);
      }
      return EXIT.ok;
    } finally {
      await lock.release();
    }
  });
}
