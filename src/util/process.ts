import { readFileSync } from 'node:fs';

/** Whether a process with this PID runs on this machine (EPERM: it runs, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started, in clock ticks since boot (field 22 of /proc/PID/stat), or null
 * where that cannot be read (no /proc, or the process is gone). With the pid, it names a
 * process uniquely: pids are reused, start times are not.
 */
export function startTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = Number(fields[19]);
    return Number.isSafeInteger(t) ? t : null;
  } catch {
    return null;
  }
}
