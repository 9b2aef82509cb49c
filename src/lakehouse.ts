/**
 * Lakehouse: the one object a user holds. It owns the in-memory DuckDB engine (bronze
 * writing, queries), the logger, and the paths under `root`; every database file it touches
 * (metrics, analytics) is opened briefly and closed again, so other processes can take turns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBExtractedStatements, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
import { BIGINT, BIGNUM, BLOB, BOOLEAN, DOUBLE, DuckDBInstance, blobValue, DuckDBTimestampTZValue, HUGEINT, LIST, MAP, SQLNULL, StatementType, TIMESTAMPTZ, VARCHAR, isNodeApiValue, listValue, mapValue, type DuckDBType } from './db/duckdb.js';
import type * as arrow from 'apache-arrow';
import pLimit from 'p-limit';
import { redactString } from './redact.js';
import { checkOptionKeys, exportDdlOptionsSchema, openOptionsSchema, parseOptions, runOptionsSchema, testOptionsSchema, type OpenOptions, type ResolvedOptions } from './config.js';
import { ClosedError, ConfigError, DuckhouseError, LockError, QueryError, errorMessage } from './errors.js';
import { interruptOnAbort } from './abortable.js';
import { createLogger, defaultConsole, type Logger, type RootLogger } from './log.js';
import { ENGINE_SETTINGS, lockHolder, retryOnLock, serialized, throughLinks } from './db/file-queue.js';
import { attachShared, closeShared, type SharedAttachment } from './db/shared-attachments.js';
import { qualified, quoteIdent, quoteLiteral } from './db/quote.js';
import { readerRows, type Row } from './db/values.js';
import { functionCalled, stringLiterals, userStatementCount } from './db/statements.js';
import { MetricsDb, type BuildInputs, type RunRecord } from './metrics/metrics-db.js';
import { currentProcess } from './metrics/process-identity.js';
import { isDeadRun } from './metrics/run-history.js';
import { claimTmpDir, hasUnrecoveredCommit, recoverTmp } from './bronze/recover.js';
import { CursorStore, cursorKeyOf, tightenCursorModes } from './extract/cursor-store.js';
import { isSource, type AnySource } from './extract/source.js';
import { runSource } from './extract/run-source.js';
import { cutTornQuarantine } from './extract/quarantine.js';
import { combineStatus, sourceLabel, type AlertRecord, type BuildResult, type ExtractResult, type RunOutcome, type RunResult, type SourceResult, type TestResult } from './results.js';
import type { BuildOptions } from './transform/build.js';
import type { Project } from './transform/project.js';
import type { TestDef } from './transform/tests-def.js';
import type { BronzeVisibility } from './transform/source-relation.js';
import { readState, rebaseState, recordedCatalogRoot, type GarbageFile, type ModelState } from './transform/warehouse.js';
import { acquireLock, type HeldLock } from './extract/file-lock.js';
import type { Lineage } from './transform/lineage.js';
import type { ReportOptions, ReportResult } from './report/report.js';
import type { DdlEngine } from './scale/ddl.js';
import { moveFile, writeFileAtomic } from './bronze/commit.js';
import { runSequence } from './bronze/writer.js';
import { newRunId, RUN_ID_PATTERN } from './run-id.js';
import type { CompactOptions, CompactResult, LifecycleEnv, PruneOptions, PruneResult } from './bronze/lifecycle.js';
import { evaluateExtract, listAlerts, outcomeAlerts, runFailedAlert, type OpenAlert, type ProjectSubjects } from './metrics/alerts.js';
import { createProgress, progressEnabled } from './progress.js';
import type { RetireResult, RetireSourceOptions } from './metrics/retire-source.js';

export interface LakePaths {
  root: string;
  models: string;
  bronze: string;
  quarantine: string;
  state: string;
  tmp: string;
  logs: string;
  metrics: string;
  analytics: string;
  compiled: string;
  warehouse: string;
}

export type QueryParams = unknown[] | Record<string, unknown>;

export interface ExtractOptions {
  signal?: AbortSignal;
  /**
   * Stamp every row with this `_extracted_at` (and its `day=` partition) instead of the time it
   * arrived: for backfilling snapshots taken earlier, or simulating days in tests and demos.
   */
  extractedAt?: Date;
}

// No PRAGMA: DuckDB prepares a PRAGMA that returns rows (show_tables, table_info, version…) as the
// SELECT it stands for; one left a PRAGMA changes the session (enable_profiling, disable_optimizer…),
// which would hold for every later query and export on the shared query connection.
const READ_ONLY_STATEMENTS = new Set<number>([StatementType.SELECT, StatementType.EXPLAIN, StatementType.CALL]);

// No function that changes the session either: `CALL enable_logging()`, `SELECT * FROM
// enable_profiling()` (or one inside `query('…')`) would hold for every later query and export,
// as a PRAGMA would, `setseed(…)` would seed every later random(); `checkpoint()` /
// `truncate_duckdb_logs()` write. Looked for as calls, comments allowed between the name and `(`:
// not in comments, quoted names or string literals (`select 'checkpoint(' as s` calls nothing),
// but in the literals of query('…') and query_table('…'), which DuckDB runs.
const SESSION_FUNCTIONS = ['enable_logging', 'disable_logging', 'truncate_duckdb_logs', 'enable_profiling', 'disable_profiling', 'enable_peg_parser', 'disable_peg_parser', 'checkpoint', 'force_checkpoint', 'setseed'];

/** The error for a statement that calls a session-changing table function, or undefined. */
function sessionFunctionCall(sql: string): DuckhouseError | undefined {
  // The CHECKPOINT statement runs as CALL checkpoint() does.
  if (/^(?:FORCE\s+)?CHECKPOINT\b/i.test(fromFirstKeyword(sql))) return notReadOnly(StatementType.CALL, 'CHECKPOINT');
  const called = functionCalled(sql, SESSION_FUNCTIONS);
  if (!called) return undefined;
  return new DuckhouseError('QUERY_NOT_READ_ONLY', `lake.query is read-only: ${called}() changes the session for every later query and export (or writes), and is not allowed`);
}

/** The SQL from its first keyword on: leading whitespace and comments dropped. */
function fromFirstKeyword(sql: string): string {
  return sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/, '');
}

/** The statement an `EXPLAIN ANALYZE` (or `EXPLAIN (ANALYZE, …)`) runs; undefined for a plain EXPLAIN. */
function explainAnalyzed(sql: string): string | undefined {
  const text = fromFirstKeyword(sql);
  const m = /^EXPLAIN\s*(?:\(([^)]*)\)|(ANALY[SZ]E)\b)\s*/i.exec(text);
  if (!m || !(m[2] !== undefined || /\bANALY[SZ]E\b/i.test(m[1] ?? ''))) return undefined;
  return text.slice(m[0].length);
}

/** The type of one statement, or undefined when it is not exactly one statement that prepares. */
async function statementTypeOf(c: DuckDBConnection, sql: string): Promise<number | undefined> {
  try {
    const extracted = await c.extractStatements(sql);
    if (extracted.count !== 1) return undefined;
    const prepared = await extracted.prepare(0);
    try {
      return prepared.statementType;
    } finally {
      prepared.destroySync();
    }
  } catch {
    return undefined;
  }
}

export class Lakehouse {
  readonly paths: LakePaths;
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** @internal */
  readonly metrics: MetricsDb;
  private readonly rootLogger: RootLogger;
  private engineInstance: DuckDBInstance | undefined;
  private enginePromise: Promise<DuckDBInstance> | undefined;
  private readonly tmpDir: string;
  private readonly abort = new AbortController();
  /** Operations running now: `close()` lets them finish their records before it closes. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Connections of catalog snapshots still open (a report drawing its page). */
  private readonly snapshotConnections = new Set<DuckDBConnection>();
  /** This instance's DuckDB spill folder (two lakes of one process share the process's temp folder). */
  private readonly spillDir = `spill-${++instances}`;
  private queryConnection: DuckDBConnection | undefined;
  private attachedAnalytics: string | undefined;
  /** The query connection's attachment of analytics.duckdb (see db/shared-attachments.ts). */
  private queryAttachment: SharedAttachment<QueryCatalog> | undefined;
  private closed: Promise<void> | undefined;
  /** Why the published catalog, naming another root, is not read here (see followMove). */
  private movedCatalog: string | undefined;
  /** Why close() was called, when its caller said (the CLI: the signal that stopped it). */
  private closeReason: string | undefined;

  private constructor(init: {
    options: ResolvedOptions;
    paths: LakePaths;
    logger: RootLogger;
    metrics: MetricsDb;
    tmpDir: string;
  }) {
    this.options = init.options;
    this.paths = init.paths;
    this.rootLogger = init.logger;
    this.logger = init.logger;
    this.metrics = init.metrics;
    this.tmpDir = init.tmpDir;
  }

  /**
   * Opens (creating if needed) a lake under `root`.
   * @example
   * const lake = await Lakehouse.open({ root: 'data', models: 'models' });
   * try { await lake.extract([source]); } finally { await lake.close(); }
   */
  static async open(options: OpenOptions = {}): Promise<Lakehouse> {
    const resolved = parseOptions(openOptionsSchema, options, 'Lakehouse.open');
    const root = path.resolve(resolved.root);
    if (fs.existsSync(root) && !fs.statSync(root).isDirectory()) {
      throw new ConfigError(`Lakehouse.open: option "root" ${JSON.stringify(resolved.root)} is a file, not a folder`);
    }
    const paths: LakePaths = {
      root,
      models: path.resolve(resolved.models),
      bronze: path.join(root, 'bronze'),
      quarantine: path.join(root, 'quarantine'),
      state: path.join(root, 'state'),
      tmp: path.join(root, '.tmp'),
      logs: path.join(root, 'logs'),
      metrics: path.join(root, 'metrics', 'runs.duckdb'),
      analytics: path.join(root, 'analytics.duckdb'),
      compiled: path.join(root, 'compiled'),
      warehouse: path.join(root, 'warehouse'),
    };
    for (const dir of [root, paths.bronze, paths.tmp, paths.state, path.dirname(paths.metrics)]) fs.mkdirSync(dir, { recursive: true });
    const logger = createLogger({
      level: resolved.log.level,
      file: resolved.log.file === false ? false : path.resolve(resolved.log.file ?? path.join(paths.logs, 'duckhouse.log')),
      console: resolved.log.console ?? defaultConsole(),
      maxSizeBytes: Math.round(resolved.log.maxSizeMb * 1024 * 1024),
      maxFiles: resolved.log.maxFiles,
    });
    let lake: Lakehouse;
    const metrics = new MetricsDb(paths.metrics, resolved.lockTimeoutMillis, resolved.otherHostAbandonHours, (message) => logger.warn(message));
    try {
      tightenCursorModes(root, logger);
      // Roll committed batches of dead processes forward first, so abandoned runs count them.
      const cursors = new CursorStore(root, resolved.lockTimeoutMillis);
      const recover = (): ReturnType<typeof recoverTmp> =>
        recoverTmp(paths.tmp, metrics, logger, (s, d, c, r, t, scope) => cursors.saveRolledForward({ source: s, dataset: d, ...(scope === undefined ? {} : { scope }) }, c, r, t), resolved.lockTimeoutMillis);
      await recover();
      // A process alive when its folder was looked at may have died since, mid-commit: its run stays
      // `running` (its files renamed into bronze, not recorded, hidden) until its folder is
      // recovered, here and now, rather than read as committed in part.
      // (A live process mid-commit has its manifest too: it is not marked, and no second pass is needed for it.)
      let deferred = false;
      const unrecovered = (run: { status?: unknown; host?: unknown; pid: unknown; proc_start: unknown }): boolean => {
        const pending = hasUnrecoveredCommit(paths.tmp, run);
        deferred ||= pending && isDeadRun(run);
        return pending;
      };
      // Their quarantine files end with whole lines before the runs read as over.
      const cutTorn = (runIds: string[]): void => cutTornQuarantine(paths.quarantine, runIds, (message) => logger.warn(message));
      let abandoned = await metrics.markAbandoned(unrecovered, cutTorn);
      if (deferred) {
        await recover();
        abandoned = [...abandoned, ...(await metrics.markAbandoned(unrecovered, cutTorn))];
      }
      if (abandoned.length > 0) logger.warn(`marked ${abandoned.length} dead run(s) abandoned: ${abandoned.join(', ')}`);
      const tmpDir = claimTmpDir(paths.tmp, currentProcess());
      tmpClaims.set(tmpDir, (tmpClaims.get(tmpDir) ?? 0) + 1);
      lake = new Lakehouse({ options: resolved, paths, logger, metrics, tmpDir });
    } catch (error) {
      await metrics.close();
      await logger.close();
      throw error;
    }
    // One file read when the lake has not moved: the root its catalog was published under (the same
    // folder by another name, a symbolic link, is not a move: its paths still read this folder).
    const recordedRoot = recordedCatalogRoot(paths.analytics);
    if (recordedRoot !== root && !sameFolder(recordedRoot, root) && fs.existsSync(paths.analytics)) {
      try {
        await lake.followMove();
      } catch (error) {
        await lake.close();
        throw error;
      }
    }
    return lake;
  }

