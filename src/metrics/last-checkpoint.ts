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
 * `runs.duckdb.bak` (see `LastCheckpoint`). When an open finds the file damaged, the log still there and
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
 * Keeps the metrics file's `.bak`: `start` begins copying the attached file into it (the lock
 * held, so no other process checkpoints it meanwhile; until our own checkpoint the file does not
 * change, so the copy overlaps the transaction), `beforeDetach` waits for it before a detach
 * that will checkpoint. If a copy fails, the `.bak` is removed: an older one, put back under a
 * newer log, would lose the writes between them.
 *
 * The copy overwrites the `.bak` in place, its headers last: a copy a kill stopped keeps the old
 * headers, so it never matches the file (`restoreLastCheckpoint` checks), and no checkpoint ran
 * after it anyway. A new file renamed over the old one would cost the checkpoint's `fsync` the
 * whole copy's write to disk (ext4 flushes a file renamed over another at the next commit); an
 * overwrite is written back later, off the path.
 *
 * The file is read through one descriptor kept open until `close`: closing any descriptor of a
 * file drops every POSIX lock the process holds on it, DuckDB's lock on the attached file
 * included (`fs.copyFile` opening and closing it let another process attach it mid-copy).
 */
export class LastCheckpoint {
  private fd: number | undefined;
  private inode: number | undefined;
  private copying: Promise<unknown> | undefined;

  constructor(readonly file: string) {}

  /** Begins the copy, with the file attached; a no-op while one is under way. */
  start(): void {
    if (this.copying) return;
    const copying = (async () => {
      const { ino } = fs.statSync(this.file);
      if (this.fd === undefined || this.inode !== ino) {
        // A descriptor of a file since renamed away (restored by another process): nobody's lock is on it.
        this.close();
        this.fd = fs.openSync(this.file, 'r');
        this.inode = ino;
      }
      await copyOver(this.fd, lastCheckpointFile(this.file));
    })();
    // Awaited by `beforeDetach`; never an unhandled rejection meanwhile.
    copying.catch(() => undefined);
    this.copying = copying;
  }

  /** Before the file is detached: waits for the copy, which must be whole if the detach will checkpoint (its log holds writes). */
  async beforeDetach(): Promise<void> {
    if (hasLog(this.file)) this.start();
    const copying = this.copying;
    this.copying = undefined;
    try {
      await copying;
    } catch (error) {
      fs.rmSync(lastCheckpointFile(this.file), { force: true });
      throw error;
    }
  }

  /** Waits for a copy under way, whatever its outcome (its descriptor is about to close: a detach failed). */
  async settle(): Promise<void> {
    const copying = this.copying;
    this.copying = undefined;
    await copying?.catch(() => undefined);
  }

  /** Once the file is detached for good. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.inode = undefined;
  }
}

const CHUNK = 1 << 20;

/**
 * The file's block size, from its two database headers (`block_alloc_size`, after the checksum,
 * iteration, meta block, free list and block count), when both agree on a plausible one.
 */
function blockSizeOf(head: Buffer): number | undefined {
  const sizes = [4096, 8192].map((at) => Number(head.readBigUInt64LE(at + 40)));
  const size = sizes[0]!;
  return sizes[1] === size && size >= 16_384 && size <= 16 * CHUNK && (size & (size - 1)) === 0 ? size : undefined;
}

/**
 * Makes `target` the file open as `fd`: the blocks past the headers first, then the headers, then
 * its size. Each DuckDB block starts with its checksum, so a block whose checksum the copy already
 * holds at the same place is the same block and is not written again: a checkpoint rewrites a few
 * blocks, and a copy of a long history (tens of MB) writes those, not the whole file.
 */
async function copyOver(fd: number, target: string): Promise<void> {
  const size = fs.fstatSync(fd).size;
  const head = Buffer.alloc(Math.min(HEADERS_BYTES, size));
  fs.readSync(fd, head, 0, head.length, 0);
  const blockSize = head.length === HEADERS_BYTES ? blockSizeOf(head) : undefined;
  const out = await fs.promises.open(target, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    const outSize = (await out.stat()).size;
    const buffer = Buffer.allocUnsafe(Math.max(CHUNK, blockSize ?? 0));
    const mine = Buffer.alloc(8);
    const theirs = Buffer.alloc(8);
    const sameBlock = (position: number): boolean =>
      blockSize !== undefined &&
      position + blockSize <= Math.min(size, outSize) &&
      fs.readSync(fd, mine, 0, 8, position) === 8 &&
      fs.readSync(out.fd, theirs, 0, 8, position) === 8 &&
      mine.equals(theirs);
    for (let position = head.length; position < size; ) {
      const length = Math.min(blockSize ?? CHUNK, size - position);
      if (!sameBlock(position)) {
        const bytesRead = await new Promise<number>((resolve, reject) => fs.read(fd, buffer, 0, length, position, (error, n) => (error ? reject(error) : resolve(n))));
        if (bytesRead !== length) throw new Error(`copying the metrics database to ${target}: it ended at ${position + bytesRead} of ${size} bytes`);
        await out.write(buffer, 0, length, position);
      }
      position += length;
    }
    await out.write(head, 0, head.length, 0);
    await out.truncate(size);
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
    try {
      await fs.promises.copyFile(file, damaged);
      await fs.promises.copyFile(backup, tmp);
      await fs.promises.rename(tmp, file);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    await open();
    const reason = error instanceof Error ? error.message : String(error);
    return { restored: `the metrics database ${file} was damaged by a checkpoint that did not finish (DuckDB: ${reason}); restored from ${backup} and its log, nothing committed lost; the damaged file is kept as ${damaged}` };
  } finally {
    lock.release();
  }
}
