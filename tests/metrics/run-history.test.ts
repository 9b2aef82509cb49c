import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, LockError, defineSource, runHistory, z } from '../../src/index.js';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { registerCleanup, tempDir, tempLake } from '../helpers/temp-lake.js';

const items = (fail = false) =>
  defineSource({
    source: 'hist',
    dataset: 'items',
    schema: z.object({ id: z.number() }),
    extract: async function* () {
      yield [{ id: 1 }, { id: 2 }];
      if (fail) throw new Error('upstream went away');
    },
  });

describe('runHistory (the light reader behind `duckhouse runs`)', () => {
  it('is empty for a lake that has no metrics database, and creates nothing', async () => {
    const root = path.join(tempDir(), 'data');
    expect(await runHistory({ root })).toEqual([]);
    expect(fs.existsSync(root)).toBe(false);
  });

  it('gives the same runs as lake.runs(), newest first, with the limit', async () => {
    const lake = await tempLake();
    const ok = await lake.extract(items());
    const partial = await lake.extract(items(true));
    const third = await lake.extract(items());
    const history = await runHistory({ root: lake.paths.root });
    expect(history.map((r) => r.runId)).toEqual([third.runId, partial.runId, ok.runId]);
    expect(history).toEqual(await lake.runs());
    expect(history[1]).toMatchObject({ kind: 'extract', status: 'partial', rows: 2, error: expect.stringMatching(/upstream went away/) });
    expect(history[2]!.startedAt).toBeInstanceOf(Date);
    expect(history[2]!.finishedAt!.getTime()).toBeGreaterThanOrEqual(history[2]!.startedAt.getTime());
    expect(history[2]!.result).toMatchObject({ runId: ok.runId, status: 'success' });
    expect((await runHistory({ root: lake.paths.root, limit: 1 })).map((r) => r.runId)).toEqual([third.runId]);
    const light = await runHistory({ root: lake.paths.root, results: false });
    expect(light.map((r) => r.result)).toEqual([null, null, null]);
    expect(light.map(({ result: _r, ...rest }) => rest)).toEqual(history.map(({ result: _r, ...rest }) => rest));
  });

  it('reads a running run whose process died as abandoned, without writing it', async () => {
    const lake = await tempLake();
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    await lake.metrics.transaction((c) =>
      c.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ('r-dead', 'extract', 'running', now(), $1, $2, 'x')`, [os.hostname(), pid]),
    );
    const [run] = await runHistory({ root: lake.paths.root });
    expect(run).toMatchObject({ runId: 'r-dead', status: 'abandoned', error: 'the process running it died before it finished' });
    const stored = await lake.metrics.select(`SELECT status FROM runs WHERE run_id = 'r-dead'`);
    expect(stored).toEqual([{ status: 'running' }]);
  });

  it('reads a running run whose process was killed but never reaped (a zombie, under a parent that never waits) as abandoned', async () => {
    const root = path.join(tempDir(), 'data');
    const file = path.join(root, 'metrics', 'runs.duckdb');
    const runId = '20261205T120000000Z-zzzzzz';
    const helper = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'child-start-run.ts');
    // The writer's parent execs `sleep`, which never waits for it: once the writer kills itself, it stays a zombie.
    const parent = spawn('sh', ['-c', `"${process.execPath}" --import tsx "${helper}" "${file}" ${runId} & exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
    registerCleanup(() => void parent.kill('SIGKILL'));
    await new Promise<void>((resolve) => parent.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
    const stat = (pid: string): string => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return '';
      }
    };
    const writer = fs.readdirSync('/proc').find((p) => /^\d+$/.test(p) && stat(p).slice(stat(p).lastIndexOf(')') + 2).split(' ')[1] === String(parent.pid))!;
    for (let i = 0; i < 100 && !stat(writer).includes(') Z '); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stat(writer)).toContain(') Z ');
    const [run] = await runHistory({ root });
    expect(run).toMatchObject({ runId, status: 'abandoned', error: 'the process running it died before it finished' });
  }, 60_000);

  it('reads a dead run of a metrics file from the first versions (no model_builds, no test_results yet) without opening it', async () => {
    const root = path.join(tempDir(), 'data');
    const file = path.join(root, 'metrics', 'runs.duckdb');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const { METRICS_DDL } = await import('../../src/metrics/schema.js');
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    for (const ddl of METRICS_DDL.filter((d) => /TABLE IF NOT EXISTS (runs|source_batches|bronze_files|source_results) /.test(d))) await c.run(ddl);
    const pid = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
    await c.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ('r-first', 'extract', 'running', TIMESTAMPTZ '2026-01-10 08:00:00+00', $1, $2, 'x')`, [os.hostname(), pid]);
    await c.run(`INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, committed_at) VALUES ('r-first', 'hist', 'items', 0, 10, 0, 1, 100, TIMESTAMPTZ '2026-01-10 08:00:05+00')`);
    c.closeSync();
    db.closeSync();
    const [run] = await runHistory({ root });
    expect(run).toMatchObject({ runId: 'r-first', status: 'abandoned', rows: 10, files: 1, durationMs: 5_000 });
  });

  it('waits for a process holding the file, and says so with a LockError past the timeout', async () => {
    const lake = await tempLake();
    await lake.extract(items());
    const file = lake.paths.metrics;
    // Held until the short wait has failed, then let go while the long one waits: a hold for a fixed
    // 1.5 s could end before the short wait even began on a busy machine (it then read the runs).
    const holder = await holdDuckDbFile(file);
    await expect(runHistory({ root: lake.paths.root, lockTimeoutMillis: 200 })).rejects.toBeInstanceOf(LockError);
    const waiting = runHistory({ root: lake.paths.root, lockTimeoutMillis: 20_000 });
    expect(await Promise.race([waiting.then(() => 'read'), new Promise((r) => setTimeout(() => r('waiting'), 300))])).toBe('waiting');
    await holder.release();
    expect(await waiting).toHaveLength(1);
  });

  it('results: false leaves result null for a run of an older metrics file that still keeps its result in the row', async () => {
    const lake = await tempLake();
    // As versions before results/<yyyymm>/<runId>.json stored it (moved out when a lake opens the file).
    await lake.metrics.transaction((c) =>
      c.run(`INSERT INTO runs (run_id, kind, status, started_at, finished_at, result) VALUES ('r-old', 'extract', 'success', now(), now(), '{"runId":"r-old","status":"success"}')`),
    );
    const [light] = await runHistory({ root: lake.paths.root, results: false });
    expect(light).toMatchObject({ runId: 'r-old', result: null });
    const [full] = await runHistory({ root: lake.paths.root });
    expect(full!.result).toEqual({ runId: 'r-old', status: 'success' });
  });

  it('names a bad option', async () => {
    await expect(runHistory({ root: tempDir(), limit: 0 })).rejects.toThrow(ConfigError);
    await expect(runHistory({ root: tempDir(), limit: 0 })).rejects.toThrow(/option "limit" must be a positive integer \(got 0\)/);
    await expect(runHistory({ root: tempDir(), lockTimeoutMillis: -5 })).rejects.toThrow(/option "lockTimeoutMillis" must be a positive integer \(got -5\)/);
    // Was a TypeError from path.resolve naming "paths[0]"; '' read the history of the working directory.
    for (const root of [5, '', false]) {
      const error = (await runHistory({ root: root as never }).catch((e: unknown) => e)) as Error;
      expect(error, String(root)).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(`runHistory: option "root" must be a non-empty string (got ${JSON.stringify(root)})`);
    }
    // Was taken as true: each run's result file read, though the caller asked for none.
    await expect(runHistory({ root: tempDir(), results: 'no' as never })).rejects.toThrow('runHistory: option "results" must be true or false (got "no")');
  });

  it('names a misspelt option and the closest known one, as lake.runs() does, instead of ignoring it', async () => {
    const lake = await tempLake();
    for (let i = 0; i < 3; i++) await lake.extract([defineSource({ source: 'obs', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => [[{ id: i }]] })]);
    await expect(lake.runs({ limt: 1 } as never)).rejects.toThrow(/unknown option "limt"/);
    // Observed: 3 runs (the default limit, 20), each with its result read, the misspelt keys ignored.
    await expect(runHistory({ root: lake.paths.root, limt: 1 } as never)).rejects.toThrow(ConfigError);
    await expect(runHistory({ root: lake.paths.root, limt: 1 } as never)).rejects.toThrow(/runHistory: unknown option "limt" — did you mean limit\?/);
    await expect(runHistory({ root: lake.paths.root, result: false } as never)).rejects.toThrow(/unknown option "result" — did you mean results\?/);
    await expect(runHistory(null as never)).rejects.toThrow(/runHistory: options must be an object/);
    expect(await runHistory({ root: lake.paths.root, limit: 1 })).toHaveLength(1);
  });
});

describe('runHistory on a killed extract', () => {
  it('reports the rows of its committed batches, as the next Lakehouse.open records them', async () => {
    const { spawnHelper } = await import('../helpers/child.js');
    const { Lakehouse } = await import('../../src/index.js');
    const root = path.join(tempDir(), 'data');
    const child = spawnHelper('child-extract.ts', [root, 'crash', '1000', '500', '20']);
    await child.waitFor((l) => l.includes('"yielded":4'));
    await new Promise((r) => setTimeout(r, 300));
    child.process.kill('SIGKILL');
    await child.exited;
    const [before] = await runHistory({ root, limit: 1 });
    expect(before!.status).toBe('abandoned');
    // What its committed batches hold, read straight from the file.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(path.join(root, 'metrics', 'runs.duckdb'), { access_mode: 'READ_ONLY' });
    const c = await db.connect();
    const committed = (await c.runAndReadAll(`SELECT coalesce(sum(rows), 0)::INTEGER AS rows, coalesce(sum(files), 0)::INTEGER AS files FROM source_batches WHERE run_id = '${before!.runId}'`)).getRowObjectsJS()[0]!;
    c.closeSync();
    db.closeSync();
    expect(committed.rows).toBeGreaterThan(0);
    expect({ rows: before!.rows, files: before!.files }).toEqual(committed);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    const [after] = await lake.runs({ limit: 1 });
    await lake.close();
    expect(after!.status).toBe('abandoned');
    // The same, unless the kill caught a batch past its commit point: open rolls it forward first.
    expect((after!.rows - before!.rows) % 500).toBe(0);
    expect(after!.rows - before!.rows).toBeLessThanOrEqual(500);
    expect(after!.rows).toBeGreaterThanOrEqual(before!.rows);
  }, 60_000);
});

describe('an abandoned run, as the next Lakehouse.open records it', () => {
  it('ends at its last recorded activity, not when the next process noticed it', async () => {
    const { Lakehouse } = await import('../../src/index.js');
    const lake = await tempLake();
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    await lake.metrics.transaction(async (c) => {
      await c.run(
        `INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start)
         VALUES ('r-old', 'extract', 'running', TIMESTAMPTZ '2026-01-10 08:00:00+00', $1, $2, 'x'),
                ('r-quiet', 'build', 'running', TIMESTAMPTZ '2026-01-11 08:00:00+00', $1, $2, 'x')`,
        [os.hostname(), pid],
      );
      await c.run(
        `INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, committed_at)
         VALUES ('r-old', 'hist', 'items', 0, 10, 0, 1, 100, TIMESTAMPTZ '2026-01-10 08:02:00+00'),
                ('r-old', 'hist', 'items', 1, 5, 1, 1, 80, TIMESTAMPTZ '2026-01-10 08:05:30+00')`,
      );
    });
    const root = lake.paths.root;
    await lake.close();
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    const runs = await reopened.runs();
    await reopened.close();
    const old = runs.find((r) => r.runId === 'r-old')!;
    expect(old).toMatchObject({ status: 'abandoned', rows: 15, rejected: 1, durationMs: 330_000 });
    expect(old.finishedAt!.toISOString()).toBe('2026-01-10T08:05:30.000Z');
    // Nothing recorded after its start: it ends where it started.
    const quiet = runs.find((r) => r.runId === 'r-quiet')!;
    expect(quiet).toMatchObject({ status: 'abandoned', durationMs: 0 });
    expect(quiet.finishedAt!.toISOString()).toBe('2026-01-11T08:00:00.000Z');
  });

  it('reads the same through runHistory before that open: a dead lake.run() pipeline counts its extract\'s batches, and both end at their last activity', async () => {
    const { Lakehouse } = await import('../../src/index.js');
    const lake = await tempLake();
    const pid = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
    await lake.metrics.transaction(async (c) => {
      await c.run(
        `INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start)
         VALUES ('r-pipe', 'run', 'running', TIMESTAMPTZ '2026-01-10 08:00:00+00', $1, $2, 'x'),
                ('r-ext', 'extract', 'running', TIMESTAMPTZ '2026-01-10 08:00:01+00', $1, $2, 'x')`,
        [os.hostname(), pid],
      );
      await c.run(
        `INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, committed_at)
         VALUES ('r-ext', 'hist', 'items', 0, 10, 2, 1, 100, TIMESTAMPTZ '2026-01-10 08:02:00+00'),
                ('r-ext', 'hist', 'items', 1, 5, 1, 1, 80, TIMESTAMPTZ '2026-01-10 08:05:30+00')`,
      );
    });
    // What lake.run() stores when its extract starts.
    lake.metrics.savePartialResult('r-pipe', { runId: 'r-pipe', extract: 'r-ext', build: null });
    const root = lake.paths.root;
    const before = await runHistory({ root, results: false });
    await lake.close();
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    const after = await reopened.runs();
    await reopened.close();
    const pick = (runs: typeof after, id: string) => {
      const { result: _result, ...rest } = runs.find((r) => r.runId === id)!;
      return rest;
    };
    expect(pick(after, 'r-pipe')).toMatchObject({ status: 'abandoned', rows: 15, rejected: 3, files: 2, bytes: 180, durationMs: 330_000 });
    expect(pick(after, 'r-ext')).toMatchObject({ status: 'abandoned', rows: 15, durationMs: 329_000 });
    expect(pick(before, 'r-pipe')).toEqual(pick(after, 'r-pipe'));
    expect(pick(before, 'r-ext')).toEqual(pick(after, 'r-ext'));
  });
});

describe('a running run recorded by another host (a container recreated with a new hostname on the same volume)', () => {
  const foreign = async (root: string, runs: [runId: string, startedHoursAgo: number, batchHoursAgo: number | null][]) => {
    const { MetricsDb } = await import('../../src/metrics/metrics-db.js');
    const metrics = new MetricsDb(path.join(root, 'metrics', 'runs.duckdb'), 5_000);
    // As the old container wrote them: its hostname, a pid that may well be alive here.
    await metrics.transaction(async (c) => {
      for (const [runId, started, batch] of runs) {
        await c.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ($1, 'extract', 'running', now() - to_milliseconds(CAST($2 * 3600000 AS BIGINT)), 'old-container-7f3a', 1, '42')`, [runId, started]);
        if (batch !== null) {
          await c.run(
            `INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, committed_at) VALUES ($1, 'hist', 'items', 1, 10, 1, 1, 100, now() - to_milliseconds(CAST($2 * 3600000 AS BIGINT)))`,
            [runId, batch],
          );
        }
      }
    });
    await metrics.close();
  };

  it('reads as abandoned once it has recorded nothing for otherHostAbandonHours (default 24), in runHistory and at the next open, and its batches become visible', async () => {
    const { Lakehouse } = await import('../../src/index.js');
    const root = path.join(tempDir(), 'data');
    // Killed two days ago with one batch committed; one started 30 h ago but still committing an hour ago.
    await foreign(root, [
      ['20260101T000000000Z-killed', 48, 47],
      ['20260101T000001000Z-active', 30, 1],
    ]);
    const read = await runHistory({ root, results: false });
    // Observed: both `running` forever (isAlive assumed a run of another host alive).
    expect(read.find((r) => r.runId === '20260101T000000000Z-killed')).toMatchObject({ status: 'abandoned', rows: 10, rejected: 1, error: 'the process running it died before it finished' });
    expect(read.find((r) => r.runId === '20260101T000001000Z-active')).toMatchObject({ status: 'running' });
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const runs = await lake.runs();
      expect(runs.find((r) => r.runId === '20260101T000000000Z-killed')).toMatchObject({ status: 'abandoned', rows: 10, rejected: 1, durationMs: 3_600_000 });
      expect(runs.find((r) => r.runId === '20260101T000001000Z-active')).toMatchObject({ status: 'running' });
      const stored = await lake.metrics.select(`SELECT run_id, status FROM runs ORDER BY run_id`);
      expect(stored).toEqual([
        { run_id: '20260101T000000000Z-killed', status: 'abandoned' },
        { run_id: '20260101T000001000Z-active', status: 'running' },
      ]);
      expect([...((await lake.metrics.bronzeVisibility()).running ?? [])]).toEqual(['20260101T000001000Z-active']);
    } finally {
      await lake.close();
    }
  });

  it('otherHostAbandonHours sets the quiet time, and a bad value is a ConfigError naming it', async () => {
    const { Lakehouse } = await import('../../src/index.js');
    const root = path.join(tempDir(), 'data');
    await foreign(root, [['20260101T000000000Z-quiet3', 3, 3]]);
    expect((await runHistory({ root }))[0]).toMatchObject({ status: 'running' });
    expect((await runHistory({ root, otherHostAbandonHours: 2 }))[0]).toMatchObject({ status: 'abandoned' });
    await expect(Lakehouse.open({ root, log: { console: false }, otherHostAbandonHours: 0 })).rejects.toThrow(/option "otherHostAbandonHours"/);
    await expect(runHistory({ root, otherHostAbandonHours: -1 })).rejects.toThrow(ConfigError);
    const kept = await Lakehouse.open({ root, log: { console: false } });
    expect((await kept.runs())[0]).toMatchObject({ status: 'running' });
    await kept.close();
    const lake = await Lakehouse.open({ root, log: { console: false }, otherHostAbandonHours: 2 });
    try {
      expect((await lake.metrics.select(`SELECT status FROM runs`))[0]).toEqual({ status: 'abandoned' });
    } finally {
      await lake.close();
    }
  });
});