  /**
   * The published catalog names another root (the lake was moved or copied since, or it was
   * published by an earlier version, which recorded none): republished rebased under this one
   * (transform/republish.ts), so that no reader of this lake reads the old folder. Where it cannot
   * be (a build holds the lock, an object's files are not under this root), the catalog's readers
   * here refuse with `CATALOG_MOVED` until a build publishes it under this root.
   */
  private async followMove(): Promise<void> {
    const { republishMoved } = await import('./transform/republish.js');
    // Not looked at (its lock or its file could not be had): the lake still opens, to extract and to
    // build; its catalog's readers refuse when a recorded root says it names another folder (with
    // none recorded, a catalog of an earlier version, the lake may not have moved: only said).
    const notChecked = (recorded: string | undefined, reason: string): void => {
      if (recorded !== undefined && recorded !== this.paths.root) {
        this.movedCatalog = `analytics.duckdb (${this.paths.analytics}) names files under ${recorded}, not under ${this.paths.root}, and was not republished here: ${reason}. Run lake.build() to publish it under ${this.paths.root}`;
      }
      this.logger.warn(`analytics.duckdb not checked for a move: ${reason}`);
    };
    let lock: HeldLock;
    try {
      // Not the whole lockTimeoutMillis: the holder is a build of this folder, which publishes the
      // catalog rebased under it itself (then the refusal below lifts), and an open should not wait for it.
      lock = await acquireLock(this.paths.analytics, { timeoutMillis: Math.min(this.options.lockTimeoutMillis, 1000), what: 'analytics.duckdb (another build is running)' });
    } catch (error) {
      if (!(error instanceof LockError)) throw error;
      notChecked(recordedCatalogRoot(this.paths.analytics), error.message);
      return;
    }
    try {
      // Another process (a build, an open) may have published it here while this one waited.
      const recorded = recordedCatalogRoot(this.paths.analytics);
      if (recorded === this.paths.root || !fs.existsSync(this.paths.analytics)) return;
      let published: Awaited<ReturnType<Lakehouse['readPublished']>>;
      try {
        published = await this.readPublished();
      } catch (error) {
        // A DuckDB client holding it read-write, a catalog that cannot be read.
        notChecked(recorded, errorMessage(error));
        return;
      }
      const conn = await (await this.engine()).connect();
      try {
        const from = await republishMoved({ conn, root: this.paths.root, analyticsFile: this.paths.analytics, compiledDir: this.paths.compiled, tmpDir: this.tmpDir, recorded }, published);
        if (from !== undefined) this.logger.info(`analytics.duckdb named files under ${from}: republished under ${this.paths.root}`);
      } catch (error) {
        // Nothing was published (a full disk, say): the one there still names the old root.
        this.movedCatalog = error instanceof DuckhouseError && error.code === 'CATALOG_MOVED'
          ? error.message
          : `analytics.duckdb (${this.paths.analytics}) was not republished under ${this.paths.root}: ${errorMessage(error)}. Run lake.build() to publish it there`;
        this.logger.warn(this.movedCatalog);
      } finally {
        conn.closeSync();
      }
    } finally {
      lock.release();
    }
  }

  /**
   * Refuses to read a catalog naming another root (see followMove), unless a build has since
   * published it under this one.
   */
  private refuseMovedCatalog(what: string): void {
    if (this.movedCatalog === undefined) return;
    if (recordedCatalogRoot(this.paths.analytics) === this.paths.root) {
      this.movedCatalog = undefined;
      return;
    }
    throw new DuckhouseError('CATALOG_MOVED', `lake.${what}: ${this.movedCatalog}`);
  }

  /**
   * The in-memory DuckDB engine (bronze writing, queries), created on first use so that a
   * process that only reads the run history starts fast.
   */
  private engine(): Promise<DuckDBInstance> {
    this.enginePromise ??= (async () => {
      const engine = await DuckDBInstance.create(':memory:', { ...ENGINE_SETTINGS, temp_directory: path.join(this.tmpDir, this.spillDir) });
      this.engineInstance = engine;
      // Parquet footers read once per process, not at every bind of a view over bronze or the
      // warehouse (whose files never change in place): with 2,160 bronze files, rebinding the
      // staging view takes ~140 ms instead of ~300 ms (see tests/bench/README.md, bench:compact).
      const c = await engine.connect();
      try {
        await c.run('LOAD parquet');
        await c.run('SET GLOBAL parquet_metadata_cache = true');
        // Models, queries and exports cast and format instants in the lake's zone, not the
        // machine's (DuckDB's default), so a build gives the same tables on every machine.
        await c.run(`SET GLOBAL TimeZone = ${quoteLiteral(this.options.timezone)}`);
      } finally {
        c.closeSync();
      }
      return engine;
    })();
    return this.enginePromise;
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw this.closedError(`lake.${what}()`);
  }

  /**
   * The models folder must exist for what reads it: a misspelt `models` option would otherwise
   * build an empty project and publish it over every model built before.
   */
  private requireModels(what: string): void {
    if (!fs.existsSync(this.paths.models)) {
      throw new ConfigError(`lake.${what}: the models folder ${this.paths.models} does not exist (option "models"); nothing was built or changed`);
    }
  }

  /**
   * Extracts sources into bronze, in parallel (4 at a time). Never throws for a failing
   * source: its SourceResult says why and the run is `partial` (or `failed` if none worked).
   * @example
   * const result = await lake.extract([vtexCatalog({ store: 'bistek', baseUrl })]);
   */
  async extract(sources: AnySource[] | AnySource, options: ExtractOptions = {}): Promise<ExtractResult> {
    return this.extractFor(sources, options);
  }

  /** `extract`, run by the `lake.run()` pipeline `pipelineId` when given. */
  private async extractFor(sources: AnySource[] | AnySource, options: ExtractOptions, pipelineId?: string): Promise<ExtractResult> {
    this.ensureOpen('extract');
    checkOptionKeys(options, ['signal', 'extractedAt'], 'lake.extract');
    if (options.extractedAt !== undefined && !(options.extractedAt instanceof Date && !Number.isNaN(options.extractedAt.getTime()))) {
      throw new ConfigError(`lake.extract: option "extractedAt" must be a valid Date (got ${String(options.extractedAt)})`);
    }
    const list = Array.isArray(sources) ? sources : [sources];
    // An extract of nothing is a usage error, not a `success` run that did nothing (as the CLI refuses a config without sources).
    if (list.length === 0) throw new ConfigError('lake.extract: no sources given (pass a source or a non-empty list of them); no run was recorded');
    list.forEach((s, i) => {
      if (!isSource(s)) throw new ConfigError(`lake.extract: sources[${i}] is not a source (build it with defineSource, httpSource, csvSource…)`);
    });
    const sequence = runSequence();
    const runId = newRunId();
    const logger = this.logger.child({ runId });
    await this.metrics.startRun(runId, 'extract', new Date());
    // The pipeline's id stands for this extract (asOfRunCutoff): named at once, so it still does
    // when the pipeline dies before storing its result.
    if (pipelineId) this.metrics.savePartialResult(pipelineId, { runId: pipelineId, extract: runId, build: null });
    logger.info(`extract started: ${list.map((s) => sourceLabel(s.source, s.dataset, cursorKeyOf(s).scope)).join(', ')}`);
    const signal = options.signal ? AbortSignal.any([options.signal, this.abort.signal]) : this.abort.signal;
    const limit = pLimit(4);
    const progress = createProgress(progressEnabled(this.options.progress));
    const cursorClaims = new Map<string, AnySource>();
    let results: SourceResult[] = [];
    try {
      // Settled, not Promise.all: a source whose record fails (the metrics file held past the lock
      // timeout) must not hand the caller its error while the other sources still write bronze.
      const settled = await Promise.allSettled(
        list.map((source) =>
          limit(async () => {
            // A bar per source: several stores of one dataset (constant partitions) are told apart by their scope.
            const task = sourceLabel(source.source, source.dataset, cursorKeyOf(source).scope);
            const connection = await (await this.engine()).connect();
            try {
              const result = await runSource(source, {
                root: this.paths.root,
                tmpDir: this.tmpDir,
                runId,
                timezone: this.options.timezone,
                limits: this.options.limits,
                metrics: this.metrics,
                logger,
                signal,
                connection,
                engine: await this.engine(),
                // One store per source run: a store's cursor locks are its run's, so a second run
                // of the same source waits for the first instead of sharing its lock.
                cursors: new CursorStore(this.paths.root, this.options.lockTimeoutMillis),
                cursorClaims,
                lockTimeoutMillis: this.options.lockTimeoutMillis,
                sequence,
                ...(options.extractedAt ? { extractedAt: options.extractedAt } : {}),
                onProgress: (p) => progress.update(task, p),
              });
              progress.done(task);
              // An error or a warning may quote a URL with its token: the caller (and the CLI's output) gets it redacted.
              if (result.error) result.error = redactString(result.error);
              if (result.warnings) result.warnings = result.warnings.map(redactString);
              await this.metrics.recordSourceResult(runId, result);
              return result;
            } finally {
              connection.closeSync();
            }
          }),
        ),
      );
      const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (rejected) throw rejected.reason;
      results = settled.map((s) => (s as PromiseFulfilledResult<SourceResult>).value);
    } catch (error) {
      await this.metrics.finishRun(runId, { status: 'failed', error: (error as Error).message, stopped: true }).catch(() => undefined);
      throw error;
    } finally {
      progress.stop();
    }
    const result: ExtractResult = { runId, status: combineStatus(results), sources: results };
    try {
      result.alerts = await evaluateExtract(this.metrics, this.options.quality, runId, results);
    } catch (error) {
      logger.error(`alerts could not be evaluated: ${errorMessage(error)}`);
    }
    const sum = (k: 'rows' | 'rejected' | 'files' | 'bytes'): number => results.reduce((s, r) => s + r[k], 0);
    await this.metrics.finishRun(runId, {
      status: result.status,
      rows: sum('rows'),
      rejected: sum('rejected'),
      files: sum('files'),
      bytes: sum('bytes'),
      error: results.find((r) => r.error)?.error ?? null,
      result,
    });
    logger.info(`extract ${result.status}: ${sum('rows')} rows, ${sum('rejected')} rejected, ${sum('files')} files`);
    return result;
  }

