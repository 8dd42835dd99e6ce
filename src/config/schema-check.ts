import type { ErrorObject } from 'ajv';
import { ConfigIssue, dotted } from './errors.js';
import { YamlSource } from './yaml-source.js';
import { quoted } from '../util/inert.js';
// Compiled from schema/config.schema.json at build time (scripts/gen-validators.mjs).
import validate from './config-schema.validate.js';

export function schemaIssues(src: YamlSource): ConfigIssue[] {
  if (validate(src.data)) return [];
  const errors = validate.errors ?? [];
  // anyOf reports one error per failed branch and one for the anyOf: keep only the
  // anyOf, whose message says every accepted form.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && anyOfPaths.has(e.instancePath) && e.schemaPath.includes('/anyOf/')) continue;
    // propertyNames reports the name's own error and then its own; the first one says it.
    if (e.keyword === 'propertyNames') continue;
    const segs = pointerToPath(e.instancePath);
    const issue = describe(src, e, segs);
    const key = `${issue.path}\0${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

function pointerToPath(pointer: string): Array<string | number> {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function kindOf(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function valueAt(data: unknown, path: Array<string | number>): unknown {
  let v: any = data;
  for (const s of path) v = v?.[s];
  return v;
}

function describe(src: YamlSource, e: ErrorObject, segs: Array<string | number>): ConfigIssue {
  if (e.propertyName !== undefined) {
    const name = e.propertyName;
    return {
      file: src.file,
      path: dotted([...segs, name]),
      line: src.lineOf(segs, name),
      message: `registry name ${quoted(name)} is not an identifier: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64`,
    };
  }
  const value = valueAt(src.data, segs);
  const p = e.params as Record<string, any>;
  let path = segs;
  let message: string;
  let line: number | undefined;
  switch (e.keyword) {
    case 'required':
      message = `missing required field '${p.missingProperty}'`;
      line = src.lineOf(segs);
      break;
    case 'additionalProperties':
      path = [...segs, p.additionalProperty];
      message = `unknown field '${p.additionalProperty}'` + knownFields(e);
      line = src.lineOf(segs, p.additionalProperty);
      break;
    case 'type':
      message = `must be ${[].concat(p.type).join(' or ')} (got ${kindOf(value)})`;
      break;
    case 'anyOf':
      message = `must be a string, a list of strings, or empty (got ${kindOf(value)}${typeof value === 'number' ? '; quote it' : ''})`;
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
      message = `must be ${p.comparison} ${p.limit} (got ${JSON.stringify(value)})`;
      break;
    case 'minItems':
      message = `must list at least ${p.limit} item(s)`;
      break;
    case 'minLength':
      message = 'must not be empty';
      break;
    case 'pattern':
      message = e.schemaPath.includes('/Duration/') ? `must be an age like 36h, 30d or 2w (got ${JSON.stringify(value)})` : (e.message ?? 'is invalid');
      break;
    case 'minProperties':
      message = `must define at least ${p.limit} entry`;
      break;
    default:
      message = e.message ?? 'is invalid';
  }
  return { file: src.file, path: dotted(path), line: line ?? src.lineOf(segs), message };
}

function knownFields(e: ErrorObject): string {
  const props = (e.parentSchema as any)?.properties;
  return props ? ` (known: ${Object.keys(props).join(', ')})` : '';
}
