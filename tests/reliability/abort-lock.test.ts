/**
 * an extract's abort signal (`lake.extract(sources, { signal })`, and the one `lake.close()`
 * fires: README "lake.close() stops what is running") while the source waits for its cursor's
 * cross-process lock (up to `lockTimeoutMillis`, default 30 s).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClosedError, Lakehouse, defineSource, z } from '../../src/index.js';
import { holdLock } from '../helpers/lock-holder.js';
import { modelsProject, prices } from '../helpers/models.js';
import { counterSource } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';


const source = counterSource('inc');

async function heldCursor(root: string): Promise<() => void> {
  // Another live process is running `inc/items` and holds its cursor's lock.
  return holdLock(path.join(root, 'state', 'cursors', 'inc.items.json.lock')).kill;
}

const within = <T>(p: Promise<T>, ms: number): Promise<boolean> =>
  Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('aborting an extract that waits for a cursor lock', () => {
  it('an aborted signal ends the extract promptly instead of after lockTimeoutMillis', async () => {
    const root = path.join(tempDir(), 'data');
    const release = await heldCursor(root);
    const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 25_000 });
    try {
      const controller = new AbortController();
      const extract = lake.extract(source, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 500));
      controller.abort(new Error('user cancelled'));
      expect(await within(extract, 5_000), 'the extract settled within 5 s of the abort').toBe(true);
      const result = await extract;
      expect(result.sources[0]!.status).toBe('failed');
      expect(result.sources[0]!.rows).toBe(0);
    } finally {
      release(); // the lock goes stale: whatever still waits takes it over
      await lake.close();
    }
  }, 60_000);

  it('lake.close() stops an extract waiting for a cursor lock instead of waiting out lockTimeoutMillis', async () => {
    const root = path.join(tempDir(), 'data');
    const release = await heldCursor(root);
    const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 25_000 });
    const extract = lake.extract(source);
    extract.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const closing = lake.close();
    try {
      expect(await within(closing, 5_000), 'close() returned within 5 s').toBe(true);
    } finally {
      release();
      await closing;
    }
  }, 60_000);
});

describe('aborting an extract that waits for a run of the same source in this process', () => {
  it('an aborted signal ends the waiting extract, and the next one in line still waits for the holder', async () => {
    const root = path.join(tempDir(), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      let finish!: () => void;
      const finished = new Promise<void>((r) => (finish = r));
      const reads: number[] = [];
      const slow = defineSource({
        source: 'inc',
        dataset: 'items',
        schema: z.object({ id: z.number() }),
        async *extract(ctx) {
          const from = Number((await ctx.cursor()) ?? 0);
          reads.push(from);
          if (reads.length === 1) await finished;
          yield [{ id: from + 1 }];
          ctx.checkpoint(from + 1);
        },
      });
      const first = lake.extract(slow);
      while (reads.length === 0) await new Promise((r) => setTimeout(r, 10));
      const controller = new AbortController();
      const aborted = lake.extract(slow, { signal: controller.signal });
      const third = lake.extract(slow);
      await new Promise((r) => setTimeout(r, 300));
      controller.abort(new Error('user cancelled'));
      expect(await within(aborted, 5_000), 'the aborted extract settled while the first still runs').toBe(true);
      expect((await aborted).sources[0]!.status).toBe('failed');
      expect(reads, 'the third waits for the first').toEqual([0]);
      finish();
      expect((await first).status).toBe('success');
      expect((await third).status).toBe('success');
      expect(reads).toEqual([0, 1]);
    } finally {
      await lake.close();
    }
  });
});

describe('lake.close() while a build, compaction or prune waits for another process\'s lock', () => {
  /** Starts `operation` while another live process holds `lockFile`, closes the lake once the run is recorded, and checks it stopped. */
  async function closeWhileWaiting(root: string, models: string, lockFile: string, kind: string, operation: (lake: Lakehouse) => Promise<unknown>): Promise<void> {
    const held = holdLock(lockFile);
    const lake = await Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: 120_000 });
    const running = operation(lake);
    running.catch(() => undefined);
    // The run is recorded as it starts, right before its lock is taken.
    while (!(await lake.runs()).some((r) => r.kind === kind && r.status === 'running')) await new Promise((r) => setTimeout(r, 20));
    const closing = lake.close();
    try {
      expect(await within(closing, 5_000), 'close() returned within 5 s, not after 30 s (or lockTimeoutMillis)').toBe(true);
      await expect(running).rejects.toBeInstanceOf(ClosedError);
    } finally {
      held.kill();
      await closing;
    }
    const again = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      expect((await again.runs()).find((r) => r.kind === kind)).toMatchObject({ status: 'failed', error: expect.stringMatching(/closed/) });
    } finally {
      await again.close();
    }
  }

  it('a build waiting for another build stops, recorded failed (was: close() waited 30 s, then the build failed on "instance closed")', async () => {
    const p = modelsProject({ 'marts/m.sql': 'select 1 as x' });
    await closeWhileWaiting(p.root, p.models, path.join(p.root, 'analytics.duckdb.lock'), 'build', (lake) => lake.build());
  }, 60_000);

  it('a compaction and a prune waiting for another compaction of their dataset stop, recorded failed', async () => {
    const p = modelsProject({});
    const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false } });
    await lake.extract([prices([['a', 'x', 1]])]);
    await lake.close();
    const lockFile = path.join(p.root, 'state', 'locks', 'bronze.shop.prices.lock');
    await closeWhileWaiting(p.root, p.models, lockFile, 'compact', (l) => l.compact({ source: 'shop', dataset: 'prices' }));
    await closeWhileWaiting(p.root, p.models, lockFile, 'prune', (l) => l.prune({ source: 'shop', dataset: 'prices', olderThan: '1d' }));
  }, 60_000);
});
