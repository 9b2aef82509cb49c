/**
 * While the lake has analytics.duckdb attached (the query connection, a report's snapshot), another
 * process cannot open it read-write: DuckDB's shared POSIX lock on it stays. Closing any descriptor
 * of a file drops every POSIX lock the process holds on it, so a second attachment of the same file
 * detached (a report's snapshot closing) dropped the lock of the one still in use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
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
    // Its attach under way: the query connection is made just before it. (No public event says so;
    // a fixed 500 ms let a slow engine open start the attach after the close, and the test passed
    // without the fix.)
    const attaching = (): boolean => (lake as unknown as { queryConnection?: unknown }).queryConnection !== undefined;
    while (!attaching()) await new Promise((resolve) => setTimeout(resolve, 5));
    await closing.close();
    await holder.release();
    expect(await query).toEqual([{ x: 1 }]);
    await snapshotClosesKeepingLock(lake, file);
  });
});

/**
 * This process's open descriptors of `file` (or of a file renamed away from its path). An engine
 * left open for another lake's reader is closed once the last reader goes: in the file's queue,
 * so shortly after the last close() returns.
 */
function descriptorsOf(file: string): string[] {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
    } catch {
      return false;
    }
  });
}

async function noDescriptorLeftOf(file: string): Promise<void> {
  await vi.waitFor(() => expect(descriptorsOf(file)).toEqual([]), { timeout: 5000, interval: 20 });
}

describe('analytics.duckdb lock, two lakes of one process on one root', () => {
  /** A built project, and `count` lakes of this process on its root, each with the file attached by a query. */
  async function lakesOnOneRoot(count: number): Promise<{ lakes: Lakehouse[]; file: string }> {
    const { lake: first, models, root } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    await first.build();
    const lakes = [first];
    for (let i = 1; i < count; i++) {
      const lake = await Lakehouse.open({ root, models, log: { console: false } });
      registerCleanup(() => lake.close());
      lakes.push(lake);
    }
    for (const lake of lakes) expect(await lake.query('select x from marts.m')).toEqual([{ x: 1 }]);
    return { lakes, file: path.join(root, 'analytics.duckdb') };
  }

  for (const [closedFirst, what] of [[0, "closing one lake keeps the other's lock; closing both lets it go"], [1, 'the lake opened second closing first keeps the first one’s lock; closing both lets it go']] as const) {
    it(what, async () => {
      const { lakes, file } = await lakesOnOneRoot(2);
      const [first, second] = [lakes[closedFirst]!, lakes[1 - closedFirst]!];
      await first.close();
      expect(await otherProcessFinds(file)).toBe('locked');
      expect(await second.query('select x from marts.m')).toEqual([{ x: 1 }]);
      await second.close();
      expect(await otherProcessFinds(file)).toBe('free');
      await noDescriptorLeftOf(file);
    });
  }

  it('three lakes: the lock stays until the last one closes', async () => {
    const { lakes: [a, b, c], file } = await lakesOnOneRoot(3);
    await b!.close();
    expect(await otherProcessFinds(file)).toBe('locked');
    await a!.close();
    expect(await otherProcessFinds(file)).toBe('locked');
    expect(await c!.query('select x from marts.m')).toEqual([{ x: 1 }]);
    await c!.close();
    expect(await otherProcessFinds(file)).toBe('free');
    await noDescriptorLeftOf(file);
  });

  it("a build in one lake while the other closes: the build publishes, the reader's lock stays, and goes with it", async () => {
    const { lakes: [a, b], file } = await lakesOnOneRoot(2);
    const build = b!.build({ fullRefresh: true });
    await a!.close();
    const result = await build;
    expect(result.status).toBe('success');
    // The build renamed a new file over the old one: b reads it (and locks it) at its next query.
    expect(await b!.query('select x from marts.m')).toEqual([{ x: 1 }]);
    expect(await otherProcessFinds(file)).toBe('locked');
    await b!.close();
    expect(await otherProcessFinds(file)).toBe('free');
    await noDescriptorLeftOf(file);
  });

  it('a lake closing while the other has a report snapshot open keeps the snapshot’s lock', async () => {
    const { lakes: [a, b], file } = await lakesOnOneRoot(2);
    const snapshot = await b!.catalogSnapshot();
    await a!.close();
    expect(await otherProcessFinds(file)).toBe('locked');
    expect(await snapshot.query('select x from marts.m')).toEqual([{ x: 1 }]);
    await snapshot.close();
    expect(await otherProcessFinds(file)).toBe('locked');
    await b!.close();
    expect(await otherProcessFinds(file)).toBe('free');
    await noDescriptorLeftOf(file);
  });
});

describe("lake.query reading the lake's own database files", () => {
  it("refuses to read analytics.duckdb as a file (read_blob, read_text, read_parquet, a glob): its lock stays", async () => {
    const { lake, root } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    await lake.build();
    const file = path.join(root, 'analytics.duckdb');
    expect(await lake.query('select x from marts.m')).toEqual([{ x: 1 }]);
    for (const sql of [
      `select size from read_blob('${file}')`,
      `select size from read_text('${file}')`,
      `select * from read_parquet('${file}')`,
      `select count(*) from read_blob('${root}/*.duckdb')`,
      `select * from query('select size from read_blob(''${file}'')')`,
    ]) {
      const error = await lake.query(sql).catch((e: unknown) => e);
      // Reading the file closed this process's descriptor of it: the lock on it went with it.
      expect(await otherProcessFinds(file), sql).toBe('locked');
      expect(error, sql).toMatchObject({ code: 'QUERY_READS_LAKE_DATABASE', message: expect.stringContaining(file) });
    }
    expect(await lake.query('select x from marts.m')).toEqual([{ x: 1 }]);
  });

  it('refuses to read metrics/runs.duckdb as a file, also through a relative path or a symbolic link; other files still read', async () => {
    const { lake, root } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    await lake.build();
    const runs = path.join(root, 'metrics', 'runs.duckdb');
    const link = path.join(root, 'link.bin');
    fs.symlinkSync(runs, link);
    for (const sql of [`select size from read_blob('${runs}')`, `select size from read_blob('${path.relative(process.cwd(), runs)}')`, `select size from read_blob('${link}')`]) {
      await expect(lake.query(sql), sql).rejects.toMatchObject({ code: 'QUERY_READS_LAKE_DATABASE', message: expect.stringContaining(runs) });
    }
    const other = path.join(root, 'other.txt');
    fs.writeFileSync(other, 'hello');
    expect(await lake.query(`select content from read_text('${other}')`)).toEqual([{ content: 'hello' }]);
    expect(await lake.query(`select 'analytics.duckdb' as s`)).toEqual([{ s: 'analytics.duckdb' }]);
    // A name in quotes or in a comment is no path read; a dollar-quoted one is.
    expect(await lake.query(`select 1 as "${runs}" -- read_blob('${runs}')`)).toEqual([{ [runs]: 1 }]);
    await expect(lake.query(`select size from read_blob($$${runs}$$)`)).rejects.toMatchObject({ code: 'QUERY_READS_LAKE_DATABASE' });
    // Named by a parameter, as one or in a list.
    await expect(lake.query('select size from read_blob($1)', [runs])).rejects.toMatchObject({ code: 'QUERY_READS_LAKE_DATABASE' });
    await expect(lake.query('select size from read_blob($files)', { files: [other, runs] })).rejects.toMatchObject({ code: 'QUERY_READS_LAKE_DATABASE' });
    expect(await lake.query('select content from read_text($1)', [other])).toEqual([{ content: 'hello' }]);
  });
});
