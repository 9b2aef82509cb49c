/**
 * Access to a DuckDB database file shared between processes and within one.
 *
 * DuckDB locks a file per process: a read-write holder blocks every other process, and two
 * instances on one file inside one process risk corruption. So: within the process, every
 * access to a path goes through one queue (one at a time); across processes, an open or attach
 * that meets the lock is retried with backoff (see MetricsDb and runHistory). No DuckDB import
 * here: the light run-history reader uses it too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LockError } from '../errors.js';

const queues = new Map<string, Promise<unknown>>();

/** Engine settings every instance we create gets: nothing is ever downloaded. */
export const ENGINE_SETTINGS: Record<string, string> = {
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'true',
};

export function isLockError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Could not set lock on file|Conflicting lock is held|database is locked|IO Error: Cannot open file .* Resource temporarily unavailable/i.test(message);
}

/** Who holds a database file, from DuckDB's lock error ("Conflicting lock is held in /usr/bin/duckdb (PID 123)"): `/usr/bin/duckdb, pid 123`. */
export function lockHolder(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const held = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(message);
  return held ? `${held[1]}, pid ${held[2]}` : undefined;
}

/**
 * The queue key of a database file: its absolute path with symlinks resolved (in its nearest
 * existing folder), so that one file reached by two paths (a symlinked lake root) has one queue.
 * DuckDB's file lock is a POSIX lock, per process: two instances of one process attach one file
 * read-write at once without a word, and two writers of one file corrupt it. The queue is what
 * keeps them apart in a process.
 */
export function fileQueueKey(file: string): string {
  return throughLinks(file);
}

/**
 * `file` made absolute with the symbolic links of its deepest existing folder resolved: where a
 * file of that name is (or a rename to it lands), whether or not it exists yet.
 */
export function throughLinks(file: string): string {
  const absolute = path.resolve(file);
  for (let dir = path.dirname(absolute), rest = path.basename(absolute); ; rest = path.join(path.basename(dir), rest), dir = path.dirname(dir)) {
    try {
      return path.join(fs.realpathSync.native(dir), rest);
    } catch {
      if (dir === path.dirname(dir)) return absolute;
    }
  }
}

/**
 * A database file one owner (a MetricsDb) left attached after its last transaction in the queue,
 * for a transaction of its own that follows within a few milliseconds: see `serialized`.
 */
interface Hold {
  owner: object;
  release: () => Promise<void>;
}
const holds = new Map<string, Hold>();

/**
 * Leaves `key`'s file attached by `owner` (call it inside the queue of `key`, at the end of the
 * owner's job): the owner's next job in the queue gets it as it is; any other job in the queue
 * first has `release` run (so no two instances of the process ever have the file at once); and
 * `release` runs in the queue after `millis` in any case.
 */
export function holdOpen(key: string, owner: object, release: () => Promise<void>, millis: number): void {
  const hold: Hold = { owner, release };
  holds.set(key, hold);
  setTimeout(() => {
    if (holds.get(key) === hold) void serialized(key, () => Promise.resolve()).catch(() => undefined);
  }, millis);
}

/**
 * Runs `fn` in the in-process queue of `key` (an absolute path: `fileQueueKey` for a database file).
 * A file left attached in the queue (`holdOpen`) is handed to `fn` when `owner` left it (`fn`
 * is told with `held = true`), and released before `fn` runs otherwise.
 */
export function serialized<T>(key: string, fn: (held: boolean) => Promise<T>, owner?: object): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const job = async (): Promise<T> => {
    const hold = holds.get(key);
    if (!hold) return fn(false);
    holds.delete(key);
    if (owner !== undefined && hold.owner === owner) return fn(true);
    await hold.release();
    return fn(false);
  };
  const next = previous.then(job, job);
  const tail = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

/**
 * Resolves when every job queued for `key` so far has finished, without queueing one (a file left
 * attached by `holdOpen` stays so).
 */
export function drained(key: string): Promise<void> {
  return (queues.get(key) ?? Promise.resolve()).then(() => undefined);
}

/**
 * Runs `open` (an open or attach of `file`) until it does not meet another process's lock:
 * short, jittered waits (metrics writes hold the lock for milliseconds), then a LockError
 * naming the file and the holder's program and pid once `timeoutMillis` has passed. Other errors are thrown at once.
 */
export async function retryOnLock<T>(file: string, timeoutMillis: number, open: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await open();
    } catch (error) {
      if (!isLockError(error)) throw error;
      if (Date.now() >= deadline) {
        // The holder may be a user's DuckDB client left open: its program and pid say which to close.
        const holder = lockHolder(error);
        throw new LockError(`${file} is locked by another process (${holder ? `${holder}; ` : ''}waited ${timeoutMillis} ms)`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}
