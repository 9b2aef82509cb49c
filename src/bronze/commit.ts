/**
 * The commit protocol of a bronze flush, and its recovery.
 *
 * 1. DuckDB writes the batch's Parquet files into a private folder under `data/.tmp/`.
 * 2. The batch's cursor, if it has one, is written to `data/state/cursors/committing/` (0600,
 *    tmp-then-rename): a cursor may hold a secret (a next-page link's `access_token=`), and
 *    `data/state/` is the only place under `data/` where one may live.
 * 3. A manifest listing every move (tmp → final), naming that cursor file, is written
 *    tmp-then-rename: the commit point.
 * 4. Files are renamed into `data/bronze/...` (each rename is atomic).
 * 5. The batch is recorded in the metrics db (`bronze_files`, `source_batches`), its cursor saved.
 * 6. The manifest is deleted, then the cursor file of step 2.
 *
 * A process killed before 3 leaves only temp files (and maybe a cursor file of no batch), removed
 * at the next open. Killed after 3, the next open rolls the manifest forward: finishes the renames,
 * records the batch (with the schema drift the run's first batch brings) and saves its cursor, read
 * back exactly from its file, and the dataset's recorded schema the first batch carries. So a file under
 * `bronze/` is always whole, and every committed batch ends up recorded. A manifest written by an
 * earlier version holds its cursor itself (`batch.cursor`): it is rolled forward the same way.
 *
 * A manifest names its files relative to the lake root, and is rolled forward under the root the
 * recovering process opened: a lake folder moved or copied after a kill finishes its batch in the
 * new place, never in the old one (see `resolveManifest`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckhouseError } from '../errors.js';
import type { BatchCommit } from '../metrics/metrics-db.js';
import { parseJsonExact, stringifyJsonExact } from '../extract/json-exact.js';

/** Absolute paths in memory; in a manifest's file, relative to the lake root (see `storedManifest`). */
export interface CommitMove {
  from: string;
  to: string;
}

export interface CommitManifest {
  batch: BatchCommit;
  moves: CommitMove[];
  /**
   * The name, under `state/cursors/committing/`, of the file holding the batch's cursor (see
   * `commitCursorName`). The cursor itself is never in the manifest (a manifest of an earlier
   * version has it as `batch.cursor`).
   */
  cursorFile?: string;
  /**
   * The dataset's schema as the run has it (state/schemas/, see run-source.ts), on the run's first
   * batch: written once the batch is recorded, by its run or by the roll-forward.
   */
  schema?: RecordedSchemaFile;
}

/** A dataset's recorded schema to write: the file (absolute; in a manifest's file, relative to the lake root) and its JSON text. */
export interface RecordedSchemaFile {
  file: string;
  text: string;
}

/**
 * Writes a rolled-forward batch's recorded schema (see `CommitManifest.schema`), unless a later
 * run recorded its own since (a process that ran meanwhile): the file says which run wrote it.
 */
export function writeRolledForwardSchema(schema: RecordedSchemaFile, runId: string): void {
  let recordedBy: unknown;
  try {
    recordedBy = (JSON.parse(fs.readFileSync(schema.file, 'utf8')) as { runId?: unknown }).runId;
  } catch {
    recordedBy = undefined;
  }
  if (typeof recordedBy === 'string' && recordedBy > runId) return;
  writeFileAtomic(schema.file, schema.text);
}

/** Cursors of batches being committed: `<root>/state/cursors/committing/` (see step 2 above). */
export function commitCursorDir(root: string): string {
  return path.join(root, 'state', 'cursors', 'committing');
}

/**
 * The name of the file holding the cursor of batch `batchNo` of `runId`, committed by the process
 * whose temp folder is `tmpDir` (`p<pid>-<start>`, whose recovery removes every file it names).
 */
export function commitCursorName(tmpDir: string, runId: string, batchNo: number): string {
  return `${path.basename(tmpDir)}.${runId}.${batchNo}.json`;
}

