import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, LockError, defineSource, runHistory, z } from '../../src/index.js';
import { MetricsDb } from '../../src/metrics/metrics-db.js';
import { runResultFile, unrecordedFinishFile } from '../../src/metrics/run-results.js';
import { outcomeAlerts } from '../../src/metrics/alerts.js';
import type { ModelResult, TestResult } from '../../src/results.js';
import { newRunId } from '../../src/run-id.js';
import { spawnHelper } from '../helpers/child.js';
import { prices, projectLake } from '../helpers/models.js';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

/** A lake created and closed, and its metrics db opened on its own, as another process of the lake would. */
async function closedLakeMetrics(): Promise<{ root: string; file: string; metrics: MetricsDb }> {
  const lake = await tempLake({ lockTimeoutMillis: 300 });
  const root = lake.paths.root;
  const file = lake.paths.metrics;
  await lake.close();
  return { root, file, metrics: new MetricsDb(file, 300) };
}

describe('two processes extracting at once', () => {
  it('both finish and record complete runs in one metrics db', async () => {
    const root = path.join(tempDir(), 'data');
    const a = spawnHelper('child-extract.ts', [root, 'shared', '30', '300', '5']);
    const b = spawnHelper('child-extract.ts', [root, 'shared', '30', '300', '5']);
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea.code, ea.stderr).toBe(0);
    expect(eb.code, eb.stderr).toBe(0);
    const results = [a, b].map((c) => JSON.parse(c.lines.find((l) => l.startsWith('{"result"'))!).result);
    for (const r of results) expect(r).toMatchObject({ status: 'success', sources: [{ rows: 9000, rejected: 0 }] });

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const runs = await lake.runs();
      expect(runs.map((r) => r.runId).sort()).toEqual(results.map((r) => r.runId).sort());
      for (const run of runs) expect(run).toMatchObject({ status: 'success', rows: 9000 });
      const perRun = await lake.metrics.select('SELECT run_id, count(*) AS batches, sum(rows) AS rows FROM source_batches GROUP BY run_id');
      expect(perRun.map((r) => [r.batches, r.rows])).toEqual([
        [30, 9000],
        [30, 9000],
      ]);
      const [bronze] = await lake.query(`SELECT count(*) AS n, count(DISTINCT (_run_id, id)) AS d FROM read_parquet('${root}/bronze/shared/items/**/*.parquet')`);
      expect(bronze).toEqual({ n: 18000, d: 18000 });
    } finally {
      await lake.close();
    }
  }, 120_000);
});

describe('another DuckDB process holding the metrics file past the lock timeout during an extract', () => {
  it('the extract rejects with the LockError only once its other sources have stopped, and records the run failed', async () => {
    const lake = await tempLake({ lockTimeoutMillis: 300 });
    const file = lake.paths.metrics;
    let holder: Awaited<ReturnType<typeof holdDuckDbFile>> | undefined;
    // The holder lets go once fast's result record has met it, not after a fixed 1.5 s: this
    // process slow to get from the hold to that record (its Parquet write, a busy machine) found
    // the file free again, and the extract resolved. Watched, not changed: the record runs as it does.
    const metrics = (lake as unknown as { metrics: MetricsDb }).metrics;
    const recordSourceResult = metrics.recordSourceResult.bind(metrics);
    let fastRecordSettled!: () => void;
    const fastRecorded = new Promise<void>((resolve) => (fastRecordSettled = resolve));
    metrics.recordSourceResult = async (runId, result) => {
      try {
        await recordSourceResult(runId, result);
      } finally {
        if (result.source === 'fast') fastRecordSettled();
      }
    };
    const fast = defineSource({
      source: 'fast',
      dataset: 'items',
      schema: z.object({ id: z.number() }),
      extract: async function* () {
        yield [{ id: 1 }];
        // A user's `duckdb data/metrics/runs.duckdb` holds the file while this source records its result.
        holder = await holdDuckDbFile(file);
      },
    });
    let slowDone = false;
    const slow = defineSource({
      source: 'slow',
      dataset: 'items',
      schema: z.object({ id: z.number() }),
      extract: async function* () {
        yield [{ id: 0 }];
        // Still running when fast's record has failed, and after the user has closed the file.
        await fastRecorded;
        await holder!.release();
        for (let i = 1; i < 4; i++) {
          await new Promise((r) => setTimeout(r, 300));
          yield [{ id: i }];
        }
        slowDone = true;
      },
    });
    await expect(lake.extract([fast, slow])).rejects.toThrow(/runs\.duckdb is locked by another process/);
    // The caller has its answer: nothing of that run is still writing to the lake.
    expect(slowDone).toBe(true);
    const [run] = await lake.runs({ limit: 1 });
    expect(run).toMatchObject({ kind: 'extract', status: 'failed', error: expect.stringMatching(/runs\.duckdb is locked by another process/) });
  }, 30_000);
});