  /** The query connection, with `analytics.duckdb` attached read-only (re-attached after a publish). */
  private async queryConn(): Promise<DuckDBConnection> {
    this.queryConnection ??= await (await this.engine()).connect();
    const c = this.queryConnection;
    const file = this.paths.analytics;
    const version = fs.existsSync(file) ? (() => {
      const st = fs.statSync(file);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    })() : undefined;
    if (version !== this.attachedAnalytics) {
      if (this.attachedAnalytics) {
        // At once, though a snapshot may read the same file: a publish renamed another file over
        // it, so its lock keeps nobody out (and a file changed in place is attached again below).
        await this.queryAttachment?.release(true);
        this.queryAttachment = undefined;
        this.attachedAnalytics = undefined;
      }
      if (version) {
        this.queryAttachment = await attachShared(file, this, async () => {
          await attachAnalytics(c, file, this.options.lockTimeoutMillis);
          const detach = async (): Promise<void> => {
            await c.run('USE memory');
            await c.run('DETACH DATABASE IF EXISTS analytics');
          };
          return { value: { lake: this }, detach };
        });
        await c.run('USE analytics');
      }
      this.attachedAnalytics = version;
    }
    return c;
  }

  /**
   * @internal The catalog published now, attached read-only under its own name on its own
   * connection, for a reader whose queries must all see one build (the report): a build that
   * publishes meanwhile is seen by the next snapshot, and nobody waits for this one. Before the
   * first build there is no catalog: the queries run on an empty connection. `close()` lets it go (detached once no other attachment
   * of that file in the process is read: db/shared-attachments.ts).
   */
  async catalogSnapshot(): Promise<{ catalog: string; query(sql: string, params?: DuckDBValue[]): Promise<Row[]>; close(): Promise<void> }> {
    this.ensureOpen('report');
    this.refuseMovedCatalog('report');
    const engine = await this.engine();
    const connections = this.snapshotConnections;
    const connect = async (): Promise<DuckDBConnection> => {
      const c = await engine.connect();
      // Closed by close() with the query connection, if a report outlives the wait for it.
      connections.add(c);
      return c;
    };
    const disconnect = (c: DuckDBConnection): void => {
      connections.delete(c);
      c.closeSync();
    };
    const file = this.paths.analytics;
    // A snapshot of this lake let go while the file it read was still read (see
    // db/shared-attachments.ts) is taken over as it is: it is the catalog published now.
    const ours = (v: unknown): boolean => (v as SnapshotCatalog).lake === this && (v as SnapshotCatalog).catalog !== undefined;
    const shared = fs.existsSync(file)
      ? await attachShared<SnapshotCatalog>(
          file,
          this,
          async () => {
            const c = await connect();
            const catalog = `analytics_snapshot_${++snapshotNo}`;
            try {
              await attachAnalytics(c, file, this.options.lockTimeoutMillis, catalog);
              await c.run(`USE ${quoteIdent(catalog)}`);
            } catch (error) {
              disconnect(c);
              throw error;
            }
            const detach = async (): Promise<void> => {
              await c.run('USE memory').catch(() => undefined);
              await c.run(`DETACH DATABASE IF EXISTS ${quoteIdent(catalog)}`).catch(() => undefined);
              disconnect(c);
            };
            return { value: { lake: this, c, catalog }, detach };
          },
          ours,
        )
      : undefined;
    const c = shared?.value.c ?? (await connect());
    const catalog = shared?.value.catalog;
    // One statement at a time on the connection, as lake.query runs them.
    let queue: Promise<unknown> = Promise.resolve();
    return {
      catalog: catalog ?? 'analytics',
      query: (sql, params) => {
        // Once close() began a query fails as the report closed (one running is interrupted by it).
        const run = this.closedAs('report', queue.then(async () => {
          this.ensureRunning('report');
          return readerRows(await c.runAndReadAll(sql, params));
        }));
        queue = run.catch(() => undefined);
        return run;
      },
      async close() {
        await queue;
        if (shared) await shared.release();
        else disconnect(c);
      },
    };
  }

  private async runReadOnly<T>(sql: string, params: QueryParams | undefined, read: (reader: Awaited<ReturnType<DuckDBConnection['runAndReadAll']>>) => T, call: 'query' | 'queryArrow' = 'query'): Promise<T> {
    if (typeof sql !== 'string' || sql.trim() === '') throw new ConfigError('lake.query: "sql" must be a non-empty string');
    // DuckDB cannot extract statements from such text: it failed "Error in native callback".
    const written = userStatementCount(sql);
    if (written === 0) throw new ConfigError('lake.query: "sql" holds no statement, only blanks, comments or semicolons');
    const sessionCall = sessionFunctionCall(sql);
    if (sessionCall) throw sessionCall;
    this.refuseMovedCatalog(call);
    return this.closedAs(call, serialized(this.queryKey, async () => {
      this.ensureRunning(call);
      const c = await this.queryConn();
      // Before the statement binds: binding read_parquet('…') already opens (and closes) the file.
      const database = await lakeDatabaseRead(c, [...stringLiterals(sql), ...paramStrings(params)], [this.paths.analytics, this.paths.metrics]);
      if (database) throw lakeDatabaseReadError(call, database);
      const extracted = await c.extractStatements(sql);
      // DuckDB runs a PIVOT without an IN list as a CREATE TYPE (a temporary ENUM of the pivoted
      // values) and then the SELECT. When the user wrote one statement, such leading CREATEs are
      // DuckDB's own: they run in a transaction rolled back after the read, leaving nothing behind.
      const leading = extracted.count - 1;
      if (leading < 0 || (leading > 0 && written !== 1)) throw new ConfigError(`lake.query: expected one SQL statement, got ${extracted.count}`);
      if (leading > 0) await c.run('BEGIN TRANSACTION');
      try {
        for (let i = 0; i < leading; i++) {
          const created = await extracted.prepare(i);
          try {
            if (created.statementType !== StatementType.CREATE) throw notReadOnly(created.statementType);
            await created.run();
          } finally {
            created.destroySync();
          }
        }
        return read(await this.runOneReadOnly(c, extracted, leading, sql, params));
      } finally {
        if (leading > 0) await c.run('ROLLBACK');
      }
    })).catch(throwAsQueryError);
  }

  /** @internal Whether close() began: a running operation stops at its next step (the report at its next section). */
  get closing(): boolean {
    return this.abort.signal.aborted;
  }

  /** @internal The ClosedError of `what` (`lake.build()`), with the reason close() was given. */
  closedError(what: string): ClosedError {
    return new ClosedError(what, this.closeReason);
  }

  /** Throws the ClosedError of `lake.<call>()` once close() began (a statement queued behind one it interrupted). */
  private ensureRunning(call: string): void {
    if (this.abort.signal.aborted) throw this.closedError(`lake.${call}()`);
  }

  /** `operation`, failing as `lake.<call>()` closed (not DuckDB's "Interrupted!") when close() stopped it. */
  private closedAs<T>(call: string | undefined, operation: Promise<T>): Promise<T> {
    return operation.catch((error: unknown) => {
      if (this.abort.signal.aborted && !(error instanceof DuckhouseError)) throw Object.assign(this.closedError(call === undefined ? 'lake' : `lake.${call}()`), { cause: error });
      throw error;
    });
  }

  /** Runs statement `index` of `extracted` if it is read-only. */
  private async runOneReadOnly(c: DuckDBConnection, extracted: DuckDBExtractedStatements, index: number, sql: string, params: QueryParams | undefined): Promise<Awaited<ReturnType<DuckDBConnection['runAndReadAll']>>> {
    // DuckDB creates an EXPORT DATABASE's folder while it binds (prepares) the statement, so
    // refusing it by its prepared type would leave that folder behind.
    if (/^EXPORT\b/i.test(fromFirstKeyword(sql))) throw notReadOnly(StatementType.EXPORT);
    const prepared = await extracted.prepare(index);
    try {
      if (!READ_ONLY_STATEMENTS.has(prepared.statementType)) {
        throw notReadOnly(prepared.statementType);
      }
      // EXPLAIN ANALYZE runs the statement it explains: only a SELECT may be explained so.
      const analyzed = prepared.statementType === StatementType.EXPLAIN ? explainAnalyzed(sql) : undefined;
      if (analyzed !== undefined && (await statementTypeOf(c, analyzed)) !== StatementType.SELECT) {
        throw new DuckhouseError('QUERY_NOT_READ_ONLY', 'lake.query is read-only: EXPLAIN ANALYZE runs the statement it explains, and only a SELECT may be explained so');
      }
      if (params !== undefined) bindParams(prepared, params);
      return await prepared.runAndReadAll();
    } finally {
      prepared.destroySync();
    }
  }

  /**
   * Runs one read-only SQL statement on `analytics.duckdb` and returns plain objects
   * (BIGINT → number within ±2^53 else bigint, DECIMAL → number, TIMESTAMP → Date, DATE → 'YYYY-MM-DD').
   * @example
   * const rows = await lake.query('select store, count(*) n from marts.fct_prices_daily group by 1');
   */
  async query<T extends object = Row>(sql: string, params?: QueryParams): Promise<T[]> {
    this.ensureOpen('query');
    checkParams(params, 'lake.query');
    return this.runReadOnly(sql, params, (reader) => readerRows(reader) as unknown as T[]);
  }

  /** Like `query`, as an apache-arrow Table. */
  async queryArrow(sql: string, params?: QueryParams): Promise<arrow.Table> {
    this.ensureOpen('queryArrow');
    checkParams(params, 'lake.queryArrow');
    const { readerToArrow } = await import('./db/arrow.js');
    return this.runReadOnly(sql, params, readerToArrow, 'queryArrow');
  }

  /** State of the published catalog (empty before the first build). */
  private readPublished(): Promise<{ models: Map<string, ModelState>; garbage: GarbageFile[] }> {
    // Read for a build, a test run, a compaction or prune: interrupted by close(), it fails as the lake closed.
    return this.closedAs(undefined, serialized(this.queryKey, async () => {
      const c = await this.queryConn();
      if (!this.attachedAnalytics) return { models: new Map(), garbage: [] };
      return readState(c, 'analytics');
    }));
  }

  private get queryKey(): string {
    return `query:${this.tmpDir}`;
  }

