/**
 * Bronze lifecycle: compaction (many small files of a partition → few large ones) and retention
 * (prune partitions older than a date), both without ever showing readers a half-done state.
 *
 * The switch is a metrics transaction: compaction writes its outputs under names readers skip
 * until the metrics db records them (`-c<runId>-` in the name), moves them into place, then in
 * one transaction records them and marks the inputs removed. Readers list files through
 * `scanBronze`, so they see the old set or the new set, never both, never neither. Removed files
 * stay on disk for readers that listed them before the switch (builds in flight, views of the
 * published catalog or of one it replaced) and are deleted later: once older than the retention,
 * no longer named by the published catalog, and replaced longer than the retention ago in the
 * catalogs that named them (see `supersededBronze`).
 *
 * A process killed before the switch leaves outputs nobody sees; the next open deletes them
 * (see `rollbackCompaction`). Killed after it, only the manifest is left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { interruptOnAbort } from '../abortable.js';
import { ConfigError, DuckhouseError } from '../errors.js';
import { acquireLock } from '../extract/file-lock.js';
import type { Logger } from '../log.js';
import type { BronzeFileRow, MetricsDb } from '../metrics/metrics-db.js';
import type { GarbageFile } from '../transform/warehouse.js';
import { quoteLiteral } from '../db/quote.js';
import { RUN_ID_PATTERN } from '../run-id.js';
import { readerRows } from '../db/values.js';
import { compactedFileName, firstRunOf, isCompactionOutput, scanBronze } from '../transform/source-relation.js';
import { applyMoves, recordedPathIn, rootRelative, writeFileAtomic } from './commit.js';
import { bronzeDatasets, hasBronzeDataset, noBronzeDataset } from './datasets.js';
import { dateParts, partitionOfDir } from './partition.js';
import { earliestBronzeRead } from './readers.js';

const NAME = /^[a-z][a-z0-9_]*$/;
/** Outputs switched in per metrics transaction at most (bounds temp space, lost work on a kill, and how long the metrics file stays locked). */
const SWITCH_BYTES = 512 * 1024 * 1024;
const SWITCH_INPUT_FILES = 5_000;

export interface LifecycleEnv {
  root: string;
  tmpDir: string;
  runId: string;
  timezone: string;
  connection: DuckDBConnection;
  metrics: MetricsDb;
  logger: Logger;
  lockTimeoutMillis: number;
  /**
   * The lake's close(): ends the wait for another compaction's or prune's lock, interrupts the
   * statement running on `connection` (a merge's COPY), and stops a compaction before its next
   * group or switch and a prune before its switch.
   */
  signal?: AbortSignal;
  /** Removed files are kept at least this long for readers that listed them before the switch. */
  retainMillis: number;
  /**
   * What the published catalog holds for readers: its views' SQL (files it names are not
   * deleted) and its garbage ledger, where the bronze files the catalogs it replaced named wait
   * out the retention from the moment they stopped being named (readers may hold those catalogs).
   */
  published(): Promise<{ sql: string[]; garbage: GarbageFile[] }>;
}

/** A partition path prefix (`store=bistek/year=2026`) or partition values (`{ store: 'bistek' }`). */
export type PartitionFilter = string | Record<string, string>;

export interface CompactOptions {
  source: string;
  dataset: string;
  /** Only these partitions (default: all; an empty list: none, with a warning). */
  partitions?: PartitionFilter[];
  /** Target size of a compacted file in MB (default: the lake's `compactionTargetMb`, 128). */
  targetFileMb?: number;
}

export interface CompactResult {
  runId: string;
  status: 'success' | 'failed';
  source: string;
  dataset: string;
  /** Partitions that had files merged. */
  partitions: number;
  /** Small files merged (now removed) and the files written in their place. */
  filesIn: number;
  filesOut: number;
  bytesIn: number;
  bytesOut: number;
  rows: number;
  /** Files removed earlier (by this or another compaction or prune) deleted from disk by this call. */
  deleted: number;
  durationMs: number;
  error?: string;
  /** Present when something was asked that did nothing, e.g. a `partitions` filter matching no partition. */
  warnings?: string[];
}