describe('a run whose finish record could not be written', () => {
  it('is recorded with the status and totals of its result, not abandoned, once its process is gone', async () => {
    const { root, file, metrics } = await closedLakeMetrics();
    const runId = newRunId();
    await metrics.startRun(runId, 'extract', new Date());
    // A user's `duckdb data/metrics/runs.duckdb` holds the file while the run writes its finish, and
    // closes it once that failed: held for a fixed second, it was let go before the finish tried the
    // lock whenever this process was slow to get there (its fsync of the result file, a busy machine).
    const holder = await holdDuckDbFile(file);
    const result = { runId, status: 'partial', sources: [] };
    await expect(metrics.finishRun(runId, { status: 'partial', rows: 7, rejected: 2, files: 1, bytes: 99, error: 'one source failed', result })).rejects.toThrow(/locked/);
    await holder.release();
    // The process that ran it ends (here: its row now names the holder, which has exited).
    await metrics.select(`UPDATE runs SET pid = ${holder.pid} WHERE run_id = '${runId}'`);
    await metrics.close();

    const expected = { runId, status: 'partial', rows: 7, rejected: 2, files: 1, bytes: 99, error: 'one source failed', result };
    const [read] = await runHistory({ root, limit: 1 });
    expect(read).toMatchObject(expected);
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      const [run] = await reopened.runs({ limit: 1 });
      expect(run).toMatchObject(expected);
      expect(run!.finishedAt).not.toBeNull();
      expect(fs.existsSync(unrecordedFinishFile(file, runId))).toBe(false);
    } finally {
      await reopened.close();
    }
  }, 30_000);
});

