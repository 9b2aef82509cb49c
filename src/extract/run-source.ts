/**
 * Runs one source into bronze: validate each record, quarantine the invalid ones with their
 * reasons, buffer the valid ones in a BronzeWriter, commit by size, and save the source's
 * cursor only after the files holding its records are committed.
 */
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Limits } from '../config.js';
import { ConfigError, DuckhouseError, errorMessage, SourceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MetricsDb } from '../metrics/metrics-db.js';
import { BronzeWriter, type RunSequence } from '../bronze/writer.js';
import type { SourceResult } from '../results.js';
import { QuarantineWriter } from './quarantine.js';
import { scrubSecretValues } from '../redact.js';
import { cursorValue, locatorOf, type AnySource, type ExtractContext, type HttpHostStats, type SourceRecord } from './source.js';
import { cursorFileName, cursorKeyOf, type CursorStore } from './cursor-store.js';
import { writeFileAtomic, type RecordedSchemaFile } from '../bronze/commit.js';
import { stringifyJsonExact } from './json-exact.js';
import { readRecordedSchema, schemaFile, type RecordedSchema } from '../transform/source-relation.js';
import { diffSchemas, type SchemaChange } from '../metrics/alerts.js';

export interface SourceEnv {
  root: string;
  tmpDir: string;
  runId: string;
  timezone: string;
  limits: Limits;
  metrics: MetricsDb;
  logger: Logger;
  signal: AbortSignal;
  connection: DuckDBConnection;
  /** The engine, for sources that need their own connections. */
  engine: DuckDBInstance;
  cursors: CursorStore;
  /** The lake's `lockTimeoutMillis`, for the source's own state files (OAuth token stores). */
  lockTimeoutMillis: number;
  /** Batch and file numbers shared by the run's writers. */
  sequence: RunSequence;
  /** Fixed `_extracted_at` for every row (backfills, simulated days). */
  extractedAt?: Date;
  /**
   * The cursors the extract's sources have used, by file: a second source of the same extract
   * asking for one fails instead of going on from the first one's position.
   */
  cursorClaims?: Map<string, AnySource>;
  /** Called after each committed batch (progress display). */
  onProgress?: (event: { source: string; dataset: string; rows: number; rejected: number; pages: number; requests: number; retries: number; elapsedMs: number }) => void;
}

