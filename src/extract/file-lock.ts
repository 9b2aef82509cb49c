/**
 * A cross-process lock file (`<file>.lock`, a hard link to a temp file already holding its owner,
 * so it never exists without one; O_EXCL where links are not supported). The holder writes its host,
 * pid and process start time; a lock whose owner died (or that never got one) is taken over, by
 * one process at a time. Used for cursors, crawl frontiers, OAuth token stores, bronze
 * compaction and the recovery of dead processes' temp folders.
 */
import fs from 'node:fs';
import path from 'node:path';
import { abortable } from '../abortable.js';
import { LockError } from '../errors.js';
import { currentProcess, isAlive, type ProcessIdentity } from '../metrics/process-identity.js';

export interface HeldLock {
  release(): void;
}

const heldHere = new Map<string, Promise<void>>();

export async function acquireLock(
  target: string,
  options: { timeoutMillis?: number; what?: string; signal?: AbortSignal } = {},
): Promise<HeldLock> {
  const lockFile = `${target}.lock`;
  // Inside one process, wait our turn without touching the file system.
  const before = heldHere.get(lockFile);
  let releaseLocal!: () => void;
  const mine = new Promise<void>((resolve) => (releaseLocal = resolve));
  const chain = (before ?? Promise.resolve()).then(() => mine);
  heldHere.set(lockFile, chain);
  const identity = JSON.stringify(currentProcess());
  try {
    if (before) await abortable(before, options.signal);
    await createLockFile(target, identity, options);
  } catch (error) {
    // Whoever queued behind us still waits for `before`, through our chain.
    releaseLocal();
    throw error;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      // Only our own lock file: one that holds somebody else is theirs (ours was taken over).
      if (readFile(lockFile) === identity) fs.rmSync(lockFile, { force: true });
      releaseLocal();
      if (heldHere.get(lockFile) === chain) heldHere.delete(lockFile);
    },
  };
}

async function createLockFile(target: string, identity: string, options: { timeoutMillis?: number; what?: string; signal?: AbortSignal }): Promise<void> {
  const lockFile = `${target}.lock`;
  const deadline = Date.now() + (options.timeoutMillis ?? 60_000);
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  // The owner is written first, into a temp file (`ownedTmp`, a name the open after a
  // crash sweeps) hard-linked as the lock: the lock file never exists without its owner. A
  // process killed between creating the lock and writing it would leave one nobody could check,
  // blocking every other process for the owner-less grace (longer than the default lock timeout).
  const owned = ownedTmp(lockFile);
  writeOwned(owned, identity);
  let wait = 10;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      if (link(owned, lockFile, identity)) return;
      const owner = readOwner(lockFile);
      if (isStale(lockFile, owner) && takeOver(lockFile)) continue;
      if (Date.now() >= deadline) {
        // A holder on another host cannot be checked from here (a lake on a shared volume, or this
        // machine under a new hostname, as a recreated container): say so, the lock file is the way out.
        const elsewhere = owner?.host && owner.host !== currentProcess().host ? ` on host ${owner.host}, which this one cannot check: delete the lock file if that process is gone` : '';
        throw new LockError(`${options.what ?? target} is in use by another process (pid ${owner?.pid ?? '?'}${elsewhere}); lock file ${lockFile}`);
      }
      await abortable(new Promise((resolve) => setTimeout(resolve, wait)), options.signal);
      wait = Math.min(250, wait * 2);
    }
  } finally {
    fs.rmSync(owned, { force: true });
  }
}

/**
 * A temp file beside `file`, named after it cut to 200 bytes, so that it fits a file name: a
 * cursor's name may take 230 of 255 bytes, its lock 235 and the takeover guard 244.
 */
function ownedTmp(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file).slice(0, 200)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

/**
 * Creates `file` (`flag` `'w'`, or `'wx'` to fail with EEXIST when it exists) holding `identity`.
 * A file left without its owner (say ENOSPC) would block everybody until it ages out: it is removed.
 */
function writeOwned(file: string, identity: string, flag: 'w' | 'wx' = 'w'): void {
  const fd = fs.openSync(file, flag, 0o600);
  try {
    fs.writeSync(fd, identity);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw error;
  }
  fs.closeSync(fd);
}

/** Creates `lockFile` holding `identity`, atomically; false when it exists. */
function link(owned: string, lockFile: string, identity: string): boolean {
  try {
    fs.linkSync(owned, lockFile);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links: create it exclusively, then write the owner.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
  }
  try {
    writeOwned(lockFile, identity, 'wx');
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Removes a lock file whose holder died, one process at a time. Several processes finding the
 * same dead lock must not each remove it: the later ones would remove the lock the first has just
 * taken. Under the guard the owner is read again, so a lock taken meanwhile is left alone.
 * Returns false when another process is taking the lock over (try again later).
 */
function takeOver(lockFile: string): boolean {
  const guard = `${lockFile}.takeover`;
  // The guard holds its owner, as a lock does: one left by a process killed during a takeover is
  // removed as soon as that process is known dead, not after STALE_GUARD_MILLIS (longer than a
  // short lockTimeoutMillis).
  const identity = JSON.stringify(currentProcess());
  const owned = ownedTmp(guard);
  writeOwned(owned, identity);
  try {
    if (!link(owned, guard, identity)) {
      const content = readFile(guard);
      const owner = readOwner(guard);
      // A guard without an owner (a version before owners, or being written where links are not
      // supported): a takeover takes a moment, so one this old was left by a dead process.
      const dead = owner ? !isAlive(owner) : ageMillis(guard) > STALE_GUARD_MILLIS;
      if (dead && readFile(guard) === content) fs.rmSync(guard, { force: true });
      return false;
    }
  } finally {
    fs.rmSync(owned, { force: true });
  }
  try {
    if (isStale(lockFile, readOwner(lockFile))) fs.rmSync(lockFile, { force: true });
  } finally {
    fs.rmSync(guard, { force: true });
  }
  return true;
}

const STALE_GUARD_MILLIS = 10_000;

/**
 * Whether the lock's holder is gone: its owner died, or it never wrote one (killed between
 * creating the file and writing to it). The owner is written right after the create, so only an
 * owner-less file older than the grace recovery gives owner-less temp folders counts.
 */
function isStale(lockFile: string, owner: ProcessIdentity | undefined): boolean {
  return owner ? !isAlive(owner) : ageMillis(lockFile) > OWNERLESS_GRACE_MILLIS;
}

const OWNERLESS_GRACE_MILLIS = 60_000;

function readOwner(lockFile: string): ProcessIdentity | undefined {
  try {
    return JSON.parse(readFile(lockFile) ?? '') as ProcessIdentity;
  } catch {
    return undefined; // being written right now, or already gone
  }
}

function readFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Milliseconds since `file` was last written (0 when it is gone). */
function ageMillis(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
