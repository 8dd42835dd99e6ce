import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import assert from 'node:assert/strict';

const schema = JSON.parse(readFileSync(new URL('../../../schema/plan.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
const validate = ajv.compile(schema);

/** Every plan a test produces is checked against the public schema. */
export function assertPlanSchema(plan: unknown): void {
  const ok = validate(plan);
  assert.ok(ok, `plan does not match schema/plan.schema.json: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`);
}
