/**
 * A run's full result (the ExtractResult, BuildResult… it returned) is kept as a JSON file next to
 * the metrics database, `metrics/results/<yyyymm>/<runId>.json`, not in the `runs` table: DuckDB
 * rewrites the whole last row group of a table at each checkpoint after an append, so a `result`
 * column of build results (~100 KB each) made every metrics write slower as runs accumulated.
 * Light on purpose (only `node:fs`): the run-history reader uses it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RecordedOutcome } from './alerts.js';
import type { ModelResult, TestResult } from '../results.js';

/** Where the result of `runId` lives, for the metrics database `metricsFile`. */
export function runResultFile(metricsFile: string, runId: string): string {
  return path.join(path.dirname(metricsFile), 'results', runId.slice(0, 6), `${runId}.json`);
}

/** The stored result of a run, or null when it has none (still running, or died; a `lake.run()` pipeline has a partial one naming its extract). */
export function readRunResult(metricsFile: string, runId: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(runResultFile(metricsFile, runId), 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/**
 * What a run's `runs` row should have said when its finish could not be written (the file held by
 * another process past `lockTimeoutMillis`): kept beside its result until the next
 * `Lakehouse.open` records it, so a run that finished is not taken for one whose process died.
 * Not a `.json` file, so that a `read_json` of every result file reads results only.
 */
export interface UnrecordedFinish {
  status: string;
  rows: number;
  rejected: number;
  files: number;
  bytes: number;
  error: string | null;
  /** Epoch ms. */
  finishedAt: number;
  /** The run threw before doing its work (`FinishFields.stopped`): its kind's `run_failed` alert is opened, not resolved. */
  stopped?: boolean;
  /** The other rows of that finish's transaction (a build's or test run's), recorded with it, once. */
  extra?: StoredFinishExtra;
}

/** `FinishExtra` (metrics-db.ts) as JSON: the model hashes as pairs. */
export interface StoredFinishExtra {
  models?: ModelResult[];
  hashes?: [model: string, hash: string][];
  tests?: TestResult[];
  quality?: { model: string; rows: number; dimensions: Record<string, number | null>; score: number | null }[];
  alerts?: RecordedOutcome;
}

export function unrecordedFinishFile(metricsFile: string, runId: string): string {
  return path.join(path.dirname(metricsFile), 'results', runId.slice(0, 6), `${runId}.finish`);
}

/** The finish a run could not record, or null. */
export function readUnrecordedFinish(metricsFile: string, runId: string): UnrecordedFinish | null {
  try {
    return JSON.parse(fs.readFileSync(unrecordedFinishFile(metricsFile, runId), 'utf8')) as UnrecordedFinish;
  } catch {
    return null;
  }
}
