/**
 * Opens a DuckDB file read-write from another process, as another lake's writer would, and prints
 * `free` or `locked` (DuckDB's file lock held by some process), then exits.
 *   tsx child-try-open.ts <file> [--wait <millis>]   (--wait: retry on the lock that long first)
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { isLockError, retryOnLock } from '../../src/db/file-queue.js';
import { LockError } from '../../src/errors.js';

const [file, flag, millis] = process.argv.slice(2) as [string, string | undefined, string | undefined];
try {
  const open = (): Promise<DuckDBInstance> => DuckDBInstance.create(file, { autoinstall_known_extensions: 'false' });
  const db = flag === '--wait' ? await retryOnLock(file, Number(millis), open) : await open();
  db.closeSync();
  process.stdout.write('free\n');
} catch (error) {
  process.stdout.write(isLockError(error) || error instanceof LockError ? 'locked\n' : `error ${String(error)}\n`);
}
