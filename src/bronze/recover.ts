/**
 * Clean-up at open: each process writes under its own `data/.tmp/p<pid>-<start>/`. A folder
 * whose process is gone is recovered — manifests past their commit point are rolled forward
 * (files renamed into bronze, batch recorded) — and then removed. Folders of live processes
 * are left alone, and so are those of another host's processes until they have been left untouched
 * for `otherHostAbandonHours`.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { MetricsDb } from '../metrics/metrics-db.js';
import { isAlive, processStartedAt } from '../metrics/process-identity.js';
import { applyMoves, commitCursorDir, readCommitCursor, readManifest, resolveManifest, writeRolledForwardSchema } from './commit.js';
import { LockError } from '../errors.js';
import { acquireLock, type HeldLock } from '../extract/file-lock.js';
import type { Logger } from '../log.js';

const OWNER_FILE = 'owner.json';

export function processTmpDirName(pid: number, procStart: string): string {
  return `p${pid}-${procStart || '0'}`;
}

export function claimTmpDir(tmpRoot: string, identity: { host: string; pid: number; procStart: string }): string {
  const dir = path.join(tmpRoot, processTmpDirName(identity.pid, identity.procStart));
  fs.mkdirSync(dir, { recursive: true });
  // Not rewritten in place (a second lake of the process claims the folder again): truncated, it
  // reads as no owner, and another process's open took a folder untouched for a minute for debris
  // and removed it under this live one. No fsync: the folder means nothing after a reboot.
  const owner = path.join(dir, OWNER_FILE);
  const text = JSON.stringify(identity);
  if (readOwnerText(owner) !== text) {
    fs.writeFileSync(`${owner}.tmp`, text);
    fs.renameSync(`${owner}.tmp`, owner);
  }
  return dir;
}

function readOwnerText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that ran `run` left a batch past its commit point that no open has rolled
 * forward yet: its folder under `tmpRoot` still holds a commit manifest. Some of the batch's files
 * may be renamed into bronze already, not recorded: the run must stay `running` (so readers hide
 * them) until the batch is rolled forward.
 */
export function hasUnrecoveredCommit(tmpRoot: string, run: { pid: unknown; proc_start: unknown }): boolean {
  if (typeof run.pid !== 'number' && typeof run.pid !== 'bigint') return false;
  const dir = path.join(tmpRoot, processTmpDirName(Number(run.pid), typeof run.proc_start === 'string' ? run.proc_start : ''));
  try {
    return fs.readdirSync(dir).some((name) => name.endsWith('.commit.json'));
  } catch {
    return false;
  }
}

/** Saves the cursor of a batch rolled forward, committed at `committedAt`; false when it left the cursor as it was. */
type SaveCursor = (source: string, dataset: string, cursor: unknown, runId: string, committedAt: Date, scope: string | undefined) => Promise<'saved' | 'kept' | 'deferred'>;

