/**
 * What `source('vtex', 'products')` compiles to: a `read_parquet` over the dataset's bronze
 * files with Hive partitions (typed VARCHAR), `union_by_name` for schema evolution. An empty
 * source compiles to an empty relation with the columns bronze last recorded, and a warning.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { listTree } from '../fs-list.js';
import { readRunResult } from '../metrics/run-results.js';

export interface BronzeDataset {
  dir: string;
  /** Absolute paths, sorted. */
  files: string[];
  partitionKeys: string[];
  /** Changes whenever a file is added, removed or rewritten. */
  fingerprint: string;
}

export interface RecordedSchema {
  columns: { name: string; type: string }[];
  partitionKeys: string[];
  /** Recorded from files without a row (a header-only CSV reads as text): not a baseline for drift. */
  guessed?: true;
  /** The run that recorded it. */
  runId?: string;
  /**
   * Each schema the dataset has had, oldest first, with the run that first recorded it (the last is
   * this one): what an empty read as of an earlier run has. Absent in files written before it was kept.
   */
  history?: { runId: string; columns: { name: string; type: string }[]; partitionKeys: string[]; guessed?: true }[];
}

/**
 * The schema recorded as of run `asOfRun`: the latest one recorded by a run up to it; undefined
 * (no columns) when the dataset's first schema came later. Without a history (a file written
 * before it was kept), the latest is all there is.
 */
export function recordedSchemaAsOf(recorded: RecordedSchema | undefined, asOfRun: string | undefined): RecordedSchema | undefined {
  if (!recorded || asOfRun === undefined || !recorded.history || recorded.runId === undefined || recorded.runId <= asOfRun) return recorded;
  const then = recorded.history.filter((h) => h.runId <= asOfRun).at(-1);
  return then && { columns: then.columns, partitionKeys: then.partitionKeys, ...(then.guessed ? { guessed: true as const } : {}), runId: then.runId };
}

export function schemaFile(root: string, source: string, dataset: string): string {
  return path.join(root, 'state', 'schemas', `${source}.${dataset}.json`);
}

/**
 * What the metrics db says about bronze files beyond "they are in the folder": files removed by
 * compaction or prune (hidden from readers at once, deleted later), compaction outputs whose
 * switch was recorded (before it, they are invisible) and the files of extracts in progress
 * whose batch was recorded (the others may be a batch half renamed into place). Paths are
 * relative to the lake root.
 */
export interface BronzeVisibility {
  removed: Set<string>;
  compacted: Set<string>;
  /** When the earliest of the `removed` files was removed (null when none is). */
  firstRemovedAt?: Date | null;
  /** Runs still `running`: their extract files are visible once recorded (`recordedOfRunning`). */
  running?: Set<string>;
  recordedOfRunning?: Set<string>;
}

/** Nothing removed, nothing compacted, nothing in progress: the folder is the truth (tests, a lake without metrics). */
export const ALL_VISIBLE: BronzeVisibility = { removed: new Set(), compacted: new Set() };

const RUN = String.raw`\d{8}T\d{9}Z-[0-9a-f]{6}`;
/** `<runId>-<n>.parquet`, written by an extract. */
const EXTRACT_FILE = new RegExp(`^(${RUN})-(\\d+)\\.parquet$`);
/** `<first runId inside>-c<compaction runId without its dash>-<n>.parquet`, written by compaction. */
const COMPACTED_FILE = new RegExp(`^(${RUN})-c(\\d{8}T\\d{9}Z[0-9a-f]{6})-(\\d+)\\.parquet$`);

export function isCompactionOutput(file: string): boolean {
  return COMPACTED_FILE.test(path.basename(file));
}

/** The first run whose rows a bronze file holds (its own run for an extract's file), if the name says. */
export function firstRunOf(file: string): string | undefined {
  const base = path.basename(file);
  return (COMPACTED_FILE.exec(base) ?? EXTRACT_FILE.exec(base))?.[1];
}

/** The file name of compaction output `n` holding rows from `firstRun` on, written by compaction run `runId`. */
export function compactedFileName(firstRun: string, runId: string, n: number): string {
  return `${firstRun}-c${runId.replace('-', '')}-${n}.parquet`;
}

/**
 * The committed files a reader should see now: the folder's Parquet files, less those removed by
 * compaction or prune, less compaction outputs not yet switched in, less files of an extract in
 * progress whose batch is not recorded yet. The switch and the record of a batch are one metrics
 * transaction each, so a reader sees the old set or the new set, never both, never neither, and
 * a batch whole or not at all.
 */
