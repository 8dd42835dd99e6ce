import type { Argv } from 'yargs';
import { VERSION } from './version.js';
import { inert } from './util/inert.js';
import { run } from './cli-run.js';

// Start-up time: each command's module (and with it undici, execa, ajv...) is imported
// only when that command runs, and yargs when main() runs: the quick commands
// (cli-quick.ts) never load this module.
const commands = {
  validate: () => import('./commands/validate.js').then((m) => m.validateCommand),
  list: () => import('./commands/list.js').then((m) => m.listCommand),
  plan: () => import('./commands/plan.js').then((m) => m.planCommand),
  show: () => import('./commands/show.js').then((m) => m.showCommand),
  apply: () => import('./commands/apply.js').then((m) => m.applyCommand),
  restore: () => import('./commands/restore.js').then((m) => m.restoreCommand),
  reclaim: () => import('./commands/reclaim.js').then((m) => m.reclaimCommand),
  delete: () => import('./commands/seed.js').then((m) => m.seedCommand('delete')),
  sync: () => import('./commands/seed.js').then((m) => m.seedCommand('sync')),
  forceUnlock: () => import('./commands/unlock.js').then((m) => m.unlockCommand),
  stateShow: () => import('./commands/state.js').then((m) => m.stateShowCommand),
  stateList: () => import('./commands/state.js').then((m) => m.stateListCommand),
  stateHistory: () => import('./commands/state.js').then((m) => m.stateHistoryCommand),
  stateMigrate: () => import('./commands/state.js').then((m) => m.stateMigrateCommand),
  stateRefresh: () => import('./commands/state.js').then((m) => m.stateRefreshCommand),
  stateVerify: () => import('./commands/state.js').then((m) => m.stateVerifyCommand),
};

/**
 * Terraform users type long options with one dash (`-out plan.json`, `-target=x`,
 * `-detailed-exitcode`); yargs would read `-out` as -o -u -t. A single dash followed by
 * two or more letters is a long option here (regmgr's short options are one letter).
 */
export function normaliseArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a === '--') return [...out, ...argv.slice(out.length)];
    out.push(/^-[a-z][a-z-]+(=.*)?$/s.test(a) ? `-${a}` : a);
  }
  return out;
}

const COMMANDS = ['validate', 'list', 'plan', 'show', 'apply', 'restore', 'reclaim', 'delete', 'sync', 'state', 'force-unlock', 'completion'];

/** One line for a mistyped command, instead of the whole help. */
export function unknownCommand(argv: string[]): string | undefined {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first === undefined || COMMANDS.includes(first) || argv.indexOf(first) !== 0) return undefined;
  const near = COMMANDS.map((c) => [c, distance(first, c)] as const).sort((a, b) => a[1] - b[1])[0];
  const hint = near[1] <= Math.max(2, Math.floor(first.length / 3)) ? `; did you mean '${near[0]}'?` : '';
  return `error: unknown command '${inert(first)}'${hint} (commands: ${COMMANDS.join(', ')}; regmgr --help)`;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

const configOpt = (y: Argv) => y.option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'config file (registry-manager format)' });

