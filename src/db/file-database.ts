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
import { ENGINE_SETTINGS, isLockError, serialized } from './file-queue.js';

export { ENGINE_SETTINGS, isLockError, serialized };

export interface FileDatabaseOptions {
  readOnly?: boolean;
  lockTimeoutMillis?: number;
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
