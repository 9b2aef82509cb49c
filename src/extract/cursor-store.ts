/**
 * Incremental cursors: `<root>/state/cursors/<source>.<dataset>.json`, written tmp-then-rename.
 * A source that reads its cursor holds that cursor's lock until it finishes, so two runs (of one
 * process or two) never run the same incremental source from the same cursor at once. The locks a
 * store holds are one source run's: each source run gets its own store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../bronze/commit.js';
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

  release(source: string, dataset: string): void {
    const file = this.file(source, dataset);
    this.held.get(file)?.release();
    this.held.delete(file);
  }
}