  /**
   * Builds the selected models (all when `select` is absent) into `analytics.duckdb`, runs their
   * data tests and publishes atomically. Models whose SQL and inputs did not change are
   * `up-to-date`; a failing model marks its downstream `skipped` with the cause.
   * @example
   * const result = await lake.build({ select: ['fct_prices_daily+'] });
   */
  async build(options: BuildOptions = {}): Promise<BuildResult> {
    this.ensureOpen('build');
    this.requireModels('build');
    const runId = newRunId();
    const logger = this.logger.child({ runId });
    // Recorded once the options and the selection hold (a usage error is no run); the record (and
    // the build's inputs read from the metrics db) is written while the build goes on.
    const startedAt = new Date();
    let recorded: Promise<BuildInputs & { readAt: number }> | undefined;
    const started = (): Promise<BuildInputs & { readAt: number }> => {
      if (!recorded) {
        recorded = this.metrics.startBuild(runId, startedAt);
        recorded.catch(() => undefined);
      }
      return recorded;
    };
    // What the build reads of bronze holds from when it has the build lock: read with the start
    // record when that came after the lock (the usual case), else again. A build that waited for
    // another's lock would otherwise publish bronze as it was before the wait, and take the files
    // of an extract started during the wait, not yet recorded, for committed ones.
    let lockedAt: number | undefined;
    let current: Promise<BuildInputs> | undefined;
    const inputs = (): Promise<BuildInputs> =>
      (current ??= started().then((first) => (lockedAt === undefined || first.readAt >= lockedAt ? first : this.metrics.buildInputs())));
    const progress = createProgress(progressEnabled(this.options.progress));
    let finishing = false;
    // The lake's DuckDB instance starts while the transform engine loads.
    const engine = this.engine();
    engine.catch(() => undefined);
    try {
      // The transform engine (nunjucks, yaml) loads on first use: extract-only processes start faster.
      const { runBuild } = await import('./transform/build.js');
      const { hashes, quality, subjects, ...result } = await runBuild(
        {
          runId,
          startedAt,
          root: this.paths.root,
          modelsDir: this.paths.models,
          analyticsFile: this.paths.analytics,
          warehouseDir: this.paths.warehouse,
          compiledDir: this.paths.compiled,
          tmpDir: this.tmpDir,
          engine: await engine,
          metrics: this.metrics,
          logger,
          vars: this.options.vars,
          quality: this.options.quality,
          lockTimeoutMillis: this.options.lockTimeoutMillis,
          signal: this.abort.signal,
          retainSupersededMillis: this.options.retainSupersededMinutes * 60_000,
          timezone: this.options.timezone,
          progress,
          readPublished: () => this.readPublished(),
          bronzeVisibility: async () => (await inputs()).visibility,
          lastSuccess: async () => (await inputs()).lastSuccess,
          lastScores: async () => (await inputs()).lastScores,
          recordStart: () => void started(),
          locked: () => void (lockedAt = performance.now()),
          testPublished: (project, tests, visibility) => this.testPublished(project, tests, { ...this.options.vars, ...(options.vars ?? {}) }, logger, visibility),
        },
        options,
      );
      // The rows it wrote: an up-to-date model's rows are its table's, left as they were.
      const rows = result.models.reduce((s, m) => s + (m.status === 'success' ? (m.rows ?? 0) : 0), 0);
      const { visibility } = await inputs();
      finishing = true;
      await this.finishWithAlerts(
        runId,
        { status: result.status, rows, result, error: result.models.find((m) => m.error)?.error ?? null },
        { models: result.models, hashes, tests: result.tests, quality: quality ?? [] },
        { ...result, project: subjects },
        logger,
      );
      // Bronze files removed by compaction or prune may have been named only by a catalog replaced
      // earlier: delete those past their retention, counted from their removal and from that
      // replacement (nothing to look up while none is past it, or none is left on disk).
      const retainMillis = this.options.retainSupersededMinutes * 60_000;
      const due = visibility.firstRemovedAt && visibility.firstRemovedAt.getTime() <= Date.now() - retainMillis;
      if (due && [...visibility.removed].some((rel) => fs.existsSync(path.join(this.paths.root, rel)))) await import('./bronze/lifecycle.js')
        .then(({ purgeRemoved }) => purgeRemoved({ root: this.paths.root, metrics: this.metrics, logger, retainMillis, published: () => this.publishedForReaders() }))
        .catch((error: unknown) => logger.warn(`removed bronze files not deleted: ${errorMessage(error)}`));
      logger.info(`build ${result.status}: ${result.models.filter((m) => m.status === 'success').length} built, ${result.models.filter((m) => m.status === 'up-to-date').length} up to date, ${result.models.filter((m) => m.status === 'error').length} failed, ${result.tests.filter((t) => t.status !== 'pass').length} tests not passing`);
      return result;
    } catch (error) {
      // A finish that failed kept the build's own ending in its .finish file: not recorded again as failed.
      if (recorded && !finishing) {
        await recorded.catch(() => undefined);
        await this.metrics.finishRun(runId, { status: 'failed', error: errorMessage(error), stopped: true }).catch(() => undefined);
      }
      throw error;
    } finally {
      progress.stop();
    }
  }

  /** Runs the data tests of the selected models against the published catalog. */
  async test(options: { select?: string[]; exclude?: string[]; vars?: Record<string, unknown> } = {}): Promise<TestResult[]> {
    return (await this.testWithWarnings(options)).tests;
  }

