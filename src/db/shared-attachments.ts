/**
 * The process's read-only attachments of one database file (analytics.duckdb: each lake's query
 * connection and its report snapshots), and when each may be detached.
 *
 * DuckDB's file lock is a POSIX lock, per process and per file, and closing any descriptor the
 * process has on a file drops every such lock the process holds on it. A DETACH closes DuckDB's
 * descriptor of the file: a report's snapshot detached while the query connection still had the
 * same file attached left that file unlocked, and another process could open it read-write under
 * the reader. So an attachment let go while another of the same file (inode) is in use stays
 * attached, unused, and goes with the last one; a new snapshot of that file takes it over.
 */
import fs from 'node:fs';
import { fileQueueKey, serialized } from './file-queue.js';

export interface SharedAttachment<T> {
  /** What the attacher keeps with it (its connection, its catalog name). */
  readonly value: T;
  /** Lets it go: detached now if no other attachment of the same file is in use, else once none is. `now`: detached at once in any case. */
  release(now?: boolean): Promise<void>;
}

interface Entry {
  value: unknown;
  /** The file's inodes around the ATTACH: two when a rename replaced it meanwhile (either may be the one attached). */
  inodes: number[];
  inUse: boolean;
  detach: () => Promise<void>;
}

const byFile = new Map<string, Entry[]>();

function inodeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

/**
 * Attaches `file` (read-only) through `attach`, which returns what to keep and how to detach it;
 * or, when an unused attachment of the file as it is now passes `reusable`, hands that one over.
 * Every attach and detach of the file in the process runs in one queue: a detach never closes a
 * descriptor while another attach of the file takes its lock.
 */
export function attachShared<T>(
  file: string,
  attach: () => Promise<{ value: T; detach: () => Promise<void> }>,
  reusable: (value: unknown) => boolean = () => false,
): Promise<SharedAttachment<T>> {
  const key = fileQueueKey(file);
  return serialized(`attachments:${key}`, async () => {
    const now = inodeOf(file);
    let entry = byFile.get(key)?.find((e) => !e.inUse && e.inodes.length === 1 && e.inodes[0] === now && reusable(e.value));
    if (entry) entry.inUse = true;
    else {
      const { value, detach } = await attach();
      const after = inodeOf(file);
      entry = { value, inodes: [...new Set([now, after])].filter((i): i is number => i !== undefined), inUse: true, detach };
      // The list as it is now: another lake's close (forgetShared, outside the queue) may have
      // replaced it during the attach, and an entry pushed to the old one was never counted.
      const entries = byFile.get(key) ?? [];
      byFile.set(key, entries);
      entries.push(entry);
    }
    const mine = entry;
    return {
      value: mine.value as T,
      release: (atOnce = false) =>
        serialized(`attachments:${key}`, async () => {
          mine.inUse = false;
          const all = byFile.get(key) ?? [];
          const read = all.filter((e) => e.inUse);
          const free = all.filter((e) => !e.inUse && ((e === mine && atOnce) || !read.some((r) => r.inodes.some((i) => e.inodes.includes(i)))));
          for (const e of free) all.splice(all.indexOf(e), 1);
          if (all.length === 0) byFile.delete(key);
          // Another's detach failing is not this caller's error: the engine may have closed under it.
          for (const e of free) await (e === mine ? e.detach() : e.detach().catch(() => undefined));
        }),
    };
  });
}

/** Forgets the attachments of `file` whose value passes `owned` (their engine is closing: they go with it). */
export function forgetShared(file: string, owned: (value: unknown) => boolean): void {
  const key = fileQueueKey(file);
  const all = byFile.get(key);
  if (!all) return;
  const kept = all.filter((e) => !owned(e.value));
  if (kept.length > 0) byFile.set(key, kept);
  else byFile.delete(key);
}