/** Writes a batch's cursor (`json`: already written out, stringifyJsonExact) to its file under `dir`, 0600. */
export function writeCommitCursor(dir: string, name: string, json: string | Uint8Array): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(path.join(dir, name), json, 0o600);
}

/** The cursor a manifest's batch carries: from its cursor file, or (an earlier version's manifest) from the manifest itself. */
export function readCommitCursor(dir: string, manifest: CommitManifest): unknown {
  if (manifest.cursorFile === undefined) return manifest.batch.cursor;
  return parseJsonExact(fs.readFileSync(path.join(dir, path.basename(manifest.cursorFile)), 'utf8'));
}

/**
 * The name of a temp file of writeFileAtomic's in `dir`: `.duckhouse.<pid>.<random>.tmp`. Beside
 * the target, so the rename is atomic; not named after it, so a target whose name is near the file
 * system's 255 bytes fits; the pid, so the open after a crash knows whose it is, and two processes
 * never share one.
 */
export function atomicTmpName(dir: string): string {
  return path.join(dir, `.duckhouse.${process.pid}.${crypto.randomBytes(8).toString('hex')}.tmp`);
}

/**
 * Writes `data` to `file` through a temp file renamed over it. `data` may come in parts, written
 * one after the other: a part already encoded (a crawl frontier's megabytes) is not copied again.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly (string | Uint8Array)[], mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = atomicTmpName(path.dirname(file));
  const fd = fs.openSync(tmp, 'w', mode ?? 0o644);
  try {
    try {
      for (const part of typeof data === 'string' || data instanceof Uint8Array ? [data] : data) {
        const bytes = typeof part === 'string' ? Buffer.from(part) : part;
        for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    // A full disk, or a folder where the file should go: the whole copy must not stay beside it.
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

export function writeManifest(file: string, manifest: CommitManifest): void {
  writeFileAtomic(file, stringifyJsonExact(manifest)); // a bigint in it (a batch's cursor, in an earlier version's) keeps its digits
}

/** Step 3: moves whatever is not yet in place. Idempotent, so recovery can call it again. */
export function applyMoves(moves: CommitMove[]): void {
  for (const move of moves) {
    for (let attempt = 1; fs.existsSync(move.from); attempt++) {
      fs.mkdirSync(path.dirname(move.to), { recursive: true });
      try {
        fs.renameSync(move.from, move.to);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        // Moved between the check and the rename by another process replaying the same manifest.
        if (fs.existsSync(move.to)) break;
        // The folder was removed between the mkdir and the rename: another process's purge deletes
        // a partition's folders once it emptied them (see purgeRemoved). Made again, a few times.
        if (!fs.existsSync(move.from) || attempt >= 5) throw error;
      }
    }
  }
}

/**
 * Takes back into the stage the files `applyMoves` already renamed into bronze, when it failed part
 * way (a partition folder that cannot be made): the batch's run is still `running`, so no reader
 * has seen them. Returns false when a file could not be moved back: the manifest stays, and the
 * next open rolls the batch forward whole.
 */
export function undoMoves(moves: CommitMove[]): boolean {
  let undone = true;
  for (const move of moves) {
    if (fs.existsSync(move.from) || !fs.existsSync(move.to)) continue;
    try {
      fs.renameSync(move.to, move.from);
    } catch {
      undone = false;
    }
  }
  return undone;
}

