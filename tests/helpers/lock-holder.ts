/**
 * Another live process holding a duckhouse lock (a cursor, a token store, a recovery claim): a
 * `sleep` child whose identity (host, pid, start time, as src/metrics/process-identity.ts reads
 * it) is written into the lock file. Killed after the test, or earlier with the returned `kill`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerCleanup } from './temp-lake.js';

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
export function startTimeOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

export function holdLock(lockFile: string): { holder: ChildProcess; kill: () => void } {
  const holder = spawn('sleep', ['120'], { stdio: 'ignore' });
  const kill = (): void => void holder.kill('SIGKILL');
  registerCleanup(kill);
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  fs.writeFileSync(lockFile, JSON.stringify({ host: os.hostname(), pid: holder.pid, procStart: startTimeOf(holder.pid!) }));
  return { holder, kill };
}
