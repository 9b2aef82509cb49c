/**
 * the incremental cursor's lock. DESIGN (State): cursors are "written tmp-then-rename under
 * a cross-process lock file, so two processes never use the same cursor ... at once", and "a
 * cursor advances only after the bronze files holding its records are committed".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, defineSource, z } from '../../src/index.js';
import { newRunId } from '../../src/run-id.js';
import { holdLock } from '../helpers/lock-holder.js';
import { tempDir } from '../helpers/temp-lake.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Three batches of ten ids after the cursor; `onCursor` is told the cursor it read. */
function counter(onCursor: (from: number) => void = () => undefined, delayMs = 100) {
  return defineSource({
    source: 'inc',
    dataset: 'items',
    schema: z.object({ id: z.number() }),
    limits: { flushRows: 10 },
    async *extract(ctx) {
      const from = Number((await ctx.cursor()) ?? 0);
      onCursor(from);
      for (let b = 0; b < 3; b++) {
        yield Array.from({ length: 10 }, (_, i) => ({ id: from + b * 10 + i + 1 }));
        ctx.checkpoint(from + (b + 1) * 10);
        await sleep(delayMs);
      }
    },
  });
}

const cursorFile = (root: string): string => path.join(root, 'state', 'cursors', 'inc.items.json');
const savedCursor = (root: string): unknown => (JSON.parse(fs.readFileSync(cursorFile(root), 'utf8')) as { cursor: unknown }).cursor;

