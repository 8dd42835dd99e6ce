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
  for (const e of doc.errors) {
    if (tabs && e.code === 'DUPLICATE_KEY') continue;
    const line = e.linePos?.[0]?.line;
    let message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
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
