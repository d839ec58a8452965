import { readFileSync } from 'node:fs';
import type { BurstCpu } from '../load/protocol';

/** The kernel's clock ticks per second, in which /proc reports CPU time (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time a process has used so far, all its threads, ms (utime + stime from /proc/<pid>/stat). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time every core of the machine has spent busy so far, ms: user, nice, system, irq and
 * softirq from /proc/stat (idle, iowait and steal are not work done here).
 */
function machineCpuMs(): number {
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = readFileSync(
    '/proc/stat',
    'utf8',
  )
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return ((user + nice + system + irq + softirq) * 1000) / TICKS_PER_SECOND;
}

/**
 * Starts measuring the CPU of the processes `pids` and of the whole machine; the function it
 * returns gives what they have used since, per message for `messages` messages.
 */
export function startCpuMeter(pids: readonly number[]): (messages: number) => BurstCpu {
  const serverCpuMs = () => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const [serverAtStart, machineAtStart] = [serverCpuMs(), machineCpuMs()];
  return (messages) => {
    const usPerMessage = (ms: number) => (ms * 1000) / Math.max(messages, 1);
    return {
      serverUsPerMessage: usPerMessage(serverCpuMs() - serverAtStart),
      machineUsPerMessage: usPerMessage(machineCpuMs() - machineAtStart),
    };
  };
}
