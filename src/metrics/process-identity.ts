/**
 * Who owns a run: host, pid and the process's start time. The start time guards against a
 * reused pid making a dead run look alive.
 */
import fs from 'node:fs';
import os from 'node:os';

export interface ProcessIdentity {
  host: string;
  pid: number;
  procStart: string;
}

/** Fields 3 on of /proc/<pid>/stat (counted after the parenthesised command name), or none. */
function statFields(pid: number): string[] {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return [];
  }
}

/** Field 22: the process's start time. */
function startTimeOf(pid: number): string {
  return statFields(pid)[19] ?? '';
}

let self: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  self ??= { host: os.hostname(), pid: process.pid, procStart: startTimeOf(process.pid) };
  return self;
}

/** Whether the process that wrote `owner` is still alive (on this host). Other hosts: assumed alive. */
export function isAlive(owner: { host: string | null; pid: number | null; procStart: string | null }): boolean {
  if (owner.host !== currentProcess().host || owner.pid === null) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const fields = statFields(owner.pid);
  // A zombie (killed, not yet reaped by a parent that never waits, as under a container's PID 1)
  // still answers signal 0, but it will never finish its run or release its lock.
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  const start = fields[19] ?? '';
  return !owner.procStart || !start || start === owner.procStart;
}

let bootMs: number | null | undefined;

/**
 * When the process now holding `pid` started (epoch ms), or null where /proc cannot say. Its start
 * time is in clock ticks (100 a second on Linux) since boot.
 */
export function processStartedAt(pid: number): number | null {
  const ticks = Number(startTimeOf(pid));
  if (!ticks) return null;
  if (bootMs === undefined) {
    try {
      const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1];
      bootMs = btime ? Number(btime) * 1000 : null;
    } catch {
      bootMs = null;
    }
  }
  return bootMs === null ? null : bootMs + ticks * 10;
}