  /**
   * @internal `lake.test`, with the warnings it logged for the tests it did not run (a model the
   * published catalog does not hold), for `duckhouse test` to print: under cron there is no console log.
   */
  async testWithWarnings(options: { select?: string[]; exclude?: string[]; vars?: Record<string, unknown> } = {}): Promise<{ tests: TestResult[]; notRun: string[] }> {
    this.ensureOpen('test');
    this.requireModels('test');
    checkOptionKeys(options, ['select', 'exclude', 'vars'], 'lake.test');
    parseOptions(testOptionsSchema, options, 'lake.test');
    this.refuseMovedCatalog('test');
    const runId = newRunId();
    const startedAt = new Date();
    const { discover, testsFor, absentNodes, neverExtractedIn, notRunWarnings, recordedGates, projectSubjects } = await import('./transform/build.js');
    const { selectForTest } = await import('./transform/select.js');
    // A project that does not compile is a failed test run; a selector matching nothing is a usage error, not a run.
    let project: Awaited<ReturnType<typeof discover>> | undefined;
    let broken: unknown;
    try {
      project = await discover({ modelsDir: this.paths.models, vars: this.options.vars, quality: this.options.quality }, options.vars ?? {});
    } catch (error) {
      broken = error;
    }
    const picked = project ? selectForTest(project, options.select, options.exclude) : undefined;
    const selected = picked?.nodes;
    await this.metrics.startRun(runId, 'test', startedAt);
    let finishing = false;
    try {
      if (!project || !picked) throw broken;
      // As a build picks them: a test reading a model the published catalog does not hold (a model
      // waiting for its first extract, never built) is not run, with the build's warning.
      const published = await this.readPublished();
      const untestable = new Set(absentNodes(project, (id) => published.models.has(id), neverExtractedIn(this.paths.root)));
      const tests = testsFor(project, selected, untestable, picked.tests).filter((t) => !picked.excludedTests.has(t.name));
      const notRun = notRunWarnings(project, selected, untestable, new Set(), picked.tests, picked.excludedTests);
      for (const warning of notRun) this.logger.child({ runId }).warn(warning);
      const results = await this.testPublished(project, tests, { ...this.options.vars, ...(options.vars ?? {}) }, this.logger.child({ runId }), await this.metrics.bronzeVisibility());
      // The quality gates as the last build scored the published models.
      results.push(...recordedGates(project, new Set([...(selected ?? [])].filter((id) => !untestable.has(id))), await this.metrics.lastScores(), this.options.quality));
      const failed = results.some((t) => t.status === 'fail' || t.status === 'error');
      finishing = true;
      await this.finishWithAlerts(runId, { status: failed ? 'partial' : 'success', rows: 0, result: results }, { tests: results }, { tests: results, project: projectSubjects(project) }, this.logger.child({ runId }));
      return { tests: results, notRun };
    } catch (error) {
      // As in build: a failed finish kept the run's own ending in its .finish file.
      if (!finishing) await this.metrics.finishRun(runId, { status: 'failed', error: errorMessage(error), stopped: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Runs tests against the published catalog. A `source(...)` in an assertion (or in an ephemeral
   * a test inlines) reads the bronze files committed now, as a build compiling it would (the same
   * files, less those compaction and prune removed: `visibility`).
   */
  private async testPublished(project: Project, tests: TestDef[], vars: Record<string, unknown>, logger: Logger, visibility: BronzeVisibility): Promise<TestResult[]> {
    const { runTests, sourceRelationSql, datasetsOfTests } = await import('./transform/build.js');
    const { scanBronze } = await import('./transform/source-relation.js');
    // The datasets the tests read, listed now, right after the visibility was read: listed at each
    // test's turn, they could show the first files of a batch an extract started since is renaming.
    const scanned = new Map<string, ReturnType<typeof scanBronze>>();
    for (const { source, dataset } of datasetsOfTests(project, tests)) {
      const key = `${source}.${dataset}`;
      if (!scanned.has(key)) scanned.set(key, scanBronze(this.paths.root, source, dataset, visibility));
    }
    return serialized(this.queryKey, async () => {
      const c = await this.queryConn();
      if (!this.attachedAnalytics) throw new DuckhouseError('NOT_BUILT', 'lake.test: nothing is built yet (run lake.build first)');
      const warned = new Set<string>();
      return runTests(
        c,
        project,
        tests,
        (node) => ({
          relation: (id) => qualified(...(id.split('.') as [string, string])),
          sourceRelation: (source, dataset, opts) => {
            const key = `${source}.${dataset}`;
            if (!scanned.has(key)) scanned.set(key, scanBronze(this.paths.root, source, dataset, visibility));
            return sourceRelationSql(this.paths.root, scanned.get(key)!, { source, dataset, ...opts }, node.id, (message) => {
              if (!warned.has(message)) logger.warn(message);
              warned.add(message);
            });
          },
          isIncremental: false,
          thisRelation: qualified(node.schema, node.name),
          vars,
          env: process.env,
          rejectMode: { kind: 'keep' },
        }),
        logger,
        this.abort.signal,
      );
    });
  }

  /**
   * The pipeline: extract the sources, build the selected models (tests included), then call
   * `onRunFinished(run)`. A failing source does not stop the build (models read what bronze has).
   * @example
   * const run = await lake.run({ sources: [vtexCatalog({ store: 'bistek', baseUrl })], select: ['fct_prices_daily+'] });
   */
  async run(options: { sources?: AnySource[]; select?: string[]; exclude?: string[]; fullRefresh?: boolean; vars?: Record<string, unknown>; extractedAt?: Date } = {}): Promise<RunResult> {
    this.ensureOpen('run');
    checkOptionKeys(options, ['sources', 'select', 'exclude', 'fullRefresh', 'vars', 'extractedAt'], 'lake.run');
    if (options.sources !== undefined && !Array.isArray(options.sources)) throw new ConfigError(`lake.run: option "sources" must be a list of sources (got ${typeof options.sources})`);
    parseOptions(runOptionsSchema, options, 'lake.run');
    if (!options.sources?.length) this.requireModels('run');
    if ((options.select && options.select.length > 0) || (options.exclude && options.exclude.length > 0)) {
      // A selector that matches nothing is a usage error: found before the extract, not after it.
      // (A project that does not discover is the build's to report, after the extract, as before.)
      const { discover } = await import('./transform/build.js');
      const { selectNodes } = await import('./transform/select.js');
      const project = await discover({ modelsDir: this.paths.models, vars: this.options.vars, quality: this.options.quality }, options.vars ?? {}).catch(() => undefined);
      if (project) selectNodes(project, options.select, options.exclude);
    }
    const started = performance.now();
    const runId = newRunId();
    await this.metrics.startRun(runId, 'run', new Date());
    let extract: ExtractResult | null = null;
    let build: BuildResult | null = null;
    let failure: unknown;
    const warnings: string[] = [];
    // The part running when an error stopped the pipeline: its run recorded a run_failed alert.
    let stage: 'extract' | 'build' | undefined;
    try {
      if (options.sources && options.sources.length > 0) {
        stage = 'extract';
        extract = await this.extractFor(options.sources, options.extractedAt ? { extractedAt: options.extractedAt } : {}, runId);
      }
      // An extract-only lake (no models folder) runs its sources and builds nothing, and says so
      // in its result too (under cron nobody reads the log).
      if (!fs.existsSync(this.paths.models)) {
        const warning = `models folder ${this.paths.models} does not exist: nothing built`;
        this.logger.child({ runId }).warn(warning);
        warnings.push(warning);
      } else if (extract?.status !== 'failed' || fs.existsSync(this.paths.analytics)) {
        stage = 'build';
        build = await this.build({
          ...(options.select ? { select: options.select } : {}),
          ...(options.exclude ? { exclude: options.exclude } : {}),
          ...(options.fullRefresh ? { fullRefresh: true } : {}),
          ...(options.vars ? { vars: options.vars } : {}),
        });
      }
    } catch (error) {
      failure = error;
    }
    const parts = [extract, build].filter((p): p is ExtractResult | BuildResult => p !== null);
    const status: RunOutcome = failure ? (parts.some((p) => p.status !== 'failed') ? 'partial' : 'failed') : combineStatus(parts);
    const alerts = await this.alertsFor({ extract, build, runId });
    // Stopped by an error: the run_failed alerts its part's finish recorded and its own finish (below) records.
    if (failure) {
      const message = redactString(errorMessage(failure));
      alerts.push(...[...(stage ? [stage] : []), 'run'].map((kind) => runFailedAlert(kind, message)));
    }
    const run: RunResult = { runId, status, extract, build, alerts, durationMs: Math.round(performance.now() - started), ...(warnings.length > 0 ? { warnings } : {}) };
    // The record carries what the run extracted and its first error; the stored result is the
    // RunResult with its extract and build as their run ids (each is stored whole under its own).
    const sources = extract?.sources ?? [];
    const sum = (k: 'rows' | 'rejected' | 'files' | 'bytes'): number => sources.reduce((n, r) => n + r[k], 0);
    const firstError = failure ? errorMessage(failure) : (sources.find((r) => r.error)?.error ?? build?.models.find((m) => m.error)?.error ?? null);
    await this.metrics.finishRun(runId, {
      status,
      rows: sum('rows'),
      rejected: sum('rejected'),
      files: sum('files'),
      bytes: sum('bytes'),
      result: { ...run, extract: extract?.runId ?? null, build: build?.runId ?? null },
      error: firstError,
      stopped: failure !== undefined,
    });
    if (this.options.onRunFinished) {
      try {
        await this.options.onRunFinished(run);
      } catch (error) {
        // The run is recorded and returned as it went; a notification that was not sent must not
        // pass unseen (a chat webhook gone, and every failure after it silent).
        const warning = `onRunFinished hook failed: ${redactString(errorMessage(error))}`;
        this.logger.error(warning, { runId });
        run.warnings = [...(run.warnings ?? []), warning];
      }
    }
    // The caller of a run that was recorded (the CLI: its exit code, its extract's lines) gets it
    // with the error, as a lifecycle run's partial result.
    if (failure) throw typeof failure === 'object' && failure !== null ? Object.assign(failure, { result: run }) : failure;
    return run;
  }

  /** Alerts of a pipeline run: the extract's (already recorded) plus failed models and failing tests. */
  private async alertsFor(run: { extract: ExtractResult | null; build: BuildResult | null; runId: string }): Promise<AlertRecord[]> {
    // Both parts recorded their alerts when they finished (extract: evaluateExtract; build:
    // finishWithAlerts, which judged the sources' freshness too: a build-only run of a lake whose
    // extracts stopped hands its stale sources on). One per kind and subject, the latest.
    const stale = run.build
      ? (await this.metrics.select(`SELECT kind, severity, subject, message FROM alerts WHERE run_id = $1 AND kind = 'freshness' AND resolved_at IS NULL ORDER BY subject`, [run.build.runId]).catch(() => []))
          .map((r): AlertRecord => ({ kind: String(r.kind), severity: r.severity === 'error' ? 'error' : 'warn', subject: String(r.subject), message: String(r.message) }))
      : [];
    const all = [...(run.extract?.alerts ?? []), ...(run.build ? outcomeAlerts(run.build).alerts : []), ...stale];
    const latest = new Map(all.filter((a) => a.kind !== 'schema_drift').map((a) => [`${a.kind}\0${a.subject}`, a]));
    return all.filter((a) => a.kind === 'schema_drift' || latest.get(`${a.kind}\0${a.subject}`) === a);
  }

  /**
   * A build's or test run's finish record, with its alerts in the same transaction (no checkpoint
   * of their own): `model_failed` / `test_failed` opened for the failed models and tests, and
   * resolved for those that passed now and for those no longer in the project. Alerts that
   * cannot be written do not lose the record.
   */
  private async finishWithAlerts(
    runId: string,
    fields: Parameters<MetricsDb['finishRun']>[1],
    extra: Parameters<MetricsDb['finishRun']>[2],
    outcome: { models?: BuildResult['models']; tests?: TestResult[]; project?: ProjectSubjects },
    logger: Logger,
  ): Promise<void> {
    const alerts = outcomeAlerts({ ...outcome, freshness: this.options.quality });
    try {
      await this.metrics.finishRun(runId, fields, { ...extra, alerts });
    } catch (error) {
      // The file held past lockTimeoutMillis: the finish, alerts included, waits in its .finish file
      // for the next open; a second attempt without them would only wait as long again.
      if (error instanceof LockError) throw error;
      logger.error(`alerts could not be recorded: ${errorMessage(error)}`);
      await this.metrics.finishRun(runId, fields, extra);
    }
  }

  /** Open alerts (or all with `open: false`), newest first (`limit`, default 100). */
  async alerts(options: { open?: boolean; limit?: number } = {}): Promise<OpenAlert[]> {
    this.ensureOpen('alerts');
    checkOptionKeys(options, ['open', 'limit'], 'lake.alerts');
    const { open, limit = 100 } = options ?? {};
    if (!Number.isInteger(limit) || limit <= 0) throw new ConfigError(`lake.alerts: option "limit" must be a positive integer (got ${String(limit)})`);
    if (open !== undefined && typeof open !== 'boolean') throw new ConfigError(`lake.alerts: option "open" must be a boolean (got ${JSON.stringify(open)})`);
    return listAlerts(this.metrics, { limit, ...(open === undefined ? {} : { open }) });
  }

  /**
   * Retires a source dropped from the config: its open freshness alerts (and its failure, volume,
   * success-rate and drift ones) are resolved and freshness no longer judges it, until a later
   * successful extract of it brings it back. Without `dataset`, every dataset of the source;
   * without `scope` (`store=a`, as alerts name it), every scope. Alerting only: bronze, cursors and
   * the run history are untouched. A name the run history does not know is a ConfigError naming
   * the closest one.
   * @example
   * const r = await lake.retireSource({ source: 'vtex', dataset: 'products', scope: 'store=bistek.region=default' });
   * console.log(r.sources.map((s) => s.subject), `${r.resolvedAlerts} alerts resolved`);
   */
  async retireSource(options: RetireSourceOptions): Promise<RetireResult> {
    this.ensureOpen('retireSource');
    checkOptionKeys(options, ['source', 'dataset', 'scope'], 'lake.retireSource');
    if (options === undefined) throw new ConfigError('lake.retireSource: options { source } are required');
    for (const key of ['source', 'dataset', 'scope'] as const) {
      const value: unknown = options[key];
      if ((key === 'source' || value !== undefined) && (typeof value !== 'string' || value === '')) {
        throw new ConfigError(`lake.retireSource: option "${key}" must be a non-empty string (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
      }
    }
    const { retireSources } = await import('./metrics/retire-source.js');
    const result = await retireSources(this.metrics, options);
    this.logger.info(`retired ${result.sources.map((s) => s.subject).join(', ')}; ${result.resolvedAlerts} alert(s) resolved`);
    return result;
  }

  private async lifecycleEnv(runId: string, logger: Logger): Promise<LifecycleEnv> {
    const engine = await this.engine();
    return {
      root: this.paths.root,
      tmpDir: this.tmpDir,
      runId,
      timezone: this.options.timezone,
      connection: await engine.connect(),
      metrics: this.metrics,
      logger,
      lockTimeoutMillis: this.options.lockTimeoutMillis,
      signal: this.abort.signal,
      retainMillis: this.options.retainSupersededMinutes * 60_000,
      published: () => this.publishedForReaders(),
    };
  }

  /** The SELECTs of the published catalog's views (they may name bronze files), and its garbage ledger. */
  private async publishedForReaders(): Promise<{ sql: string[]; garbage: GarbageFile[] }> {
    // Rebased as a build reads them: a lake since moved keeps the files its views name under this root.
    const { models, garbage } = rebaseState(await this.readPublished(), this.paths.root);
    return { sql: [...models.values()].filter((m) => m.kind === 'view' && m.sql).map((m) => m.sql!), garbage };
  }

  /**
   * Merges each partition's small bronze files into few large ones (about `targetFileMb`, default
   * the `compactionTargetMb` limit, 128). Rows, `_run_id` and `_extracted_at` are kept. Readers and
   * builds running meanwhile see the old files or the new ones, never both; the old files are
   * deleted once older than `retainSupersededMinutes` and no longer named by the published catalog
   * nor, within `retainSupersededMinutes`, by a catalog it replaced.
   * Recorded as a `compact` run.
   * @example
   * const r = await lake.compact({ source: 'vtex', dataset: 'products' });
   * console.log(`${r.filesIn} files → ${r.filesOut}`);
   */
  async compact(options: CompactOptions): Promise<CompactResult> {
    this.ensureOpen('compact');
    checkOptionKeys(options, ['source', 'dataset', 'partitions', 'targetFileMb'], 'lake.compact');
    const { compactDataset, checkCompactOptions, checkDatasetExists } = await import('./bronze/lifecycle.js');
    checkCompactOptions(options, this.options.limits.compactionTargetMb);
    checkDatasetExists('lake.compact', this.paths.root, options.source, options.dataset);
    return this.lifecycleRun('compact', (env) => compactDataset(env, options, this.options.limits.compactionTargetMb));
  }

  /**
   * Retention: removes the bronze partitions dated before `olderThan` (a Date, `'YYYY-MM-DD'` or
   * an age like `'365d'`; dates are the `year/month/day` partitions, in the lake's time zone).
   * `dryRun` reports what would go and changes nothing. Recorded as a `prune` run (not a dry run).
   * @example
   * const r = await lake.prune({ source: 'vtex', dataset: 'products', olderThan: '365d', dryRun: true });
   */
  async prune(options: PruneOptions): Promise<PruneResult> {
    this.ensureOpen('prune');
    checkOptionKeys(options, ['source', 'dataset', 'olderThan', 'dryRun'], 'lake.prune');
    const { pruneDataset, checkPruneOptions, checkDatasetExists } = await import('./bronze/lifecycle.js');
    checkPruneOptions(options, this.options.timezone);
    checkDatasetExists('lake.prune', this.paths.root, options.source, options.dataset);
    if (options.dryRun === true) {
      const runId = newRunId();
      const env = await this.lifecycleEnv(runId, this.logger.child({ runId }));
      try {
        return await this.closedAs('prune', pruneDataset(env, options));
      } finally {
        env.connection.closeSync();
      }
    }
    return this.lifecycleRun('prune', (env) => pruneDataset(env, options));
  }

  private async lifecycleRun<T extends { status: string; rows: number }>(kind: 'compact' | 'prune', fn: (env: LifecycleEnv) => Promise<T>): Promise<T> {
    const runId = newRunId();
    const logger = this.logger.child({ runId });
    const env = await this.lifecycleEnv(runId, logger);
    await this.metrics.startRun(runId, kind, new Date());
    let result: T;
    try {
      result = await fn(env);
    } catch (caught) {
      // Stopped by close() (a statement interrupted, or the next step refused): it failed because the
      // lake closed, as lake.compact() / lake.prune() say, not with DuckDB's "Interrupted!".
      const closed = this.abort.signal.aborted && (caught instanceof ClosedError || !(caught instanceof DuckhouseError));
      const stated = (caught as { result?: object }).result;
      const error = closed ? Object.assign(this.closedError(`lake.${kind}()`), { cause: caught }) : caught;
      const partial = stated && closed ? { ...stated, error: errorMessage(error) } : stated;
      if (closed && partial) Object.assign(error as ClosedError, { result: partial });
      await this.metrics.finishRun(runId, { status: 'failed', error: errorMessage(error), stopped: true, ...(partial ? { result: partial } : {}) }).catch(() => undefined);
      throw error;
    } finally {
      env.connection.closeSync();
    }
    // Outside the try: a finish that waited out the lock kept this ending in its .finish file (see
    // finishRun), which a second finish as `failed` would overwrite, deleting the result.
    const r = result as unknown as { filesOut?: number; files?: number; bytesOut?: number; bytes?: number };
    await this.metrics.finishRun(runId, { status: 'success', rows: result.rows, files: r.filesOut ?? r.files ?? 0, bytes: r.bytesOut ?? r.bytes ?? 0, result });
    return result;
  }

  /**
   * Reads a bronze dataset (`'source/dataset'`) as committed now, or as it was committed up to
   * and including run `asOfRun` (time travel: bronze is immutable per run and compaction keeps
   * `_run_id`). Rows are plain objects, as `lake.query` returns them; partition columns included.
   * @example
   * const [last] = await lake.runs({ limit: 1 });
   * const rows = await lake.bronze('vtex/products', { asOfRun: last.runId, limit: 100 });
   */
  async bronze<T extends object = Row>(dataset: string, options: { asOfRun?: string; limit?: number } = {}): Promise<T[]> {
    this.ensureOpen('bronze');
    checkOptionKeys(options, ['asOfRun', 'limit'], 'lake.bronze');
    const m = typeof dataset === 'string' ? /^([a-z][a-z0-9_]*)\/([a-z][a-z0-9_]*)$/.exec(dataset) : null;
    if (!m) throw new ConfigError(`lake.bronze: dataset must be 'source/dataset' (got ${JSON.stringify(dataset)})`);
    const { asOfRun, limit } = options;
    if (asOfRun !== undefined && (typeof asOfRun !== 'string' || !RUN_ID_PATTERN.test(asOfRun))) {
      throw new ConfigError(`lake.bronze: option "asOfRun" must be a run id like 20260305T120000000Z-a1b2c3 (got ${JSON.stringify(asOfRun)})`);
    }
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw new ConfigError(`lake.bronze: option "limit" must be a non-negative integer (got ${String(limit)})`);
    const { scanBronze, asOfRunCutoff, filesAsOf, bronzeRelationSql, emptyRelationSql, readRecordedSchema, recordedSchemaAsOf } = await import('./transform/source-relation.js');
    const [, source, name] = m as unknown as [string, string, string];
    // A dataset no extract ever landed in (its schema is recorded with its first commit, or by a run
    // that ended without error, rows or not): a misspelt name read as no rows.
    const { bronzeDatasets, hasBronzeDataset, noBronzeDataset } = await import('./bronze/datasets.js');
    if (!hasBronzeDataset(this.paths.root, source, name) && readRecordedSchema(this.paths.root, source, name) === undefined) {
      throw new ConfigError(`lake.bronze: ${noBronzeDataset([dataset], bronzeDatasets(this.paths.root))}`);
    }
    return this.readingBronze(async (c) => {
      const scanned = scanBronze(this.paths.root, source, name, await this.metrics.bronzeVisibility());
      const cutoff = asOfRun === undefined ? undefined : asOfRunCutoff(this.paths.root, asOfRun);
      const files = cutoff === undefined ? scanned.files : filesAsOf(scanned, cutoff);
      const relation = files.length > 0 ? bronzeRelationSql(files, scanned.partitionKeys, cutoff) : emptyRelationSql(recordedSchemaAsOf(readRecordedSchema(this.paths.root, source, name), cutoff));
      return readerRows(await c.runAndReadAll(`SELECT * FROM ${relation} AS b${limit === undefined ? '' : ` LIMIT ${limit}`}`).catch(throwAsQueryError)) as T[];
    });
  }

  /**
   * Runs `fn` on an engine connection under a bronze reader lease (`bronze/readers.ts`): the files
   * it lists and reads after are not purged meanwhile by a compaction or prune.
   */
  private async readingBronze<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const { holdBronzeRead } = await import('./bronze/readers.js');
    const lease = holdBronzeRead(this.paths.root);
    try {
      const c = await (await this.engine()).connect();
      try {
        return await fn(c);
      } finally {
        c.closeSync();
      }
    } finally {
      lease.release();
    }
  }

  /**
   * Writes a built table to a CSV or Parquet file (tmp + rename). The default target is
   * `data/exports/<table>.csv`, or `data/exports/<table>/<table>.parquet`: a Parquet export is
   * recorded in `state/exports/` and declared by `exportDdl`, whose tables read a whole folder.
   * @example
   * await lake.exportTable('marts.fct_prices_daily', { format: 'parquet', to: 'exports/prices.parquet' });
   */
  async exportTable(table: string, options: { format: 'csv' | 'parquet'; to?: string }): Promise<{ path: string; rows: number; bytes: number }> {
    this.ensureOpen('exportTable');
    checkOptionKeys(options, ['format', 'to'], 'lake.exportTable');
    const match = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/.exec(table ?? '');
    if (!match) throw new ConfigError(`lake.exportTable: table ${JSON.stringify(table)} must be "schema.name", e.g. "marts.fct_prices_daily"`);
    if (options?.format !== 'csv' && options?.format !== 'parquet') throw new ConfigError(`lake.exportTable: option "format" must be "csv" or "parquet" (got ${JSON.stringify(options?.format)})`);
    if (options.to !== undefined && typeof options.to !== 'string') throw new ConfigError(`lake.exportTable: option "to" must be a file path string (got ${JSON.stringify(options.to)})`);
    const [, schema, name] = match as unknown as [string, string, string];
    this.refuseMovedCatalog('exportTable');
    const known = await this.query(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_catalog = 'analytics' AND table_schema NOT IN ('_duckhouse')`).catch((error: unknown) => {
      // Closed meanwhile: said so, not "table … is not built".
      if (error instanceof ClosedError) throw this.closedError('lake.exportTable()');
      return [];
    });
    if (!known.some((k) => k.t === table)) {
      const names = known.map((k) => String(k.t));
      const { didYouMean } = await import('./transform/suggest.js');
      throw new ConfigError(`lake.exportTable: table ${table} is not built${names.length ? `${didYouMean(table, names)}` : ' (nothing is built yet)'}`);
    }
    // A Parquet export gets a folder of its own: an external table (export-ddl) reads every file in its folder.
    const byDefault = path.join(this.paths.root, 'exports', ...(options.format === 'parquet' ? [table] : []), `${table}.${options.format}`);
    const target = path.resolve(options.to ?? byDefault);
    if (options.to !== undefined) this.checkNotOwnFile(target, options.to, 'lake.exportTable', byDefault);
    const { rows, columns, bytes } = await this.writeExport(schema, name, options.format, target, options.to).catch((error: unknown) => {
      // DuckDB's failure (a view that fails when read, a file it cannot open) or the file system's
      // (a name too long): a plain Error with no code, naming a temp file of the lake at best.
      if (!isForeignError(error)) throw error;
      throw new DuckhouseError('EXPORT_FAILED', `lake.exportTable: ${table} to ${JSON.stringify(target)}: ${redactString(error.message)}`, { cause: error });
    });
    if (options.format === 'parquet') {
      const { recordExport } = await import('./scale/exports.js');
      recordExport(this.paths.root, { table, format: 'parquet', file: target, rows, bytes, columns, exportedAt: new Date().toISOString() });
    }
    return { path: target, rows, bytes };
  }

  /** `exportTable`'s file: the table copied to a temp file, renamed to `target`; the temp file goes on failure. */
  private async writeExport(schema: string, name: string, format: 'csv' | 'parquet', target: string, to: string | undefined): Promise<{ rows: number; columns: { name: string; type: string }[]; bytes: number }> {
    checkExportTarget(target, to, `${schema}.${name}.${format}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Named apart from the target: its name at the file system's limit made this one too long; and
    // two exports begun in one millisecond to files of one name (in two folders) shared it.
    const tmp = path.join(this.tmpDir, `export-${Date.now()}-${++exportNo}.${format}`);
    const options = format === 'csv' ? `(FORMAT csv, HEADER true)` : `(FORMAT parquet, COMPRESSION zstd)`;
    try {
      const { rows, columns } = await this.closedAs('exportTable', serialized(this.queryKey, async () => {
        this.ensureRunning('exportTable');
        const c = await this.queryConn();
        const reader = await c.runAndReadAll(`COPY (SELECT * FROM analytics.${qualified(schema, name)}) TO ${quoteLiteral(tmp)} ${options}`);
        const count = Number(readerRows(reader)[0]?.Count ?? 0);
        if (format !== 'parquet') return { rows: count, columns: [] };
        // The types the file holds (HUGEINT becomes DOUBLE in Parquet), for export-ddl.
        const described = readerRows(await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(tmp)})`));
        return { rows: count, columns: described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) })) };
      }));
      moveFile(tmp, target);
      return { rows, columns, bytes: fs.statSync(target).size };
    } catch (error) {
      // Stopped (by close()) or failed midway: the part written goes.
      fs.rmSync(tmp, { force: true });
      throw error;
    }
  }

  /**
   * An export's or a report's `to` must not be one of the lake's own files: the rename at the end
   * replaced what was there, so `to: lake.paths.analytics` left the warehouse a CSV (or HTML) file
   * DuckDB cannot open. `suggested` is the default target, named in the error after `verb`, and
   * never refused (`data/report.html` is the report's own).
   */
  private checkNotOwnFile(target: string, to: string, call: string, suggested: string, verb = 'export'): void {
    const p = this.paths;
    // Also what the lake writes at its root: the next build or report replaced an export there
    // (lineage, the report), or read it back as its own (the SQL prompt's history, raw archives).
    const atRoot = ['lineage.json', 'lineage.mmd', 'report.html', '.sql_history', 'raw'].map((f) => path.join(p.root, f));
    const own = [p.analytics, `${p.analytics}.wal`, `${p.analytics}.root`, `${p.analytics}.lock`, path.dirname(p.metrics), p.bronze, p.quarantine, p.state, p.tmp, p.logs, p.compiled, p.warehouse, p.models, ...atRoot]
      .map((f) => path.resolve(f))
      .filter((f) => f !== path.resolve(suggested));
    // Also where the write lands: a `to` through a symbolic link to the root replaced analytics.duckdb.
    const real = throughLinks(target);
    const within = (file: string, of: string): boolean => file === of || file.startsWith(`${of}${path.sep}`);
    const hit = own.find((f) => within(target, f) || within(real, throughLinks(f)));
    if (hit) {
      throw new ConfigError(`${call}: option "to" ${JSON.stringify(to)} is one of the lake's own files (${hit}): ${verb} outside them, e.g. to ${JSON.stringify(suggested)}`);
    }
  }

  /**
   * Writes `data/report.html`: one self-contained page (inline SVG charts, no network) with the
   * run timeline, rows per source, prices, orders, customers, quality, alerts, failing tests and lineage.
   * @example
   * const { path } = await lake.report();
   */
  async report(options: ReportOptions = {}): Promise<ReportResult> {
    this.ensureOpen('report');
    // Checked before the page is drawn: a path under a file failed at the end with a bare EEXIST/ENOTDIR.
    const to = (options as { to?: unknown } | undefined)?.to;
    if (typeof to === 'string' && to !== '') {
      const target = path.resolve(to);
      this.checkNotOwnFile(target, to, 'lake.report', path.join(this.paths.root, 'report.html'), 'write the report');
      checkExportTarget(target, to, 'report.html', 'lake.report');
    }
    const { buildReport } = await import('./report/report.js');
    return buildReport(this, options);
  }

  /**
   * External-table DDL for every bronze dataset (schema `bronze`, or `schema`) and every table
   * exported with `exportTable(…, { format: 'parquet' })` (its own schema, e.g. `marts`), for Spark,
   * Trino (Hive connector) or Athena, so a bigger engine can read the files where they lie (or
   * after syncing `data/` to object storage: pass `locationPrefix: 's3://bucket/lake'`).
   * @example
   * console.log(await lake.exportDdl({ engine: 'trino', locationPrefix: 's3://my-bucket/lake' }));
   */
  async exportDdl(options: { engine: DdlEngine; locationPrefix?: string; schema?: string }): Promise<string> {
    this.ensureOpen('exportDdl');
    checkOptionKeys(options, ['engine', 'locationPrefix', 'schema'], 'lake.exportDdl');
    if (!['spark', 'trino', 'athena'].includes(options?.engine)) {
      throw new ConfigError(`lake.exportDdl: option "engine" must be "spark", "trino" or "athena" (got ${JSON.stringify(options?.engine)})`);
    }
    parseOptions(exportDdlOptionsSchema, options, 'lake.exportDdl');
    const { bronzeTables, withFileColumns, exportedTables, ddlFor } = await import('./scale/ddl.js');
    // Every dataset is listed first, then each one's footers are read: none may be purged meanwhile.
    const tables = await this.readingBronze(async (c) => withFileColumns(c, bronzeTables(this.paths.root, await this.metrics.bronzeVisibility())));
    return ddlFor(tables, options.engine, { root: this.paths.root, exports: exportedTables(this.paths.root), ...(options.locationPrefix ? { locationPrefix: options.locationPrefix } : {}), ...(options.schema ? { schema: options.schema } : {}) });
  }

  /** The model graph: nodes (models, seeds, sources) and edges; also written to `data/lineage.json`. */
  async lineage(): Promise<Lineage & { mermaid: string }> {
    this.ensureOpen('lineage');
    this.requireModels('lineage');
    const { discover } = await import('./transform/build.js');
    const { lineageOf, toMermaid } = await import('./transform/lineage.js');
    const project = await discover({ modelsDir: this.paths.models, vars: this.options.vars, quality: this.options.quality }, {});
    const lineage = lineageOf(project);
    const mermaid = toMermaid(lineage);
    writeFileAtomic(path.join(this.paths.root, 'lineage.json'), JSON.stringify(lineage, null, 2));
    writeFileAtomic(path.join(this.paths.root, 'lineage.mmd'), mermaid);
    return { ...lineage, mermaid };
  }

  /** The latest runs, newest first. */
  async runs(options: { limit?: number } = {}): Promise<RunRecord[]> {
    this.ensureOpen('runs');
    checkOptionKeys(options, ['limit'], 'lake.runs');
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit <= 0) throw new ConfigError(`lake.runs: option "limit" must be a positive integer (got ${String(limit)})`);
    return this.metrics.runs(limit);
  }

  /**
   * Closes the engine and the logger. Idempotent. `reason` (the first one given) is said by the
   * errors of what it stops, and so in their runs' records.
   * @example
   * process.once('SIGTERM', () => void lake.close({ reason: 'interrupted by SIGTERM' }));
   */
  close(options: { reason?: string } = {}): Promise<void> {
    // Never refused: close() is handed to listeners and hooks that pass their own argument
    // (`process.on('SIGTERM', lake.close.bind(lake))` passes 'SIGTERM', a test hook its context);
    // refusing it would leave the lake open. A string `reason` is taken, anything else ignored.
    if (!this.closed) {
      const reason = typeof options === 'object' && options !== null ? (options as { reason?: unknown }).reason : undefined;
      if (typeof reason === 'string') this.closeReason = reason;
    }
    this.closed ??= (async () => {
      // Running operations stop (an extract at its next page) and record what they did — the
      // batches committed, the source's error — before the engine, metrics and logs close; at
      // most CLOSE_WAIT_MILLIS, so a close() awaited inside an operation (a hook) cannot hang.
      this.abort.abort(this.closedError('lake'));
      // A statement running on the lake's read connections (a long lake.query, an export's COPY, a
      // report's or a test's query) stops now: it held close() for CLOSE_WAIT_MILLIS, and closing
      // its connection then blocked until the statement ended. Again after the wait, for one started meanwhile.
      // (And every 20 ms meanwhile: DuckDB forgets an interrupt that comes before its statement starts.)
      const stopInterrupting = interruptOnAbort({ interrupt: () => this.interruptReaders() }, this.abort.signal);
      if (this.inflight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...this.inflight]), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MILLIS)))]);
        clearTimeout(timer);
        this.interruptReaders();
      }
      stopInterrupting();
      // Its attachments of analytics.duckdb go with the engine (none is left for another
      // attachment's release to detach); while another lake of the process reads that file, the
      // engine stays open, unused, and closes with the last reader: closing it now would close a
      // descriptor of the file and drop that lake's lock on it.
      const closeEngine = closeShared(this.paths.analytics, this, () => this.engineInstance?.closeSync());
      this.queryConnection?.closeSync();
      for (const c of this.snapshotConnections) c.closeSync();
      this.snapshotConnections.clear();
      if (this.enginePromise) await this.enginePromise.catch(() => undefined);
      if (closeEngine) this.engineInstance?.closeSync();
      await this.metrics.close();
      fs.rmSync(path.join(this.tmpDir, this.spillDir), { recursive: true, force: true });
      // The process's temp folder goes with its last lake. A manifest still there is a committed
      // batch whose bookkeeping failed, or a compaction whose switch and rollback both failed (its
      // outputs in bronze, hidden): the next open replays the one, removes the other's outputs.
      const claims = (tmpClaims.get(this.tmpDir) ?? 1) - 1;
      if (claims > 0) tmpClaims.set(this.tmpDir, claims);
      else {
        tmpClaims.delete(this.tmpDir);
        const pending = fs.existsSync(this.tmpDir) && fs.readdirSync(this.tmpDir).some((f) => f.endsWith('.commit.json') || (f.startsWith('compact-') && f.endsWith('.json')));
        if (!pending) fs.rmSync(this.tmpDir, { recursive: true, force: true });
      }
      await this.rootLogger.close();
    })();
    return this.closed;
  }

  /** Interrupts the statement running on the query connection and on the report snapshots' (see close()). */
  private interruptReaders(): void {
    for (const c of [this.queryConnection, ...this.snapshotConnections]) {
      try {
        c?.interrupt();
      } catch {
        // A connection closed meanwhile runs nothing.
      }
    }
  }

  /** @internal Counts an operation as running until it settles (see close()). */
  track<T>(operation: Promise<T>): Promise<T> {
    this.inflight.add(operation);
    const done = (): void => {
      this.inflight.delete(operation);
    };
    operation.then(done, done);
    return operation;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** How long close() waits for running operations to record their results. */
const CLOSE_WAIT_MILLIS = 30_000;
/** Lakes opened in this process (numbers their spill folders). */
let instances = 0;
/** Open lakes per process temp folder: two lakes of one process on one root share it. */
const tmpClaims = new Map<string, number>();

// Every operation is tracked while it runs, so that close() can let it record its result.
for (const name of ['extract', 'build', 'test', 'testWithWarnings', 'run', 'compact', 'prune', 'report', 'exportTable', 'exportDdl', 'lineage', 'query', 'queryArrow', 'bronze', 'alerts', 'runs'] as const) {
  const operation = Lakehouse.prototype[name] as (this: Lakehouse, ...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(Lakehouse.prototype, name, {
    value: function (this: Lakehouse, ...args: unknown[]): Promise<unknown> {
      return this.track(operation.apply(this, args));
    },
    writable: true,
    configurable: true,
  });
}

/** What a lake keeps with its attachments of analytics.duckdb: the query connection's, a report snapshot's. */
interface QueryCatalog {
  lake: Lakehouse;
}
interface SnapshotCatalog extends QueryCatalog {
  c: DuckDBConnection;
  catalog: string;
}

/** Report snapshots' catalog names (`analytics_snapshot_<n>`), unique in the process. */
let snapshotNo = 0;
/** `exportTable`'s temp file numbers, unique in the process. */
let exportNo = 0;

/**
 * Attaches the published catalog READ_ONLY. Another process holding it read-write (a DuckDB
 * client opened without READ_ONLY) blocks every reader, this one included: waited for up to
 * `lockTimeoutMillis`, then a LockError saying who holds it and what to do instead of DuckDB's
 * bare "Could not set lock on file".
 */
async function attachAnalytics(c: DuckDBConnection, file: string, lockTimeoutMillis: number, alias = 'analytics'): Promise<void> {
  try {
    await retryOnLock(file, lockTimeoutMillis, () => c.run(`ATTACH ${quoteLiteral(file)} AS ${quoteIdent(alias)} (READ_ONLY)`));
  } catch (error) {
    if (!(error instanceof LockError)) throw error;
    const holder = lockHolder(error.cause) ?? 'another process';
    throw new LockError(
      `analytics.duckdb is held read-write by ${holder} (waited ${lockTimeoutMillis} ms): only a build writes it, and it does so by renaming a new file over it; open it READ_ONLY (\`duckdb -readonly\`, ATTACH … (READ_ONLY), access_mode 'READ_ONLY') so that builds and readers are not blocked; file ${file}`,
      { cause: error.cause },
    );
  }
}

/** What makes a path a glob for DuckDB's file readers. */
const GLOB_CHARS = /[*?[]/;

/**
 * The lake's database file (of `files`) a statement would read as a file — read_blob, read_text,
 * read_parquet… of a path or a glob naming it, or a symbolic link to it — and the literal that
 * names it; or undefined. Looked for in the statement's string literals and parameters (a path
 * it builds from parts is not seen), expanded as DuckDB would (relative to the working folder, `~`, globs).
 */
async function lakeDatabaseRead(c: DuckDBConnection, literals: string[], files: string[]): Promise<{ file: string; literal: string } | undefined> {
  const targets = files.flatMap((file) => {
    const st = quietStat(file);
    return st ? [{ file, st }] : [];
  });
  if (targets.length === 0) return undefined;
  const target = (p: string): string | undefined => {
    const st = quietStat(path.resolve(p.replace(/^file:\/\//, '').replace(/^~(?=\/|$)/, os.homedir())));
    return st && targets.find((t) => t.st.dev === st.dev && t.st.ino === st.ino)?.file;
  };
  for (const literal of new Set(literals)) {
    if (literal === '') continue;
    let file = target(literal);
    if (!file && GLOB_CHARS.test(literal)) {
      // Listing folders opens none of the files in them; a literal that is no glob DuckDB can list names none.
      const matches = await c.runAndReadAll('SELECT file FROM glob($1)', [literal]).then((r) => r.getRows().map((row) => String(row[0])), () => []);
      file = matches.map(target).find((f) => f !== undefined);
    }
    if (file) return { file, literal };
  }
  return undefined;
}

/** The strings among a statement's parameters, in lists, sets and maps too: paths DuckDB may read. */
function paramStrings(params: QueryParams | undefined): string[] {
  const found: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') found.push(v);
    else if (Array.isArray(v) || v instanceof Set) for (const item of v) visit(item);
    else if (v instanceof Map) for (const [k, item] of v) (visit(k), visit(item));
  };
  visit(params === undefined ? [] : Array.isArray(params) ? params : Object.values(params));
  return found;
}

/**
 * Reading a lake's database as a file closes a descriptor of it, and closing any descriptor of a
 * file drops every POSIX lock the process holds on it (DuckDB's): the query connection's on
 * analytics.duckdb, the metrics writer's on runs.duckdb. Another process could then open it
 * read-write under this one's readers, or write runs.duckdb along with it.
 */
function lakeDatabaseReadError(call: string, read: { file: string; literal: string }): DuckhouseError {
  return new DuckhouseError(
    'QUERY_READS_LAKE_DATABASE',
    `lake.${call}: the statement reads ${read.file} (named by '${read.literal}') as a file, and that is the lake's own database: reading it would drop this process's lock on it, so another process could open it read-write under the lake's readers; query its tables instead (lake.query reads analytics.duckdb's catalog; the run history: lake.runs())`,
  );
}

/** Whether two paths name one existing folder (through symbolic links). */
function sameFolder(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

/** `fs.statSync`, or undefined for a path that cannot be looked at (not there, not a valid path). */
function quietStat(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** `fs.statSync`, or undefined for a path that is not there (also when a folder on the way is a file). */
function statOrNone(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

/**
 * An export target must be a file in a folder: a folder there failed the rename at the end with
 * ENOTEMPTY/EISDIR (naming the lake's tmp file), a file on the way failed the mkdir with ENOTDIR.
 */
function checkExportTarget(target: string, to: string | undefined, fileName: string, call = 'lake.exportTable'): void {
  const shown = JSON.stringify(to ?? target);
  // A trailing separator names a folder (one yet to be made, too): path.resolve drops it, and a file was written under the folder's name.
  const namesFolder = to !== undefined && (to.endsWith('/') || to.endsWith(path.sep));
  if (namesFolder || statOrNone(target)?.isDirectory()) {
    throw new ConfigError(`${call}: option "to" ${shown} is a folder: name the file to write, e.g. ${JSON.stringify(path.join(to ?? target, fileName))}`);
  }
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const st = statOrNone(dir);
    if (st && !st.isDirectory()) throw new ConfigError(`${call}: option "to" ${shown} lies under ${JSON.stringify(dir)}, which is a file`);
    if (st || dir === path.dirname(dir)) return;
  }
}

/**
 * Rethrows DuckDB's failure of a read ("Parser Error: …", "Catalog Error: …") as a QueryError with
 * its message whole. DuckDB throws plain Errors: ours (and a TypeError, a bug) pass through as
 * they are, and a read close() interrupted was already made a ClosedError by closedAs.
 */
function throwAsQueryError(error: unknown): never {
  if (isForeignError(error)) throw new QueryError(error.message, { cause: error });
  throw error;
}

/** A plain `Error` of DuckDB's or Node's, with no code of ours: not a DuckhouseError, nor a TypeError (a bug). */
function isForeignError(error: unknown): error is Error {
  return error instanceof Error && !(error instanceof DuckhouseError) && error.name === 'Error';
}

/** The error for a statement `lake.query` does not run: it is not read-only. */
function notReadOnly(type: StatementType, name = StatementType[type]): DuckhouseError {
  return new DuckhouseError('QUERY_NOT_READ_ONLY', `lake.query is read-only: ${name ?? 'this'} statements are not allowed (use models to build tables)`);
}

/** A query parameter as node-api binds it, with the type to bind it as where node-api's own guess is wrong. */
interface BoundValue {
  value: DuckDBValue;
  type?: DuckDBType;
}

/** A JS number is a double: an integral one fits a BIGINT only within ±2^63. */
const isInt64 = (n: number): boolean => Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63;

/** HUGEINT's range; a bigint past it binds as a BIGNUM (node-api failed "bigint out of hugeint range"). */
const isInt128 = (n: bigint): boolean => n >= -(2n ** 127n) && n < 2n ** 127n;

/**
 * The type a bigint binds as: BIGINT within ±2^63 (node-api made every bigint a HUGEINT, which
 * queryArrow gives as decimal text, not Int64), HUGEINT past it, BIGNUM past that. All exact.
 */
const bigintType = (n: bigint): DuckDBType => (n >= -(2n ** 63n) && n < 2n ** 63n ? BIGINT : isInt128(n) ? HUGEINT : BIGNUM);

const article = (word: string): string => `${/^[AEIOU][a-z0-9]/i.test(word) && !/^U[A-Z]/.test(word) ? 'an' : 'a'} ${word}`;

function kindOf(value: unknown): string {
  if (value instanceof Date) return 'a Date';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  if (typeof value !== 'object' || value === null) return `a ${typeof value}`;
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
  const name = proto === null || proto === Object.prototype ? undefined : proto.constructor?.name;
  return typeof name === 'string' && name !== '' ? article(name) : 'an object';
}

/**
 * A Set as the array of its items, an ArrayBuffer as its bytes: they bind as a LIST and a BLOB. An
 * array's holes become undefined items (NULLs): `map` and `forEach` skip them, and node-api failed
 * on one with a TypeError naming nothing.
 */
function normalised(value: unknown): unknown {
  if (value instanceof Set || Array.isArray(value)) return [...value];
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return value;
}

/** The name of a Map's key or value in errors: `$1.get("a")` for the value, `$1 key 0` for the first key. */
const mapValueName = (name: string, key: unknown): string => `${name}.get(${typeof key === 'string' ? JSON.stringify(key) : String(key)})`;

/**
 * The one type of a list's items, from all of them: node-api's `listValue` types a list by its
 * first item, so [null, 'a'] became a list of NULLs and [1, 1.5] failed as "not an integer".
 * Numbers are BIGINT unless one is fractional or past ±2^63 (then all are DOUBLE).
 */
function itemsType(items: [unknown, string][]): DuckDBType | undefined {
  const present = items.map(([v, name]): [unknown, string] => [normalised(v), name]).filter(([v]) => v !== null && v !== undefined);
  if (present.length === 0) return SQLNULL;
  const [first, firstName] = present[0]!;
  const other = present.find(([v]) => kindOf(v) !== kindOf(first));
  if (other) throw new ConfigError(`lake.query: parameter ${other[1]} is ${kindOf(other[0])} but ${firstName} is ${kindOf(first)}: the items of a list must be of one type`);
  if (first instanceof Date) return TIMESTAMPTZ;
  if (first instanceof Uint8Array) return BLOB;
  if (Array.isArray(first)) {
    const inner = itemsType(present.flatMap(([list, name]) => (list as unknown[]).map((v, i): [unknown, string] => [v, `${name}[${i}]`])));
    return inner && LIST(inner);
  }
  if (first instanceof Map) {
    const entries = present.flatMap(([map, name]) => [...(map as Map<unknown, unknown>)].map(([k, v], i) => ({ key: [k, `${name} key ${i}`] as [unknown, string], value: [v, mapValueName(name, k)] as [unknown, string] })));
    const keyType = itemsType(entries.map((e) => e.key));
    const valueType = itemsType(entries.map((e) => e.value));
    return keyType && valueType && MAP(keyType, valueType);
  }
  switch (typeof first) {
    case 'number':
      return present.every(([v]) => isInt64(v as number)) ? BIGINT : DOUBLE;
    case 'bigint': {
      // The widest the items need: BIGINT, HUGEINT or BIGNUM.
      const types = new Set(present.map(([v]) => bigintType(v as bigint)));
      return types.has(BIGNUM) ? BIGNUM : types.has(HUGEINT) ? HUGEINT : BIGINT;
    }
    case 'string':
      return VARCHAR;
    case 'boolean':
      return BOOLEAN;
    default:
      return undefined; // node-api's own values (DuckDBDecimalValue…): its typing by the first item
  }
}

function toDuckValue(raw: unknown, name: string): BoundValue {
  const value = normalised(raw);
  if (value instanceof Date) {
    const ms = value.getTime();
    // BigInt(NaN) would throw a message that names neither the call nor the parameter.
    if (Number.isNaN(ms)) throw new ConfigError(`lake.query: parameter ${name} is an Invalid Date`);
    return { value: new DuckDBTimestampTZValue(BigInt(ms) * 1000n) };
  }
  if (value === undefined) return { value: null };
  // A BLOB, as lake.query returns one (node-api typed a Uint8Array as ANY and could not bind it).
  if (value instanceof Uint8Array) return { value: blobValue(value), type: BLOB };
  // node-api binds an integral number as INTEGER/BIGINT: 1e300 failed "bigint out of int64 range".
  if (typeof value === 'number' && Number.isInteger(value) && !isInt64(value)) return { value, type: DOUBLE };
  if (typeof value === 'bigint') return { value, type: bigintType(value) };
  if (value instanceof Map) {
    if (value.size === 0) throw new ConfigError(`lake.query: parameter ${name} is an empty Map, whose map type cannot be told: pass a typed empty map in the SQL instead (e.g. MAP {}::MAP(VARCHAR, INTEGER))`);
    const entries = [...value];
    const type = itemsType([[value, name]]);
    return { value: mapValue(entries.map(([k, v], i) => ({ key: toDuckValue(k, `${name} key ${i}`).value, value: toDuckValue(v, mapValueName(name, k)).value }))), ...(type ? { type } : {}) };
  }
  if (Array.isArray(value)) {
    // node-api cannot tell an empty list's type ("Cannot create values of type ANY").
    if (value.length === 0) throw new ConfigError(`lake.query: parameter ${name} is an empty array, whose list type cannot be told: pass a typed empty list in the SQL instead (e.g. []::VARCHAR[])`);
    const type = itemsType(value.map((item, i) => [item, `${name}[${i}]`]));
    return { value: listValue(value.map((item, i) => toDuckValue(item, `${name}[${i}]`).value)), type: type && LIST(type) };
  }
  // node-api types these as ANY and fails "Cannot create values of type ANY", naming no parameter.
  // (Its own value objects, DuckDBDecimalValue…, have a class of their own and bind as they are.)
  const plainObject = typeof value === 'object' && value !== null && [Object.prototype, null].includes(Object.getPrototypeOf(value));
  if (typeof value === 'function' || typeof value === 'symbol' || plainObject) {
    throw new ConfigError(`lake.query: parameter ${name} is ${kindOf(value)}, which binds as no DuckDB type (bind its fields as parameters of their own, or JSON text cast in the SQL: $1::JSON)`);
  }
  // Any other object (a typed array but Uint8Array, a DataView, a RegExp, a URL, a class instance).
  if (typeof value === 'object' && value !== null && !isNodeApiValue(value)) {
    const hint = ArrayBuffer.isView(value) ? 'pass Array.from(it) for a list, or a Uint8Array for a BLOB' : 'pass a string, number, bigint, boolean, Date, Uint8Array, array, Set or Map';
    throw new ConfigError(`lake.query: parameter ${name} is ${kindOf(value)}, which binds as no DuckDB type (${hint})`);
  }
  return { value: value as DuckDBValue };
}

/** `params` must be an array or a plain object, or absent: null was a TypeError, a string bound as `$0`. */
function checkParams(params: unknown, call: string): void {
  if (params === undefined || Array.isArray(params)) return;
  const plain = typeof params === 'object' && params !== null && [Object.prototype, null].includes(Object.getPrototypeOf(params));
  if (!plain) throw new ConfigError(`${call}: "params" must be an array ($1, $2…) or an object ($name), got ${params === null ? 'null' : kindOf(params)}`);
}

/** Binds the params; an object's keys must be the statement's `$name`s (DuckDB's error named none). */
function bindParams(prepared: DuckDBPreparedStatement, params: QueryParams): void {
  if (Array.isArray(params)) {
    const n = prepared.parameterCount;
    if (params.length > n) {
      throw new ConfigError(`lake.query: ${params.length} parameter value${params.length === 1 ? '' : 's'} given, but the statement has ${n === 0 ? 'no parameters' : `${n} (${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')})`}`);
    }
    // Spread: a hole (`[, 'x']`) binds as NULL, as undefined does, not left unbound.
    [...params].forEach((v, i) => {
      const { value, type } = toDuckValue(v, `$${i + 1}`);
      prepared.bindValue(i + 1, value, type);
    });
    return;
  }
  const names = Array.from({ length: prepared.parameterCount }, (_, i) => prepared.parameterName(i + 1));
  const unknown = Object.keys(params).filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError(`lake.query: unknown parameter ${unknown.map((k) => `$${k}`).join(', ')} (${names.length ? `the statement has ${names.map((n) => `$${n}`).join(', ')}` : 'the statement has no parameters'})`);
  }
  for (const [k, v] of Object.entries(params)) {
    const { value, type } = toDuckValue(v, `$${k}`);
    prepared.bindValue(prepared.parameterIndex(k), value, type);
  }
}
