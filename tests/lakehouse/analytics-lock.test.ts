/**
 * While the lake has analytics.duckdb attached (the query connection, a report's snapshot), another
 * process cannot open it read-write: DuckDB's shared POSIX lock on it stays. Closing any descriptor
 * of a file drops every POSIX lock the process holds on it, so a second attachment of the same file
 * detached (a report's snapshot closing) dropped the lock of the one still in use.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { spawnHelper } from '../helpers/child.js';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { projectLake } from '../helpers/models.js';
import { registerCleanup } from '../helpers/temp-lake.js';

/** What another process finds when it opens `file` read-write: `free` or `locked`. */
async function otherProcessFinds(file: string): Promise<string> {
  const child = spawnHelper('child-try-open.ts', [file]);
  await child.exited;
  expect(child.lines).toHaveLength(1);
  return child.lines[0]!;
}

/**
 * With the lake's query connection attached to `file` (locked), a report snapshot reads and closes:
 * the query connection still has the file attached, so its lock stays, and it still reads.
 */
async function snapshotClosesKeepingLock(lake: Lakehouse, file: string): Promise<void> {
  expect(await otherProcessFinds(file)).toBe('locked');
  const snapshot = await lake.catalogSnapshot();
  expect(await snapshot.query('select x from marts.m')).toEqual([{ x: 1 }]);
  await snapshot.close();
  expect(await otherProcessFinds(file)).toBe('locked');
  expect(await lake.query('select x from marts.m')).toEqual([{ x: 1 }]);
}

describe('analytics.duckdb lock', () => {
  it("a report snapshot's close keeps the lock of the query connection's attachment of the same file", async () => {
    const { lake, root } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    await lake.build();
    const file = path.join(root, 'analytics.duckdb');
    expect(await lake.query('select x from marts.m')).toEqual([{ x: 1 }]);
    await snapshotClosesKeepingLock(lake, file);
    await lake.close();
    expect(await otherProcessFinds(file)).toBe('free');
  });

  it('a snapshot still reading keeps its lock when another snapshot of the same file closes; the last one lets it go', async () => {
    const { lake, root } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    await lake.build();
    const file = path.join(root, 'analytics.duckdb');
    const first = await lake.catalogSnapshot();
    const second = await lake.catalogSnapshot();
    expect(await second.query('select x from marts.m')).toEqual([{ x: 1 }]);
    await second.close();
    expect(await otherProcessFinds(file)).toBe('locked');
    expect(await first.query('select x from marts.m')).toEqual([{ x: 1 }]);
    await first.close();
    // Nothing of the lake reads it any more: the file is not held past its readers.
    expect(await otherProcessFinds(file)).toBe('free');
  });

  it("another lake of the process on the same root closing while this one's query attaches the file leaves that attachment counted: a snapshot's close keeps its lock", async () => {
    const { lake: closing, models, root } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    await closing.build();
    const file = path.join(root, 'analytics.duckdb');
    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    registerCleanup(() => lake.close());
    // Another process holds the file: the query's attach waits for it, in the process's queue of attachments.
    const holder = await holdDuckDbFile(file);
    const query = lake.query('select x from marts.m');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await closing.close();
    await holder.release();
    expect(await query).toEqual([{ x: 1 }]);
    await snapshotClosesKeepingLock(lake, file);
  });
});
