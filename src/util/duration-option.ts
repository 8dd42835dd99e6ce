/**
 * A command-line duration in Terraform's form (`0s`, `500ms`, `30s`, `5m`, `1h`; a bare
 * number is seconds), in milliseconds. `flag` names the option in the error, which is
 * thrown before any request; `alsoAccepted` names a word the caller takes besides.
 */
export function durationOption(flag: string, text: string, alsoAccepted = ''): number {
  const m = /^(\d{1,6})(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: '${text}' is not a duration (e.g. 0s, 30s, 5m, 1h${alsoAccepted ? `, or ${alsoAccepted}` : ''})`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}
