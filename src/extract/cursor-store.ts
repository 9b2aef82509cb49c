/**
 * Incremental cursors: `<root>/state/cursors/<source>.<dataset>.json`, written tmp-then-rename.
 * A source with constant partition values (`partitionBy: { store: 'a' }`) has its own cursor,
 * `<source>.<dataset>.store=a.json`: several stores or sellers writing one dataset each read on
 * from where they stopped, not from where the last one to run did.
 * A source that reads its cursor holds that cursor's lock until it finishes, so two runs (of one
 * process or two) never run the same incremental source from the same cursor at once. The locks a
 * store holds are one source run's: each source run gets its own store.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { commitCursorDir, writeFileAtomic } from '../bronze/commit.js';
import type { PartitionKey } from '../bronze/writer.js';
import { DuckhouseError, LockError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireLock, type HeldLock } from './file-lock.js';
import { parseJsonExact, stringifyJsonExact } from './json-exact.js';

/** Which cursor: a dataset's, of the source's constant partition values (`scope`, e.g. `store=a`) when it has any. */
export interface CursorKey {
  source: string;
  dataset: string;
  scope?: string;
}

/** The cursor of a source: scoped by its constant partition values, in the order they are declared. */
export function cursorKeyOf(source: { source: string; dataset: string; partitionKeys: readonly PartitionKey[] }): CursorKey {
  const constants = source.partitionKeys.filter((k) => k.constant !== undefined);
  if (constants.length === 0) return { source: source.source, dataset: source.dataset };
  const scope = constants.map((k) => `${k.name}=${encodeURIComponent(String(k.constant))}`).join('.');
  return { source: source.source, dataset: source.dataset, scope };
}

/** The cursor's file name under `state/cursors/`. */
export function cursorFileName({ source, dataset, scope }: CursorKey): string {
  if (scope === undefined) return `${source}.${dataset}.json`;
  const name = `${source}.${dataset}.${scope}.json`;
  // A file name holds 255 bytes, less the lock's suffixes (`.lock`, `.lock.takeover`; their temp
  // files cut the name). Each value's folder fits, but the scope percent-encodes them all in one name:
  // a longer one (which never saved) is hashed; every name that did stays as it was.
  if (name.length <= MAX_CURSOR_NAME) return name;
  return `${source}.${dataset}.${createHash('sha256').update(scope).digest('hex').slice(0, 32)}.json`;
}
const MAX_CURSOR_NAME = 255 - 25;

export class CursorStore {
  private readonly dir: string;
  private readonly held = new Map<string, HeldLock>();
  /** Locks being taken: a second read while the first waits shares its wait (a second acquire would wait on our own lock). */
  private readonly taking = new Map<string, Promise<HeldLock>>();

  constructor(root: string, private readonly lockTimeoutMillis: number) {
    this.dir = path.join(root, 'state', 'cursors');
  }

  private file(key: CursorKey): string {
    return path.join(this.dir, cursorFileName(key));
  }

  private what({ source, dataset, scope }: CursorKey): string {
    return `cursor of ${source}/${dataset}${scope === undefined ? '' : ` (${scope})`}`;
  }

  /** Reads the committed cursor, taking the cursor's lock first (held until `release`; waiting for it ends when `signal` aborts). */
  async read(key: CursorKey, signal?: AbortSignal): Promise<unknown> {
    const file = this.file(key);
    // Before the lock, which would create the folder with the default mode (see tightenCursorModes).
    fs.mkdirSync(this.dir, { recursive: true, mode: CURSOR_DIR_MODE });
    if (!this.held.has(file)) {
      let taking = this.taking.get(file);
      if (!taking) {
        taking = acquireLock(file, { timeoutMillis: this.lockTimeoutMillis, what: this.what(key), signal });
        this.taking.set(file, taking);
      }
      try {
        this.held.set(file, await taking);
      } finally {
        this.taking.delete(file);
      }
    }
    this.applyDeferred(file);
    const stored = readCursorFile(file);
    if (stored !== undefined || key.scope === undefined) return stored?.cursor;
    return this.adoptUnscoped(key, file, signal);
  }

