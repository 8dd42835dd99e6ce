import type { Config } from '../config/model.js';
import type { Plan } from '../plan/model.js';
import { PlanFileError } from '../plan/file.js';
import { refusedActions } from '../policy/permits.js';

/**
 * Checks, before any request, that the plan's registries are the config's (same name,
 * same address, same TLS choice) and that the config, as it is now, allows every action.
 * The plan holds no credentials; the config supplies them.
 */
export function preflight(planFile: string, plan: Plan, config: Config, opts: { restore?: boolean } = {}): void {
  const problems: string[] = [];
  for (const [name, r] of Object.entries(plan.registries)) {
    const ep = config.registries.get(name);
    if (!ep) problems.push(`registry '${name}' is in the plan but not in ${config.file} (known: ${[...config.registries.keys()].join(', ')})`);
    else if (ep.origin !== r.url) problems.push(`registry '${name}' is ${r.url} in the plan but ${ep.origin} in ${config.file}`);
    else if (ep.insecure !== r.insecure) problems.push(`registry '${name}' has insecure: ${r.insecure} in the plan but ${ep.insecure} in ${config.file}`);
  }
  for (const a of plan.actions) {
    const names = a.type === 'copy' ? [a.source.registry, a.target.registry] : [a.registry];
    for (const n of names) if (!Object.hasOwn(plan.registries, n)) problems.push(`action '${a.id}' names registry '${n}', which the plan does not describe`);
  }
  problems.push(...refusedActions(plan.actions, config, opts));
  if (problems.length) throw new PlanFileError(planFile, `cannot be applied with ${config.file}:\n  ${problems.join('\n  ')}`);
}