export async function runSource(source: AnySource, env: SourceEnv): Promise<SourceResult> {
  const started = performance.now();
  const limits: Limits = { ...env.limits, ...source.limits };
  // A store of several writing one dataset is named by its scope: which one failed is in the log.
  const scope = cursorKeyOf(source).scope;
  const logger = env.logger.child({ source: source.source, dataset: source.dataset, ...(scope === undefined ? {} : { scope }) });
  const connections: DuckDBConnection[] = [];
  /** Held from the first `ctx.bronzeFiles()` until the source ends (see bronze/readers.ts). */
  let bronzeLease: { release(): void } | undefined;
  let schema = source.schema;
  let columns = source.columns;
  // Batches are written and committed on their own connection while the next one is buffered.
  const flushConnection = await env.engine.connect();
  connections.push(flushConnection);
  const makeWriter = (): BronzeWriter => new BronzeWriter({
    connection: env.connection,
    flushConnection,
    root: env.root,
    tmpDir: env.tmpDir,
    source: source.source,
    dataset: source.dataset,
    runId: env.runId,
    timezone: env.timezone,
    columns,
    partitionKeys: source.partitionKeys,
    flushRows: limits.flushRows,
    flushBytes: limits.flushBytes,
    metrics: env.metrics,
    sequence: env.sequence,
  });
  let writer = makeWriter();
  // One cursor per source, not per dataset, when the source has constant partitions (one store of several).
  const cursorKey = cursorKeyOf(source);
  const quarantine = new QuarantineWriter(env.root, source.source, source.dataset, env.runId);
  const warnings: string[] = [];
  const httpStats: HttpHostStats[] = [];
  let position = 0;
  let rejectedSinceFlush = 0;
  // The cursor covering the records appended so far, and whether it moved since the last save.
  let cursor: unknown;
  let cursorDirty = false;
  // The cursor the source declared last: it may cover the item it yields next (http, html and
  // Mercado Livre sources declare a page's cursor before yielding the page), so it counts only
  // once that item is appended. Declared with an item never appended (an abort, an append that
  // threw), it is dropped: saved, the next run would skip that item's records.
  let declared: { cursor: unknown } | { cursorOf: (accepted: unknown[]) => unknown } | undefined;
  /** Adopts the declared cursor; `accepted`: the raw records of the item just appended that went to bronze. */
  const adoptDeclared = (accepted: unknown[]): void => {
    if (!declared) return;
    const value = 'cursorOf' in declared ? declared.cursorOf(accepted) : declared.cursor;
    declared = undefined;
    if (value === undefined) return;
    cursor = value;
    cursorDirty = true;
  };
  // Whether an item was received and not appended yet.
  let unappended = false;
  // Named once: checked at every checkpoint (a page each).
  const cursorFile = cursorFileName(cursorKey);
  const claimCursor = (): void => {
    const owner = env.cursorClaims?.get(cursorFile);
    if (owner === undefined) env.cursorClaims?.set(cursorFile, source);
    else if (owner !== source) {
      throw new ConfigError(
        `${source.source}/${source.dataset}: another source of this extract already keeps its cursor in state/cursors/${cursorFile}; two incremental sources of one dataset share one cursor (each would skip what the other read) unless each has a constant partition value: give each its own, e.g. partitionBy: { account: 'a' }`,
      );
    }
  };

  const ctx: ExtractContext = {
    runId: env.runId,
    source: source.source,
    dataset: source.dataset,
    logger,
    signal: env.signal,
    limits,
    root: env.root,
    lockTimeoutMillis: env.lockTimeoutMillis,
    timezone: env.timezone,
    cursor: async () => {
      claimCursor();
      return env.cursors.read(cursorKey, env.signal);
    },
    checkpoint(value) {
      claimCursor();
      declared = { cursor: value };
    },
    checkpointAccepted(cursorOf) {
      claimCursor();
      declared = { cursorOf };
    },
    reject(raw, reason, location) {
      position += 1;
      rejectedSinceFlush += 1;
      quarantine.add({ runId: env.runId, source: source.source, dataset: source.dataset, position, ...location, reasons: [{ path: '', message: reason }], record: raw });
    },
    async connect() {
      const c = await env.engine.connect();
      connections.push(c);
      return c;
    },
    async bronzeFiles(s, d) {
      const { scanBronze } = await import('../transform/source-relation.js');
      // The source reads the files it lists whenever it likes, until it ends: none may be purged before.
      const { holdBronzeRead } = await import('../bronze/readers.js');
      bronzeLease ??= holdBronzeRead(env.root);
      return scanBronze(env.root, s, d, await env.metrics.bronzeVisibility()).files;
    },
    stats: { requests: 0, retries: 0, pages: 0 },
    reportHttpStats(stats) {
      httpStats.push(...stats);
    },
    warn(message, meta) {
      warnings.push(message);
      logger.warn(message, meta);
    },
  };

  const report = (): void =>
    env.onProgress?.({
      source: source.source,
      dataset: source.dataset,
      rows: writer.totals.rows + writer.buffered + writingRows,
      rejected: quarantine.count,
      pages: ctx.stats.pages,
      requests: ctx.stats.requests,
      retries: ctx.stats.retries,
      elapsedMs: performance.now() - started,
    });

  // Set once a batch failed to commit (with the first such error): records the cursor covers may
  // be in it, so this run must not save the cursor any more (the next run reads them again), and
  // it stops fetching.
  let failedWrite: { error: unknown } | undefined;
  // Set once the quarantine file could not be written: the source stops, but the rows validated
  // before are still committed (a failure must not take the valid rows with it).
  let quarantineFailed: unknown;
  const flushQuarantine = (): void => {
    try {
      quarantine.flush();
    } catch (e) {
      quarantineFailed ??= e;
    }
  };
  // The batch being written and committed while the next one is buffered (at most one), and its rows.
  let writing: Promise<void> | undefined;
  let writingRows = 0;
  // Writes the dataset's schema as this run has it to state/schemas/, once bronze holds it: with the
  // run's first committed batch, or at the end of a run that committed none and failed in nothing
  // (an empty source still gives models its columns). Written at the start, a run killed before
  // its first commit left columns no file holds, and the next run's drift check compared with them.
  let recordSchema: (() => void) | undefined;
  let schemaRecord: RecordedSchemaFile | undefined;
  // Whether bronze has (or its roll-forward will have) this run's schema: only then is its drift
  // the run's. A run that committed nothing changed nothing: the next one finds the same drift.
  let schemaLanded = false;
  /**
   * Seals what is buffered as a batch, with the cursor and rejections so far, and writes it:
   * in the background (`await`ed by the next flush, which keeps batches and cursor saves in
   * order, and throws the error of a batch that failed), or at once for the last one.
   */
  const flush = async (background: boolean): Promise<void> => {
    const previous = writing;
    writing = undefined;
    await previous;
    flushQuarantine();
    // Not past records whose rejection is in no file: the next run reads them again.
    const withCursor = cursorDirty && !failedWrite && !quarantineFailed;
    // Written out here, once a commit, rather than at every checkpoint (see lazyCursor); and its
    // JSON once, for the state file, the batch's commit cursor file and source_batches.
    const saving = withCursor ? cursorValue(cursor) : undefined;
    const savingText = withCursor ? stringifyJsonExact(saving) : undefined;
    const savingJson = savingText === undefined ? undefined : Buffer.from(savingText);
    const rejected = rejectedSinceFlush;
    const sealed = await writer.seal();
    rejectedSinceFlush = 0;
    if (!sealed) {
      // Nothing buffered: every record the cursor covers was committed earlier (or there were none).
      // Records rejected since the last batch are recorded as a batch of no rows: source_batches
      // is what an abandoned run's counts are rebuilt from, and they are in the quarantine.
      if (rejected > 0) {
        await env.metrics.recordBatch({
          runId: env.runId,
          source: source.source,
          dataset: source.dataset,
          batchNo: env.sequence.nextBatch(),
          rows: 0,
          rejected,
          cursor: withCursor ? saving : undefined,
          ...(savingJson === undefined ? {} : { cursorJson: savingJson }),
          ...(withCursor && cursorKey.scope !== undefined ? { cursorScope: cursorKey.scope } : {}),
          files: [],
        });
      }
      if (withCursor) {
        await env.cursors.save(cursorKey, saving, env.runId, savingJson);
        cursorDirty = false;
      }
      report();
      return;
    }
    if (withCursor) cursorDirty = false;
    writingRows = sealed.rows;
    const job = writer
      .write(sealed, {
        rejected,
        cursor: withCursor ? saving : undefined,
        ...(savingJson === undefined ? {} : { cursorJson: savingJson }),
        ...(withCursor && cursorKey.scope !== undefined ? { cursorScope: cursorKey.scope } : {}),
        // The batch that brings this run's schema into bronze records its drift and the schema
        // (a roll-forward with them: the next run compares with what bronze holds).
        ...(recordSchema && schemaRecord ? { schemaChanges, schema: schemaRecord, committed: () => void (schemaLanded = true) } : {}),
        // Saved while the commit manifest still exists: a kill here is rolled forward with the cursor.
        afterRecord: async () => {
          recordSchema?.();
          if (withCursor) await env.cursors.save(cursorKey, saving, env.runId, savingJson);
        },
      })
      .then(
        () => {
          writingRows = 0;
          report();
        },
        (e: unknown) => {
          writingRows = 0;
          failedWrite ??= { error: e };
          throw e;
        },
      );
    if (!background) return job;
    job.catch(() => undefined); // its error is thrown by the next flush
    writing = job;
  };

  let error: unknown;
  let schemaChanges: SchemaChange[] = [];
  try {
    let guessed = false;
    if (source.resolve) {
      ({ schema, columns, guessed = false } = await source.resolve(ctx));
      writer = makeWriter();
    }
    // What bronze holds, so models can read an empty source with the right columns; and what changed.
    // Columns guessed from files without rows are compared with nothing, as a first run's are: the
    // first real types (BIGINT where the header-only file read text) are no drift.
    const nowColumns = columns.map((c) => ({ name: c.name, type: c.sqlType }));
    const recorded = readRecordedSchema(env.root, source.source, source.dataset);
    schemaChanges = diffSchemas(recorded?.guessed ? undefined : recorded?.columns, nowColumns);
    const now = { runId: env.runId, columns: nowColumns, partitionKeys: source.partitionKeys.map((k) => k.name), ...(guessed ? { guessed: true as const } : {}) };
    const text = JSON.stringify({ columns: now.columns, partitionKeys: now.partitionKeys, runId: env.runId, ...(guessed ? { guessed: true } : {}), history: schemaHistory(recorded, now) }, null, 2);
    schemaRecord = { file: path.resolve(schemaFile(env.root, source.source, source.dataset)), text };
    recordSchema = () => {
      recordSchema = undefined;
      writeFileAtomic(schemaRecord!.file, text);
      schemaLanded = true;
    };
    for await (const item of source.extract(ctx)) {
      unappended = true;
      if (env.signal.aborted) throw env.signal.reason ?? new Error('aborted');
      if (failedWrite) throw failedWrite.error; // a batch failed in the background: stop fetching
      if (quarantineFailed) throw quarantineFailed;
      const batch = (Array.isArray(item) ? item : [item]) as unknown[];
      // A file source's records: a rejected one is quarantined with its file and line.
      const locate = locatorOf(item);
      const valid: SourceRecord[] = [];
      const validRaw: unknown[] = [];
      const validPositions: number[] = [];
      const validIndexes: number[] = [];
      for (let index = 0; index < batch.length; index++) {
        const record = batch[index];
        position += 1;
        const parsed = schema.safeParse(record);
        if (parsed.success) {
          valid.push(parsed.data as SourceRecord);
          validRaw.push(record);
          validPositions.push(position);
          validIndexes.push(index);
        } else {
          rejectedSinceFlush += 1;
          quarantine.add({
            runId: env.runId,
            source: source.source,
            dataset: source.dataset,
            position,
            ...(locate ? await locate(index) : {}),
            reasons: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message, code: i.code })),
            record,
          });
        }
      }
      let accepted = validRaw;
      if (valid.length > 0) {
        // An API may echo the source's own credential in a valid record (a callback URL with the key).
        const refused = await writer.append(scrubSecretValues(valid), env.extractedAt ?? new Date());
        if (refused.length > 0) {
          const out = new Set(refused.map((r) => r.index));
          accepted = validRaw.filter((_, i) => !out.has(i));
        }
        for (const r of refused) {
          rejectedSinceFlush += 1;
          quarantine.add({
            runId: env.runId,
            source: source.source,
            dataset: source.dataset,
            position: validPositions[r.index]!,
            ...(locate ? await locate(validIndexes[r.index]!) : {}),
            reasons: [{ path: r.field, message: r.message, code: r.code }],
            record: validRaw[r.index],
          });
        }
      }
      unappended = false;
      adoptDeclared(accepted);
      if (writer.shouldFlush) await flush(true);
      report();
    }
  } catch (e) {
    error = e;
  }
  // The source's last checkpoint covers only items it yielded, all appended, unless it came with
  // an item that was not (the loop stopped on it).
  if (!unappended) adoptDeclared([]);
  // Records validated before a failure are kept: commit them (the cursor covers only what was yielded).
  // A batch still being written finishes first; if it failed, the rows buffered since are still kept.
  try {
    await writing;
  } catch (e) {
    error ??= e;
  }
  writing = undefined;
  try {
    await flush(false);
  } catch (e) {
    error ??= e;
    await writer.discard().catch(() => undefined);
  }
  error ??= quarantineFailed;
  env.cursors.release(cursorKey);
  try {
    await env.metrics.recordHttpStats(env.runId, source.source, source.dataset, httpStats);
  } catch (e) {
    logger.error(`http stats could not be recorded: ${errorMessage(e)}`);
  }
  for (const c of connections) c.closeSync();
  bronzeLease?.release();
  const rows = writer.totals.rows;
  // Records came and none landed (an API that changed a field's type): a success here would keep
  // every signal green while bronze gets nothing, run after run. A source that yielded nothing is fine.
  if (error === undefined && rows === 0 && quarantine.count > 0) {
    const n = quarantine.count;
    error = new SourceError('ALL_REJECTED', `${n === 1 ? 'its only record was' : `all ${n} records were`} rejected, none reached bronze: see ${quarantine.file} for the reasons`);
  }
  if (error === undefined) {
    try {
      recordSchema?.();
    } catch (e) {
      error = e;
    }
  }
  const result: SourceResult = {
    source: source.source,
    dataset: source.dataset,
    ...(cursorKey.scope === undefined ? {} : { scope: cursorKey.scope }),
    status: error === undefined ? 'success' : rows > 0 ? 'partial' : 'failed',
    rows,
    rejected: quarantine.count,
    files: writer.totals.files,
    bytes: writer.totals.bytes,
    requests: ctx.stats.requests,
    retries: ctx.stats.retries,
    durationMs: Math.round(performance.now() - started),
    ...(error === undefined ? {} : { error: errorMessage(error) }),
    ...(error instanceof DuckhouseError ? { errorCode: error.code } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(schemaChanges.length > 0 && schemaLanded ? { schemaChanges } : {}),
  };
  if (error !== undefined) logger.error(`source failed: ${result.error}`, { rows, rejected: result.rejected });
  else logger.info(`extracted ${rows} rows (${result.rejected} rejected) in ${result.files} files`, { durationMs: result.durationMs });
  return result;
}

type SchemaVersion = NonNullable<RecordedSchema['history']>[number];

/**
 * The recorded schema's history with `now` appended when it differs from the last one (columns,
 * types, partition keys or guessed): one entry per schema the dataset has had, for reads as of a run.
 */
function schemaHistory(recorded: RecordedSchema | undefined, now: SchemaVersion): SchemaVersion[] {
  const history: SchemaVersion[] = recorded?.history ? [...recorded.history] : [];
  // A file from before the history was kept: what came before its schema is unknown, so it stands
  // for every earlier run (run id ''), as it did before.
  if (recorded && !recorded.history) {
    history.push({ runId: '', columns: recorded.columns, partitionKeys: recorded.partitionKeys, ...(recorded.guessed ? { guessed: true as const } : {}) });
  }
  const key = (v: SchemaVersion): string => JSON.stringify([v.columns, v.partitionKeys, v.guessed ?? false]);
  const last = history.at(-1);
  if (!last || key(last) !== key(now)) history.push(now);
  return history;
}