  /**
   * A lake from before cursors were scoped keeps a scoped source's cursor under the dataset's
   * name: the first scoped source to run takes it over (moves it to its own name, under both
   * locks), so an existing store or seller goes on from its cursor, and one added later starts
   * from its beginning instead of from another's cursor.
   */
  private async adoptUnscoped(key: CursorKey, file: string, signal?: AbortSignal): Promise<unknown> {
    const unscoped = this.file({ source: key.source, dataset: key.dataset });
    if (!fs.existsSync(unscoped)) return undefined;
    const lock = await acquireLock(unscoped, { timeoutMillis: this.lockTimeoutMillis, what: this.what({ source: key.source, dataset: key.dataset }), signal });
    try {
      const stored = readCursorFile(unscoped);
      if (stored === undefined) return undefined;
      fs.renameSync(unscoped, file);
      return stored.cursor;
    } finally {
      lock.release();
    }
  }

  /** Saves the cursor; `json`: the cursor already written out (stringifyJsonExact, UTF-8), a crawl frontier's megabytes not written out again. */
  async save(key: CursorKey, cursor: unknown, runId: string, json?: Uint8Array): Promise<void> {
    const savedAt = new Date().toISOString();
    if (json === undefined) writeFileAtomic(this.file(key), stringifyJsonExact({ cursor, runId, savedAt }), CURSOR_MODE);
    else writeFileAtomic(this.file(key), ['{"cursor":', json, `,${stringifyJsonExact({ runId, savedAt }).slice(1)}`], CURSOR_MODE);
  }

  /**
   * Saves the cursor of a dead process's batch rolled forward at open, under the cursor's lock —
   * unless another run saved the cursor after that batch's commit point: that run took the cursor
   * after the dead process, so its cursor is the newer one (going back would extract its records
   * again). Run ids cannot tell: a run started earlier may take the cursor later. The save is dated
   * by the commit point, so rolling forward two dead folders of one cursor keeps the later batch's.
   *
   * The lock is not waited for (open would wait out a whole run). A live process holding it may save
   * a cursor of its own, or end without one (a run failing before its first checkpoint): the save is
   * then deferred (`deferred`), kept next to the cursor and applied, by the same rule, by the next
   * run to take the cursor. Returns `kept` when the cursor was left as it is.
   */
  async saveRolledForward(key: CursorKey, cursor: unknown, runId: string, committedAt: Date): Promise<'saved' | 'kept' | 'deferred'> {
    const file = this.file(key);
    let lock = await tryLock(file, this.what(key));
    if (!lock) {
      const pendingDir = path.join(this.dir, DEFERRED_DIR);
      fs.mkdirSync(pendingDir, { recursive: true, mode: CURSOR_DIR_MODE });
      writeFileAtomic(path.join(pendingDir, `${deferredPrefix(file)}${committedAt.getTime()}.${runId}.json`), stringifyJsonExact({ cursor, runId, savedAt: committedAt.toISOString() }), CURSOR_MODE);
      // The holder may have let go meanwhile, after a run took the cursor from before this batch:
      // applied now if the lock is free, else by the next run to read the cursor.
      lock = await tryLock(file, this.what(key));
      if (!lock) return 'deferred';
      try {
        this.applyDeferred(file);
      } finally {
        lock.release();
      }
      return 'deferred';
    }
    try {
      return saveIfNewer(file, cursor, runId, committedAt) ? 'saved' : 'kept';
    } finally {
      lock.release();
    }
  }

  /** Applies (under the cursor's lock) the roll-forwards deferred while another process held it, the latest commit's. */
  private applyDeferred(file: string): void {
    const pendingDir = path.join(this.dir, DEFERRED_DIR);
    const prefix = deferredPrefix(file);
    let names: string[];
    try {
      names = fs.readdirSync(pendingDir).filter((n) => n.startsWith(prefix) && n.endsWith('.json'));
    } catch {
      return; // none deferred
    }
    if (names.length === 0) return;
    const entries = names
      .map((name) => {
        try {
          return { name, ...(parseJsonExact(fs.readFileSync(path.join(pendingDir, name), 'utf8')) as { cursor: unknown; runId: string; savedAt: string }) };
        } catch {
          return undefined; // unreadable (a torn write cannot happen: written atomically): dropped
        }
      })
      .filter((e) => e !== undefined)
      .sort((a, b) => Date.parse(a.savedAt) - Date.parse(b.savedAt));
    const latest = entries.at(-1);
    if (latest) saveIfNewer(file, latest.cursor, latest.runId, new Date(latest.savedAt));
    for (const name of names) fs.rmSync(path.join(pendingDir, name), { force: true });
  }