/** A path under `root`, as a manifest stores it: relative, with `/`. */
export function rootRelative(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** `manifest` (absolute paths) as its file holds it: every path relative to the lake `root`. */
export function storedManifest(root: string, manifest: CommitManifest): CommitManifest {
  return {
    ...manifest,
    moves: manifest.moves.map((m) => ({ from: rootRelative(root, m.from), to: rootRelative(root, m.to) })),
    ...(manifest.schema ? { schema: { ...manifest.schema, file: rootRelative(root, manifest.schema.file) } } : {}),
  };
}

/**
 * The lake root an earlier version's manifest (absolute paths) was written under: the prefix of a
 * move's `from` before the manifest's own folder (`.tmp/<process>/`, where its process staged the
 * batch), which has the same path under every root. Undefined when no move shows it.
 */
function writtenUnder(root: string, manifestFile: string, manifest: CommitManifest): string | undefined {
  const marker = `${path.sep}${path.relative(root, path.dirname(manifestFile))}${path.sep}`;
  for (const { from } of manifest.moves) {
    if (!path.isAbsolute(from)) continue;
    const at = from.lastIndexOf(marker);
    if (at > 0) return from.slice(0, at);
  }
  return undefined;
}

/**
 * The manifest `manifestFile` read back (`readManifest`), its paths resolved under the lake `root`
 * the recovering process opened. A relative path is under `root`; an absolute one (an earlier
 * version's manifest) is rebased from the root it was written under when it lies there, else taken
 * as written. A path that ends outside its place (a move's source outside the folder of the
 * process that wrote the manifest, its target or a recorded file outside `bronze/`, the schema outside `state/schemas/`:
 * `..`, or an absolute path of another folder) is refused before anything is moved or recorded.
 */
export function resolveManifest(root: string, manifestFile: string, manifest: CommitManifest): CommitManifest {
  const oldRoot = writtenUnder(root, manifestFile, manifest);
  const within = (file: string, dir: string, field: string): string =>
    recordedPathIn(root, oldRoot, file, dir, manifestFile, field, 'nothing of its batch was moved or recorded (a manifest names only files of its own lake)');
  // The writer stages a batch beside its manifest (`<stage>/` and `<stage>.commit.json`); any
  // folder of that process's own is accepted, as a manifest of another layout is still its own.
  const stage = path.dirname(manifestFile);
  const bronze = path.join(root, 'bronze');
  // Recorded as they are (relative to the root, in every version), and read back by every reader.
  manifest.batch.files.forEach((f, i) => within(f.path, bronze, `batch.files[${i}].path`));
  return {
    ...manifest,
    moves: manifest.moves.map((m, i) => ({ from: within(m.from, stage, `moves[${i}].from`), to: within(m.to, bronze, `moves[${i}].to`) })),
    ...(manifest.schema ? { schema: { ...manifest.schema, file: within(manifest.schema.file, path.join(root, 'state', 'schemas'), 'schema.file') } } : {}),
  };
}

/** `file` (absolute) under `to` where it lies under `from`; any other path as it is. */
export function rebasedPath(file: string, from: string | undefined, to: string): string {
  return from !== undefined && file.startsWith(from + path.sep) ? path.join(to, file.slice(from.length + 1)) : file;
}

/**
 * A path a recovery record (a commit or compaction manifest) names, under the lake `root` the
 * recovering process opened: a relative one under `root`, an absolute one (an earlier version's)
 * rebased from `writtenRoot`, the root it was written under. One that ends outside `dir` (`..`,
 * an absolute path of another folder) is refused, naming the record and its `field`: `refused`
 * says what was left undone.
 */
export function recordedPathIn(root: string, writtenRoot: string | undefined, file: string, dir: string, manifestFile: string, field: string, refused: string): string {
  const resolved = path.isAbsolute(file) ? rebasedPath(file, writtenRoot, root) : path.resolve(root, file);
  const rel = path.relative(dir, resolved);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new DuckhouseError('MANIFEST_INVALID', `recovery of ${manifestFile}: ${field} ${JSON.stringify(file)} is outside ${dir}; refused: ${refused}`);
  }
  return resolved;
}

export function readManifest(file: string): CommitManifest | undefined {
  try {
    return parseJsonExact(fs.readFileSync(file, 'utf8')) as CommitManifest;
  } catch {
    return undefined; // not written completely: the batch never reached its commit point
  }
}

/** Renames `from` to `to`; across file systems, copies next to `to` first so `to` still appears whole. */
export function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    // Not `<to>.<pid>.tmp`: a `to` whose name is near the file system's limit made it too long.
    const near = atomicTmpName(path.dirname(to));
    try {
      fs.copyFileSync(from, near);
      fs.renameSync(near, to);
    } catch (e) {
      fs.rmSync(near, { force: true });
      throw e;
    }
    fs.rmSync(from, { force: true });
  }
}
