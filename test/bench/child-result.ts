/** plan-child.ts's result: the last line of what it printed (a plan's text comes before it). */
export function childResult<T>(stdout: string): T {
  return JSON.parse(stdout.slice(stdout.lastIndexOf('\n') + 1)) as T;
}
