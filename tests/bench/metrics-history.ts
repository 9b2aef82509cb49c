/**
 * Metrics writes as history grows. The metrics transactions of a one-source extract (start, one
 * batch, source result, the alert check's read, finish), timed with the current code on metrics
 * databases that already hold N runs and 10·N bronze files, in two layouts side by side:
 *   current  no PRIMARY KEY on runs / bronze_files; run results in metrics/results/ files
 *   old      the first versions' layout: those keys, and each run's result (build-sized JSON,
 *            40 models and 300 tests) in the `runs` row
 * and the floor: the same transactions on an empty metrics db. Rows are seeded single-threaded,
 * so they fill row groups in order as one-by-one writes would. (`initialized` is set so the
 * old layout is not migrated: that is what Lakehouse.open would do.)
 *   npm run bench:metrics-history [-- --runs 2000 --rounds 5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { MetricsDb } from '../../src/metrics/metrics-db.js';
import { METRICS_DDL } from '../../src/metrics/schema.js';
import { newRunId } from '../../src/run-id.js';

const arg = (name: string, fallback: number): number => Number(process.argv.find((_, i) => process.argv[i - 1] === `--${name}`) ?? fallback);
const RUNS = arg('runs', 2000);
const ROUNDS = arg('rounds', 5);

async function seed(file: string, runs: number, keyed: boolean): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = await DuckDBInstance.create(file, { threads: '1' });
  const c = await db.connect();
  try {
    for (const ddl of METRICS_DDL) {
      const keyedDdl = keyed ? ddl.replace(/run_id VARCHAR NOT NULL,(\s+--[^\n]*)?\n(\s+kind)/, 'run_id VARCHAR PRIMARY KEY,\n$2').replace(/path VARCHAR NOT NULL,(\s+--[^\n]*)?/, 'path VARCHAR PRIMARY KEY,') : ddl;
      await c.run(keyedDdl);
    }
    if (runs === 0) return;
    // A build-sized result: 40 models and 300 tests.
    await c.run(`INSERT INTO runs (run_id, kind, status, started_at, finished_at, duration_ms, rows, result)
      SELECT strftime(TIMESTAMP '2025-01-01' + INTERVAL (i) HOUR, '%Y%m%dT%H%M%S') || '000Z-' || lpad(printf('%x', i), 6, '0'),
        CASE WHEN i % 4 = 0 THEN 'build' ELSE 'extract' END, 'success', TIMESTAMPTZ '2025-01-01' + INTERVAL (i) HOUR,
        TIMESTAMPTZ '2025-01-01' + INTERVAL (i) HOUR + INTERVAL 30 SECOND, 30000, 1000,
        ${keyed ? `(SELECT to_json({models: list({name: 'marts.m' || x, status: 'success', rows: x, durationMs: x}) FILTER (WHERE x < 40),
                         tests: list({name: 'not_null_m_' || x, status: 'pass', failures: 0})}) FROM range(300) t(x))` : 'NULL'}
      FROM range(${runs}) t(i)`);
    await c.run(`INSERT INTO bronze_files (path, run_id, source, dataset, batch_no, partition, rows, bytes, committed_at)
      SELECT 'bronze/vtex/products/store=s' || (i % 3) || '/year=2025/month=01/day=' || lpad(((i // 30) % 28 + 1)::VARCHAR, 2, '0') || '/' || i || '-0.parquet',
        'r' || (i // 10), 'vtex', 'products', 1, '{}', 400, 6500, TIMESTAMPTZ '2025-01-01' + INTERVAL (i) MINUTE
      FROM range(${runs * 10}) t(i)`);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** The metrics transactions of a one-source extract, timed. */
async function extractLike(metrics: MetricsDb): Promise<number> {
  const runId = newRunId();
  const t0 = performance.now();
  const lap = (l: string) => process.env.BENCH_TRACE && console.log(`    ${l} ${(performance.now() - t0).toFixed(0)}`);
  await metrics.startRun(runId, 'extract', new Date());
  lap('start');
  await metrics.recordBatch({ runId, source: 'bench', dataset: 'items', batchNo: 1, rows: 2, rejected: 0, files: [{ path: `bronze/bench/items/${runId}-0.parquet`, partition: {}, rows: 2, bytes: 500 }] });
  lap('batch');
  await metrics.recordSourceResult(runId, { source: 'bench', dataset: 'items', status: 'success', rows: 2, rejected: 0, files: 1, bytes: 500, requests: 0, retries: 0, durationMs: 5 });
  lap('source result');
  await metrics.select(`SELECT status, rows FROM source_results WHERE source = 'bench' ORDER BY finished_at DESC LIMIT 20`);
  lap('select');
  await metrics.finishRun(runId, { status: 'success', rows: 2, files: 1, bytes: 500, result: { runId, status: 'success' } });
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-metrics-'));
  try {
    const variants = [
      { name: 'empty', runs: 0, keyed: false },
      { name: `current, ${RUNS} runs`, runs: RUNS, keyed: false },
      { name: `old, ${RUNS} runs`, runs: RUNS, keyed: true },
    ];
    const best = new Map<string, number>();
    const files = new Map<string, string>();
    for (const v of variants) {
      const file = path.join(dir, v.name.replace(/\W+/g, '-'), 'runs.duckdb');
      const t0 = performance.now();
      await seed(file, v.runs, v.keyed);
      files.set(v.name, file);
      console.log(`seeded ${v.name}: ${(fs.statSync(file).size / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const v of variants) {
        // A fresh MetricsDb per measurement, as a fresh process would have.
        const metrics = new MetricsDb(files.get(v.name)!, 30_000);
        (metrics as unknown as { initialized: boolean }).initialized = true;
        const ms = await extractLike(metrics);
        await metrics.close();
        best.set(v.name, Math.min(best.get(v.name) ?? Infinity, ms));
        console.log(`round ${round}  ${v.name.padEnd(22)} ${ms.toFixed(0).padStart(5)} ms`);
      }
    }
    const floor = best.get('empty')!;
    console.log(`\nbest of ${ROUNDS}: the 5 metrics transactions of a one-source extract`);
    for (const v of variants) console.log(`  ${v.name.padEnd(22)} ${best.get(v.name)!.toFixed(0).padStart(5)} ms  (${(best.get(v.name)! / floor).toFixed(2)}× the empty db)`);
    console.log(`  old layout / current at ${RUNS} runs and ${RUNS * 10} files: ${(best.get(`old, ${RUNS} runs`)! / best.get(`current, ${RUNS} runs`)!).toFixed(2)}×`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