export async function recoverTmp(
  tmpRoot: string,
  metrics: MetricsDb,
  logger: Logger,
  saveCursor: SaveCursor,
  lockTimeoutMillis: number,
): Promise<{ rolledForward: number; removed: number }> {
  let rolledForward = 0;
  let removed = 0;
  if (!fs.existsSync(tmpRoot)) return { rolledForward, removed };
  const cursorDir = commitCursorDir(path.dirname(tmpRoot));
  for (const entry of fs.readdirSync(tmpRoot, { withFileTypes: true })) {
    const dir = path.join(tmpRoot, entry.name);
    if (!entry.isDirectory()) {
      fs.rmSync(dir, { force: true });
      continue;
    }
    let owner: { host: string; pid: number; procStart: string } | undefined;
    try {
      owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      owner = undefined;
    }
    // A process of another host (a shared volume, or this machine's old hostname in a recreated
    // container) cannot be checked: its folder is recovered once untouched for otherHostAbandonHours,
    // as its run reads abandoned then (readDeadRuns).
    if (owner && (owner.host !== os.hostname() ? touchedWithin(dir, metrics.otherHostAbandonHours * 3_600_000) : isAlive(owner))) continue;
    if (!owner) {
      // No owner file: either a folder being created this instant or debris (or one another
      // process has just recovered and removed). Leave young ones.
      const ageMs = Date.now() - (fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (ageMs < 60_000) continue;
    }
    // Several processes opening the lake at once find the same dead folder: one recovers it. The
    // others wait for it (a moment), so that when their open returns its batches are recorded.
    let claim: HeldLock;
    try {
      claim = await acquireLock(path.join(path.dirname(tmpRoot), 'state', 'locks', `recover.${entry.name}`), { timeoutMillis: lockTimeoutMillis, what: `recovery of ${dir}` });
    } catch (error) {
      if (!(error instanceof LockError)) throw error;
      logger.warn(`${error.message}: left to that process`);
      continue;
    }
    try {
      if (!fs.existsSync(dir)) continue; // recovered by the process we waited for
      rolledForward += await rollForward(dir, cursorDir, metrics, logger, saveCursor);
      // Its batches' cursor files, before the folder: a manifest found again (a kill in between)
      // without its cursor file was rolled forward, cursor saved, already.
      removeCommitCursors(cursorDir, (dirName) => dirName === entry.name);
      fs.rmSync(dir, { recursive: true, force: true });
      removed += 1;
    } finally {
      claim.release();
    }
  }
  // Those of processes whose temp folder is gone (a folder removed by hand): no manifest can name
  // them. A live process's folder exists before it writes one there, and until it has removed them.
  removeCommitCursors(cursorDir, (dirName) => !fs.existsSync(path.join(tmpRoot, dirName)));
  const stray = removeStrayTmpFiles(path.dirname(tmpRoot));
  if (stray > 0) logger.warn(`removed ${stray} temp file(s) a dead process left next to their targets`);
  return { rolledForward, removed };
}

/** Whether `dir` or an entry of it was modified within the last `millis`. */
function touchedWithin(dir: string, millis: number): boolean {
  const since = Date.now() - millis;
  const mtime = (p: string): number => fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (mtime(dir) > since) return true;
  try {
    return fs.readdirSync(dir).some((name) => mtime(path.join(dir, name)) > since);
  } catch {
    return false;
  }
}

/**
 * Removes the cursor files in `cursorDir` (see commit.ts) of the batches committed, or being committed, by the
 * processes whose temp folder name (`p<pid>-<start>`, the files' first dotted part) `whose` picks.
 */
function removeCommitCursors(cursorDir: string, whose: (dirName: string) => boolean): void {
  let names: string[];
  try {
    names = fs.readdirSync(cursorDir);
  } catch {
    return; // none
  }
  for (const name of names) if (whose(name.split('.')[0]!)) fs.rmSync(path.join(cursorDir, name), { force: true });
}

/** Rolls the manifests of a dead process's folder forward, and rolls its compactions back; returns how many batches it recorded. */
async function rollForward(dir: string, cursorDir: string, metrics: MetricsDb, logger: Logger, saveCursor: SaveCursor): Promise<number> {
  let rolledForward = 0;
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith('compact-') && name.endsWith('.json')) {
      // A compaction killed before its switch (or between switch and cleanup): delete the outputs it never switched in.
      const { rollbackCompaction } = await import('./lifecycle.js');
      const removedOutputs = await rollbackCompaction(metrics, path.join(dir, name), path.dirname(path.dirname(dir)));
      if (removedOutputs > 0) logger.warn(`removed ${removedOutputs} unswitched compaction output(s) of a dead process`);
      continue;
    }
    if (!name.endsWith('.commit.json')) continue;
    const manifestFile = path.join(dir, name);
    const written = readManifest(manifestFile);
    if (!written) continue;
    // Under the root this process opened: the lake folder may have been moved or copied since the kill.
    const manifest = resolveManifest(path.dirname(path.dirname(dir)), manifestFile, written);
    let cursor: unknown;
    try {
      cursor = readCommitCursor(cursorDir, manifest);
    } catch (error) {
      // Removed only once its batch was recorded and the cursor saved (a kill before the folder went).
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      cursor = undefined;
    }
    applyMoves(manifest.moves);
    // The manifest was written at the commit point.
    const committedAt = fs.statSync(manifestFile).mtime;
    await metrics.recordBatch({ ...manifest.batch, cursor, committedAt });
    const { source, dataset, runId, cursorScope } = manifest.batch;
    const saved = cursor !== undefined && cursor !== null ? await saveCursor(source, dataset, cursor, runId, committedAt, cursorScope) : 'saved';
    // The schema its run would have recorded with this batch: the next run's drift check compares with what bronze holds.
    if (manifest.schema) writeRolledForwardSchema(manifest.schema, runId);
    rolledForward += 1;
    const note = saved === 'kept' ? " (a later run's cursor kept)" : saved === 'deferred' ? ' (its cursor is saved by the next run to take it: another process holds it)' : '';
    logger.warn(`recovered a committed batch of a dead process: ${source}/${dataset} run ${runId} batch ${manifest.batch.batchNo}${note}`);
  }
  return rolledForward;
}

/** writeFileAtomic's temp name, `.duckhouse.<pid>.<random>.tmp` (`<file>.<pid>.<random>.tmp` before), and a lock owner's, `<lock file, cut>.<pid>.<random>.tmp`. */
const ATOMIC_TMP = /\.(\d+)\.[a-z0-9]+\.tmp$/;

/**
 * Removes the temp files writeFileAtomic leaves next to its targets (lineage, compiled SQL,
 * cursors, token stores, run results…) when its process dies between writing and renaming them.
 * Only the lake root's own files and the `state/`, `compiled/` and `metrics/` trees are looked at.
 */
/**
 * Whether the process that wrote a temp file may still be writing it: its pid is alive and that
 * process started before the file was last written. A pid is reused (every container's first
 * process has the same one), so a live pid alone would keep a dead writer's file for good.
 */
function ownerMayBeAlive(file: string, pid: number): boolean {
  if (!isAlive({ host: os.hostname(), pid, procStart: null })) return false;
  const started = processStartedAt(pid);
  if (started === null) return true;
  try {
    // A second of slack: the boot time is in whole seconds.
    return fs.statSync(file).mtimeMs >= started - 1_000;
  } catch {
    return true;
  }
}

export function removeStrayTmpFiles(root: string): number {
  let removed = 0;
  const visit = (dir: string, recursive: boolean): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (recursive) visit(full, true);
        continue;
      }
      const match = ATOMIC_TMP.exec(entry.name);
      if (!match || ownerMayBeAlive(full, Number(match[1]))) continue;
      fs.rmSync(full, { force: true });
      removed += 1;
    }
  };
  visit(root, false);
  for (const dir of ['state', 'compiled', 'metrics']) visit(path.join(root, dir), true);
  return removed;
}