describe('the cursor lock inside one lake', () => {
  it('a second extract of the same incremental source on the same lake waits for the first instead of reading the same cursor', async () => {
    const root = path.join(tempDir(), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const reads: number[] = [];
      let firstRead!: () => void;
      const firstHasCursor = new Promise<void>((r) => (firstRead = r));
      const first = lake.extract(counter((from) => {
        reads.push(from);
        firstRead();
      }));
      await firstHasCursor;
      // The first run holds the cursor (and its lock) now; a second run of the same source starts.
      const second = lake.extract(counter((from) => reads.push(from)));
      const results = await Promise.all([first, second]);
      for (const r of results) expect(r.status).toBe('success');
      // The second run must start from where the first one stopped, not from the same cursor.
      expect(reads).toEqual([0, 30]);
      const [counts] = await lake.query(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM read_parquet('${root}/bronze/inc/items/**/*.parquet')`);
      expect(counts, 'no id extracted twice').toEqual({ n: 60, ids: 60 });
      expect(savedCursor(root)).toBe(60);
    } finally {
      await lake.close();
    }
  });
});

describe('recovery of a dead process and the cursor', () => {
  it("rolling forward a dead process's commit does not move back a cursor a later run already advanced", async () => {
    const root = path.join(tempDir(), 'data');
    // A long-lived process (say a service) has the lake open.
    const service = await Lakehouse.open({ root, log: { console: false } });
    try {
      // Another process extracting `inc/items` from no cursor is SIGKILLed after writing the commit
      // manifest of its first batch (cursor 10) and before removing it: what it leaves behind.
      const deadPid = 4_194_305; // 2^22 + 1: no such process on Linux
      const deadDir = path.join(root, '.tmp', `p${deadPid}-12345`);
      fs.mkdirSync(deadDir, { recursive: true });
      fs.writeFileSync(path.join(deadDir, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: deadPid, procStart: '12345' }));
      const deadRun = newRunId(new Date(Date.now() - 60_000));
      fs.writeFileSync(
        path.join(deadDir, 'b1.commit.json'),
        JSON.stringify({ batch: { runId: deadRun, source: 'inc', dataset: 'items', batchNo: 1, rows: 0, rejected: 0, cursor: 10, files: [] }, moves: [] }),
      );

      // The service runs the source next: the dead process's lock is taken over, it reads no cursor
      // (the dead batch never saved one), extracts ids 1..30 and saves cursor 30.
      expect((await service.extract(counter(() => undefined, 0))).status).toBe('success');
      expect(savedCursor(root)).toBe(30);

      // Any other process opening the lake now (a cron job, `duckhouse runs`…) recovers the dead folder.
      const other = await Lakehouse.open({ root, log: { console: false } });
      await other.close();
      expect(fs.existsSync(deadDir), 'the dead folder was recovered').toBe(false);
      // The cursor must not go back to 10: the next run would extract ids 11..30 a second time.
      expect(savedCursor(root)).toBe(30);
    } finally {
      await service.close();
    }
  });

  /** A dead process's folder holding the commit manifest (written `minutesAgo`) of a batch with `cursor`. */
  function deadCommit(root: string, pid: number, runId: string, cursor: number, minutesAgo: number): string {
    const deadDir = path.join(root, '.tmp', `p${pid}-12345`);
    fs.mkdirSync(deadDir, { recursive: true });
    fs.writeFileSync(path.join(deadDir, 'owner.json'), JSON.stringify({ host: os.hostname(), pid, procStart: '12345' }));
    const manifest = path.join(deadDir, 'b1.commit.json');
    fs.writeFileSync(manifest, JSON.stringify({ batch: { runId, source: 'inc', dataset: 'items', batchNo: 1, rows: 0, rejected: 0, cursor, files: [] }, moves: [] }));
    const at = new Date(Date.now() - minutesAgo * 60_000);
    fs.utimesSync(manifest, at, at);
    return deadDir;
  }

  const saveCursor = (root: string, cursor: number, runId: string, savedAt: Date): void => {
    fs.mkdirSync(path.dirname(cursorFile(root)), { recursive: true });
    fs.writeFileSync(cursorFile(root), JSON.stringify({ cursor, runId, savedAt: savedAt.toISOString() }));
  };

  it("saves a dead process's cursor over one saved before its commit, and keeps one saved after it even by a run that started earlier", async () => {
    const now = Date.now();
    // Saved 10 minutes ago by an earlier run; the dead run committed cursor 10 a minute ago.
    const before = path.join(tempDir(), 'data');
    saveCursor(before, 5, newRunId(new Date(now - 20 * 60_000)), new Date(now - 10 * 60_000));
    deadCommit(before, 4_194_305, newRunId(new Date(now - 5 * 60_000)), 10, 1);
    await (await Lakehouse.open({ root: before, log: { console: false } })).close();
    expect(savedCursor(before)).toBe(10);

    // A run that started 20 minutes ago reached the source after the dead one died and saved 30 just now.
    const after = path.join(tempDir(), 'data');
    saveCursor(after, 30, newRunId(new Date(now - 20 * 60_000)), new Date(now));
    deadCommit(after, 4_194_305, newRunId(new Date(now - 5 * 60_000)), 10, 1);
    await (await Lakehouse.open({ root: after, log: { console: false } })).close();
    expect(savedCursor(after)).toBe(30);
  });

  it('rolling forward two dead folders of one cursor keeps the later commit, in either order', async () => {
    // Both ways round, so each order the folders are listed in is met.
    for (const [earlier, later] of [[4_194_305, 4_194_307], [4_194_307, 4_194_305]] as const) {
      const root = path.join(tempDir(), 'data');
      const now = Date.now();
      deadCommit(root, earlier, newRunId(new Date(now - 9 * 60_000)), 10, 8);
      deadCommit(root, later, newRunId(new Date(now - 7 * 60_000)), 20, 6);
      await (await Lakehouse.open({ root, log: { console: false } })).close();
      expect(savedCursor(root)).toBe(20);
    }
  });

  it("leaves the cursor to a live process holding its lock, without waiting for it", async () => {
    const root = path.join(tempDir(), 'data');
    const now = Date.now();
    saveCursor(root, 5, newRunId(new Date(now - 20 * 60_000)), new Date(now - 10 * 60_000));
    deadCommit(root, 4_194_305, newRunId(new Date(now - 5 * 60_000)), 10, 1);
    // A live process took the cursor after the dead one died: it saves a cursor of its own.
    const { holder } = holdLock(`${cursorFile(root)}.lock`);
    try {
      const started = Date.now();
      await (await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 20_000 })).close();
      expect(Date.now() - started, 'open did not wait for the lock').toBeLessThan(10_000);
      expect(savedCursor(root)).toBe(5);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a live holder that releases the cursor without saving one: the next run reads on from the batch rolled forward, not from before it', async () => {
    const root = path.join(tempDir(), 'data');
    const now = Date.now();
    saveCursor(root, 5, newRunId(new Date(now - 20 * 60_000)), new Date(now - 10 * 60_000));
    deadCommit(root, 4_194_305, newRunId(new Date(now - 5 * 60_000)), 10, 1);
    // A process holds the cursor's lock at the instant the lake is opened (a run that then fails
    // before its first checkpoint, say), and ends without saving a cursor.
    const { kill } = holdLock(`${cursorFile(root)}.lock`);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      kill();
      const reads: number[] = [];
      expect((await lake.extract(counter((from) => reads.push(from), 0))).status).toBe('success');
      // From 5 it would extract ids 6..10 a second time: the dead batch committed them.
      expect(reads).toEqual([10]);
      expect(savedCursor(root)).toBe(40);
    } finally {
      await lake.close();
    }
  });

  it('a live holder that saves its own cursor after the dead batch keeps it: the deferred roll-forward does not move it back', async () => {
    const root = path.join(tempDir(), 'data');
    const now = Date.now();
    saveCursor(root, 5, newRunId(new Date(now - 20 * 60_000)), new Date(now - 10 * 60_000));
    deadCommit(root, 4_194_305, newRunId(new Date(now - 5 * 60_000)), 10, 1);
    const { kill } = holdLock(`${cursorFile(root)}.lock`);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      // The holder took the cursor after the dead process, extracted on and saved 25.
      saveCursor(root, 25, newRunId(new Date(now - 2 * 60_000)), new Date());
      kill();
      const reads: number[] = [];
      expect((await lake.extract(counter((from) => reads.push(from), 0))).status).toBe('success');
      expect(reads).toEqual([25]);
      expect(savedCursor(root)).toBe(55);
    } finally {
      await lake.close();
    }
  });
});
