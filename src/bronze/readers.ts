/**
 * Readers of bronze that are no run of their own kind (`lake.bronze`, `lake.exportDdl`, a source's
 * `ctx.bronzeFiles`) list the visible files, then read them. A compaction or prune purging files
 * removed past a short retention must not delete one such a reader listed: as a running build or
 * test run does, each holds a record of when it began, a lease file under `state/readers/`, until
 * it has read them; `purgeRemoved` keeps the files removed since the earliest live lease began.
 * A file, not a metrics row: `lake.bronze` takes no metrics file lock for it, and a dead process's
 * lease is told by its owner (and swept by the next purge); one of another host, whose process
 * cannot be checked, by its age, as that host's runs are (`otherHostAbandonHours`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentProcess, isAlive, type ProcessIdentity } from '../metrics/process-identity.js';
import { OTHER_HOST_ABANDON_HOURS } from '../metrics/run-history.js';
import { writeFileAtomic } from './commit.js';

interface Lease extends ProcessIdentity {
  startedAt: string;
}

const readersDir = (root: string): string => path.join(root, 'state', 'readers');

/**
 * Records a reader of bronze from now on; taken before the reader reads which files are visible.
 * `release()` (idempotent) once it has read them.
 */
export function holdBronzeRead(root: string): { release(): void } {
  const me = currentProcess();
  const file = path.join(readersDir(root), `${me.pid}-${crypto.randomBytes(6).toString('hex')}.json`);
  writeFileAtomic(file, JSON.stringify({ ...me, startedAt: new Date().toISOString() } satisfies Lease));
  return { release: () => fs.rmSync(file, { force: true }) };
}

/**
 * When the earliest live reader of bronze began (undefined: none; the epoch when the folder cannot
 * be listed, so that a purge keeps every removed file). Leases of dead processes are
 * removed, and those of another host older than `otherHostAbandonHours` (a reader there that died
 * would otherwise keep every file removed since, for good).
 */
export function earliestBronzeRead(root: string, otherHostAbandonHours = OTHER_HOST_ABANDON_HOURS): Date | undefined {
  const here = currentProcess().host;
  const abandonedBefore = Date.now() - otherHostAbandonHours * 3_600_000;
  let names: string[];
  try {
    names = fs.readdirSync(readersDir(root)).filter((n) => n.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Readers this process cannot see (a folder it may not list): any may have listed any file.
    return new Date(0);
  }
  let earliest: number | undefined;
  for (const name of names) {
    const file = path.join(readersDir(root), name);
    let lease: Lease;
    try {
      lease = JSON.parse(fs.readFileSync(file, 'utf8')) as Lease;
    } catch {
      continue; // released meanwhile
    }
    const at = Date.parse(lease.startedAt);
    if (!isAlive({ host: lease.host, pid: lease.pid, procStart: lease.procStart }) || (lease.host !== here && at < abandonedBefore)) {
      // Swept when it can be; left (another user's file) it only costs the next purge a read.
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // kept
      }
      continue;
    }
    if (!Number.isNaN(at) && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest === undefined ? undefined : new Date(earliest);
}
