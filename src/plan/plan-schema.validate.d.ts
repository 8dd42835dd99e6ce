// Types of dist/src/plan/plan-schema.validate.js, which scripts/gen-validators.mjs
// writes at build time from schema/plan.schema.json (ajv standalone code).
import type { ErrorObject } from 'ajv';

declare const validate: ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
export default validate;
