/**
 * Another live process holding a duckhouse lock (a cursor, a token store, a recovery claim): a
 * `sleep` child whose identity (host, pid, start time, as src/metrics/process-identity.ts reads
 * it) is written into the lock file. Killed after the test, or earlier with the returned `kill`.
 * And another process holding a DuckDB file open (`holdDuckDbFile`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
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

const nodeApi = createRequire(import.meta.url).resolve('@duckdb/node-api');

/**
 * Another process with the DuckDB file `file` open, as a user's `duckdb` client or notebook left
 * open: resolves once it holds the file (rejects if it exits first). With `forMillis` it closes
 * the file and exits by itself after that long (`exited` resolves to its exit code); otherwise it
 * holds it until `release` (SIGKILL; also run at the test's cleanup). `readOnly` opens it
 * READ_ONLY; `retry` retries the open until it succeeds (while this process holds the file).
 * Without `retry`, an open refused by a lock is still retried for up to 60 s: a record that
 * settles `'committed'` (a run's start, a batch) resolves before its detach, which goes on in the
 * background, so the file may be this process's for a moment after the await (CI once saw the
 * holder exit on that lock). Any other error ends the child, and the rejection carries its stderr.
 */
export async function holdDuckDbFile(
  file: string,
  options: { forMillis?: number; readOnly?: boolean; retry?: boolean } = {},
): Promise<{ pid: number; exited: Promise<number | null>; release: () => Promise<void> }> {
  const open = `const db = await DuckDBInstance.create(${JSON.stringify(file)}${options.readOnly ? ", { access_mode: 'READ_ONLY' }" : ''}); const c = await db.connect();`;
  const hold =
    options.forMillis === undefined
      ? 'setInterval(() => {}, 1000);'
      : `await new Promise((r) => setTimeout(r, ${options.forMillis})); c.closeSync(); db.closeSync();`;
  const again = options.retry ? 'true' : "/Could not set lock/.test(String(e)) && Date.now() <= until";
  const script = `(async () => { const until = Date.now() + 60000; for (;;) { try { ${open} console.log('locked'); ${hold} break; } catch (e) { if (!(${again})) throw e; await new Promise((r) => setTimeout(r, 20)); } } })();`;
  const holder = spawn(process.execPath, ['-e', `const { DuckDBInstance } = require(${JSON.stringify(nodeApi)}); ${script}`]);
  let stderr = '';
  holder.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': its stderr is all read by then.
  const exited = new Promise<number | null>((resolve) => holder.on('close', (code) => resolve(code)));
  const release = async (): Promise<void> => {
    holder.kill('SIGKILL');
    await exited;
  };
  registerCleanup(release);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    void exited.then(() => reject(new Error(`the process holding ${file} exited before it held it: ${stderr.trim()}`)));
  });
  return { pid: holder.pid!, exited, release };
}
