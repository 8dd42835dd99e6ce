import { FORMAT_VERSION, type Plan } from './model.js';
import { createHash } from 'node:crypto';
import { PLAN_HASH_LEAVES_OUT, planHash, writePlanText } from './canonical.js';
import { writeCanonicalPair } from '../util/canonical.js';
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

/** Where a new plan's file holds its hash until the hash is known: as long as one. */
const UNSEALED = '0'.repeat(64);

/**
 * A new plan's file, and the plan sealed with its hash: the same file writePlanFile
 * writes for the sealed plan, made in one walk of the plan instead of two (its hash's
 * compact text and its file's indented text, each ~2.5 s of a profile at 200,000
 * tags). The hash is known once everything else is written: the file holds a placeholder
 * of its length until then, written over before the file is synced and renamed.
 */
export function writeNewPlanFile(file: string, body: Omit<Plan, 'sha256'>): Plan {
  const hash = createHash('sha256');
  let sha256 = '';
  writeFileAtomicPieces(
    file,
    (write, written) => {
      let at = -1;
      const reached = (key: string) => {
        if (key === 'sha256') at = written() + 1; // past its opening quote
      };
      writeCanonicalPair({ ...body, sha256: UNSEALED }, write, '  ', { sink: (s) => hash.update(s), leaveOut: PLAN_HASH_LEAVES_OUT, reached });
      write('\n');
      if (at < 0) throw new Error(`${file}: the plan's sha256 was not written`);
      sha256 = hash.digest('hex');
      return [{ at, text: sha256 }];
    },
    0o644,
  );
  return { ...body, sha256 };
}