  release(key: CursorKey): void {
    const file = this.file(key);
    this.held.get(file)?.release();
    this.held.delete(file);
  }
}

/**
 * A cursor may hold a secret (an API's next-page link with its `access_token=`, a crawl's signed
 * URLs): readable by its owner only, as a token store.
 */
const CURSOR_MODE = 0o600;

/** `state/cursors/` and its folders: readable by its owner only, as `state/tokens/` (no one else lists which sources have cursors). */
const CURSOR_DIR_MODE = 0o700;

/**
 * Brings the cursor files an earlier version wrote 0644 (saved cursors, deferred roll-forwards) to
 * 0600, and their folders to 0700. Done at open, not when a cursor is read or saved: the cursor of a
 * source since removed, or one that no longer moves, is never saved again. The folder's mode says it
 * is done (a version writing 0600 also makes it 0700), so an open pays one stat, not a walk.
 * Modes this user may not change (files of another owner, a FAT or exFAT volume) are left as they
 * are, with a warning: an open that worked before this hardening must not fail for it.
 */
export function tightenCursorModes(root: string, logger: Pick<Logger, 'warn'>): void {
  const dir = path.join(root, 'state', 'cursors');
  try {
    tightenModes(root, dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES' && code !== 'EROFS' && code !== 'ENOTSUP') throw error;
    logger.warn(`cursor files in ${dir} not made readable by their owner only (0600): ${(error as Error).message}; change their owner or mode by hand`);
  }
}

/** `dir`: `root`'s `state/cursors/`. */
function tightenModes(root: string, dir: string): void {
  let mode: number;
  try {
    mode = fs.statSync(dir).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & 0o077) === 0) return;
  for (const folder of [dir, path.join(dir, DEFERRED_DIR), commitCursorDir(root)]) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      try {
        const file = path.join(folder, entry.name);
        if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, CURSOR_MODE);
      } catch (error) {
        // A temp file renamed into place meanwhile by a live process (written 0600 already).
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (folder !== dir) fs.chmodSync(folder, CURSOR_DIR_MODE);
  }
  // Last: a walk cut short (an error above) is done again at the next open.
  fs.chmodSync(dir, CURSOR_DIR_MODE);
}

/** Roll-forwards deferred while another process held the cursor: `state/cursors/rolled-forward/<hash of the cursor's name>.<commit ms>.<runId>.json`. */
const DEFERRED_DIR = 'rolled-forward';

function deferredPrefix(file: string): string {
  return `${createHash('sha256').update(path.basename(file)).digest('hex').slice(0, 16)}.`;
}

async function tryLock(file: string, what: string): Promise<HeldLock | undefined> {
  try {
    return await acquireLock(file, { timeoutMillis: 0, what });
  } catch (error) {
    if (error instanceof LockError) return undefined;
    throw error;
  }
}

/**
 * Writes a rolled-forward cursor (dated by its commit point) unless another run saved the cursor
 * after that commit point. The caller holds the cursor's lock. Returns whether it wrote.
 */
function saveIfNewer(file: string, cursor: unknown, runId: string, committedAt: Date): boolean {
  let stored: { runId?: string; savedAt?: string } | undefined;
  try {
    stored = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof stored;
  } catch {
    stored = undefined; // none yet (or unreadable: replaced)
  }
  if (stored && stored.runId !== runId && Date.parse(stored.savedAt ?? '') >= committedAt.getTime()) return false;
  writeFileAtomic(file, stringifyJsonExact({ cursor, runId, savedAt: committedAt.toISOString() }), CURSOR_MODE);
  return true;
}

/** A cursor file's content; undefined when there is none. */
function readCursorFile(file: string): { cursor: unknown } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    // A cursor past ±2^53 (an API's 19-digit id) is written as its digits and read back as a bigint.
    return parseJsonExact(text) as { cursor: unknown };
  } catch (error) {
    // Never written torn (tmp then rename): edited by hand or damaged. Starting over would read the
    // whole source again, unasked: the run says which file, and leaves the choice.
    throw new DuckhouseError(
      'CURSOR_UNREADABLE',
      `the cursor file ${file} is not valid JSON (${(error as Error).message}): restore it, or delete it to read the source again from its beginning`,
      { cause: error },
    );
  }
}