export interface PruneOptions {
  source: string;
  dataset: string;
  /** Partitions dated before this go: a Date, `'YYYY-MM-DD'`, or an age like `'365d'`. */
  olderThan: Date | string;
  /** Report what would go, change nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  runId: string;
  status: 'success' | 'failed';
  source: string;
  dataset: string;
  /** The first day kept (`YYYY-MM-DD`, lake time zone). */
  cutoff: string;
  dryRun: boolean;
  /**
   * Partitions removed, as paths of their values (`store=São José/year=2025/month=11/day=21`), each a
   * filter `compact` accepts; a value holding `/` is left as its folder is written (`store=a%2Fb`).
   */
  partitions: string[];
  files: number;
  rows: number;
  bytes: number;
  deleted: number;
  durationMs: number;
  error?: string;
}

interface LiveFile {
  abs: string;
  rel: string;
  /** Relative to the dataset folder: `store=bistek/year=2026/month=03/day=05`. */
  partitionDir: string;
  partition: Record<string, string | null>;
  bytes: number;
  runId: string;
}

function checkNames(where: string, source: unknown, dataset: unknown): void {
  for (const [field, value] of [['source', source], ['dataset', dataset]] as const) {
    if (typeof value !== 'string' || !NAME.test(value)) {
      throw new ConfigError(`${where}: option "${field}" must match ^[a-z][a-z0-9_]*$ (got ${JSON.stringify(value)})`);
    }
  }
}

/**
 * Refuses a dataset bronze has no folder for, as `duckhouse compact|prune` does: a misspelt name
 * would otherwise be a recorded `success` that compacted or pruned nothing.
 */
export function checkDatasetExists(where: string, root: string, source: string, dataset: string): void {
  if (!hasBronzeDataset(root, source, dataset)) throw new ConfigError(`${where}: ${noBronzeDataset([`${source}/${dataset}`], bronzeDatasets(root))}`);
}

/** The dataset's visible files, with what compaction and prune need to know of each. */
async function liveFiles(env: LifecycleEnv, source: string, dataset: string): Promise<{ files: LiveFile[]; partitionKeys: string[]; recorded: Map<string, { rows: number; removed: boolean }> }> {
  // Files of a run in progress that the metrics db has not recorded may be mid-commit: scanBronze
  // leaves them out. Listed right after the read: a run that started since is not in its `running`
  // set, and the first files of a batch it is renaming into place, listed later (after a wait for
  // the metrics file's lock), would be compacted or pruned as committed ones.
  const visibility = await env.metrics.bronzeVisibility();
  const scanned = scanBronze(env.root, source, dataset, visibility);
  const recorded = await env.metrics.bronzeRecords(source, dataset);
  const files = scanned.files.map((abs) => {
    const partitionDir = path.dirname(path.relative(scanned.dir, abs));
    return {
      abs,
      rel: path.relative(env.root, abs),
      partitionDir: partitionDir === '.' ? '' : partitionDir,
      partition: partitionOfDir(partitionDir),
      bytes: fs.statSync(abs).size,
      runId: firstRunOf(abs) ?? 'unknown',
    };
  });
  return { files, partitionKeys: scanned.partitionKeys, recorded };
}

/** No filter: every partition; a list (even an empty one): the partitions it names. */
function matchesFilter(file: LiveFile, filters: PartitionFilter[] | undefined): boolean {
  if (filters === undefined) return true;
  return filters.some((f) => matchesOne(file, f));
}

/**
 * A path filter is a prefix of the partition folders, segment by segment. Folder names are
 * percent-encoded (`store=S%C3%A3o%20Jos%C3%A9`); a filter value matches the folder as written
 * or the value it stores (`store=São José`), as the object form `{ store: 'São José' }` does.
 */
