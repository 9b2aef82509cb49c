/**
 * A cross-process lock file (`<file>.lock`, created with O_EXCL). The holder writes its host,
 * pid and process start time; a lock whose owner died is taken over. Used for cursors,
 * crawl frontiers and OAuth token stores.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LockError } from '../errors.js';
import { currentProcess, isAlive, type ProcessIdentity } from '../metrics/process-identity.js';

export interface HeldLock {
  release(): void;
}

const heldHere = new Map<string, Promise<void>>();

export async function acquireLock(target: string, options: { timeoutMillis?: number; what?: string } = {}): Promise<HeldLock> {
  const lockFile = `${target}.lock`;
  // Inside one process, wait our turn without touching the file system.
  const before = heldHere.get(lockFile);
  let releaseLocal!: () => void;
  const mine = new Promise<void>((resolve) => (releaseLocal = resolve));
  const chain = (before ?? Promise.resolve()).then(() => mine);
  heldHere.set(lockFile, chain);
  if (before) await before;

  const deadline = Date.now() + (options.timeoutMillis ?? 60_000);
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const me = currentProcess();
  let wait = 10;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify(me));
      fs.closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        releaseLocal();
        throw error;
      }
      const owner = readOwner(lockFile);
      if (owner && !isAlive(owner)) {
        // The holder died: take the lock over. Renaming first makes the takeover single-winner.
        const stale = `${lockFile}.stale.${me.pid}`;
        try {
          fs.renameSync(lockFile, stale);
          fs.rmSync(stale, { force: true });
        } catch {
          /* somebody else took it over first */
        }
        continue;
      }
      if (Date.now() >= deadline) {
        releaseLocal();
        throw new LockError(`${options.what ?? target} is in use by another process (pid ${owner?.pid ?? '?'}); lock file ${lockFile}`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(250, wait * 2);
    }
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      fs.rmSync(lockFile, { force: true });
      releaseLocal();
      if (heldHere.get(lockFile) === chain) heldHere.delete(lockFile);
    },
  };
}

function readOwner(lockFile: string): ProcessIdentity | undefined {
  try {
    return JSON.parse(fs.readFileSync(lockFile, 'utf8')) as ProcessIdentity;
  } catch {
    return undefined; // being written right now, or already gone
  }
}
