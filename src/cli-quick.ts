/**
 * The two commands people and scripts run most for a quick answer, recognised without
 * loading yargs (a third of the start-up time): `--version`, and `validate -c FILE` in
 * its plain spellings. Anything else, or anything more, goes through yargs as usual.
 */
export function quickCommand(args: string[]): 'version' | { config: string } | undefined {
  if (args.length === 1 && args[0] === '--version') return 'version';
  if (args[0] !== 'validate') return undefined;
  const [, flag, value, ...rest] = args;
  if (rest.length) return undefined;
  if ((flag === '-c' || flag === '--config' || flag === '-config') && value !== undefined && !value.startsWith('-')) return { config: value };
  const eq = /^--?config=(.+)$/s.exec(flag ?? '');
  return eq && value === undefined ? { config: eq[1] } : undefined;
}
