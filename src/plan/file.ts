import { readFileSync } from 'node:fs';
import { FORMAT_VERSION, type Plan } from './model.js';
import { planHash, writePlanText } from './canonical.js';
import { writeFileAtomicPieces } from '../util/atomic.js';
import { FileError } from '../util/file-error.js';
import { planSchemaProblems } from './schema-check.js';

export class PlanFileError extends FileError {}

/** Reads a plan and refuses one that was edited, truncated or is of another format. */
export function readPlanFile(file: string): Plan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlanFileError(file, `cannot read plan: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let plan: Plan;
  try {
    plan = JSON.parse(text);
  } catch {
    throw new PlanFileError(file, 'not a plan file: invalid JSON (truncated?)');
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