function matchesOne(file: LiveFile, f: PartitionFilter): boolean {
  // Values compare in NFC, as the path form does: the same text typed on another system may arrive decomposed.
  if (typeof f !== 'string') return Object.entries(f).every(([k, v]) => file.partition[k]?.normalize('NFC') === v.normalize('NFC'));
  const wanted = f.split('/').filter(Boolean);
  const have = file.partitionDir === '' ? [] : file.partitionDir.split(path.sep);
  if (wanted.length > have.length) return false;
  return wanted.every((w, i) => {
    const seg = have[i]!;
    if (seg === w) return true;
    const eq = seg.indexOf('=');
    if (eq < 0 || w.slice(0, w.indexOf('=')) !== seg.slice(0, eq)) return false;
    const value = safeDecode(seg.slice(eq + 1));
    return value !== undefined && value.normalize('NFC') === w.slice(w.indexOf('=') + 1).normalize('NFC');
  });
}

/**
 * A partition folder (`store=S%C3%A3o%20Jos%C3%A9/year=2026/…`) named by its values
 * (`store=São José/year=2026/…`), as the API takes them. A segment whose value holds a `/` (which
 * would read as two segments) or does not decode stays as written: compact's filters take both forms.
 */
function partitionName(partitionDir: string): string {
  if (partitionDir === '') return '';
  return partitionDir
    .split(path.sep)
    .map((seg) => {
      const eq = seg.indexOf('=');
      const value = eq < 0 ? undefined : safeDecode(seg.slice(eq + 1));
      return value === undefined || value.includes('/') ? seg : `${seg.slice(0, eq)}=${value}`;
    })
    .join('/');
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function validateFilters(where: string, filters: unknown, keys: string[]): PartitionFilter[] | undefined {
  if (filters === undefined) return undefined;
  if (!Array.isArray(filters)) throw new ConfigError(`${where}: option "partitions" must be an array of partition paths or objects`);
  const known = new Set([...keys, 'year', 'month', 'day']);
  return filters.map((f, i) => {
    if (typeof f === 'string') {
      // A filter is matched against the folders, never joined to a path: `..` as a segment is no
      // `key=value` (refused below), and inside a value (`store=v1..2`) it is text like any other.
      if (f.includes('\0')) throw new ConfigError(`${where}: partitions[${i}] ${JSON.stringify(f)} is not a partition path`);
      for (const seg of f.split('/').filter(Boolean)) {
        const key = seg.slice(0, seg.indexOf('='));
        if (!seg.includes('=') || !known.has(key)) throw new ConfigError(`${where}: partitions[${i}] ${JSON.stringify(f)}: "${seg}" is not <key>=<value> with a partition key of this dataset (${[...known].join(', ')})`);
      }
      return f;
    }
    if (f === null || typeof f !== 'object') throw new ConfigError(`${where}: partitions[${i}] must be a partition path or an object of partition values`);
    for (const [k, v] of Object.entries(f as Record<string, unknown>)) {
      if (!known.has(k)) throw new ConfigError(`${where}: partitions[${i}]: "${k}" is not a partition key of this dataset (${[...known].join(', ')})`);
      if (typeof v !== 'string') throw new ConfigError(`${where}: partitions[${i}].${k} must be a string`);
    }
    return f as Record<string, string>;
  });
}

/**
 * Each file's schema, as a comparable text: its tree of columns and nested fields with their
 * Parquet types, top-level columns in name order (union_by_name matches them by name), nested
 * fields in file order. The tree matters, not only the names and types: a column moved into a
 * struct (`a`, `s{b}` → `b`, `s{a}`) lists the same fields. One footer read per file, in one query.
 */
async function schemasOf(env: LifecycleEnv, files: LiveFile[]): Promise<Map<string, string>> {
  if (files.length === 0) return new Map();
  const rows = readerRows(
    await env.connection.runAndReadAll(
      `SELECT file_name AS f, concat_ws(':', name, type, converted_type, CAST(logical_type AS VARCHAR), repetition_type, scale, precision) AS node, coalesce(num_children, 0) AS n
       FROM parquet_schema([${files.map((f) => quoteLiteral(f.abs)).join(', ')}])`,
    ),
  );
  // parquet_schema lists a file's schema depth first, each node followed by its children.
  const byFile = new Map<string, { node: string; n: number }[]>();
  for (const r of rows) {
    const file = path.resolve(String(r.f));
    const list = byFile.get(file) ?? [];
    list.push({ node: String(r.node), n: Number(r.n) });
    byFile.set(file, list);
  }
  const out = new Map<string, string>();
  for (const [file, nodes] of byFile) {
    let i = 0;
    const tree = (sortChildren: boolean): string => {
      const at = nodes[i++];
      if (at === undefined) throw new Error('short');
      const children = Array.from({ length: at.n }, () => tree(false));
      if (sortChildren) children.sort();
      return children.length === 0 ? at.node : `${at.node}(${children.join(',')})`;
    };
    try {
      const schema = tree(true);
      // A list that does not read as one tree is no schema to compare: the file is merged with none.
      out.set(file, i === nodes.length ? schema : `\0${file}`);
    } catch {
      out.set(file, `\0${file}`);
    }
  }
  return out;
}

/**
 * Groups of consecutive small files (in run order) up to the target size, of one schema each;
 * groups of one are left alone. Files whose schemas differ (a column added or retyped between
 * runs) are not merged: the merged file would hold every row in the union's types, so reading as
 * of an earlier run would see a column or type its rows never had.
 */
function plan(files: LiveFile[], targetBytes: number, schemas: Map<string, string>): LiveFile[][] {
  const byPartition = new Map<string, LiveFile[]>();
  for (const f of files) {
    const list = byPartition.get(f.partitionDir) ?? [];
    list.push(f);
    byPartition.set(f.partitionDir, list);
  }
  const groups: LiveFile[][] = [];
  for (const list of byPartition.values()) {
    const small = list.filter((f) => f.bytes < targetBytes * 0.75).sort((a, b) => (a.abs < b.abs ? -1 : 1));
    let group: LiveFile[] = [];
    let bytes = 0;
    for (const f of small) {
      // A file whose schema was not read is merged with none.
      const schemaOf = (file: LiveFile): string => schemas.get(path.resolve(file.abs)) ?? `\0${file.abs}`;
      const schemaChanges = group.length > 0 && schemaOf(f) !== schemaOf(group[0]!);
      if (group.length > 0 && (bytes + f.bytes > targetBytes || schemaChanges)) {
        if (group.length > 1) groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push(f);
      bytes += f.bytes;
    }
    if (group.length > 1) groups.push(group);
  }
  return groups;
}

/** The earliest run id among a merged file's `_run_id`s and its inputs' names (the compaction's own when none is one). */
async function firstRunIn(env: LifecycleEnv, file: string, group: LiveFile[]): Promise<string> {
  // A file without _run_id (not written by duckhouse) says nothing: its inputs' names decide.
  const min = await env.connection
    .runAndReadAll(`SELECT min(_run_id) AS r FROM read_parquet(${quoteLiteral(file)})`)
    .then((reader) => readerRows(reader)[0]?.r)
    .catch(() => undefined);
  const runs = [...group.map((f) => f.runId), typeof min === 'string' ? min : ''].filter((r) => RUN_ID_PATTERN.test(r)).sort();
  return runs[0] ?? env.runId;
}

interface CompactionManifest {
  kind: 'compact';
  runId: string;
  /** The lake root it was written under: in an earlier version's manifest, whose outputs are absolute. */
  root?: string;
  /**
   * The outputs moved (or about to be moved) into bronze, relative to the lake root (absolute in an
   * earlier version's): a lake folder moved or copied after a kill is rolled back in its new place.
   */
  outputs: string[];
}

/**
 * Refuses bad compact options and returns the target size in MB. Called before the run is
 * recorded too: a typo is no failed `compact` run in the history.
 */
export function checkCompactOptions(options: CompactOptions, defaultTargetMb: number): number {
  const where = 'lake.compact';
  checkNames(where, options?.source, options?.dataset);
  const targetMb = options.targetFileMb ?? defaultTargetMb;
  if (typeof targetMb !== 'number' || !Number.isFinite(targetMb) || targetMb <= 0) {
    throw new ConfigError(`${where}: option "targetFileMb" must be a positive number (got ${String(options.targetFileMb)})`);
  }
  return targetMb;
}

export async function compactDataset(env: LifecycleEnv, options: CompactOptions, defaultTargetMb: number): Promise<CompactResult> {
  const where = 'lake.compact';
  const targetMb = checkCompactOptions(options, defaultTargetMb);
  const started = performance.now();
  const { source, dataset } = options;
  const lock = await acquireLock(path.join(env.root, 'state', 'locks', `bronze.${source}.${dataset}`), { timeoutMillis: env.lockTimeoutMillis, what: `bronze ${source}/${dataset} (a compaction or prune is running)`, ...(env.signal ? { signal: env.signal } : {}) });
  const result: CompactResult = { runId: env.runId, status: 'success', source, dataset, partitions: 0, filesIn: 0, filesOut: 0, bytesIn: 0, bytesOut: 0, rows: 0, deleted: 0, durationMs: 0 };
  const work = path.join(env.tmpDir, `compact-${env.runId}`);
  const manifestFile = path.join(env.tmpDir, `compact-${env.runId}.json`);
  // A merge of a big partition is one long COPY: close() would wait for it, then close the engine under it.
  const stopInterrupting = interruptOnAbort(env.connection, env.signal);
  try {
    const live = await liveFiles(env, source, dataset);
    const filters = validateFilters(where, options.partitions, live.partitionKeys);
    const candidates = live.files.filter((f) => matchesFilter(f, filters));
    // A list of no partition compacts none (it is a filter, as Iceberg's rewrite with a filter matching
    // nothing rewrites nothing): a caller passing the partitions it touched, none this time, must not
    // get the whole dataset rewritten. Said in warnings, as a filter matching no partition is.
    if (filters !== undefined && filters.length === 0) {
      const message = `${where}: option "partitions" is an empty list: no partition was compacted (leave it out to compact every partition)`;
      (result.warnings ??= []).push(message);
      env.logger.warn(message);
    }
    // A filter naming no partition is most likely a typo (or a value written differently): say so rather than report 0 files.
    (filters ?? []).forEach((f, i) => {
      if (live.files.some((file) => matchesOne(file, f))) return;
      const message = `${where}: partitions[${i}] ${JSON.stringify(f)} matches no partition of ${source}/${dataset}`;
      (result.warnings ??= []).push(message);
      env.logger.warn(message);
    });
    const targetBytes = targetMb * 1024 * 1024;
    const groups = plan(candidates, targetBytes, await schemasOf(env, candidates.filter((f) => f.bytes < targetBytes * 0.75)));
    fs.mkdirSync(work, { recursive: true });
    const partitions = new Set<string>();
    let pending: { group: LiveFile[]; tmp: string; final: string; rows: number; bytes: number }[] = [];
    let pendingBytes = 0;
    let n = 0;
    const switchPending = async (): Promise<void> => {
      if (pending.length === 0) return;
      // Outputs merged from inputs read before close() interrupted a statement (firstRunIn's read
      // fails quietly) are not switched in: they stay in the work folder, removed below.
      env.signal?.throwIfAborted();
      writeFileAtomic(manifestFile, JSON.stringify({ kind: 'compact', runId: env.runId, outputs: pending.map((p) => rootRelative(env.root, p.final)) } satisfies CompactionManifest));
      applyMoves(pending.map((p) => ({ from: p.tmp, to: p.final })));
      await env.metrics.switchBronzeFiles({
        runId: env.runId,
        source,
        dataset,
        added: pending.map((p): BronzeFileRow => ({ path: path.relative(env.root, p.final), partition: p.group[0]!.partition, rows: p.rows, bytes: p.bytes })),
        removed: pending.flatMap((p) => p.group.map((f) => ({ path: f.rel, partition: f.partition, rows: live.recorded.get(f.rel)?.rows ?? 0, bytes: f.bytes, runId: f.runId }))),
      });
      fs.rmSync(manifestFile, { force: true });
      for (const p of pending) {
        partitions.add(p.group[0]!.partitionDir);
        result.filesIn += p.group.length;
        result.filesOut += 1;
        result.bytesIn += p.group.reduce((s, f) => s + f.bytes, 0);
        result.bytesOut += p.bytes;
        result.rows += p.rows;
      }
      pending = [];
      pendingBytes = 0;
    };
    for (const group of groups) {
      // The lake's close(): stop at the next group; outputs not switched in are rolled back below.
      env.signal?.throwIfAborted();
      n += 1;
      const tmp = path.join(work, `g${n}.parquet`);
      const list = `[${group.map((f) => quoteLiteral(f.abs)).join(', ')}]`;
      const inputRows = Number(readerRows(await env.connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0) AS n FROM parquet_file_metadata(${list})`))[0]?.n ?? 0);
      // Files are read in run order and the order is kept: row groups stay sorted by _run_id,
      // so readers "as of a run" skip the later ones by their statistics.
      try {
        await env.connection.run(
          `COPY (SELECT * FROM read_parquet(${list}, union_by_name = true, hive_partitioning = false)) TO ${quoteLiteral(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
        );
      } catch (error) {
        // Interrupted by close(): the lake says it closed, not that the merge failed.
        if (env.signal?.aborted) throw error;
        throw new DuckhouseError('COMPACT_FAILED', `${where}: merging ${group.length} files of ${source}/${dataset}/${group[0]!.partitionDir} failed: ${(error as Error).message}`, { cause: error });
      }
      const outputRows = Number(readerRows(await env.connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0) AS n FROM parquet_file_metadata(${quoteLiteral(tmp)})`))[0]?.n ?? 0);
      if (outputRows !== inputRows) {
        throw new DuckhouseError('COMPACT_FAILED', `${where}: ${source}/${dataset}/${group[0]!.partitionDir}: wrote ${outputRows} rows for ${inputRows} read; nothing was switched`);
      }
      const bytes = fs.statSync(tmp).size;
      // Named by the first run whose rows it holds (readers as of a run skip files named later): the
      // rows say it, not the input names — a file named otherwise (a copy's part-0.parquet) may hold
      // rows of a run earlier than the group's first name.
      const final = path.join(path.dirname(group[0]!.abs), compactedFileName(await firstRunIn(env, tmp, group), env.runId, n));
      pending.push({ group, tmp, final, rows: outputRows, bytes });
      pendingBytes += bytes;
      if (pendingBytes >= SWITCH_BYTES || pending.reduce((s, p) => s + p.group.length, 0) >= SWITCH_INPUT_FILES) await switchPending();
    }
    await switchPending();
    result.partitions = partitions.size;
    result.deleted = await purgeRemoved(env);
  } catch (error) {
    result.status = 'failed';
    result.error = (error as Error).message;
    // Outputs never switched in are invisible; remove them now rather than at the next open.
    await rollbackCompaction(env.metrics, manifestFile, env.root).catch(() => undefined);
    throw Object.assign(error as Error, { result: { ...result, durationMs: Math.round(performance.now() - started) } });
  } finally {
    stopInterrupting();
    fs.rmSync(work, { recursive: true, force: true });
    lock.release();
  }
  result.durationMs = Math.round(performance.now() - started);
  env.logger.info(`compacted ${source}/${dataset}: ${result.filesIn} files → ${result.filesOut} in ${result.partitions} partitions (${result.rows} rows)`, { durationMs: result.durationMs });
  return result;
}

/** `'YYYY-MM-DD'` of the first day kept. */
export function pruneCutoff(olderThan: unknown, timezone: string, now = new Date()): string {
  const where = 'lake.prune';
  // The cutoff is compared with the partitions' dates as text: it must be a 4-digit year too
  // ('900-06-01' sorts after '2026-03-05', and would prune everything).
  const fourDigits = (year: number): boolean => year >= 1 && year <= 9999;
  if (olderThan instanceof Date) {
    if (Number.isNaN(olderThan.getTime())) throw new ConfigError(`${where}: option "olderThan" is an invalid Date`);
    // A day's margin: the year in the lake's time zone may be the next or the previous one.
    const t = olderThan.getTime();
    if (!fourDigits(new Date(t - 86_400_000).getUTCFullYear()) || !fourDigits(new Date(t + 86_400_000).getUTCFullYear())) {
      throw new ConfigError(`${where}: option "olderThan" ${olderThan.toISOString()} is outside the years 0001-9999`);
    }
    const { year, month, day } = dateParts(olderThan, timezone);
    return `${year.padStart(4, '0')}-${month}-${day}`;
  }
  if (typeof olderThan === 'string') {
    const age = /^(\d+)d$/.exec(olderThan);
    if (age) {
      const { year, month, day } = dateParts(now, timezone);
      const today = Date.UTC(Number(year), Number(month) - 1, Number(day));
      const cutoff = new Date(today - Number(age[1]) * 86_400_000);
      if (Number.isNaN(cutoff.getTime()) || !fourDigits(cutoff.getUTCFullYear())) throw new ConfigError(`${where}: option "olderThan" ${JSON.stringify(olderThan)} is an age too large for a date`);
      return cutoff.toISOString().slice(0, 10);
    }
    // Date.parse rolls an impossible day over ('2026-02-30' is March 2): the date must read back the same.
    const parsed = /^\d{4}-\d{2}-\d{2}$/.test(olderThan) ? Date.parse(`${olderThan}T00:00:00Z`) : Number.NaN;
    if (!Number.isNaN(parsed) && new Date(parsed).toISOString().slice(0, 10) === olderThan) return olderThan;
  }
  throw new ConfigError(`${where}: option "olderThan" must be a Date, 'YYYY-MM-DD' or an age like '365d' (got ${JSON.stringify(olderThan)})`);
}

/**
 * Refuses bad prune options and returns the cutoff. Called before the run is recorded too: a
 * typo is no failed `prune` run in the history.
 */
export function checkPruneOptions(options: PruneOptions, timezone: string): string {
  const where = 'lake.prune';
  checkNames(where, options?.source, options?.dataset);
  const cutoff = pruneCutoff(options.olderThan, timezone);
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') throw new ConfigError(`${where}: option "dryRun" must be a boolean`);
  return cutoff;
}

export async function pruneDataset(env: LifecycleEnv, options: PruneOptions): Promise<PruneResult> {
  const where = 'lake.prune';
  const cutoff = checkPruneOptions(options, env.timezone);
  const started = performance.now();
  const { source, dataset } = options;
  const dryRun = options.dryRun ?? false;
  const lock = await acquireLock(path.join(env.root, 'state', 'locks', `bronze.${source}.${dataset}`), { timeoutMillis: env.lockTimeoutMillis, what: `bronze ${source}/${dataset} (a compaction or prune is running)`, ...(env.signal ? { signal: env.signal } : {}) });
  const stopInterrupting = interruptOnAbort(env.connection, env.signal);
  try {
    const live = await liveFiles(env, source, dataset);
    const old = live.files.filter((f) => {
      const { year, month, day } = f.partition;
      if (!year || !month || !day) throw new DuckhouseError('PRUNE_NO_DATE', `${where}: ${f.rel} has no year/month/day partition`);
      return `${year}-${month}-${day}` < cutoff;
    });
    const result: PruneResult = {
      runId: env.runId,
      status: 'success',
      source,
      dataset,
      cutoff,
      dryRun,
      partitions: [...new Set(old.map((f) => partitionName(f.partitionDir)))].sort(),
      files: old.length,
      rows: old.reduce((s, f) => s + (live.recorded.get(f.rel)?.rows ?? 0), 0),
      bytes: old.reduce((s, f) => s + f.bytes, 0),
      deleted: 0,
      durationMs: 0,
    };
    // Rows of files the metrics db never recorded (bronze restored from a backup) are counted from
    // their footers: read-only, so a dry run reports what the prune removes.
    const unrecorded = old.filter((f) => !live.recorded.has(f.rel));
    if (unrecorded.length > 0) {
      const rows = readerRows(await env.connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0) AS n FROM parquet_file_metadata([${unrecorded.map((f) => quoteLiteral(f.abs)).join(', ')}])`));
      result.rows += Number(rows[0]?.n ?? 0);
    }
    if (!dryRun) {
      // Closed while it read: nothing is removed.
      env.signal?.throwIfAborted();
      if (old.length > 0) {
        await env.metrics.switchBronzeFiles({
          runId: env.runId,
          source,
          dataset,
          added: [],
          removed: old.map((f) => ({ path: f.rel, partition: f.partition, rows: live.recorded.get(f.rel)?.rows ?? 0, bytes: f.bytes, runId: f.runId })),
        });
      }
      result.deleted = await purgeRemoved(env);
    }
    result.durationMs = Math.round(performance.now() - started);
    env.logger.info(`${dryRun ? 'would prune' : 'pruned'} ${source}/${dataset} before ${cutoff}: ${result.files} files in ${result.partitions.length} partitions`);
    return result;
  } finally {
    stopInterrupting();
    lock.release();
  }
}

/**
 * Deletes removed bronze files once their removal is older than the retention and than the start
 * of every build and test run and other reader of bronze still running, no view of the published catalog names them and no catalog it
 * replaced named them within the retention; then the partition folders left empty. Returns the count.
 */
export async function purgeRemoved(env: Pick<LifecycleEnv, 'root' | 'metrics' | 'retainMillis' | 'published' | 'logger'>): Promise<number> {
  const cutoff = Date.now() - env.retainMillis;
  // A build running (in any process) listed the files visible when it started, before its lock and
  // its publish: files removed since may be named by the views it is about to publish, which the
  // published catalog cannot tell yet. A `lake.test` run lists them when it starts and reads them
  // at each test's turn. They wait for its end (a short retention would not), as do those a
  // `lake.bronze`, `lake.exportDdl` or a source's `ctx.bronzeFiles` listed and reads (see readers.ts).
  const building = await env.metrics.earliestRunningReader();
  const reading = earliestBronzeRead(env.root, env.metrics.otherHostAbandonHours);
  const since = Math.min(building?.getTime() ?? Infinity, reading?.getTime() ?? Infinity);
  const candidates = await env.metrics.removedBronzeFiles(new Date(Math.min(cutoff, since - 1)));
  if (candidates.length === 0) return 0;
  const { sql, garbage } = await env.published();
  const published = sql.join('\n');
  const recentlyNamed = new Set(garbage.filter((g) => Date.parse(g.supersededAt) > cutoff).map((g) => g.path));
  let deleted = 0;
  for (const rel of candidates) {
    const abs = path.join(env.root, rel);
    if (!fs.existsSync(abs) || recentlyNamed.has(abs)) continue;
    if (published.includes(abs) || published.includes(abs.replaceAll("'", "''"))) continue;
    fs.rmSync(abs, { force: true });
    deleted += 1;
    // Empty partition folders go too, up to the dataset folder.
    const stop = path.join(env.root, 'bronze');
    for (let dir = path.dirname(abs); dir.startsWith(stop + path.sep) && path.dirname(path.dirname(dir)) !== stop; dir = path.dirname(dir)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        break;
      }
    }
  }
  if (deleted > 0) env.logger.info(`deleted ${deleted} removed bronze file(s) past their retention`);
  return deleted;
}

/**
 * Removes the outputs of a compaction whose switch was never recorded, from the lake at `root` (the
 * one opened: the folder may have been moved or copied since the manifest was written). Idempotent.
 * An output outside `bronze/` (`..`, another folder) is refused before any is removed.
 */
export async function rollbackCompaction(metrics: MetricsDb, manifestFile: string, root: string): Promise<number> {
  let manifest: CompactionManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as CompactionManifest;
  } catch {
    return 0;
  }
  const bronze = path.join(root, 'bronze');
  const outputs = manifest.outputs.map((output, i) => recordedPathIn(root, manifest.root, output, bronze, manifestFile, `outputs[${i}]`, 'no output of that compaction was removed'));
  const { compacted, removed: superseded } = await metrics.bronzeVisibility();
  let removed = 0;
  for (const output of outputs) {
    if (!isCompactionOutput(output)) continue;
    // An output switched in and since superseded by a later compaction or prune is a removed
    // file like any other: purgeRemoved deletes it after the retention, once no published view
    // names it. Only outputs the metrics db never recorded are invisible to every reader.
    const rel = path.relative(root, output);
    if (compacted.has(rel) || superseded.has(rel)) continue;
    if (fs.existsSync(output)) {
      fs.rmSync(output, { force: true });
      removed += 1;
    }
  }
  fs.rmSync(manifestFile, { force: true });
  return removed;
}
