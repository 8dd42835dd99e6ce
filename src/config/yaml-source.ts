import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node } from 'yaml';
import { ConfigIssue } from './errors.js';
import { inert } from '../util/inert.js';

/** A parsed YAML file that can still say which line a field came from. */
export interface YamlSource {
  file: string;
  data: unknown;
  lineOf(path: ReadonlyArray<string | number>, keyOf?: string): number | undefined;
  /** A scalar's text exactly as written (`0123`, not 123), or undefined. */
  sourceOf(path: ReadonlyArray<string | number>): string | undefined;
}

// Aliases are legal YAML but a config never needs many; a bound stops a "billion laughs".
const MAX_ALIAS_COUNT = 50;

export function parseYaml(file: string, text: string): { source?: YamlSource; issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, version: '1.2' });
  const issues: ConfigIssue[] = [];
  // A tab used as indentation also makes the parser see keys twice: report the tab alone.
  const tabs = doc.errors.some((e) => e.code === 'TAB_AS_INDENT');
  // A custom tag (`!foo`) would be read as a plain string with only a warning: a config
  // has no use for one, so it is an error, like every other thing regmgr cannot read.
  const unknownTags = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
  for (const e of [...doc.errors, ...unknownTags]) {
    if (tabs && e.code === 'DUPLICATE_KEY') continue;
    const line = e.linePos?.[0]?.line;
    let message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    if (e.code === 'TAG_RESOLVE_FAILED') message = `unknown YAML tag ${inert(message.replace(/^Unresolved tag: /, ''))}: a regmgr config uses plain YAML (no ! tags)`;
    // The parser's own stack ran out: say what the file does, not what the parser felt.
    if (e.code === 'RESOURCE_EXHAUSTION' || /Maximum call stack/.test(message)) message = 'the YAML is nested too deeply to read (a config is a few levels deep)';
    if (e.code === 'DUPLICATE_KEY') {
      const key = /^\s*(?:-\s+)?("[^"]*"|'[^']*'|[^:#]+?)\s*:/.exec(text.slice(e.pos[0]).split('\n')[0])?.[1];
      message = `duplicate key${key ? ` '${inert(key.replace(/^["']|["']$/g, ''))}'` : ''}: it appears twice in the same mapping`;
    }
    issues.push({ file, path: '', line, message });
  }
  if (issues.length) return { issues };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return { issues: [{ file, path: '', message: `cannot read YAML: ${(e as Error).message}` }] };
  }
  const lineOf = (path: ReadonlyArray<string | number>, keyOf?: string) => findLine(doc, lineCounter, path, keyOf);
  const sourceOf = (path: ReadonlyArray<string | number>) => {
    const node = doc.getIn(path, true);
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  };
  return { source: { file, data, lineOf, sourceOf }, issues };
}

function findLine(doc: Document, lc: LineCounter, path: ReadonlyArray<string | number>, keyOf?: string): number | undefined {
  const node = (path.length ? doc.getIn(path, true) : doc.contents) as Node | undefined;
  if (keyOf !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === keyOf);
    const range = (pair?.key as Node | undefined)?.range;
    if (range) return lc.linePos(range[0]).line;
  }
  if (node?.range) return lc.linePos(node.range[0]).line;
  // A null value (`regex:`) has no node of its own: point at the key in the parent map.
  if (path.length) {
    const parent = doc.getIn(path.slice(0, -1), true) as Node | undefined;
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      const range = (pair?.key as Node | undefined)?.range;
      if (range) return lc.linePos(range[0]).line;
    }
  }
  return undefined;
}
