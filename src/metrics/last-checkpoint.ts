/**
 * A copy of the metrics database as it was before each checkpoint, to undo a checkpoint torn by a
 * kill or a power loss.
 *
 * A metrics write commits to DuckDB's log (`runs.duckdb.wal`); the detach that follows checkpoints:
 * it writes the changed blocks into the file, then the header that points at them, then deletes
 * the log. DuckDB 1.5 rewrites some blocks in place, among them the metadata block the current
 * header reads, and a SIGKILL stops the kernel's copy of a 256 KB `pwrite` part way (its first
 * pages new, the rest old). Such a block fails its checksum: every later open of the file fails
 * ("Corrupt database file … in block at location …") and with it every operation of the lake.
 * Rare (fewer than 1 in 500 kills in our loops), but it loses the run history and the bronze
 * visibility of compaction.
 *
 * Until the checkpoint ends, the file it started from plus the log holds every committed write.
 * So before a detach that will checkpoint (the log is not empty), the file is copied to
 * `runs.duckdb.bak` (tmp + rename). When an open finds the file damaged, the log still there and
 * the file's headers still those of the copy (the torn checkpoint never wrote its header), the copy
 * is put back under the same log, which DuckDB replays: nothing committed is lost. The damaged
 * file is kept as `runs.duckdb.corrupt`.
 */
import fs from 'node:fs';
import { acquireLock } from '../extract/file-lock.js';
import { DuckhouseError } from '../errors.js';

/** The copy of the file as it was before the last checkpoint. */
export const lastCheckpointFile = (file: string): string => `${file}.bak`;
/** DuckDB's write-ahead log of `file`. */
const logFile = (file: string): string => `${file}.wal`;
/** The main header and the two database headers DuckDB writes before its first block. */
const HEADERS_BYTES = 3 * 4096;
/** DuckDB's error for a block whose checksum fails (a damaged log or header reads otherwise: not a torn checkpoint). */
const TORN_BLOCK = /Corrupt database file/i;
const isTornBlock = (error: unknown): boolean => !(error instanceof DuckhouseError) && TORN_BLOCK.test(error instanceof Error ? error.message : String(error));

/** Whether the detach of `file` will checkpoint: its log holds writes. */
function hasLog(file: string): boolean {
  try {
    return fs.statSync(logFile(file)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Copies the metrics file to its `.bak` before each detach that will checkpoint it, called with
 * the file attached (its lock held, so no other process checkpoints it meanwhile). If a copy
 * fails, no copy is left: an older one, put back under a newer log, would lose the writes between.
 *
 * The file is read through one descriptor kept open until `close`: closing any descriptor of a
 * file drops every POSIX lock the process holds on it, DuckDB's lock on the attached file
 * included (`fs.copyFile` opening and closing it let another process attach it mid-copy).
 */
export class LastCheckpoint {
  private fd: number | undefined;
  private inode: number | undefined;

  constructor(readonly file: string) {}

  async keep(): Promise<void> {
    if (!hasLog(this.file)) return;
    const { ino } = fs.statSync(this.file);
    if (this.fd === undefined || this.inode !== ino) {
      // A descriptor of a file since renamed away (restored by another process): nobody's lock is on it.
      this.close();
      this.fd = fs.openSync(this.file, 'r');
      this.inode = ino;
    }
    const target = lastCheckpointFile(this.file);
    const tmp = `${target}.tmp`;
    try {
      await copyFrom(this.fd, tmp);
      await fs.promises.rename(tmp, target);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      fs.rmSync(target, { force: true });
      throw error;
    }
  }

  /** Once the file is detached for good. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.inode = undefined;
  }
}

const CHUNK = 1 << 20;

async function copyFrom(fd: number, target: string): Promise<void> {
  const out = await fs.promises.open(target, 'w');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (let position = 0; ; ) {
      const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
        fs.read(fd, buffer, 0, CHUNK, position, (error, bytesRead) => (error ? reject(error) : resolve({ bytesRead }))),
      );
      if (bytesRead === 0) break;
      await out.write(buffer, 0, bytesRead);
      position += bytesRead;
    }
  } finally {
    await out.close();
  }
}

function headers(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buffer = Buffer.alloc(HEADERS_BYTES);
    return fs.readSync(fd, buffer, 0, HEADERS_BYTES, 0) === HEADERS_BYTES ? buffer : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * After `open` failed on `file` with `error`: if the file was damaged by a checkpoint that did not
 * finish (see the module comment), puts the copy taken before it back under the log and opens
 * again. Returns `false` when this is not such a damage (the caller throws its error), else
 * what happened once `open` succeeded: the message to warn with, or `'opened'` when the file
 * opened again without it (another process restored it first; one restores at a time).
 */
export async function restoreLastCheckpoint(file: string, error: unknown, open: () => Promise<void>, lockTimeoutMillis: number): Promise<false | 'opened' | { restored: string }> {
  const backup = lastCheckpointFile(file);
  if (!isTornBlock(error) || !fs.existsSync(backup) || !hasLog(file)) return false;
  const lock = await acquireLock(file, { timeoutMillis: lockTimeoutMillis, what: 'the metrics database (restoring its last checkpoint)' });
  try {
    try {
      await open();
      return 'opened';
    } catch (again) {
      if (!isTornBlock(again)) throw again;
    }
    const before = headers(backup);
    const now = headers(file);
    // Other headers: the checkpoint that damaged the file is not the one the copy was taken for.
    if (!before || !now || !before.equals(now) || !hasLog(file)) return false;
    const damaged = `${file}.corrupt`;
    const tmp = `${file}.restoring`;
    await fs.promises.copyFile(file, damaged);
    await fs.promises.copyFile(backup, tmp);
    await fs.promises.rename(tmp, file);
    await open();
    const reason = error instanceof Error ? error.message : String(error);
    return { restored: `the metrics database ${file} was damaged by a checkpoint that did not finish (DuckDB: ${reason}); restored from ${backup} and its log, nothing committed lost; the damaged file is kept as ${damaged}` };
  } finally {
    lock.release();
  }
}