describe('a run whose finish record could not be written, and its kind\'s run_failed alert', () => {
  /**
   * Writes run `runId`'s finish while another process holds the file, then ends its process (its
   * row names the holder, gone), unless `ended` is false (it goes on: this process).
   */
  async function finishLate(metrics: MetricsDb, file: string, runId: string, fields: Parameters<MetricsDb['finishRun']>[1], ended = true): Promise<number> {
    // Held until the finish has failed, not for a fixed time (see the test above).
    const holder = await holdDuckDbFile(file);
    await expect(metrics.finishRun(runId, fields)).rejects.toThrow(/locked/);
    await holder.release();
    if (ended) await metrics.select(`UPDATE runs SET pid = ${holder.pid} WHERE run_id = '${runId}'`);
    return holder.pid;
  }

  it('a build that stopped before doing its work opens run_failed at the next open, as its finish written on time would', async () => {
    const { root, file, metrics } = await closedLakeMetrics();
    const runId = newRunId();
    await metrics.startRun(runId, 'build', new Date());
    await finishLate(metrics, file, runId, { status: 'failed', error: 'a cycle: marts.a → marts.b → marts.a', stopped: true });
    await metrics.close();
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await reopened.runs({ limit: 1 }))[0]).toMatchObject({ runId, status: 'failed' });
      // Observed: no alert (the late finish recorded the run, never its run_failed).
      expect((await reopened.alerts()).map((a) => `${a.kind} ${a.subject} ${a.runId} ${a.message}`)).toEqual([`run_failed build ${runId} a cycle: marts.a → marts.b → marts.a`]);
    } finally {
      await reopened.close();
    }
  }, 30_000);

  it('a build that finished resolves the run_failed alert of an earlier one at the next open, as its finish written on time would', async () => {
    const { root, file, metrics } = await closedLakeMetrics();
    const stopped = newRunId();
    await metrics.startRun(stopped, 'build', new Date());
    await metrics.finishRun(stopped, { status: 'failed', error: 'a cycle', stopped: true });
    const runId = newRunId();
    await metrics.startRun(runId, 'build', new Date());
    await finishLate(metrics, file, runId, { status: 'success' });
    await metrics.close();
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await reopened.runs({ limit: 1 }))[0]).toMatchObject({ runId, status: 'success' });
      // Observed: the earlier build's run_failed stayed open.
      expect(await reopened.alerts()).toEqual([]);
      expect((await reopened.alerts({ open: false })).map((a) => `${a.kind} ${a.runId} ${a.resolvedAt !== null}`)).toEqual([`run_failed ${stopped} true`]);
    } finally {
      await reopened.close();
    }
  }, 30_000);
  it('a build that finished, recorded late, leaves open the run_failed of a later build found abandoned', async () => {
    const { root, file, metrics } = await closedLakeMetrics();
    const runId = newRunId();
    await metrics.startRun(runId, 'build', new Date());
    // It finished, but its process goes on for now: its finish waits in its .finish file.
    const gone = await finishLate(metrics, file, runId, { status: 'success' }, false);
    // A later build whose process died, found by the next open.
    await metrics.select(
      `INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ('r-dead', 'build', 'running', now() + INTERVAL 1 MINUTE, $1, $2, 'x')`,
      [os.hostname(), gone],
    );
    await metrics.close();
    const first = await Lakehouse.open({ root, log: { console: false } });
    expect((await first.alerts()).map((a) => `${a.kind} ${a.runId}`)).toEqual(['run_failed r-dead']);
    // Now the first build's process ends; the next open records its finish, which came before the abandoned one.
    await first.metrics.select(`UPDATE runs SET pid = ${gone} WHERE run_id = '${runId}'`);
    await first.close();
    const second = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await second.runs()).find((r) => r.runId === runId)).toMatchObject({ status: 'success' });
      expect((await second.alerts()).map((a) => `${a.kind} ${a.runId}`)).toEqual(['run_failed r-dead']);
    } finally {
      await second.close();
    }
  }, 30_000);
});

