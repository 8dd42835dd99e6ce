// Compiled from schema/plan.schema.json at build time (scripts/gen-validators.mjs).
import compiled from './plan-schema.validate.js';

// A plan file is data that anyone who can push to the pull request may edit: its shape
// is checked against the public schema before any field of it is used.

/** Problems of a parsed plan against schema/plan.schema.json, at most `max`, as `path: message`. */
export function planSchemaProblems(plan: unknown, max = 5): string[] {
  // The schema's one format, checked here: standalone code cannot carry a format function.
  const created = (plan as { created_at?: unknown } | null)?.created_at;
  const badTime = typeof created === 'string' && Number.isNaN(Date.parse(created)) ? ['/created_at: must match format "date-time"'] : [];
  if (compiled(plan)) return badTime;
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
  out.push(...badTime);
  return (out.length ? out : ['does not match the plan schema']).slice(0, max);
}
