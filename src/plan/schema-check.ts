import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';

// A plan file is data that anyone who can push to the pull request may edit: its shape
// is checked against the public schema before any field of it is used.
const schemaUrl = new URL('../../../schema/plan.schema.json', import.meta.url);
let compiled: ReturnType<Ajv['compile']> | undefined;

/** Problems of a parsed plan against schema/plan.schema.json, at most `max`, as `path: message`. */
export function planSchemaProblems(plan: unknown, max = 5): string[] {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
    compiled = ajv.compile(JSON.parse(readFileSync(schemaUrl, 'utf8')));
  }
  if (compiled(plan)) return [];
  // An action is one of several shapes (oneOf, told apart by `type`): a branch whose
  // `type` does not match says nothing about this action, so its complaints are dropped.
  const errors = compiled.errors ?? [];
  const otherShapes = errors
    .filter((e) => e.keyword === 'const' && e.instancePath.endsWith('/type'))
    .map((e) => ({ at: e.instancePath.slice(0, -'/type'.length), branch: e.schemaPath.slice(0, -'properties/type/const'.length) }));
  const fromOtherShape = (e: (typeof errors)[number]) => otherShapes.some((o) => (e.instancePath === o.at || e.instancePath.startsWith(`${o.at}/`)) && e.schemaPath.startsWith(o.branch));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'const' || fromOtherShape(e)) continue;
    const line = `${e.instancePath || '/'}: ${e.message}${e.keyword === 'additionalProperties' ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'` : ''}`;
    if (!seen.has(line)) seen.add(line), out.push(line);
  }
  return (out.length ? out : ['does not match the plan schema']).slice(0, max);
}
