import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileQueueKey, serialized } from '../../src/db/file-queue.js';
import { MetricsDb } from '../../src/metrics/metrics-db.js';
import type { ModelResult, TestResult } from '../../src/results.js';
import { spawnHelper } from '../helpers/child.js';
import { readOnlyQuery } from '../helpers/lake-checks.js';
import { registerCleanup, tempDir } from '../helpers/temp-lake.js';

/** The rows of `sql` on the metrics file, opened READ_ONLY as any client would; BIGINTs as numbers. */
async function rows(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return (await readOnlyQuery(file, sql)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

describe('metrics transactions', () => {
  it('records a finish with more model and test rows than one INSERT takes, every value in place', async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const metrics = new MetricsDb(file, 10_000);
    registerCleanup(() => metrics.close());
    const runId = '20261205T120000000Z-abcdef';
    await metrics.startRun(runId, 'build', new Date());
    const models: ModelResult[] = Array.from({ length: 230 }, (_, i) => ({
      name: `marts.m${i}`,
      file: `models/marts/m${i}.sql`,
      materialization: 'table',
      status: i % 7 === 0 ? 'error' : 'success',
      rows: i % 7 === 0 ? null : i * 10,
      durationMs: i + 0.4,
      ...(i % 7 === 0 ? { error: `m${i} failed reading https://api.example.com/x?access_token=tok-${i}-secret` } : {}),
    }));
    const tests: TestResult[] = Array.from({ length: 250 }, (_, i) => ({
      name: `t${i}`,
      model: `marts.m${i % 230}`,
      kind: i % 2 ? 'not_null' : 'row_count',
      severity: 'error',
      status: i % 5 === 0 ? 'fail' : 'pass',
      failures: i % 5 === 0 ? i : 0,
      ...(i % 2 ? { column: 'id' } : { measured: i * 1.5 }),
    }));
    const hashes = new Map(models.map((m, i) => [m.name, `h${i}`]));
    await metrics.finishRun(runId, { status: 'partial', rows: 1 }, { models, hashes, tests });
    await metrics.close();

    const builds = await rows(file, `SELECT model, status, rows, duration_ms, error, hash FROM model_builds WHERE run_id = '${runId}' ORDER BY CAST(substr(model, 8) AS INTEGER)`);
    expect(builds).toHaveLength(230);
    expect(builds[0]).toMatchObject({ model: 'marts.m0', status: 'error', rows: null, duration_ms: 0, hash: 'h0' });
    expect(String(builds[0]!.error)).toContain('m0 failed');
    expect(String(builds[0]!.error)).not.toContain('tok-0-secret');
    expect(builds[229]).toEqual({ model: 'marts.m229', status: 'success', rows: 2290, duration_ms: 229, error: null, hash: 'h229' });
    const results = await rows(file, `SELECT name, column_name, status, failures, measured FROM test_results WHERE run_id = '${runId}' ORDER BY CAST(substr(name, 2) AS INTEGER)`);
    expect(results).toHaveLength(250);
    expect(results[0]).toEqual({ name: 't0', column_name: null, status: 'fail', failures: 0, measured: 0 });
    expect(results[101]).toEqual({ name: 't101', column_name: 'id', status: 'pass', failures: 0, measured: null });
    expect(results[200]).toEqual({ name: 't200', column_name: null, status: 'fail', failures: 200, measured: 300 });
    expect(await rows(file, `SELECT status, rows FROM runs WHERE run_id = '${runId}'`)).toEqual([{ status: 'partial', rows: 1 }]);
  });

  it('a start is durable once startRun resolves, even if the process dies before the file is detached', async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const runId = '20261205T120000000Z-fedcba';
    const child = spawnHelper('child-start-run.ts', [file, runId]);
    await child.waitFor((l) => l === 'started', 30_000);
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(await rows(file, `SELECT run_id, kind, status FROM runs`)).toEqual([{ run_id: runId, kind: 'extract', status: 'running' }]);
  });

  it('close waits for a detach still in flight, and the next transaction sees every committed write', async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const metrics = new MetricsDb(file, 10_000);
    const ids = Array.from({ length: 5 }, (_, i) => `20261205T12000000${i}Z-aaaaa${i}`);
    // Each start resolves at its commit; the next one queues behind the previous detach.
    for (const id of ids) await metrics.startRun(id, 'extract', new Date());
    expect(await metrics.select(`SELECT count(*) AS n FROM runs`)).toEqual([{ n: 5 }]);
    await metrics.startRun('20261205T120000009Z-bbbbbb', 'build', new Date());
    await metrics.close();
    expect(await rows(file, `SELECT count(*) AS n FROM runs`)).toEqual([{ n: 6 }]);
  });
});

