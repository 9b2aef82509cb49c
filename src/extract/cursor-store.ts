/**
 * Incremental cursors: `<root>/state/cursors/<source>.<dataset>.json`, written tmp-then-rename.
 * A source that reads its cursor holds that cursor's lock until it finishes, so two runs (of one
 * process or two) never run the same incremental source from the same cursor at once. The locks a
 * store holds are one source run's: each source run gets its own store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../bronze/commit.js';
import { LockError } from '../errors.js';
import { acquireLock, type HeldLock } from './file-lock.js';

export class CursorStore {
  private readonly dir: string;
  private readonly held = new Map<string, HeldLock>();

  constructor(root: string, private readonly lockTimeoutMillis: number) {
    this.dir = path.join(root, 'state', 'cursors');
  }

  private file(source: string, dataset: string): string {
    return path.join(this.dir, `${source}.${dataset}.json`);
  }

  /** Reads the committed cursor, taking the cursor's lock first (held until `release`; waiting for it ends when `signal` aborts). */
  async read(source: string, dataset: string, signal?: AbortSignal): Promise<unknown> {
    const file = this.file(source, dataset);
    if (!this.held.has(file)) {
      this.held.set(file, await acquireLock(file, { timeoutMillis: this.lockTimeoutMillis, what: `cursor of ${source}/${dataset}`, signal }));
    }
    try {
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { cursor: unknown }).cursor;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async save(source: string, dataset: string, cursor: unknown, runId: string): Promise<void> {
    writeFileAtomic(this.file(source, dataset), JSON.stringify({ cursor, runId, savedAt: new Date().toISOString() }));
  }

  /**
   * Saves the cursor of a dead process's batch rolled forward at open, under the cursor's lock —
   * unless another run saved the cursor after that batch's commit point: that run took the cursor
   * after the dead process, so its cursor is the newer one (going back would extract its records
   * again). Run ids cannot tell: a run started earlier may take the cursor later. The save is dated
   * by the commit point, so rolling forward two dead folders of one cursor keeps the later batch's.
   * Returns false when the cursor was left as it is.
   */
  async saveRolledForward(source: string, dataset: string, cursor: unknown, runId: string, committedAt: Date): Promise<boolean> {
    const file = this.file(source, dataset);
    let lock: HeldLock;
    try {
      // Not waited for: a live holder took the cursor after the dead process, and saves its own.
      lock = await acquireLock(file, { timeoutMillis: 0, what: `cursor of ${source}/${dataset}` });
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
      writeFileAtomic(file, JSON.stringify({ cursor, runId, savedAt: committedAt.toISOString() }));
      return true;
    } finally {
      lock.release();
    }
  }

  release(source: string, dataset: string): void {
    const file = this.file(source, dataset);
    this.held.get(file)?.release();
    this.held.delete(file);
  }
}
