/**
 * The same string, made flat. V8 keeps a string built piece by piece (template literals,
 * `+`) as a tree of its pieces, 32 bytes a node, until something reads its characters;
 * a policy's reason is built from ten or so pieces and kept for every tag until the plan
 * is written (at 50,000 tags, 12 MiB of such nodes). Converting it to a number reads it
 * once, which makes V8 store it as one run of characters and the pieces garbage.
 */
export function flat(s: string): string {
  Number(s);
  return s;
}
