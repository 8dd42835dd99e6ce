import { FORMAT_VERSION, type Plan } from './model.js';
import { planHash, writePlanText } from './canonical.js';
import { writeFileAtomicPieces } from '../util/atomic.js';
import { FileError } from '../util/file-error.js';
import { planSchemaProblems } from './schema-check.js';
import { readJsonFile, type JsonFileLimits } from '../util/json-file.js';

export class PlanFileError extends FileError {
  override name = 'PlanFileError';
}

/**
 * Reads a plan and refuses one that was edited, truncated or is of another format. A
 * plan of a million tags is more text than one string holds: it is read in parts
 * (json-file.ts). `limits`: for tests.
 */
export function readPlanFile(file: string, limits?: JsonFileLimits): Plan {
  let plan: Plan;
  try {
    plan = readJsonFile(file, limits) as Plan;
  } catch (e) {
    if (e instanceof SyntaxError) throw new PlanFileError(file, 'not a plan file: invalid JSON (truncated?)');
    throw new PlanFileError(file, `cannot read plan: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!plan || typeof plan !== 'object' || !('format_version' in plan)) throw new PlanFileError(file, 'not a plan file: no format_version');
  if (plan.format_version !== FORMAT_VERSION) {
    throw new PlanFileError(file, `plan format_version ${JSON.stringify(plan.format_version)} is not supported by this regmgr (supports ${FORMAT_VERSION}); re-run plan`);
  }
  const problems = planSchemaProblems(plan);
  if (problems.length) throw new PlanFileError(file, `not a valid plan file:\n  ${problems.join('\n  ')}`);
  if (typeof plan.sha256 !== 'string' || planHash(plan) !== plan.sha256) {
    throw new PlanFileError(file, 'the plan was modified after it was written (sha256 does not match its content); re-run plan');
  }
  return plan;
}

export function writePlanFile(file: string, plan: Plan): void {
  writeFileAtomicPieces(file, (write) => writePlanText(plan, write), 0o644);
}
