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
 * Closing an engine closes its descriptors too: a lake closing while another lake of the process
 * reads the same file leaves its engine open, unused, until that file is read no more (closeShared).
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
  /** Whose engine holds the attachment (a lake): closeShared finds them by it. */
  owner: object;
  value: unknown;
  /** The file's inodes around the ATTACH: two when a rename replaced it meanwhile (either may be the one attached). */
  inodes: number[];
  /** Read now, or being attached (then `value` is not set yet). */
  inUse: boolean;
  detach: () => Promise<void>;
}

const shares = (a: Entry, b: Entry): boolean => a.inodes.some((i) => b.inodes.includes(i));

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
  owner: object,
  attach: () => Promise<{ value: T; detach: () => Promise<void> }>,
  reusable: (value: unknown) => boolean = () => false,
): Promise<SharedAttachment<T>> {
  const key = fileQueueKey(file);
  return serialized(`attachments:${key}`, async () => {
    const now = inodeOf(file);
    let entry = byFile.get(key)?.find((e) => !e.inUse && e.owner === owner && e.inodes.length === 1 && e.inodes[0] === now && reusable(e.value));
    if (entry) entry.inUse = true;
    else {
      // Counted from before the ATTACH: a close of another lake meanwhile (closeShared, outside the
      // queue) must see that this attachment may hold the file's lock.
      const pending: Entry = { owner, value: undefined, inodes: now === undefined ? [] : [now], inUse: true, detach: () => Promise.resolve() };
      listOf(key).push(pending);
      try {
        const { value, detach } = await attach();
        const after = inodeOf(file);
        Object.assign(pending, { value, detach, inodes: [...new Set([now, after])].filter((i): i is number => i !== undefined) });
      } catch (error) {
        drop(key, [pending]);
        await sweep(key);
        throw error;
      }
      entry = pending;
    }
    const mine = entry;
    return {
      value: mine.value as T,
      release: (atOnce = false) =>
        serialized(`attachments:${key}`, async () => {
          mine.inUse = false;
          await sweep(key, atOnce ? mine : undefined);
        }),
    };
  });
}

function listOf(key: string): Entry[] {
  let all = byFile.get(key);
  if (!all) byFile.set(key, (all = []));
  return all;
}

function drop(key: string, gone: Entry[]): void {
  const kept = (byFile.get(key) ?? []).filter((e) => !gone.includes(e));
  if (kept.length > 0) byFile.set(key, kept);
  else byFile.delete(key);
}

/** Detaches (in the file's queue) the unused attachments no attachment in use shares a file with, and `atOnce` in any case. */
async function sweep(key: string, atOnce?: Entry): Promise<void> {
  const all = byFile.get(key) ?? [];
  const read = all.filter((e) => e.inUse);
  const free = all.filter((e) => !e.inUse && (e === atOnce || !read.some((r) => shares(r, e))));
  drop(key, free);
  // Another's detach failing is not this caller's error: the engine may have closed under it.
  for (const e of free) await (e === atOnce ? e.detach() : e.detach().catch(() => undefined));
}

/**
 * `owner`'s engine is closing, and its attachments of `file` with it. Returns true when `close`
 * (which closes that engine) may run now: then the caller runs it. Returns false while another
 * owner's attachment in use (or being attached) shares the file: closing the engine would drop
 * that one's lock, so `close` runs once no attachment in use does (the last one's release).
 */
export function closeShared(file: string, owner: object, close: () => void): boolean {
  const key = fileQueueKey(file);
  const all = byFile.get(key) ?? [];
  const mine = all.filter((e) => e.owner === owner);
  drop(key, mine);
  if (mine.length === 0) return true;
  const parked: Entry = { owner, value: undefined, inodes: [...new Set(mine.flatMap((e) => e.inodes))], inUse: false, detach: async () => close() };
  if (all.some((e) => e.owner !== owner && e.inUse && shares(e, parked))) {
    listOf(key).push(parked);
    return false;
  }
  // The file is read by no one else: the other owners' unused attachments of it lose their lock
  // with this engine, so they go too (in the queue, where nothing attaches it meanwhile).
  void serialized(`attachments:${key}`, () => sweep(key)).catch(() => undefined);
  return true;
}
