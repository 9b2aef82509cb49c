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

function startTimeOf(pid: number): string {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the parenthesised command name.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
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
  const start = startTimeOf(owner.pid);
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
