// Text that came from a registry or a file is shown inert: no control character (C0, C1,
// DEL, ESC), no bidirectional override and no line break of its own reaches a terminal
// or a log, so a tag cannot clear the screen, move the cursor, hide a line of the plan
// or fake one. Each such character is shown as a visible escape instead.

// C0 (tab included), DEL, C1; bidi embeddings, overrides and isolates; line/paragraph separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;
const ONE_UNSAFE = new RegExp(UNSAFE.source, 'u');

function escapeChar(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** `s` with every control, bidi and line-break character shown as an escape. */
export function inert(s: string): string {
  return ONE_UNSAFE.test(s) ? s.replace(UNSAFE, escapeChar) : s;
}

/** Like inert, but keeps '\n' (for messages regmgr itself splits into lines). */
export function inertLines(s: string): string {
  return s.split('\n').map(inert).join('\n');
}

/** A name quoted for an error message: inert, in quotes, cut to a readable length. */
export function quoted(s: string, max = 80): string {
  const shown = inert(s.length > max ? `${s.slice(0, max)}…` : s);
  return `'${shown}'`;
}