export async function buildCli(argv: string[]) {
  const { default: yargs } = await import('yargs');
  const cli = yargs(normaliseArgv(argv))
    .scriptName('regmgr')
    .usage('$0 <command> [options]\n\nPlan/apply cleanup and mirroring for container registries.')
    .option('debug', { type: 'boolean', describe: 'log every registry request (method, URL, status, time) to stderr' })
    .option('color', { type: 'boolean', describe: 'colour: on a terminal by default; --color (or FORCE_COLOR) forces it, --no-color (or NO_COLOR) turns it off' })
    .option('state', { type: 'string', describe: "state file (default: the config's state.path, else CONFIG.state.json beside the config, e.g. registry.yml: registry.state.json)" })
    .command('validate', 'check a config file: schema and semantics, no network', (y) => configOpt(y), run(commands.validate))
    .command(
      'list',
      'list registries, repositories and tags (with digests) that the config selects',
      (y) => configOpt(y).option('json', { type: 'boolean', describe: 'machine-readable output' }).option('registry', { type: 'string', array: true, describe: 'only these registries' }),
      run(commands.list),
    )
    .command(
      'plan',
      'read the registries and write a plan: the exact tags to delete and images to copy',
      (y) =>
        configOpt(y)
          .option('out', { type: 'string', describe: 'write the plan file here (-out works too)' })
          .option('json', { type: 'boolean', describe: 'print the plan as JSON' })
          .option('markdown', { type: 'boolean', describe: 'print a compact form for a pull-request comment' })
          .option('explain', { type: 'boolean', describe: 'also show every kept and skipped tag with its reason' })
          .option('detailed-exitcode', { type: 'boolean', describe: 'exit 0 no changes, 1 error, 2 changes' })
          .option('target', { type: 'string', array: true, describe: 'only REGISTRY or REGISTRY/REPOSITORY (repeatable)' })
          .option('check', { type: 'string', describe: 'compare a committed plan file with a fresh plan: exit 0 same actions, 2 differ (a diff is printed)' })
          .conflicts('check', 'out')
          .option('strict', { type: 'boolean', describe: 'warnings (a repository, rule or filter that selects nothing; a guard that blocked deletes) are errors: exit 1, no plan file' })
          .option('in-use', { type: 'string', array: true, describe: 'a file saying what is deployed (kubectl get pods -A -o json, docker inspect, or a list of references): those images are kept (repeatable)' })
          .conflicts('json', 'markdown'),
      run(commands.plan),
    )
    .command(
      'show <plan>',
      'print a saved plan as plan printed it',
      (y) =>
        y
          .positional('plan', { type: 'string', demandOption: true, describe: 'plan file' })
          .option('json', { type: 'boolean', describe: 'print the plan file as JSON' })
          .option('markdown', { type: 'boolean', describe: 'print it for a pull-request comment (always fits one)' })
          .option('explain', { type: 'boolean', describe: 'also show every kept and skipped tag with its reason' })
          .conflicts('json', 'markdown'),
      run(commands.show),
    )
    .command(
      'apply [plan]',
      'carry out exactly a saved plan (or, with -c, plan, confirm and apply)',
      (y) =>
        y
          .positional('plan', { type: 'string', describe: 'plan file written by regmgr plan -out' })
          .option('config', { alias: 'c', type: 'string', describe: 'config for credentials (default: the one the plan was made from)' })
          .option('parallelism', { type: 'number', describe: `actions in flight at once (default 4)` })
          .option('auto-approve', { type: 'boolean', describe: 'with -c and no plan file: do not ask for confirmation' })
          .option('in-use', { type: 'string', array: true, describe: "what is deployed now, for apply's re-check on live data (as plan --in-use)" })
          .option('lock-timeout', { type: 'string', describe: 'wait this long for the state lock (0s, 30s, 5m; default 0s: fail at once)' })
          .option('digest-max-age', { type: 'string', describe: "how old the digests a delete is checked against may be (default 30s; 0s: re-read before each delete; never). A tag moved onto the digest more recently is put back at once instead of blocking the delete" }),
      run(commands.apply),
    )
    .command(
      'restore <plan>',
      'put back the tags that the apply of a plan deleted, until garbage collection removes their blobs',
      (y) =>
        y
          .positional('plan', { type: 'string', demandOption: true, describe: 'the plan file that was applied (its journal is beside it)' })
          .option('config', { alias: 'c', type: 'string', describe: 'config for credentials (default: the one the plan was made from)' })
          .option('auto-approve', { type: 'boolean', describe: 'put the tags back without asking (CI)' })
          .option('json', { type: 'boolean', describe: 'what restore finds and does, as JSON (with --auto-approve)' })
          .option('lock-timeout', { type: 'string', describe: 'wait this long for the state lock (0s, 30s, 5m)' }),
      run(commands.restore),
    )
    .command(
      'reclaim <plan>',
      "has garbage collection removed what the apply of a plan freed? (read-only; exit 2 while blobs are still served)",
      (y) =>
        y
          .positional('plan', { type: 'string', demandOption: true, describe: 'the plan file that was applied (its journal is beside it)' })
          .option('config', { alias: 'c', type: 'string', describe: 'config for credentials (default: the one the plan was made from)' })
          .option('json', { type: 'boolean', describe: 'every blob asked about, as JSON' }),
      run(commands.reclaim),
    )
    .command('delete', "the predecessor's delete: plan the delete policy; apply it unless dry-run", (y) => configOpt(y).option('parallelism', { type: 'number', describe: 'actions in flight at once (default 4)' }), run(commands.delete))
    .command('sync', "the predecessor's sync: plan the sync policy; apply it unless dry-run", (y) => configOpt(y).option('parallelism', { type: 'number', describe: 'actions in flight at once (default 4)' }), run(commands.sync))
    .command('state <command>', 'the recorded snapshot: show, list, refresh, verify', (y) => {
      const where = (z: Argv) => z.option('config', { alias: 'c', type: 'string', describe: 'config whose state it is (or give --state)' });
      return y
        .command('show', 'the recorded snapshot, rendered like list', (z) => where(z).option('json', { type: 'boolean', describe: 'the state file as JSON' }), run(commands.stateShow))
        .command('list', 'one line per registry/repository:tag and its digest', (z) => where(z), run(commands.stateList))
        .command('refresh', 're-read the registries the config selects into the state', (z) => configOpt(z).option('lock-timeout', { type: 'string', describe: 'wait this long for the state lock' }), run(commands.stateRefresh))
        .command('history', "the state's last writes: serial, who, when, which plan", (z) => where(z), run(commands.stateHistory))
        .command(
          'migrate',
          "copy the state between the config's backend and a file: --from FILE (file into the backend) or --to FILE (the backend into a file)",
          (z) => configOpt(z).option('from', { type: 'string', describe: 'a state file to copy into the backend' }).option('to', { type: 'string', describe: 'a file to copy the backend state into' }).option('force', { type: 'boolean', describe: 'replace a state already there' }).conflicts('from', 'to'),
          run(commands.stateMigrate),
        )
        .command('verify', 'compare the state with the live registries (reads only); exit 2 on drift', (z) => configOpt(z).option('json', { type: 'boolean', describe: 'the differences as JSON' }), run(commands.stateVerify))
        .demandCommand(1, 'name a state command: show, list, history, refresh, verify or migrate');
    })
    .command(
      'force-unlock <id>',
      'release an apply lock deliberately, by the id that the stopped apply printed',
      (y) => configOpt(y.positional('id', { type: 'string', demandOption: true })),
      run(commands.forceUnlock),
    )
    .completion('completion', 'print a shell completion script (bash, zsh): regmgr completion >> ~/.bashrc')
    .demandCommand(1, 'name a command; see --help')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 100));
  skipHelpCache(cli);
  return cli;
}

/**
 * yargs renders a command's whole help text each time it starts that command's handler,
 * to have it at hand should the handler later ask for it (showHelp). regmgr's handlers
 * never do: they print their own errors. That text took ~25 ms of every start (a CPU
 * profile of a plan of 10 tags); `--help` and yargs' own errors still render it.
 * Reached through yargs' internal methods: where they are missing, nothing changes.
 */
function skipHelpCache(cli: Argv): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } | undefined } };
  const usage = (cli as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/**
 * Everything but the quick commands (cli-quick.ts), which cli.ts answers before this
 * module loads: `--version` itself, `validate -c FILE` from validate.cjs. Given one,
 * yargs answers it the same way.
 */
export async function main(args: string[]): Promise<void> {
  const unknown = unknownCommand(args);
  if (unknown) {
    process.stderr.write(`${unknown}\n`);
    process.exitCode = 1;
  } else {
    await (await buildCli(args)).parseAsync();
  }
}