export function scanBronze(root: string, source: string, dataset: string, visibility: BronzeVisibility = ALL_VISIBLE): BronzeDataset {
  const dir = path.join(root, 'bronze', source, dataset);
  // Paths relative to the dataset folder; relative to the root by prefix (no path.relative per file:
  // a dataset can hold thousands before compaction).
  const prefix = path.join('bronze', source, dataset) + path.sep;
  const running = visibility.running?.size ? visibility.running : undefined;
  const names = fs.existsSync(dir)
    ? listTree(dir)
        .filter((f) => f.endsWith('.parquet'))
        .sort()
        .filter((f) => {
          if (visibility.removed.has(prefix + f)) return false;
          if (isCompactionOutput(f)) return visibility.compacted.has(prefix + f);
          // A batch's files are renamed into place one by one before it is recorded. A run that
          // died mid-commit stays `running`, its files hidden, until an open rolls its batch
          // forward (recorded) and marks it abandoned.
          if (!running) return true;
          const run = EXTRACT_FILE.exec(path.basename(f))?.[1];
          return run === undefined || !running.has(run) || visibility.recordedOfRunning?.has(prefix + f) === true;
        })
    : [];
  const files = names.map((f) => path.join(dir, f));
  const first = names[0] ? names[0].split(path.sep).slice(0, -1) : [];
  return { dir, files, partitionKeys: first.map((seg) => seg.slice(0, seg.indexOf('='))), fingerprint: filesFingerprint(dir, files) };
}

/** What changes when a set of a dataset's files does: their names, sizes and modification times. */
export function filesFingerprint(dir: string, files: string[]): string {
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    const st = fs.statSync(file);
    hash.update(`${path.relative(dir, file)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

/**
 * The run id rows are read up to for `asOfRun`. A `lake.run()` pipeline makes its id before its
 * extract makes its own, later one: as of a pipeline run is as of the extract it ran, which its
 * stored result names (from the moment the extract starts: a pipeline that died still names it).
 * Any other run (or a pipeline that ran no extract) is its own cutoff.
 */
export function asOfRunCutoff(root: string, asOfRun: string): string {
  const result = readRunResult(path.join(root, 'metrics', 'runs.duckdb'), asOfRun) as { extract?: unknown } | null;
  const extract = result?.extract;
  return typeof extract === 'string' && extract > asOfRun ? extract : asOfRun;
}

/**
 * Files that may hold rows committed by runs up to and including `asOfRun` (run ids sort by
 * start time). A compacted file spans runs: the reader still filters rows on `_run_id`.
 */
export function filesAsOf(dataset: BronzeDataset, asOfRun: string): string[] {
  return dataset.files.filter((f) => {
    const first = firstRunOf(f);
    return first === undefined || first <= asOfRun;
  });
}

/** The relation a model or `lake.bronze` reads: the files, and as of a run only the rows it had committed. */
export function bronzeRelationSql(files: string[], partitionKeys: string[], asOfRun?: string): string {
  const scan = readParquetSql(files, partitionKeys);
  return asOfRun === undefined ? scan : `(SELECT * FROM ${scan} WHERE _run_id <= ${quoteLiteral(asOfRun)})`;
}

export function readParquetSql(files: string[] | string, partitionKeys: string[]): string {
  const target = Array.isArray(files) ? `[${files.map(quoteLiteral).join(', ')}]` : quoteLiteral(files);
  const types = partitionKeys.map((k) => `${quoteLiteral(k)}: 'VARCHAR'`).join(', ');
  return `read_parquet(${target}, hive_partitioning = true, union_by_name = true${types ? `, hive_types = {${types}}` : ''})`;
}

/** An empty relation with the recorded columns (or only the bookkeeping ones). */
export function emptyRelationSql(recorded: RecordedSchema | undefined): string {
  const cols = [
    ...(recorded?.columns ?? []).map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`),
    `CAST(NULL AS VARCHAR) AS _run_id`,
    `CAST(NULL AS TIMESTAMPTZ) AS _extracted_at`,
    ...[...(recorded?.partitionKeys ?? []), 'year', 'month', 'day'].map((k) => `CAST(NULL AS VARCHAR) AS ${quoteIdent(k)}`),
  ];
  return `(SELECT ${cols.join(', ')} WHERE false)`;
}

export function readRecordedSchema(root: string, source: string, dataset: string): RecordedSchema | undefined {
  try {
    return JSON.parse(fs.readFileSync(schemaFile(root, source, dataset), 'utf8')) as RecordedSchema;
  } catch {
    return undefined;
  }
}
