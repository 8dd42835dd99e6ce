// What runs a command once its arguments are known, shared by the full CLI (cli-main.ts)
// and validate's own bundle (cli-validate.ts): its IO, and how an error is shown.
import { ConfigError } from './config/errors.js';
import { RegistryError } from './registry/errors.js';
import { stderrLogger } from './util/log.js';
import type { IO } from './commands/io.js';
import { EXIT } from './commands/io.js';
import { LockError } from './apply/lock-error.js';
import { FileError } from './util/file-error.js';
import { inertLines } from './util/inert.js';
import { scrub } from './util/secret.js';
import { drained } from './util/drained.js';
import { writeDirect } from './util/write-direct.js';
import { createRequire } from 'node:module';

/**
 * Colour: on a terminal by default; `--color` or FORCE_COLOR forces it (CI logs render
 * it), `--no-color` or NO_COLOR turns it off.
 */
export function colourWanted(flag: boolean | undefined, tty: boolean, env: NodeJS.ProcessEnv): boolean {
  if (flag === false || env.NO_COLOR) return false;
  if (flag === true || (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0')) return true;
  return tty;
}

async function ask(question: string): Promise<boolean> {
  // require(), not import(): the bundle runs this code in vm.Script, which has no loader
  // for import() (scripts/bundle.mjs).
  const { createInterface } = createRequire(import.meta.url)('node:readline/promises') as typeof import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

/**
 * `direct`: the command's output is one short answer, written with write(2)
 * (util/write-direct.ts). Whether stdout is a terminal is read only when asked: that
 * makes process.stdout too.
 */
export function makeIO(debug: boolean, colorFlag: boolean | undefined, direct = false): IO {
  let tty: boolean | undefined;
  const isTTY = () => (tty ??= Boolean(process.stdout.isTTY));
  return {
    out: direct ? (t) => writeDirect(t) : (t) => process.stdout.write(t),
    drained: direct ? undefined : () => drained(process.stdout),
    err: (t) => process.stderr.write(t),
    env: process.env,
    get tty() {
      return isTTY();
    },
    get color() {
      return colourWanted(colorFlag, isTTY(), process.env);
    },
    logger: stderrLogger(debug || Boolean(process.env.REGMGR_DEBUG)),
    // Asked for only where a command would ask (apply, restore): making process.stdin
    // loads node's stream classes, ~5 ms of every command's start.
    get confirm() {
      return process.stdin.isTTY ? ask : undefined;
    },
  };
}

/** Errors whose message is the whole story: no stack trace, even with --debug. */
function isExpected(e: unknown): boolean {
  return e instanceof RegistryError || e instanceof FileError || e instanceof LockError;
}

export function reportError(e: unknown, io: Pick<IO, 'err'>): number {
  // The last line of defence: whatever an error carries, no secret and no control character.
  const shown = (s: string) => inertLines(scrub(s));
  if (e instanceof ConfigError) {
    io.err(shown(`error: invalid configuration:\n${e.issues.map((i) => `  ${i.line ? `${i.file}:${i.line}` : i.file}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`) + '\n');
  } else {
    io.err(shown(`error: ${(e as Error)?.message ?? String(e)}`) + '\n');
  }
  return EXIT.error;
}

export type Runner<A> = (args: A, io: IO) => Promise<number>;

export function run<A>(load: () => Promise<Runner<A>>, direct = false) {
  return async (argv: any) => {
    const io = makeIO(Boolean(argv.debug), argv.color as boolean | undefined, direct);
    try {
      const fn = await load();
      process.exitCode = await fn(argv as A, io);
    } catch (e) {
      if (argv.debug && e instanceof Error && !(e instanceof ConfigError) && !isExpected(e)) io.err(`${e.stack}\n`);
      process.exitCode = reportError(e, io);
    }
  };
}
