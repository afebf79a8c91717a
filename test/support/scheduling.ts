import { readFileSync } from 'node:fs';
import os from 'node:os';

/** A process's nice value as the scheduler applies it: its autogroup's when it leads one. */
export function schedulingNice(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  const autogroup = readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim();
  if (autogroup === '1' && session === pid) {
    return Number(/nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]);
  }
  return os.getPriority(pid);
}