describe('a build whose finish record could not be written', () => {
  it('keeps its model, test, quality-score and alert rows and records them at the next open, once, whoever opens', async () => {
    const { root, file, metrics } = await closedLakeMetrics();
    const runId = newRunId();
    await metrics.startRun(runId, 'build', new Date());
    const holder = await holdDuckDbFile(file);
    const models: ModelResult[] = [
      { name: 'marts.a', file: 'models/marts/a.sql', materialization: 'table', status: 'success', rows: 5, durationMs: 12 },
      { name: 'marts.b', file: 'models/marts/b.sql', materialization: 'view', status: 'error', rows: null, durationMs: 3, error: 'b failed' },
    ];
    const tests: TestResult[] = [{ name: 'not_null_a_id', model: 'marts.a', column: 'id', kind: 'not_null', severity: 'error', status: 'fail', failures: 2 }];
    const quality = [{ model: 'marts.a', rows: 5, dimensions: { completeness: 1, uniqueness: 0.5 }, score: 0.75 }];
    const { alerts, checked } = outcomeAlerts({ models, tests });
    await expect(
      metrics.finishRun(runId, { status: 'partial', rows: 5, error: 'b failed', result: { runId, status: 'partial' } }, { models, hashes: new Map([['marts.a', 'h-a']]), tests, quality, alerts: { alerts, checked } }),
    ).rejects.toThrow(/locked/);
    await holder.release();
    // The process that ran it ends (here: its row now names the holder, which has exited).
    await metrics.select(`UPDATE runs SET pid = ${holder.pid} WHERE run_id = '${runId}'`);
    await metrics.close();

    // Two processes and this one open the lake at once.
    const children = [spawnHelper('child-open.ts', [root]), spawnHelper('child-open.ts', [root])];
    const here = await Lakehouse.open({ root, log: { console: false } });
    await here.close();
    for (const child of children) {
      const exit = await child.exited;
      expect(exit.code, exit.stderr).toBe(0);
    }
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      const counts = async () =>
        (await reopened.metrics.select(
          `SELECT (SELECT count(*) FROM model_builds WHERE run_id = $1)::INTEGER AS models, (SELECT count(*) FROM test_results WHERE run_id = $1)::INTEGER AS tests,
             (SELECT count(*) FROM quality_scores WHERE run_id = $1)::INTEGER AS scores, (SELECT count(*) FROM alerts WHERE run_id = $1)::INTEGER AS alerts`,
          [runId],
        ))[0];
      // Observed: 0 of each (only the runs row was recovered from the .finish file).
      expect(await counts()).toEqual({ models: 2, tests: 1, scores: 1, alerts: 2 });
      const [run] = await reopened.runs({ limit: 1 });
      expect(run).toMatchObject({ runId, status: 'partial', rows: 5, error: 'b failed' });
      const built = await reopened.metrics.select(`SELECT model, status, hash, error, finished_at FROM model_builds WHERE run_id = $1 ORDER BY model`, [runId]);
      expect(built.map(({ finished_at: _f, ...m }) => m)).toEqual([
        { model: 'marts.a', status: 'success', hash: 'h-a', error: null },
        { model: 'marts.b', status: 'error', hash: null, error: 'b failed' },
      ]);
      // Recorded as of the build's end, not of the open that recorded them.
      expect(built.map((m) => (m.finished_at as Date).getTime())).toEqual([run!.finishedAt!.getTime(), run!.finishedAt!.getTime()]);
      expect((await reopened.alerts()).map((a) => [a.kind, a.subject, a.runId]).sort()).toEqual([
        ['model_failed', 'marts.b', runId],
        ['test_failed', 'not_null_a_id', runId],
      ]);
      expect(fs.existsSync(unrecordedFinishFile(file, runId))).toBe(false);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('records its alerts late only if no build or test run finished after it (a later outcome already settled them)', async () => {
    const { root, file, metrics } = await closedLakeMetrics();
    const early = newRunId();
    await metrics.startRun(early, 'build', new Date());
    const holder = await holdDuckDbFile(file);
    const failed: ModelResult[] = [{ name: 'marts.b', file: 'models/marts/b.sql', materialization: 'table', status: 'error', rows: null, durationMs: 3, error: 'b failed' }];
    await expect(metrics.finishRun(early, { status: 'partial', error: 'b failed' }, { models: failed, alerts: outcomeAlerts({ models: failed }) })).rejects.toThrow(/locked/);
    await holder.release();
    // A later build, in another process, rebuilt marts.b fine before the early one was recorded.
    const later = newRunId();
    await metrics.startRun(later, 'build', new Date());
    const fixed: ModelResult[] = [{ ...failed[0]!, status: 'success', rows: 1 }];
    const { error: _error, ...fine } = fixed[0]!;
    await metrics.finishRun(later, { status: 'success', rows: 1 }, { models: [fine], alerts: outcomeAlerts({ models: [fine] }) });
    await metrics.select(`UPDATE runs SET pid = ${holder.pid} WHERE run_id = '${early}'`);
    await metrics.close();

    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await reopened.metrics.select(`SELECT count(*)::INTEGER AS n FROM model_builds WHERE run_id = $1`, [early]))[0]).toEqual({ n: 1 });
      // The early build's model_failed would stay open for good: nothing runs marts.b again to clear it.
      expect(await reopened.alerts()).toEqual([]);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('a finish whose own rows cannot be written (not a lock) does not keep them for the next open, which still opens', async () => {
    const lake = await tempLake();
    const root = lake.paths.root;
    const file = lake.paths.metrics;
    await lake.close();
    const metrics = new MetricsDb(file, 5_000);
    const runId = newRunId();
    await metrics.startRun(runId, 'build', new Date());
    // A row DuckDB refuses (1e30 rows: out of BIGINT's range): every attempt to write it fails the same way.
    const models: ModelResult[] = [{ name: 'marts.a', file: 'models/marts/a.sql', materialization: 'table', status: 'success', rows: 1e30, durationMs: 1 }];
    await expect(metrics.finishRun(runId, { status: 'success', rows: 1 }, { models })).rejects.toThrow();
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    await metrics.select(`UPDATE runs SET pid = ${Number(dead.stdout.trim())} WHERE run_id = '${runId}'`);
    await metrics.close();
    // Observed: every Lakehouse.open failed on that row from then on.
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await reopened.runs({ limit: 1 }))[0]).toMatchObject({ runId, status: 'success', rows: 1 });
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('lake.build: a finish that waited out the lock is kept as the build ended (success, its result), not overwritten as failed', async () => {
    const dir = tempDir();
    const gate = path.join(dir, 'gate.csv');
    execFileSync('mkfifo', [gate]);
    const { lake, root } = await projectLake(
      {
        'staging/stg.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
        // Reads a FIFO: the build waits in this model until the test writes to it.
        'marts/gated.sql': `{{ config(materialized='table') }}\nselect s.sku, g.go from {{ ref('stg') }} s, read_csv('${gate}', header = true) g`,
      },
      { lockTimeoutMillis: 500 },
    );
    await lake.extract(prices([['a', 'x', 1]]));
    const file = lake.paths.metrics;
    const building = lake.build();
    building.catch(() => undefined);
    // The model reads the FIFO (its start, and the bronze it reads, are recorded by then).
    const writer = await fs.promises.open(gate, 'w');
    const holder = await holdDuckDbFile(file, { retry: true });
    await writer.writeFile('go\n1\n');
    await writer.close();
    await expect(building).rejects.toThrow(/runs\.duckdb is locked by another process/);
    await holder.release();
    const [running] = await lake.metrics.select(`SELECT run_id FROM runs WHERE kind = 'build'`);
    const runId = String(running!.run_id);
    // Observed: the build's catch recorded it again as failed, overwriting the .finish file and deleting its result.
    expect(JSON.parse(fs.readFileSync(unrecordedFinishFile(file, runId), 'utf8'))).toMatchObject({ status: 'success', rows: 1 });
    expect(fs.existsSync(runResultFile(file, runId))).toBe(true);
    // Its process ends (here: its row now names the holder, which has exited), and the next open records it.
    await lake.metrics.select(`UPDATE runs SET pid = ${holder.pid} WHERE run_id = '${runId}'`);
    await lake.close();
    const reopened = await Lakehouse.open({ root, log: { console: false } });
    try {
      const build = (await reopened.runs()).find((r) => r.runId === runId);
      expect(build).toMatchObject({ kind: 'build', status: 'success', error: null, result: { runId, status: 'success' } });
      const models = await reopened.metrics.select(`SELECT model, status FROM model_builds WHERE run_id = $1 ORDER BY model`, [runId]);
      expect(models).toEqual([
        { model: 'marts.gated', status: 'success' },
        { model: 'staging.stg', status: 'success' },
      ]);
    } finally {
      await reopened.close();
    }
  }, 60_000);
});


describe('a DuckDB client left open on runs.duckdb (a notebook, `duckdb data/metrics/runs.duckdb`)', () => {
  it('the LockError names the program and pid holding it, so the user knows which to close (was only "locked by another process")', async () => {
    const lake = await tempLake({ lockTimeoutMillis: 300 });
    await lake.extract([prices([['a', 'x', 1]])]);
    const root = lake.paths.root;
    await lake.close();
    // Read-only, it still blocks every writer: the next open cannot record what it recovers.
    const reader = await holdDuckDbFile(path.join(root, 'metrics', 'runs.duckdb'), { readOnly: true });
    const failed = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 300 }).then(
      async (l) => {
        await l.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(LockError);
    expect(String(failed)).toMatch(new RegExp(`runs\\.duckdb is locked by another process \\(.*node, pid ${reader.pid}; waited 300 ms\\)`));
    await reader.release();
    // Read-write, it blocks `duckhouse runs` (runHistory) too.
    const writer = await holdDuckDbFile(path.join(root, 'metrics', 'runs.duckdb'));
    const history = await runHistory({ root, lockTimeoutMillis: 300 }).catch((e: unknown) => e);
    expect(String(history)).toMatch(new RegExp(`runs\\.duckdb is locked by another process \\(.*node, pid ${writer.pid}; waited 300 ms\\)`));
  }, 60_000);
});
