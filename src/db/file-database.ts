/**
 * Short-lived access to a DuckDB database file, shared safely between processes and within one.
 *
 * DuckDB locks a file per process: a read-write holder blocks every other process, and two
 * instances on one file inside one process risk corruption. So: within the process, every
 * access to a path goes through one queue (one instance at a time); across processes, an open
 * that meets the lock is retried with backoff until `lockTimeoutMillis`.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from './duckdb.js';
import { LockError } from '../errors.js';

const queues = new Map<string, Promise<unknown>>();

export interface FileDatabaseOptions {
  readOnly?: boolean;
  lockTimeoutMillis?: number;
}

/** Engine settings every instance we create gets: nothing is ever downloaded. */
export const ENGINE_SETTINGS: Record<string, string> = {
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'true',
};

export function isLockError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Could not set lock on file|Conflicting lock is held|database is locked|IO Error: Cannot open file .* Resource temporarily unavailable/i.test(message);
}

/** Runs `fn` in the in-process queue of `key` (an absolute path). */
export function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(fn, fn);
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

/** Opens `file`, runs `fn` on one connection, closes everything, whatever happens. */
export function withFileDatabase<T>(
  file: string,
  fn: (connection: DuckDBConnection) => Promise<T>,
  options: FileDatabaseOptions = {},
): Promise<T> {
  const absolute = path.resolve(file);
  return serialized(absolute, async () => {
    const instance = await openWithRetry(absolute, options);
    let connection: DuckDBConnection | undefined;
    try {
      connection = await instance.connect();
      return await fn(connection);
    } finally {
      connection?.closeSync();
      instance.closeSync();
    }
  });
}

async function openWithRetry(file: string, options: FileDatabaseOptions): Promise<DuckDBInstance> {
  const deadline = Date.now() + (options.lockTimeoutMillis ?? 30_000);
  if (!options.readOnly) fs.mkdirSync(path.dirname(file), { recursive: true });
  let attempt = 0;
  for (;;) {
    try {
      return await DuckDBInstance.create(file, {
        ...ENGINE_SETTINGS,
        ...(options.readOnly ? { access_mode: 'READ_ONLY' } : {}),
      });
    } catch (error) {
      if (!isLockError(error)) throw error;
      if (Date.now() >= deadline) {
        throw new LockError(`${file} is locked by another process (waited ${options.lockTimeoutMillis ?? 30_000} ms)`, { cause: error });
      }
      // Short, jittered waits: metrics writes hold the lock for milliseconds.
      const delay = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