describe("a file left attached by a build's start for its next record", () => {
  /** What another process finds when it opens the file read-write: `free` or `locked`. */
  async function otherProcessFinds(file: string, waitMillis?: number): Promise<string> {
    const child = spawnHelper('child-try-open.ts', waitMillis === undefined ? [file] : [file, '--wait', String(waitMillis)]);
    await child.exited;
    expect(child.lines).toHaveLength(1);
    return child.lines[0]!;
  }

  it('is released before any other access to the file in the process, and is free once the run is finished', async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const a = new MetricsDb(file, 10_000);
    registerCleanup(() => a.close());
    const runId = '20261207T120000000Z-abcdef';
    await a.startBuild(runId, new Date());
    // The start left the file attached for the run's next record; a job of anyone else in the
    // file's queue (another lake of the process, runHistory) finds it detached: another process
    // opening it now is not refused. (The release due after a moment queues behind this job.)
    expect(await serialized(fileQueueKey(file), () => otherProcessFinds(file))).toBe('free');
    // The same lake's next record is written as before, and its finish leaves the file free.
    await a.startRun('20261207T120000001Z-abcdef', 'extract', new Date());
    await a.finishRun(runId, { status: 'success', rows: 3 });
    expect(await otherProcessFinds(file)).toBe('free');
    await a.close();
    expect(await rows(file, `SELECT run_id, status, rows FROM runs ORDER BY run_id`)).toEqual([
      { run_id: runId, status: 'success', rows: 3 },
      { run_id: '20261207T120000001Z-abcdef', status: 'running', rows: 0 },
    ]);
  });

  it('is released by itself when nothing follows: another process gets the file without the lake doing anything more', async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const a = new MetricsDb(file, 10_000);
    registerCleanup(() => a.close());
    await a.startBuild('20261207T120000000Z-fedcba', new Date());
    // The child retries on the lock for up to 20 s; the lake is idle (not closed) all along.
    expect(await otherProcessFinds(file, 20_000)).toBe('free');
  });

  it("is never left by an extract's records: a process stopped between two batches keeps no one waiting", async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const child = spawnHelper('child-record-stop.ts', [file]);
    registerCleanup(() => {
      child.process.kill('SIGKILL');
    });
    // The child recorded its start and a source's result, its transactions are all done, and it
    // stopped itself: no timer of its own can run now.
    await child.waitFor((l) => l === 'stopped');
    expect(await otherProcessFinds(file)).toBe('free');
    child.process.kill('SIGCONT');
    const { code, stderr } = await child.exited;
    expect(code, stderr).toBe(0);
    expect(child.lines).toContain('finished');
    expect(await rows(file, `SELECT source, status, rows FROM source_results`)).toEqual([{ source: 's', status: 'success', rows: 1 }]);
  });
});

describe('one metrics file reached by two paths in one process', () => {
  it('has one queue: a transaction through a symlinked root waits for the one open through the real path (DuckDB would let both write)', async () => {
    const real = tempDir();
    const link = path.join(tempDir(), 'lake-link');
    fs.symlinkSync(real, link, 'dir');
    const a = new MetricsDb(path.join(real, 'metrics', 'runs.duckdb'), 10_000);
    const b = new MetricsDb(path.join(link, 'metrics', 'runs.duckdb'), 10_000);
    registerCleanup(() => a.close());
    registerCleanup(() => b.close());
    await a.init();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    const held = a.transaction(async (c) => {
      await c.run(`INSERT INTO runs (run_id, kind, status, started_at) VALUES ('20261206T120000000Z-aaaaaa', 'build', 'running', now())`);
      started();
      await gate;
      events.push('a committed');
    });
    await inside;
    const read = b.select(`SELECT count(*)::INTEGER AS n FROM runs`).then((rows) => {
      events.push('b read');
      return rows;
    });
    // Before: b attached the file at once from its own instance (DuckDB's lock is per process)
    // and read it while a's transaction was open; now it waits in a's queue. The wait only gives
    // a b that does not wait the time to show it: the order below does not depend on it.
    await Promise.race([read, new Promise((r) => setTimeout(r, 2_000))]);
    release();
    await held;
    expect((await read)[0]!.n).toBe(1);
    expect(events).toEqual(['a committed', 'b read']);
  });
});
