import { readFileSync } from 'node:fs';

/** Linux's USER_HZ, what /proc counts CPU time in. */
const CLOCK_TICKS = 100;

/** CPU time (user and system, ms) a process has used so far, from /proc; NaN where /proc is not there. */
export function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')')[1]?.trim().split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
