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
import { writeFileAtomic } from '../bronze/commit.js';
import type { PartitionKey } from '../bronze/writer.js';
import { LockError } from '../errors.js';
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
  // A file name holds 255 bytes, less the atomic write's suffix (`.<pid>.<random>.tmp`, up to 25)
  // or the lock's. Each value's folder fits, but the scope percent-encodes them all in one name:
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

  async save(key: CursorKey, cursor: unknown, runId: string): Promise<void> {
    writeFileAtomic(this.file(key), stringifyJsonExact({ cursor, runId, savedAt: new Date().toISOString() }));
  }

  /**
   * Saves the cursor of a dead process's batch rolled forward at open, under the cursor's lock —
   * unless another run saved the cursor after that batch's commit point: that run took the cursor
   * after the dead process, so its cursor is the newer one (going back would extract its records
   * again). Run ids cannot tell: a run started earlier may take the cursor later. The save is dated
   * by the commit point, so rolling forward two dead folders of one cursor keeps the later batch's.
   * Returns false when the cursor was left as it is.
   */
  async saveRolledForward(key: CursorKey, cursor: unknown, runId: string, committedAt: Date): Promise<boolean> {
    const file = this.file(key);
    let lock: HeldLock;
    try {
      // Not waited for: a live holder took the cursor after the dead process, and saves its own.
      lock = await acquireLock(file, { timeoutMillis: 0, what: this.what(key) });
    } catch (error) {
      if (error instanceof LockError) return false;
      throw error;
    }
    try {
      let stored: { runId?: string; savedAt?: string } | undefined;
      try {
        stored = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof stored;
      } catch {
        stored = undefined; // none yet (or unreadable: replaced)
      }
      if (stored && stored.runId !== runId && Date.parse(stored.savedAt ?? '') >= committedAt.getTime()) return false;
      writeFileAtomic(file, stringifyJsonExact({ cursor, runId, savedAt: committedAt.toISOString() }));
      return true;
    } finally {
      lock.release();
    }
  }

  release(key: CursorKey): void {
    const file = this.file(key);
    this.held.get(file)?.release();
    this.held.delete(file);
  }
}

/** A cursor file's content; undefined when there is none. */
function readCursorFile(file: string): { cursor: unknown } | undefined {
  try {
    // A cursor past ±2^53 (an API's 19-digit id) is written as its digits and read back as a bigint.
    return parseJsonExact(fs.readFileSync(file, 'utf8')) as { cursor: unknown };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
