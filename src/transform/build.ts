/**
 * The execution side of a build: models in DAG order, each materialized and recorded, tests
 * run, and the result published as a new catalog in one rename (see warehouse.ts).
 *
 * Steps: lock → discover + select → read the published state → new catalog in a temp file →
 * each model in DAG order: its previous object carried over when it is not selected, up to date,
 * failed or skipped; otherwise built (view / table / incremental / seed, plus
 * `audit.<model>_rejected`) → tests → state written → publish (rename) → garbage → metrics,
 * compiled SQL, lineage.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { interruptOnAbort } from '../abortable.js';
import { DuckhouseError, ModelError, errorMessage } from '../errors.js';
import { RUN_ID_PATTERN } from '../run-id.js';
import type { Logger } from '../log.js';
import { qualified, quoteIdent, quoteLiteral } from '../db/quote.js';
import { readerRows } from '../db/values.js';
import { writeFileAtomic } from '../bronze/commit.js';
import { MAX_FOLDER_NAME, encodedLength, hiveFolder } from '../bronze/partition.js';
import { escapeRegExp, redactSql, redactString } from '../redact.js';
import { acquireLock } from '../extract/file-lock.js';
import type { MetricsDb, RecordedScore } from '../metrics/metrics-db.js';
import type { ProjectSubjects } from '../metrics/alerts.js';
import type { BuildResult, ModelResult, TestResult } from '../results.js';
import { combineStatus } from '../results.js';
import { discoverProject, ignoredConfigWarnings, nodeLabel, topoOrder, type Project, type ProjectNode } from './project.js';
import { renderModel, type RenderContext } from './render.js';
import { selectNodes } from './select.js';
import { sourceTarget, testSql, testStatus, type TestDef } from './tests-def.js';
import { lineageOf, toMermaid } from './lineage.js';
import { collectGarbage, defineObject, deleteGarbage, ensureSchema, readState, rebaseState, recordCatalogRoot, removeEmptyParents, supersededBronze, sweepUnreferenced, tableViewSql, withoutBronzeLists, writeState, type GarbageFile, type ModelState } from './warehouse.js';
import { ALL_VISIBLE, asOfRunCutoff, bronzeRelationSql, emptyRelationSql, recordedSchemaAsOf, filesAsOf, filesFingerprint, readRecordedSchema, scanBronze, type BronzeDataset, type BronzeVisibility } from './source-relation.js';
import type { Progress } from '../progress.js';
import { buildOptionsSchema, parseOptions, type QualityOptions } from '../config.js';
import { DIMENSIONS, scoreModels, type QualityScore } from './quality.js';
import { listTree } from '../fs-list.js';

export interface BuildOptions {
  /** Selectors (`name`, `schema.name`, `+x`, `x+`, `layer:marts`, `source:vtex`, `tag:x`); all models when absent. */
  select?: string[];
  /** Selectors of models left out of the selection, as dbt's `--exclude`. */
  exclude?: string[];
  /** Rebuild incremental models from scratch and ignore up-to-date checks. */
  fullRefresh?: boolean;
  /** Model variables for this build, over the lake's. */
  vars?: Record<string, unknown>;
  /** Run the data tests of the built models (default true). */
  test?: boolean;
}

export interface BuildEnv {
  runId: string;
  /** When the build started (as recorded in `runs`): dbt's `run_started_at` in the models. */
  startedAt?: Date;
  root: string;
  modelsDir: string;
  analyticsFile: string;
  warehouseDir: string;
  compiledDir: string;
  tmpDir: string;
  engine: DuckDBInstance;
  metrics: MetricsDb;
  logger: Logger;
  vars: Record<string, unknown>;
  /** The lake's zone, DuckDB's session TimeZone in the build: `ts::DATE` in a model depends on it. */
  timezone: string;
  quality: QualityOptions;
  lockTimeoutMillis: number;
  /** The lake's close(): ends the wait for another build's lock, and the build at its next model. */
  signal?: AbortSignal;
  /** How long superseded warehouse files are kept for readers of older catalogs. */
  retainSupersededMillis: number;
  progress: Progress;
  /** Runs tests against the published catalog (when nothing had to be built); sources read as the build would. */
  testPublished(project: Project, tests: TestDef[], visibility: BronzeVisibility): Promise<TestResult[]>;
  /** When each source of a dataset last extracted successfully (`source.dataset` → one instant per scope, null if never). */
  lastSuccess(): Promise<Map<string, (Date | null)[]>>;
  /** Each model's latest recorded quality score: the gates of a build that rebuilds nothing. */
  lastScores(): Promise<Map<string, RecordedScore>>;
  /** Which bronze files compaction and prune removed or switched in (from the metrics db). */
  bronzeVisibility(): Promise<BronzeVisibility>;
  /** Records the build's start, once its options and selection hold (a usage error is no run). */
  recordStart(): void;
  /** The build has its lock: what it reads of bronze from here on must be read after this. */
  locked(): void;
  /** Reads the published catalog's state (through the lake's read-only attachment). */
  readPublished(): Promise<{ models: Map<string, ModelState>; garbage: GarbageFile[] }>;
}

/** How warehouse files are written (see `Builder.writeParquet`). */
const WAREHOUSE_PARQUET = 'FORMAT parquet, COMPRESSION snappy, PARQUET_VERSION V2';

const sha = (...parts: string[]): string => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

function fileSha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export async function discover(env: Pick<BuildEnv, 'modelsDir' | 'vars' | 'quality'>, vars: Record<string, unknown>): Promise<Project> {
  return discoverProject(env.modelsDir, {
    vars: { ...env.vars, ...vars },
    quality: { maxNullShare: env.quality.maxNullShare, maxDuplicateShare: env.quality.maxDuplicateShare, minQualityScore: env.quality.minQualityScore, gateSeverity: env.quality.gateSeverity },
  });
}

/** Builds the selected models and publishes them. Throws only when nothing could be done. */
export async function runBuild(env: BuildEnv, options: BuildOptions): Promise<BuildResult & { hashes: Map<string, string>; quality?: QualityScore[]; subjects: ProjectSubjects }> {
  // A misspelt option (`selct`) would otherwise build everything without a word.
  parseOptions(buildOptionsSchema, options, 'lake.build');
  const vars = { ...env.vars, ...(options.vars ?? {}) };
  let project: Project;
  try {
    project = await discover(env, options.vars ?? {});
  } catch (error) {
    env.recordStart(); // a project that does not compile is a failed build, in the history
    throw error;
  }
  // A selector matching nothing is a usage error, like a misspelt option: thrown before the start is recorded.
  const selected = selectNodes(project, options.select, options.exclude);
  env.recordStart();
  const lock = await acquireLock(env.analyticsFile, { timeoutMillis: env.lockTimeoutMillis, what: 'analytics.duckdb (another build is running)', ...(env.signal ? { signal: env.signal } : {}) });
  env.locked();
  const conn = await env.engine.connect();
  // The lake's close(): a model's (or test's) statement running now stops at once; the build then
  // stops at its next step. Uninterrupted, it held close() past its wait, whose engine close then hung.
  // Again until the build ends: DuckDB forgets an interrupt that comes before its statement starts.
  const stopInterrupting = interruptOnAbort(conn, env.signal);
  const alias = `build_${env.runId.replace(/[^a-z0-9]/gi, '_')}`;
  const catalogFile = path.join(env.tmpDir, `catalog-${env.runId}.duckdb`);
  let attached = false;
  try {
    // A catalog of a lake since moved names the old folder: its paths are read as under this root.
    const published = await env.readPublished();
    const previous = rebaseState(published, env.root);
    // Then a new catalog is published even if no model changed: the one there names the old folder.
    const moved = previous !== published;
    const visibility = await env.bronzeVisibility();
    const planner = new Builder(env, project, conn, previous.models, vars, options);
    planner.visibility = visibility;
    // Said by every build of these models, up to date or not: the config still does nothing.
    const ignoredConfig = ignoredConfigWarnings(project, selected);
    planner.warnings.push(...ignoredConfig);
    planner.listSources(selected);
    // A selected model reads its unselected upstream views as over the bronze committed now.
    for (const id of planner.staleViews(selected)) selected.add(id);
    // A project whose only models are ephemerals has nothing to build, yet its tests (on their
    // inlined SQL) need a catalog to run in: with none published, the first build publishes one,
    // with `test: false` too (a `lake.test()` after it would otherwise find nothing built).
    const noCatalogForTests = project.tests.length > 0 && !fs.existsSync(env.analyticsFile);
    const unchanged = moved || noCatalogForTests ? undefined : planner.unchangedResults(selected);
    if (unchanged) {
      // Nothing to do: no new catalog, nothing to publish; the tests run on the published one.
      // Each model still has its line, with its time, as in a build that rebuilt some.
      for (const m of unchanged) env.logger.info(`up to date ${m.name}${m.rows === null ? '' : ` (${m.rows} rows)`}`, { model: m.name, durationMs: m.durationMs });
      writeLineage(env, project);
      pruneCompiled(env, project);
      // A project with no models and no tests (yet) has nothing to test: no catalog is needed.
      const tests: TestResult[] = [];
      if (options.test !== false) {
        // Tests reading a source never extracted (through an ephemeral, an assertion, a relationship) wait for it.
        const waiting = new Set(absentNodes(project, () => true, planner.sourceNeverExtracted));
        const wanted = testsFor(project, selected, waiting);
        planner.warnings.push(...notRunWarnings(project, selected, waiting, new Set()));
        if (wanted.length > 0) tests.push(...(await env.testPublished(project, wanted, visibility)));
        // The gates stand as the last build that scored these models left them (nothing was rebuilt).
        tests.push(...recordedGates(project, selected, await env.lastScores(), env.quality));
      }
      const failing = tests.some((t) => t.status === 'fail' || t.status === 'error');
      return { runId: env.runId, status: failing ? 'partial' : 'success', models: unchanged, tests, warnings: planner.warnings, hashes: planner.hashes, subjects: projectSubjects(project) };
    }
    // Models to build: the metrics file the build's start left attached for its finish is let go now,
    // its checkpoint overlapping the catalog's set-up rather than the models' queries.
    env.metrics.release();
    // Files of builds that died before publishing go before this one writes (a build with nothing
    // to build leaves them to the next that has: it walks the whole warehouse folder).
    const swept = sweepUnreferenced(env.warehouseDir, previous.models, previous.garbage);
    if (swept > 0) env.logger.warn(`removed ${swept} warehouse file(s) of builds that never published`);
    // No write-ahead log: the file is this build's alone until the rename publishes it, and the
    // detach checkpoints it whole; a build that dies leaves a temp file the next one removes. Each
    // DDL statement then commits without its log write and sync (~7 ms a build of the bench's four
    // models, ~1 ms a model).
    await conn.run(`ATTACH ${quoteLiteral(catalogFile)} AS ${quoteIdent(alias)} (RECOVERY_MODE no_wal_writes)`);
    attached = true;
    await conn.run(`USE ${quoteIdent(alias)}`);
    const builder = new Builder(env, project, conn, previous.models, vars, options);
    builder.visibility = visibility;
    builder.warnings.push(...ignoredConfig);
    builder.sharesListingsOf(planner);
    await builder.carryOver();
    const models = await builder.buildSelected(selected);
    await builder.carryRest();
    // A test needing a model this build neither built nor carried over (not selected, never
    // published) is not run, with a warning: it would only fail on a missing table.
    const untestable = new Set([...builder.unusable, ...absentNodes(project, (id) => builder.state.has(id), builder.sourceNeverExtracted)]);
    const tests = options.test === false ? [] : await runTests(conn, project, testsFor(project, selected, untestable), builder.renderContextFor, env.logger, env.signal);
    if (options.test !== false) builder.warnings.push(...notRunWarnings(project, selected, untestable, builder.unusable));
    // An up-to-date model whose score is stale (its tests changed since, or a build with
    // `test: false` rebuilt it) is scored again and the scores republished: its data is kept.
    const rescored = models.some((m) => m.status === 'up-to-date' && builder.staleScore(m.name));
    const changed = models.some((m) => m.status === 'success') || builder.removed > 0 || builder.ephemeralAudits > 0 || rescored || moved || !fs.existsSync(env.analyticsFile);
    // Scores go to marts.mart_data_quality in the new catalog and to the metrics db alike: with
    // nothing to publish (every rebuilt model failed) none are computed, and the gates stand as the
    // last published build scored them, as in a build that rebuilds nothing.
    const quality = options.test === false || !changed ? [] : await builder.scoreQuality(models, tests);
    tests.push(...qualityGates(quality, env.quality));
    if (options.test !== false && !changed) tests.push(...recordedGates(project, selected, await env.lastScores(), env.quality));
    // Bronze files the replaced catalog's views name share the ledger, but are deleted by purgeRemoved only.
    const bronzeDir = path.join(env.root, 'bronze') + path.sep;
    const bronzeLedger = previous.garbage.filter((g) => g.path.startsWith(bronzeDir));
    const warehouseGarbage = collectGarbage(previous.models, builder.state, previous.garbage.filter((g) => !g.path.startsWith(bronzeDir)), env.retainSupersededMillis);
    const garbage = [...warehouseGarbage.kept, ...supersededBronze(previous.models, builder.state, bronzeLedger, bronzeDir, env.retainSupersededMillis)];
    // Closed while its last model or the scoring ran (interrupted, not failed): nothing is published.
    env.signal?.throwIfAborted();
    if (changed) {
      await writeState(conn, builder.state.values(), garbage);
      await conn.run(`USE memory`);
      await conn.run(`DETACH ${quoteIdent(alias)}`);
      attached = false;
      // A log there is a read-write client's, killed before its checkpoint (builds write none): DuckDB
      // would replay it over the new catalog at every attach (a view it dropped, dropped from this one).
      fs.rmSync(`${env.analyticsFile}.wal`, { force: true });
      fs.renameSync(catalogFile, env.analyticsFile); // the publish: readers see the old catalog or this one
      recordCatalogRoot(env.analyticsFile, env.root);
    }
    // Only now: the catalog readers opened until the rename named the files it replaced (with no
    // publish, the one still published keeps its files).
    deleteGarbage(warehouseGarbage.expired, changed ? builder.state : previous.models);
    writeLineage(env, project);
    pruneCompiled(env, project);
    const counted = models.filter((m) => !builder.waiting.has(m.name));
    const modelStatus = combineStatus(counted.map((m) => ({ status: m.status === 'error' ? 'failed' : m.status === 'skipped' ? 'failed' : 'success' })));
    const failingTests = tests.some((t) => t.status === 'fail' || t.status === 'error');
    const status = modelStatus === 'success' && failingTests ? 'partial' : modelStatus;
    return { runId: env.runId, status, models, tests, warnings: builder.warnings, hashes: builder.hashes, quality, subjects: projectSubjects(project) };
  } finally {
    stopInterrupting();
    if (attached) {
      await conn.run('USE memory').catch(() => undefined);
      await conn.run(`DETACH ${quoteIdent(alias)}`).catch(() => undefined);
    }
    conn.closeSync();
    fs.rmSync(catalogFile, { force: true });
    fs.rmSync(`${catalogFile}.wal`, { force: true });
    lock.release();
  }
}

/** The bronze datasets `tests` read: their assertions' `source()`s and relationships to a source. */
export function datasetsOfTests(project: Project, tests: TestDef[]): { source: string; dataset: string }[] {
  const out: { source: string; dataset: string }[] = [];
  for (const t of tests) {
    if (t.kind === 'singular') out.push(...(project.nodes.get(t.model)?.sources ?? []));
    const parent = t.kind === 'relationships' ? sourceTarget(t.args.to) : undefined;
    if (parent) out.push(parent);
  }
  return out;
}

/**
 * Tests reading a selected node — their model, or the parent of a relationships test, as dbt's
 * eager indirect selection picks them (assertions: one of whose refs is selected, or that ref
 * nothing) — whose inputs were all built, and the tests picked by name (`lake.test`; `selected`
 * is then undefined when no model or seed was selected).
 */
export function testsFor(project: Project, selected: Set<string> | undefined, unusable: Set<string>, named?: ReadonlySet<string>): TestDef[] {
  const pool = [...project.nodes.values()].filter((n) => n.kind !== 'assertion' && n.config.enabled);
  const everything = selected !== undefined && pool.every((n) => selected.has(n.id));
  const readSources = new Set(pool.filter((n) => selected?.has(n.id)).flatMap((n) => n.sources.map((u) => `${u.source}.${u.dataset}`)));
  // An assertion that refs no model runs with the whole project, or with a selected model reading one of its sources.
  const sourceOnly = (t: TestDef): boolean => everything || (project.nodes.get(t.model)?.sources ?? []).some((u) => readSources.has(`${u.source}.${u.dataset}`));
  const bySelection = (t: TestDef): boolean =>
    selected !== undefined && (t.dependsOn.some((d) => selected.has(d)) || (t.kind === 'singular' && t.dependsOn.length === 0 && sourceOnly(t)));
  return project.tests.filter((t) => (named?.has(t.name) || bySelection(t)) && testInputs(project, t).every((d) => !unusable.has(d)));
}

/**
 * Nodes a test could read that the catalog (`has`) does not hold: neither built nor carried over.
 * Given which sources were never extracted, also the ephemerals and assertions reading one, and
 * the sources relationships tests point to (as `source:<source>.<dataset>`): they wait for a first
 * extract as a view over it does, and a test reading one (or an ephemeral above it: see
 * testInputs) would read the empty stand-in relation, whose columns are not the model's.
 */
export function absentNodes(project: Project, has: (id: string) => boolean, neverExtracted?: (source: string, dataset: string) => boolean): string[] {
  const absent = [...project.nodes.values()]
    .filter((n) =>
      inlined(n) ? n.config.enabled && neverExtracted !== undefined && n.sources.some((u) => neverExtracted(u.source, u.dataset)) : !has(n.id),
    )
    .map((n) => n.id);
  if (!neverExtracted) return absent;
  const parents = project.tests.map(sourceParent).filter((p): p is { source: string; dataset: string } => p !== undefined);
  return [...absent, ...new Set(parents.filter((p) => neverExtracted(p.source, p.dataset)).map((p) => `source:${p.source}.${p.dataset}`))];
}

/** The source a relationships test's `to` names, if it names one. */
function sourceParent(test: TestDef): { source: string; dataset: string } | undefined {
  return test.kind === 'relationships' ? sourceTarget(test.args.to) : undefined;
}

/** A node with no object of its own, its SQL inlined where it is read: an ephemeral model, or an assertion (its test's query). */
function inlined(node: ProjectNode): boolean {
  return node.kind === 'assertion' || (node.kind === 'model' && node.config.materialized === 'ephemeral');
}

/** Whether a dataset of the lake at `root` was never extracted, listing its bronze now: for `absentNodes`. */
export function neverExtractedIn(root: string): (source: string, dataset: string) => boolean {
  return (source, dataset) => noBronzeNorSchema(root, source, dataset, scanBronze(root, source, dataset));
}

/** A dataset never extracted: no bronze file in `listed` (its listing) and no recorded schema. */
function noBronzeNorSchema(root: string, source: string, dataset: string, listed: { files: unknown[] }): boolean {
  return listed.files.length === 0 && !readRecordedSchema(root, source, dataset);
}

/** A warning for each test of the selection left out because it reads an untestable node. */
export function notRunWarnings(project: Project, selected: Set<string> | undefined, untestable: Set<string>, unbuilt: Set<string>, named?: ReadonlySet<string>, excluded?: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const t of testsFor(project, selected, new Set(), named)) {
    if (excluded?.has(t.name)) continue;
    const missing = testInputs(project, t).find((d) => untestable.has(d));
    if (missing === undefined) continue;
    if (missing.startsWith('source:')) {
      out.push(`test ${t.name} not run: source ${missing.slice('source:'.length)} has never been extracted`);
      continue;
    }
    // An ephemeral or assertion is never built: one is untestable only while a source it reads was never extracted (see absentNodes).
    const node = project.nodes.get(missing);
    const why = node && inlined(node) ? 'reads a source that has never been extracted' : unbuilt.has(missing) ? 'was not built' : 'is neither selected nor built yet';
    out.push(`test ${t.name} not run: ${missing} ${why}`);
  }
  return out;
}

/** What a test reads: its assertion (a singular test) or parent source (a relationships test), its `dependsOn`, and through each ephemeral (inlined into the test) what that one refs. */
function testInputs(project: Project, test: TestDef): string[] {
  const parent = sourceParent(test);
  const out = new Set<string>(test.kind === 'singular' ? [test.model] : parent ? [`source:${parent.source}.${parent.dataset}`] : []);
  const visit = (id: string): void => {
    if (out.has(id)) return;
    out.add(id);
    const node = project.nodes.get(id);
    if (node?.kind === 'model' && node.config.materialized === 'ephemeral') node.dependsOn.forEach(visit);
  };
  test.dependsOn.forEach(visit);
  return [...out];
}

/**
 * What `source(source, dataset[, as_of_run])` renders to, in a build and in tests alike: a
 * `read_parquet` over the dataset's committed files, listed one by one (not a glob: what was
 * committed when the model was compiled, never a compaction's outputs and inputs at once), or an
 * empty relation with the recorded columns, and a warning, when there are none.
 */
export function sourceRelationSql(root: string, d: BronzeDataset, use: { source: string; dataset: string; asOfRun?: string }, readBy: string, warn: (message: string) => void): string {
  // The cutoff is compared as text with the files' run ids: 'latest' would read every row, a date none.
  if (use.asOfRun !== undefined && !RUN_ID_PATTERN.test(use.asOfRun)) {
    throw new DuckhouseError('SOURCE_INVALID', `source('${use.source}', '${use.dataset}', as_of_run=…): as_of_run must be a run id like 20260305T120000000Z-a1b2c3 (got ${JSON.stringify(use.asOfRun)})`);
  }
  const cutoff = use.asOfRun === undefined ? undefined : asOfRunCutoff(root, use.asOfRun);
  const files = cutoff === undefined ? d.files : filesAsOf(d, cutoff);
  if (files.length === 0) {
    warn(`source ${use.source}.${use.dataset} is empty${use.asOfRun ? ` as of run ${use.asOfRun}` : ''} (read by ${readBy}): an empty relation stands in`);
    return emptyRelationSql(recordedSchemaAsOf(readRecordedSchema(root, use.source, use.dataset), cutoff));
  }
  return bronzeRelationSql(files, d.partitionKeys, cutoff);
}

export async function runTests(
  c: DuckDBConnection,
  project: Project,
  tests: TestDef[],
  contextFor: (node: ProjectNode) => RenderContext,
  logger: Logger,
  signal?: AbortSignal,
): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const relationOf = (id: string): string => {
    const node = project.nodes.get(id);
    // An ephemeral has no object: like dbt, a test reads its SQL inlined (its own reject_if rules filter).
    if (node?.kind === 'model' && node.config.materialized === 'ephemeral') return `(${renderModel(project, node, contextFor(node)).sql}\n)`;
    const [schema, name] = id.split('.') as [string, string];
    return qualified(schema, name);
  };
  for (const test of tests) {
    // The lake's close(): stop at the next test (a build then publishes nothing; both runs are recorded failed).
    signal?.throwIfAborted();
    const base = { name: test.name, model: test.model, kind: test.kind, severity: test.severity, ...(test.column ? { column: test.column } : {}) };
    try {
      let compiled: string | undefined;
      if (test.kind === 'singular') compiled = renderModel(project, project.nodes.get(test.model)!, contextFor(project.nodes.get(test.model)!)).sql;
      // A relationships parent that is a source reads the bronze files its model's source() would.
      const parent = test.kind === 'relationships' ? test.args.to : undefined;
      const source = parent === undefined ? undefined : sourceTarget(parent);
      const relationFor = source ? (id: string) => (id === parent ? contextFor(project.nodes.get(test.model)!).sourceRelation(source.source, source.dataset, {}) : relationOf(id)) : relationOf;
      const sql = testSql(test, relationFor, compiled);
      await oneTestStatement(c, sql);
      const [row] = readerRows(await c.runAndReadAll(sql));
      const failures = Number(row?.failures ?? 0);
      const measured = row?.measured === null || row?.measured === undefined ? undefined : Number(row.measured);
      const status = testStatus(test, failures);
      results.push({ ...base, status, failures, ...(measured === undefined ? {} : { measured }) });
      if (status !== 'pass') logger.warn(`test ${test.name} ${status}: ${failures} failing`, { model: test.model });
    } catch (error) {
      // Its statement interrupted by the lake's close(): the test run stops, it did not error.
      signal?.throwIfAborted();
      results.push({ ...base, status: 'error', failures: 0, error: redactString(`test ${test.name} (${test.file}): ${errorMessage(error)}`) });
    }
  }
  return results;
}

/**
 * A test's SQL holds YAML text (expression, where, columns) pasted in as written: one that closes
 * the query's parentheses and adds `; drop view …` would run in the build's catalog, as a model's
 * second statement would. A parse error is left for the run to report as it always did.
 */
async function oneTestStatement(c: DuckDBConnection, sql: string): Promise<void> {
  let count = 1;
  try {
    count = (await c.extractStatements(sql)).count;
  } catch {
    return;
  }
  if (count !== 1) {
    throw new ModelError('TEST_STATEMENTS', `its SQL is ${count} statements, not one: an expression, where or column of the test closes the query's parentheses and goes on after a ";"`);
  }
}

/**
 * The quality gates of the selected models from their latest recorded scores: for a build that
 * rebuilds nothing and for `lake.test()`, which do not score (a score is computed when its model builds).
 */
export function recordedGates(project: Project, selected: Set<string>, scores: Map<string, RecordedScore>, q: QualityOptions): TestResult[] {
  const wanted = [...scores].filter(([model]) => selected.has(model) && project.nodes.get(model)?.kind === 'model').map(([model, s]) => ({ model, ...s }));
  return qualityGates(wanted, q);
}

/**
 * The quality gate as a test per scored model: score ≥ `minQualityScore`, with the gates' severity.
 * An empty table whose score is NULL (its tests checked no row, and nothing else was measured)
 * does not pass the gate: it warns, whatever the gates' severity (dbt's own tests pass on an empty
 * table, and they still do). A table with rows and nothing to measure (no tests, no source, no
 * column of a known format) has no gate, as before: there is nothing to judge it by.
 */
function qualityGates(scores: { model: string; score: number | null; rows: number | null }[], q: QualityOptions): TestResult[] {
  return scores.flatMap((s): TestResult[] => {
    if (s.score === null && s.rows !== 0) return [];
    const gate = { name: gateName(s.model), model: s.model, kind: 'min_quality_score', severity: q.gateSeverity } as const;
    if (s.score === null) {
      return [{ ...gate, status: 'warn', failures: 0, error: `nothing measured: ${s.model} is empty, so no quality dimension has a row to check and its score is NULL` }];
    }
    const ok = s.score >= q.minQualityScore;
    return [{ ...gate, status: ok ? 'pass' : q.gateSeverity === 'warn' ? 'warn' : 'fail', failures: ok ? 0 : 1, measured: s.score }];
  });
}

function gateName(model: string): string {
  const [schema, name] = model.split('.');
  return `quality_score_${schema}_${name}`;
}

/**
 * What a build or test run of the project can report on, whatever the selection: its enabled
 * models and seeds, its tests and its models' quality gates. An alert naming anything else is
 * about a model or test since removed (or renamed, or disabled).
 */
export function projectSubjects(project: Project): ProjectSubjects {
  const models = [...project.nodes.values()].filter((n) => n.kind !== 'assertion' && n.config.enabled).map((n) => n.id);
  return { models: new Set(models), tests: new Set([...project.tests.map((t) => t.name), ...models.map(gateName)]) };
}

/**
 * Removes `data/compiled/<schema>/<model>.sql` of models no longer in the project (or disabled):
 * the folder is run elsewhere as the project (README, scaling out), so it holds what exists.
 */
function pruneCompiled(env: BuildEnv, project: Project): void {
  if (!fs.existsSync(env.compiledDir)) return;
  for (const schema of fs.readdirSync(env.compiledDir, { withFileTypes: true })) {
    if (!schema.isDirectory()) continue;
    const dir = path.join(env.compiledDir, schema.name);
    for (const file of fs.readdirSync(dir)) {
      const node = file.endsWith('.sql') ? project.nodes.get(`${schema.name}.${file.slice(0, -'.sql'.length)}`) : undefined;
      if (file.endsWith('.sql') && !(node?.kind === 'model' && node.config.enabled)) fs.rmSync(path.join(dir, file), { force: true });
    }
    if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
}

function writeLineage(env: BuildEnv, project: Project): void {
  const lineage = lineageOf(project);
  writeIfChanged(path.join(env.root, 'lineage.json'), JSON.stringify(lineage, null, 2));
  writeIfChanged(path.join(env.root, 'lineage.mmd'), toMermaid(lineage));
}

/**
 * Writes `text` to `file` (tmp + fsync + rename) unless the file already holds it: most builds
 * leave the lineage and most compiled models as they were, and each write costs an fsync.
 */
function writeIfChanged(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return;
  } catch {
    // Not there (or unreadable): written below.
  }
  writeFileAtomic(file, text);
}

class Builder {
  readonly state = new Map<string, ModelState>();
  readonly hashes = new Map<string, string>();
  readonly warnings: string[] = [];
  /** Ids whose relation cannot be trusted this build (failed, skipped, stale). */
  readonly unusable = new Set<string>();
  /** Skipped only because a source they read was never extracted (not a failure of the build). */
  readonly waiting = new Set<string>();
  removed = 0;
  /** Audit tables of ephemerals this build wrote or dropped (they change the catalog though no model did). */
  ephemeralAudits = 0;
  private readonly causes = new Map<string, string>();
  private readonly bronze = new Map<string, BronzeDataset>();
  private fileNo = 0;
  /** Ids taken over from the previous build whose object is not defined in the new catalog yet. */
  private readonly uncarried = new Set<string>();
  /** The `{{ log() }}` messages already written by this build. */
  private readonly logged = new Set<string>();
  /** Bronze files hidden or switched in by compaction and prune, read once per build. */
  visibility: BronzeVisibility = ALL_VISIBLE;
  /** The project's tests by the node they are attached to (see `scoredWith`), grouped on first use. */
  private testsByModel: Map<string, TestDef[]> | undefined;

  constructor(
    private readonly env: BuildEnv,
    private readonly project: Project,
    private readonly c: DuckDBConnection,
    private readonly previous: Map<string, ModelState>,
    private readonly vars: Record<string, unknown>,
    private readonly options: BuildOptions,
  ) {}

  /**
   * When every selected model is up to date against the published state (and nothing was
   * removed), their results; otherwise undefined. Renders and hashes only: no catalog work.
   */
  unchangedResults(selected: Set<string>): ModelResult[] | undefined {
    if (this.options.fullRefresh) return undefined;
    const nodes = this.materializedNodes();
    const ids = new Set(nodes.map((n) => n.id));
    if ([...this.previous.keys()].some((id) => !ids.has(id) && !id.startsWith('audit.') && id !== QUALITY_ID)) return undefined;
    const results: ModelResult[] = [];
    for (const node of nodes) {
      const prev = this.previous.get(node.id);
      if (!prev || !prev.files.every((f) => fs.existsSync(f))) return undefined;
      this.state.set(node.id, prev);
      if (!selected.has(node.id)) continue;
      const started = performance.now();
      const full = node.kind === 'seed' ? '' : renderModel(this.project, node, this.renderContextFor(node)).sql;
      const hash = this.hashOf(node, full, this.incrementalSql(node));
      this.hashes.set(node.id, hash);
      if (hash !== prev.hash || this.staleScore(node.id)) return undefined;
      results.push({ name: node.id, file: node.displayPath, materialization: node.kind === 'seed' ? 'seed' : node.config.materialized, status: 'up-to-date', rows: prev.rows, durationMs: Math.round(performance.now() - started) });
    }
    if (this.ephemeralNodes().some((n) => selected.has(n.id) && this.staleEphemeralAudit(n))) return undefined;
    return results;
  }

  /**
   * The unselected views a selected model reads (directly, or through views and ephemerals) whose
   * only change since their build is the bronze files their `source()` lists, and the unselected
   * views reading those: rebuilt with the selection. A view lists its files as of its build, so
   * left out it would hide the extracts committed since from the selected model, which would then
   * be `up-to-date` on stale rows. A view whose SQL or config changed stays as the selection left it.
   */
  staleViews(selected: Set<string>): string[] {
    const stale = new Set<string>();
    const checked = new Map<string, boolean>();
    const visit = (id: string): boolean => {
      const known = checked.get(id);
      if (known !== undefined) return known;
      checked.set(id, false);
      const node = this.project.nodes.get(id);
      if (!node || node.kind !== 'model' || !node.config.enabled) return false;
      const ephemeral = node.config.materialized === 'ephemeral';
      if (!ephemeral && (selected.has(id) || node.config.materialized !== 'view')) return false;
      let below = false;
      for (const dep of node.dependsOn) below = visit(dep) || below;
      if (ephemeral) return below;
      const prev = this.previous.get(id);
      if (prev?.kind !== 'view' || prev.sql === null) return false;
      if (prev.definition !== undefined && prev.definition !== this.definitionOf(node)) return false;
      const sql = renderModel(this.project, node, this.renderContextFor(node)).sql;
      // A view of a catalog from before views recorded their definition: its SQL less the bronze
      // files it lists tells (left out, it would never be refreshed by a build selecting below it).
      const bronzeDir = path.join(this.env.root, 'bronze') + path.sep;
      if (prev.definition === undefined && withoutBronzeLists(prev.sql, bronzeDir) !== withoutBronzeLists(sql, bronzeDir)) return false;
      const refresh = below || sql !== prev.sql;
      if (refresh) stale.add(id);
      checked.set(id, refresh);
      return refresh;
    };
    for (const id of selected) for (const dep of this.project.nodes.get(id)?.dependsOn ?? []) visit(dep);
    return [...stale];
  }

  /** A view's `definition` (see ModelState): its SQL rendered with its sources as names. */
  private definitionOf(node: ProjectNode): string {
    const ctx = { ...this.renderContextFor(node), sourceRelation: (s: string, d: string, o: { asOfRun?: string }) => `__source_${s}__${d}__${o.asOfRun ?? ''}` };
    return sha(node.kind, JSON.stringify(node.config), renderModel(this.project, node, ctx).sql, this.env.timezone);
  }

  /**
   * Scores the trusted and mart models this build made or kept, and publishes the history in
   * `marts.mart_data_quality` (unless the project defines a model of that name).
   */
  async scoreQuality(models: ModelResult[], tests: TestResult[]): Promise<QualityScore[]> {
    const usable = new Set(models.filter((m) => m.status === 'success' || m.status === 'up-to-date').map((m) => m.name));
    const nodes = this.materializedNodes().filter((n) => usable.has(n.id) && scored(n));
    if (nodes.length === 0) return [];
    const last = await this.env.lastSuccess();
    const windowMs = this.env.quality.freshnessWarnHours * 3_600_000;
    // Each scope of a dataset (`store=a`) is a source of its own: a fresh store does not hide a stale one.
    const fresh = (s: string, d: string): { fresh: number; sources: number } => {
      const scopes = last.get(`${s}.${d}`) ?? [null];
      return { fresh: scopes.filter((at) => at !== null && Date.now() - at.getTime() <= windowMs).length, sources: scopes.length };
    };
    const scores = await scoreModels(this.c, this.project, nodes, tests, fresh, this.env.quality.weights);
    for (const node of nodes) {
      const entry = this.state.get(node.id);
      if (entry) this.state.set(node.id, { ...entry, scoredWith: this.scoredWith(node) });
    }
    if (!this.project.nodes.has(QUALITY_ID)) await this.publishQuality(scores);
    return scores;
  }

  /**
   * A model the build scores whose published score was computed with other tests or weights (or
   * not since it was last built): a build that tests scores it again, though it is up to date.
   */
  staleScore(id: string): boolean {
    const node = this.project.nodes.get(id);
    return this.options.test !== false && node !== undefined && scored(node) && this.state.get(id)?.scoredWith !== this.scoredWith(node);
  }

  /** What a model's score is computed from besides its data: its tests' definitions (not where they sit) and the weights. */
  private scoredWith(node: ProjectNode): string {
    if (!this.testsByModel) {
      this.testsByModel = new Map();
      for (const t of this.project.tests) {
        const list = this.testsByModel.get(t.model);
        if (list) list.push(t);
        else this.testsByModel.set(t.model, [t]);
      }
    }
    const defs = (this.testsByModel.get(node.id) ?? []).map(({ file: _file, dependsOn: _dependsOn, ...def }) => def).sort((a, b) => (a.name < b.name ? -1 : 1));
    return sha(JSON.stringify(defs), JSON.stringify(this.env.quality.weights ?? null));
  }

  private async publishQuality(scores: QualityScore[]): Promise<void> {
    const num = (v: number | null): string => (v === null ? 'NULL::DOUBLE' : `${v}::DOUBLE`);
    const values = scores.map(
      (s) =>
        `(${quoteLiteral(s.model)}, ${quoteLiteral(this.env.runId)}, now(), ${s.rows}::BIGINT, ${DIMENSIONS.map((d) => num(s.dimensions[d])).join(', ')}, ${num(s.score)})`,
    );
    const cols = ['model', 'run_id', 'computed_at', 'rows', ...DIMENSIONS, 'score'];
    const fresh = `SELECT * FROM (VALUES ${values.join(', ')}) AS q(${cols.join(', ')})`;
    const prev = this.state.get(QUALITY_ID);
    const sql = prev ? `${tableViewSql(prev.files)} UNION ALL BY NAME ${fresh}` : fresh;
    const { files, rows } = await this.writeTable({ schema: 'marts', name: 'mart_data_quality' }, sql);
    const entry: ModelState = { id: QUALITY_ID, schema: 'marts', name: 'mart_data_quality', kind: 'table', materialized: 'table', sql: null, files, hash: this.env.runId, rows, runId: this.env.runId, builtAt: new Date().toISOString() };
    await ensureSchema(this.c, 'marts');
    await defineObject(this.c, entry);
    this.state.set(QUALITY_ID, entry);
  }

  private materializedNodes(): ProjectNode[] {
    return topoOrder(this.project)
      .map((id) => this.project.nodes.get(id)!)
      .filter((n) => n.config.enabled && n.kind !== 'assertion' && !(n.kind === 'model' && n.config.materialized === 'ephemeral'));
  }

  /** Enabled ephemeral models: no object of their own, but an audit table when they `reject_if`. */
  private ephemeralNodes(): ProjectNode[] {
    return topoOrder(this.project)
      .map((id) => this.project.nodes.get(id)!)
      .filter((n) => n.config.enabled && n.kind === 'model' && n.config.materialized === 'ephemeral');
  }

  /**
   * The previous build's objects, for every model still in the project: taken into the state
   * here, defined in the new catalog at the model's turn (see `carry`), so that a model rebuilt
   * anyway (a full refresh, a changed model) never binds its previous version first — a view over
   * thousands of bronze files costs 0.1–0.3 s to bind.
   */
  async carryOver(): Promise<void> {
    const nodes = this.materializedNodes();
    const ephemerals = this.ephemeralNodes();
    await ensureSchema(this.c, ...new Set(['audit', ...nodes.map((n) => n.schema)]));
    const keep = new Set<string>();
    for (const node of [...nodes, ...ephemerals]) {
      for (const id of node.config.materialized === 'ephemeral' ? [auditId(node)] : [node.id, auditId(node)]) {
        const entry = this.previous.get(id);
        if (!entry || !entry.files.every((f) => fs.existsSync(f))) continue;
        keep.add(id);
        this.state.set(id, entry);
        this.uncarried.add(id);
      }
    }
    // Audit tables have no ref(): a model reads one by its name, wherever it sorts in the DAG. They
    // are a few files each and read nothing else, so they are all defined at once, first.
    for (const node of [...nodes, ...ephemerals]) await this.carry(auditId(node));
    const quality = this.previous.get(QUALITY_ID);
    if (quality && !this.project.nodes.has(QUALITY_ID) && quality.files.every((f) => fs.existsSync(f))) {
      await ensureSchema(this.c, 'marts');
      await defineObject(this.c, quality);
      this.state.set(QUALITY_ID, quality);
      keep.add(QUALITY_ID);
    }
    this.removed = [...this.previous.keys()].filter((id) => !keep.has(id)).length;
  }

  /**
   * Defines the previous version of `id` in the new catalog, if it was taken over and not yet
   * defined or replaced. False when it no longer binds (its inputs changed shape): it leaves the
   * state and has to be rebuilt before anything can read it.
   */
  private async carry(id: string): Promise<boolean> {
    if (!this.uncarried.delete(id)) return this.state.has(id);
    try {
      await defineObject(this.c, this.state.get(id)!);
      return true;
    } catch (error) {
      this.state.delete(id);
      this.unusable.add(id);
      this.causes.set(id, `its previous version no longer binds: ${errorMessage(error)}`);
      return false;
    }
  }

  /** A new version of `id` is in the catalog and the state: its previous one is never defined. */
  private replaced(entry: ModelState): void {
    this.state.set(entry.id, entry);
    this.uncarried.delete(entry.id);
  }

  /** Every previous version not yet defined (a model not reached): defined before the state is written. */
  async carryRest(): Promise<void> {
    for (const id of [...this.uncarried]) await this.carry(id);
  }

  readonly renderContextFor = (node: ProjectNode, isIncremental = false, rejectMode: RenderContext['rejectMode'] = { kind: 'keep' }): RenderContext => ({
    relation: (id) => {
      const [schema, name] = id.split('.') as [string, string];
      return qualified(schema, name);
    },
    sourceRelation: (source, dataset, opts) => this.sourceSql(node, source, dataset, opts.asOfRun),
    isIncremental,
    thisRelation: qualified(node.schema, node.name),
    vars: this.vars,
    env: process.env,
    rejectMode,
    log: (message, info) => this.templateLog(node, message, info),
    ...(this.env.startedAt ? { runStartedAt: this.env.startedAt } : {}),
  });

  /** A model's `{{ log() }}` message, once per build (a build renders a model several times: hash, SQL, audit). */
  private templateLog(node: ProjectNode, message: string, info: boolean): void {
    const key = `${node.id}\0${info}\0${message}`;
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.env.logger[info ? 'info' : 'debug'](`${node.id}: ${message}`, { model: node.id });
  }

  /**
   * Lists the bronze datasets the build may read, now: those of the selected models, of everything
   * upstream of them (views and ephemerals are read through) and of the assertions. Planning, the
   * models and their tests then read one listing of each, taken right after the metrics db said
   * which files are committed. A dataset listed later, at its model's turn, would show the first
   * files of a batch an extract started since is renaming into place, as committed.
   */
  listSources(selected: Set<string>): void {
    const seen = new Set<string>();
    const visit = (id: string): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const node = this.project.nodes.get(id);
      if (!node) return;
      for (const u of node.sources) this.dataset(u.source, u.dataset);
      for (const dep of node.dependsOn) visit(dep);
    };
    for (const id of selected) visit(id);
    for (const node of this.project.nodes.values()) if (node.kind === 'assertion') visit(node.id);
  }

  /** The listings of `other` (the planner, which read them), so this builder reads the same files. */
  sharesListingsOf(other: Builder): void {
    for (const [key, d] of other.bronze) this.bronze.set(key, d);
  }

  private dataset(source: string, dataset: string): BronzeDataset {
    const key = `${source}.${dataset}`;
    let d = this.bronze.get(key);
    if (!d) {
      d = scanBronze(this.env.root, source, dataset, this.visibility);
      this.bronze.set(key, d);
    }
    return d;
  }

  private sourceSql(node: ProjectNode, source: string, dataset: string, asOfRun?: string): string {
    return sourceRelationSql(this.env.root, this.dataset(source, dataset), { source, dataset, ...(asOfRun === undefined ? {} : { asOfRun }) }, node.id, (message) => {
      if (!this.warnings.includes(message)) this.warnings.push(message);
    });
  }

  async buildSelected(selected: Set<string>): Promise<ModelResult[]> {
    const results: ModelResult[] = [];
    const all = this.materializedNodes();
    const nodes = all.filter((n) => selected.has(n.id));
    let done = 0;
    for (const node of all) {
      // The lake's close(): stop at the next model, publishing nothing (the build is recorded failed).
      this.env.signal?.throwIfAborted();
      if (!selected.has(node.id)) {
        // Not selected: its previous version, defined at its turn (after what it reads).
        const taken = this.uncarried.has(node.id);
        if (!(await this.carry(node.id)) && taken) {
          this.warnings.push(`${node.id} is not in this build's catalog: ${this.causes.get(node.id)?.split('\n')[0]}; select it to rebuild it`);
        }
        // Never built because it waits for a first extract: the selected models reading it wait
        // too (as in a build of everything), with that cause rather than a bare "not built".
        if (!this.state.has(node.id)) this.markWaiting(node);
        continue;
      }
      const started = performance.now();
      const base = { name: node.id, file: node.displayPath, materialization: node.kind === 'seed' ? 'seed' : node.config.materialized };
      const missing = this.neverExtracted(node);
      if (missing) {
        // Nothing to build from yet: not a failure, the model waits for its first extract.
        this.unusable.add(node.id);
        this.waiting.add(node.id);
        this.causes.set(node.id, `source ${missing} has never been extracted`);
        results.push({ ...base, status: 'skipped', rows: null, durationMs: 0, skippedBecause: `source ${missing} has never been extracted` });
        await this.carry(node.id);
        continue;
      }
      const blocked = this.blockedBy(node);
      if (blocked) {
        this.unusable.add(node.id);
        if (this.waiting.has(blocked)) this.waiting.add(node.id);
        this.causes.set(node.id, `upstream ${blocked} was not built`);
        results.push({ ...base, status: 'skipped', rows: null, durationMs: 0, skippedBecause: `${blocked}: ${this.causes.get(blocked) ?? 'not built'}` });
        await this.carry(node.id);
        continue;
      }
      try {
        const outcome = await this.buildOne(node);
        this.unusable.delete(node.id);
        const durationMs = Math.round(performance.now() - started);
        results.push({ ...base, status: outcome.upToDate ? 'up-to-date' : 'success', rows: outcome.rows, durationMs });
        this.env.logger.info(`${outcome.upToDate ? 'up to date' : 'built'} ${node.id}${outcome.rows === null ? '' : ` (${outcome.rows} rows)`}`, { model: node.id, durationMs });
      } catch (error) {
        // A model reading a URL with a token may fail with it in DuckDB's message: redacted for the result too.
        const message = redactString(error instanceof ModelError ? error.message : `${nodeLabel(node)}: ${errorMessage(error)}`);
        // Its previous version (if any) stays in the catalog, as the last good one.
        await this.carry(node.id);
        this.unusable.add(node.id);
        this.causes.set(node.id, `failed: ${message}`);
        const durationMs = Math.round(performance.now() - started);
        results.push({ ...base, status: 'error', rows: null, durationMs, error: message });
        this.env.logger.error(message, { model: node.id, durationMs });
      }
      this.env.progress.update('build', { rows: ++done, total: nodes.length });
    }
    // Ephemerals are compiled into their readers; their own SQL is written too (a reader of
    // data/compiled sees every model). One that fails to render shows up in its readers.
    for (const id of topoOrder(this.project)) {
      const node = this.project.nodes.get(id)!;
      if (!selected.has(id) || node.kind !== 'model' || node.config.materialized !== 'ephemeral' || !node.config.enabled) continue;
      let sql: string;
      try {
        sql = renderModel(this.project, node, this.renderContextFor(node)).sql;
        this.writeCompiled(node, sql);
      } catch {
        // Reported by the models that inline it.
        continue;
      }
      await this.auditEphemeral(node, sql);
    }
    return results;
  }

  /**
   * An ephemeral's `reject_if` drops rows in every model that inlines it: they are stored once, in
   * the ephemeral's own `audit.<model>_rejected`, rewritten when what it reads or its SQL changed.
   */
  private async auditEphemeral(node: ProjectNode, sql: string): Promise<void> {
    const prev = this.state.get(auditId(node));
    if (node.rejectRules.length === 0) {
      if (prev) {
        await this.dropAudit(node);
        this.ephemeralAudits++;
      }
      return;
    }
    const hash = this.hashOf(node, sql);
    this.hashes.set(node.id, hash);
    // Its inputs are not all in this catalog: the audit of the last build that read them stays.
    if ((prev?.hash === hash && !this.options.fullRefresh) || this.neverExtracted(node) || this.blockedBy(node)) return;
    try {
      await this.buildAudit(node, false, undefined);
      this.ephemeralAudits++;
    } catch (error) {
      this.warnings.push(redactString(`audit.${node.name}_rejected of ${nodeLabel(node)} not written: ${errorMessage(error)}`));
    }
  }

  /** Whether a selected ephemeral's audit table is not what its SQL and inputs now make (see `auditEphemeral`). */
  private staleEphemeralAudit(node: ProjectNode): boolean {
    const prev = this.previous.get(auditId(node));
    if (node.rejectRules.length === 0) return prev !== undefined;
    if (!prev || !prev.files.every((f) => fs.existsSync(f))) return true;
    try {
      return this.hashOf(node, renderModel(this.project, node, this.renderContextFor(node)).sql) !== prev.hash;
    } catch {
      return true;
    }
  }

  /** An unselected model missing from the catalog: waiting when a source it reads (maybe through a waiting upstream) was never extracted. */
  private markWaiting(node: ProjectNode): void {
    const missing = this.neverExtracted(node);
    if (missing) {
      this.waiting.add(node.id);
      this.causes.set(node.id, `source ${missing} has never been extracted`);
      return;
    }
    const blocked = this.blockedBy(node);
    if (blocked && this.waiting.has(blocked)) {
      this.waiting.add(node.id);
      this.causes.set(node.id, `upstream ${blocked} was not built: ${this.causes.get(blocked)}`);
    }
  }

  /** A dataset with no bronze and no recorded schema: never extracted (the build's listing of it). */
  readonly sourceNeverExtracted = (source: string, dataset: string): boolean => noBronzeNorSchema(this.env.root, source, dataset, this.dataset(source, dataset));

  /** `source.dataset` read by the node (directly or through ephemerals) with no bronze and no recorded schema. */
  private neverExtracted(node: ProjectNode): string | undefined {
    const visit = (n: ProjectNode, seen: Set<string>): string | undefined => {
      for (const s of n.sources) {
        if (this.sourceNeverExtracted(s.source, s.dataset)) return `${s.source}.${s.dataset}`;
      }
      for (const dep of n.dependsOn) {
        const t = this.project.nodes.get(dep);
        if (t?.kind === 'model' && t.config.materialized === 'ephemeral' && !seen.has(dep)) {
          seen.add(dep);
          const found = visit(t, seen);
          if (found) return found;
        }
      }
      return undefined;
    };
    return visit(node, new Set());
  }

  private blockedBy(node: ProjectNode): string | undefined {
    const visit = (id: string, seen: Set<string>): string | undefined => {
      for (const dep of this.project.nodes.get(id)?.dependsOn ?? []) {
        if (seen.has(dep)) continue;
        seen.add(dep);
        const target = this.project.nodes.get(dep);
        if (target?.kind === 'model' && target.config.materialized === 'ephemeral') {
          const inner = visit(dep, seen);
          if (inner) return inner;
        } else if (this.unusable.has(dep) || !this.state.has(dep)) {
          return dep;
        }
      }
      return undefined;
    };
    return visit(node.id, new Set());
  }

  /**
   * An incremental model's `is_incremental()` render: part of its hash whether or not this build
   * runs it, so a change that only touches that branch (a lookback var, a macro) is a change.
   */
  private incrementalSql(node: ProjectNode): string | undefined {
    if (node.kind !== 'model' || node.config.materialized !== 'incremental') return undefined;
    return renderModel(this.project, node, this.renderContextFor(node, true)).sql;
  }

  /** Everything a model's result depends on, so an equal hash means nothing to do. */
  private hashOf(node: ProjectNode, fullSql: string, incrementalSql?: string): string {
    // The zone too: a table's `ts::DATE` or `strftime` rows change with it (a view is evaluated by its reader).
    const parts = [node.kind, JSON.stringify(node.config), fullSql, this.env.timezone];
    if (incrementalSql !== undefined) parts.push('is_incremental', incrementalSql);
    // An ephemeral is inlined (its SQL is in `fullSql`): what it reads is read by this node, so
    // the versions of its own inputs, and its sources, count here.
    const deep = new Set<string>();
    const inputs = new Set<string>();
    const collect = (n: ProjectNode): void => {
      // A source read as of a run depends on the files up to that run only (a later extract adds none it reads).
      for (const s of n.sources) deep.add(`${s.source}.${s.dataset}${s.asOfRun === undefined ? '' : `@${s.asOfRun}`}`);
      for (const dep of n.dependsOn) {
        const t = this.project.nodes.get(dep);
        if (t && t.kind === 'model' && t.config.materialized === 'ephemeral') {
          if (!inputs.has(dep)) {
            inputs.add(dep);
            collect(t);
          }
        } else {
          inputs.add(dep);
        }
      }
    };
    collect(node);
    for (const dep of inputs) parts.push(dep, this.versionOf(dep));
    // An audit table has no ref(): one the SQL reads by name is an input too (not the model's own,
    // which each of its builds rewrites, as `{{ this }}`).
    for (const id of auditsRead(`${fullSql}\n${incrementalSql ?? ''}`)) {
      if (id !== auditId(node)) parts.push(id, this.versionOf(id));
    }
    for (const key of [...deep].sort()) {
      const [name, asOfRun] = key.split('@') as [string, string | undefined];
      const [s, d] = name.split('.') as [string, string];
      const ds = this.dataset(s, d);
      parts.push(key, asOfRun === undefined ? ds.fingerprint : filesFingerprint(ds.dir, filesAsOf(ds, asOfRunCutoff(this.env.root, asOfRun))));
    }
    if (node.kind === 'seed') parts.push(fileSha(node.file));
    return sha(...parts);
  }

  /**
   * The version of an upstream a reader was built from. A view is re-read by its readers, so its
   * hash (its SQL and its own upstreams' versions) is its version. A table's data is its files:
   * an equal hash is not enough (a full refresh of an incremental model alone, or one of a table
   * reading `now()`, gives other rows from the same hash), and its files change with every rebuild.
   */
  private versionOf(id: string): string {
    const entry = this.state.get(id);
    if (!entry) return this.hashes.get(id) ?? 'missing';
    return entry.kind === 'table' ? sha(entry.hash, ...entry.files) : entry.hash;
  }

  private writeCompiled(node: ProjectNode, sql: string): void {
    writeIfChanged(path.join(this.env.compiledDir, node.schema, `${node.name}.sql`), `${redactSql(sql)}\n`);
  }

  private newFile(node: ProjectNode | { schema: string; name: string }): { tmp: string; final: string } {
    const n = ++this.fileNo;
    const name = `${this.env.runId}-${n}.parquet`;
    return { tmp: path.join(this.env.tmpDir, `${node.schema}.${node.name}.${name}`), final: path.join(this.env.warehouseDir, node.schema, node.name, name) };
  }

  /**
   * COPY a query to new warehouse file(s) (tmp + rename); returns the files and the rows.
   * With `partitionBy`, one folder per partition value (columns kept inside the files).
   * Snappy, not zstd as in bronze: the warehouse is rewritten by every build and read by every
   * query, and snappy writes it faster (bench:build (a): 1.17–1.27× the DuckDB floor vs 1.40×).
   * Parquet format version 2 (delta and byte-stream-split encodings; DuckDB, Arrow and Spark read
   * it): the bench's trusted and fact models 44 % smaller, written and read back ~6 % faster.
   */
  private async writeParquet(target: { schema: string; name: string }, sql: string, partitionBy?: string[]): Promise<{ files: string[]; rows: number }> {
    const { tmp, final } = this.newFile(target);
    if (!partitionBy || partitionBy.length === 0) {
      const reader = await this.c.runAndReadAll(`COPY (${sql}) TO ${quoteLiteral(tmp)} (${WAREHOUSE_PARQUET})`);
      fs.mkdirSync(path.dirname(final), { recursive: true });
      fs.renameSync(tmp, final);
      return { files: [final], rows: Number(readerRows(reader)[0]?.Count ?? 0) };
    }
    const tmpDir = tmp.replace(/\.parquet$/, '');
    const finalDir = final.replace(/\.parquet$/, '');
    const reader = await this.c
      .runAndReadAll(`COPY (${sql}) TO ${quoteLiteral(tmpDir)} (${WAREHOUSE_PARQUET}, PARTITION_BY (${partitionBy.map(quoteIdent).join(', ')}), WRITE_PARTITION_COLUMNS true)`)
      .catch(async (error: unknown) => {
        // The partitions written before the failure are never published.
        fs.rmSync(tmpDir, { recursive: true, force: true });
        throw (await this.overlongPartition(target, sql, partitionBy, error)) ?? error;
      });
    const rows = Number(readerRows(reader)[0]?.Count ?? 0);
    if (!fs.existsSync(tmpDir)) return { files: [], rows };
    fs.mkdirSync(path.dirname(finalDir), { recursive: true });
    fs.renameSync(tmpDir, finalDir);
    const files = listTree(finalDir).filter((f) => f.endsWith('.parquet')).sort().map((f) => path.join(finalDir, f));
    return { files, rows };
  }

  /**
   * A partitioned COPY that failed on a folder name too long for the file system ("File name too
   * long", with the whole temp path in it): the error naming partition_by, the column and its
   * longest folder name, as bronze refuses such values. DuckDB percent-encodes every byte but
   * letters, digits and - _ . ~ (3 bytes each), in the column's name too ('sku code' →
   * `sku%20code=`). Undefined for any other failure.
   */
  private async overlongPartition(target: { schema: string; name: string }, sql: string, partitionBy: string[], error: unknown): Promise<ModelError | undefined> {
    if (!/file name too long/i.test(errorMessage(error))) return undefined;
    const folder = (c: string): string => {
      const text = `CAST(${quoteIdent(c)} AS VARCHAR)`;
      return `${encodedLength(c) + 1} + strlen(${text}) + 2 * strlen(regexp_replace(${text}, '[A-Za-z0-9._~-]', '', 'g'))`;
    };
    // The longest, and of several that long the first in text order: arg_max named whichever
    // DuckDB met first, which varies when rows come from several files read in parallel.
    const longest = partitionBy.map((c) => `min({'n': -(${folder(c)}), 'v': ${quoteIdent(c)}::VARCHAR}) AS ${quoteIdent(`l_${c}`)}`);
    const fields = partitionBy.map((c) => `-(${quoteIdent(`l_${c}`)}).n AS ${quoteIdent(`n_${c}`)}, (${quoteIdent(`l_${c}`)}).v AS ${quoteIdent(`v_${c}`)}`);
    const [row] = await this.c
      .runAndReadAll(`SELECT ${fields.join(', ')} FROM (SELECT ${longest.join(', ')} FROM (${sql}))`)
      .then(readerRows)
      .catch(() => []);
    const column = partitionBy.find((c) => Number(row?.[`n_${c}`] ?? 0) > MAX_FOLDER_NAME);
    if (column === undefined) return undefined;
    const node = this.project.nodes.get(`${target.schema}.${target.name}`);
    const value = String(row![`v_${column}`]);
    return new ModelError(
      'MODEL_PARTITION_VALUE',
      `${node ? nodeLabel(node) : `${target.schema}.${target.name}`}: partition_by '${column}' has a value that makes a ${Number(row![`n_${column}`])}-byte folder name (at most ${MAX_FOLDER_NAME}; bytes other than letters, digits and - _ . ~ take 3): ${JSON.stringify(value.slice(0, 40))}…`,
      { cause: error },
    );
  }

  /** A query's output as a table entry's files; an empty partitioned result still needs one (empty) file. */
  private async writeTable(node: ProjectNode | { schema: string; name: string }, sql: string, partitionBy?: string[]): Promise<{ files: string[]; rows: number }> {
    const out = await this.writeParquet(node, sql, partitionBy);
    if (out.files.length > 0) return out;
    return this.writeParquet(node, sql);
  }

  private async buildOne(node: ProjectNode): Promise<{ upToDate: boolean; rows: number | null }> {
    const prev = this.state.get(node.id);
    const materialized = node.kind === 'seed' ? 'seed' : node.config.materialized;
    const full = node.kind === 'seed' ? { sql: '', rejectRules: [] } : renderModel(this.project, node, this.renderContextFor(node));
    if (node.kind !== 'seed') await this.oneStatement(node, full.sql);
    const incSql = this.incrementalSql(node);
    const hash = this.hashOf(node, full.sql, incSql);
    this.hashes.set(node.id, hash);
    if (!this.options.fullRefresh && prev && prev.hash === hash && prev.materialized === materialized && !this.unusable.has(node.id) && (await this.carry(node.id))) {
      return { upToDate: true, rows: prev.rows };
    }
    const common = { id: node.id, schema: node.schema, name: node.name, materialized, hash, runId: this.env.runId, builtAt: new Date().toISOString() };
    const rel = qualified(node.schema, node.name);

    if (node.kind === 'seed') {
      // Seeds are comma CSV. Left to sniff, DuckDB answers a ragged row by skipping the rows
      // above it or merging the columns into one, without an error: the dialect is fixed, rows strict.
      const { files, rows } = await this.writeSeed(node);
      return this.unlessFailing(files, () => this.publishTable(node, { ...common, kind: 'table', sql: null, files, rows }));
    }
    if (materialized === 'view') {
      this.writeCompiled(node, full.sql);
      await this.c.run(`CREATE OR REPLACE VIEW ${rel} AS ${full.sql}`);
      try {
        await this.buildAudit(node, false, undefined);
      } catch (error) {
        // The model failed: the catalog keeps its last good version (defined again by `carry`), or
        // no view at all, as for a table. Published with its new hash, the next build would call it up to date.
        if (this.state.has(node.id)) this.uncarried.add(node.id);
        else await this.c.run(`DROP VIEW IF EXISTS ${rel}`);
        throw error;
      }
      this.replaced({ ...common, kind: 'view', sql: full.sql, files: [], rows: null, definition: this.definitionOf(node) });
      return { upToDate: false, rows: null };
    }
    // `{{ this }}` in the incremental SQL reads the previous version: defined first.
    const incremental = materialized === 'incremental' && !this.options.fullRefresh && prev?.kind === 'table' && !this.unusable.has(node.id) && (await this.carry(node.id));
    if (!incremental) {
      // A model that reads its own previous version (by `{{ this }}` or by name) finds it defined.
      if (mentionsItself(node, full.sql)) await this.carry(node.id);
      this.writeCompiled(node, full.sql);
      const { files, rows } = await this.writeKeyed(node, full.sql);
      return this.unlessFailing(files, async () => {
        // The audit reruns the model's SQL: `{{ this }}` in it has to read what the model's run
        // read, the previous version, so the new one is defined after it.
        await this.buildAudit(node, false, undefined);
        return this.publishTable(node, { ...common, kind: 'table', sql: null, files, rows });
      });
    }
    await this.oneStatement(node, incSql!);
    this.writeCompiled(node, incSql!);
    const { files, rows, newFiles } = await this.mergeIncremental(node, prev!, incSql!);
    const kept = new Set(prev!.files);
    return this.unlessFailing(files.filter((f) => !kept.has(f)), async () => {
      // Before the new version is defined: an `is_incremental()` filter on `{{ this }}` (rows past
      // max(k)) would otherwise see this run's rows and find no rejected row past them.
      await this.buildAudit(node, true, this.state.get(auditId(node)), newFiles.length > 0 ? `(${tableViewSql(newFiles)})` : undefined);
      return this.publishTable(node, { ...common, kind: 'table', sql: null, files, rows });
    });
  }

  /**
   * The steps after a model's new files are written (its audit, its view), or while it writes them
   * (a merge, listing them in `wrote` as it goes): one failing removes `wrote` at once, never
   * published, rather than leaving them for the next build to sweep as a dead build's.
   */
  private async unlessFailing<T>(wrote: string[], steps: () => Promise<T>): Promise<T> {
    try {
      return await steps();
    } catch (error) {
      removeFiles(wrote);
      throw error;
    }
  }

  /**
   * A table or a full build of an incremental model: its output, with `partition_by` and
   * `unique_key` checked against its columns, so that a key it lacks fails naming the key (the
   * merge of a later run would fail on SQL the user never wrote). No extra bind on success: the
   * unique key is checked in the footer of a file written, partition_by when its COPY fails.
   */
  private async writeKeyed(node: ProjectNode, sql: string): Promise<{ files: string[]; rows: number }> {
    const out = await this.writeTable(node, sql, node.config.partition_by).catch(async (error: unknown) => {
      if (node.config.partition_by) checkKeyColumns(node, (await this.columnsOf(`SELECT * FROM (${sql})`)).keys());
      throw error;
    });
    if (!node.config.unique_key || node.config.materialized !== 'incremental') return out;
    try {
      checkKeyColumns(node, (await this.writtenColumns(out.files[0]!)).keys());
    } catch (error) {
      // Never published: the files go now, not as a crash's leftovers.
      removeFiles(out.files);
      throw error;
    }
    return out;
  }

  /**
   * A seed's CSV as a table. Seeds are comma CSV: left to sniff, DuckDB answers a ragged row by
   * skipping the rows above it or merging the columns into one, without an error, so the dialect
   * is fixed and rows strict. `column_types` (YAML config) fixes the types of the columns it names;
   * the others are detected. A type DuckDB does not know, a column the file does not have or a
   * value that does not convert is an error naming the seed file and its column_types.
   */
  private async writeSeed(node: ProjectNode): Promise<{ files: string[]; rows: number }> {
    const types = Object.entries(node.config.column_types ?? {});
    const typed = types.length === 0 ? '' : `, types = {${types.map(([column, type]) => `${quoteLiteral(column)}: ${quoteLiteral(type)}`).join(', ')}}`;
    const sql = `SELECT * FROM read_csv(${quoteLiteral(node.file)}, header = true, delim = ',', quote = '"', escape = '"', skip = 0, strict_mode = true${typed})`;
    if (types.length === 0) return this.writeTable(node, sql);
    try {
      return await this.writeTable(node, sql);
    } catch (error) {
      const listed = types.map(([column, type]) => `${column}: ${type}`).join(', ');
      throw new ModelError(
        'SEED_COLUMN_TYPES',
        `${nodeLabel(node)}: reading the seed with column_types {${listed}}${node.propertiesFile ? ` (${node.propertiesFile})` : ''} failed: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /** A model is one SELECT: a second statement (`select …; drop view …`) would run inside the build's catalog. */
  private async oneStatement(node: ProjectNode, sql: string): Promise<void> {
    let count = 0;
    try {
      count = (await this.c.extractStatements(sql)).count;
    } catch (error) {
      if (/Parser Error/.test(errorMessage(error))) throw error;
      // Nothing but whitespace and comments: the engine has no statement to extract.
    }
    if (count !== 1) throw new ModelError('MODEL_STATEMENTS', `${nodeLabel(node)}: a model is one SELECT statement, found ${count}${count > 1 ? ' (remove the ";" between them)' : ''}`);
  }

  private async publishTable(node: { id: string; schema: string; name: string }, entry: ModelState): Promise<{ upToDate: boolean; rows: number | null }> {
    await defineObject(this.c, entry);
    this.replaced(entry);
    return { upToDate: false, rows: entry.rows };
  }

  /** The columns of a model's view in this catalog (its previous version), by lower-cased name: no bind, the catalog holds them. */
  private async viewColumns(node: { schema: string; name: string }): Promise<Map<string, { name: string; type: string }>> {
    const rows = readerRows(
      await this.c.runAndReadAll(
        `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ${quoteLiteral(node.schema)} AND table_name = ${quoteLiteral(node.name)} ORDER BY column_index`,
      ),
    );
    return new Map(rows.map((r) => [String(r.column_name).toLowerCase(), { name: String(r.column_name), type: String(r.data_type) }]));
  }

  private async columnsOf(sql: string): Promise<Map<string, string>> {
    const rows = readerRows(await this.c.runAndReadAll(`DESCRIBE ${sql}`));
    return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
  }

  /**
   * The columns of a model's query as its table's files would store them: the footer of an empty
   * Parquet file of its output in the build's temp folder (a bind of the query, as DESCRIBE's), deleted at once.
   */
  private async storedColumns(node: ProjectNode, sql: string): Promise<Map<string, string>> {
    const { tmp } = this.newFile(node);
    try {
      await this.c.run(`COPY (SELECT * FROM (${sql}) LIMIT 0) TO ${quoteLiteral(tmp)} (${WAREHOUSE_PARQUET})`);
      return await this.writtenColumns(tmp);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** The columns of a Parquet file this build wrote, from its footer, as a table's view reads them (partition columns are in the file). */
  private writtenColumns(file: string): Promise<Map<string, string>> {
    return this.columnsOf(`SELECT * FROM read_parquet(${quoteLiteral(file)}, hive_partitioning = false)`);
  }

  /**
   * New files of an incremental model after merging its new rows in, and its row count. The new
   * rows are written first, straight from the model's SQL (no staging table); then the rows of the
   * files they replace that no new row supersedes (same unique key) are written to one more file
   * per partition. Partitioned, only the partitions the new rows fall in are replaced; the files
   * kept as they were hold the rows they held (`prev.rows` less the rows of the files replaced).
   * `newFiles`: the files holding the new rows.
   */
  private async mergeIncremental(node: ProjectNode, prev: ModelState, incSql: string): Promise<{ files: string[]; rows: number; newFiles: string[] }> {
    // Never published: the files the merge wrote before it failed (its new rows) go at once.
    const wrote: string[] = [];
    return this.unlessFailing(wrote, () => this.mergeInto(node, prev, incSql, wrote));
  }

  /** `mergeIncremental`, listing in `wrote` each warehouse file it writes. */
  private async mergeInto(node: ProjectNode, prev: ModelState, incSql: string, wrote: string[]): Promise<{ files: string[]; rows: number; newFiles: string[] }> {
    const cfg = node.config;
    const onChange = cfg.on_schema_change ?? 'append_new_columns';
    const parts = cfg.partition_by;
    // Every mode compares columns. The table's side is its view in this catalog (defined for
    // `{{ this }}`), whose column types the catalog holds. The default mode writes the new rows
    // first and reads the model's side from the written file's footer, as the view reads it (no
    // bind of the model's SQL: ~25 ms per model on the incremental bench); the others bind it
    // first, since what they write depends on the comparison. Names match case-insensitively, as
    // DuckDB's do: `price` → `Price` is the same column. Either way the model's side is the types
    // as Parquet stores them (a HUGEINT from sum() is a DOUBLE, an ENUM a VARCHAR), as the table's are.
    const existing = await this.viewColumns(node);
    const prewritten = onChange === 'append_new_columns' ? await this.writeParquet(node, `SELECT * FROM (${incSql})`, parts) : undefined;
    wrote.push(...(prewritten?.files ?? []));
    let incoming: { name: string; type: string; old: { name: string; type: string } | undefined }[];
    try {
      const described = prewritten && prewritten.files.length > 0 ? await this.writtenColumns(prewritten.files[0]!) : await this.storedColumns(node, incSql);
      incoming = [...described].map(([name, type]) => ({ name, type, old: existing.get(name.toLowerCase()) }));
      checkKeyColumns(node, incoming.map((c) => c.name));
    } catch (error) {
      removeFiles(prewritten?.files ?? []);
      throw error;
    }
    const incomingNames = new Set(incoming.map((c) => c.name.toLowerCase()));
    const added = incoming.filter((c) => !c.old).map((c) => c.name);
    const missing = [...existing.values()].filter((o) => !incomingNames.has(o.name.toLowerCase())).map((o) => o.name);
    const retyped = incoming.filter((c) => c.old && c.old.type !== c.type);
    if ((added.length || missing.length || retyped.length) && onChange === 'fail') {
      throw new ModelError(
        'SCHEMA_CHANGED',
        `${nodeLabel(node)}: the columns changed (added: ${added.join(', ') || '-'}; missing: ${missing.join(', ') || '-'}; retyped: ${retyped.map((c) => c.name).join(', ') || '-'}) and on_schema_change is 'fail'`,
      );
    }
    // sync_all_columns rewrites the old rows only when the columns changed (added, missing,
    // retyped or renamed in case); otherwise it merges as the other modes do, partition by partition.
    // `ignore` leaves the added columns out of the new rows: a unique_key naming one could never
    // match, and a partition_by naming one has no values to split them by.
    const isAdded = (k: string): boolean => added.some((a) => a.toLowerCase() === k.toLowerCase());
    const ignoredKeys: [string, string[]][] = [
      ['unique_key', (cfg.incremental_strategy ?? (cfg.unique_key ? 'merge' : 'append')) === 'append' ? [] : (cfg.unique_key ?? []).filter(isAdded)],
      ['partition_by', (parts ?? []).filter(isAdded)],
    ];
    for (const [option, names] of onChange === 'ignore' ? ignoredKeys : []) {
      if (names.length === 0) continue;
      throw new ModelError(
        'SCHEMA_CHANGED',
        `${nodeLabel(node)}: ${option} names ${names.map((k) => `'${k}'`).join(', ')}, which the table has not got, and on_schema_change is 'ignore' (the new rows leave it out): use append_new_columns or sync_all_columns, or build it with fullRefresh`,
      );
    }
    const sync =
      onChange === 'sync_all_columns' && (added.length > 0 || missing.length > 0 || retyped.length > 0 || incoming.some((c) => c.old && c.old.name !== c.name));
    // Like dbt, only sync_all_columns changes a column's type (the old rows are rewritten with the
    // new one); ignore and append_new_columns cast the new rows to the table's type, since a file
    // of another type would make the table's view fail on every read.
    const asTable = (c: (typeof incoming)[number]): string =>
      c.old!.type !== c.type ? `CAST(${quoteIdent(c.name)} AS ${c.old!.type}) AS ${quoteIdent(c.old!.name)}` : `${quoteIdent(c.name)} AS ${quoteIdent(c.old!.name)}`;
    const newRows =
      onChange === 'ignore'
        ? `SELECT ${incoming.filter((c) => c.old).map(asTable).join(', ')} FROM (${incSql})`
        : !sync && retyped.length > 0
          ? `SELECT ${incoming.map((c) => (c.old ? asTable(c) : quoteIdent(c.name))).join(', ')} FROM (${incSql})`
          : `SELECT * FROM (${incSql})`;
    // sync_all_columns rewrites every old file with the new column set (NULL in the added columns).
    const oldColumns = sync
      ? incoming
          .map((c) =>
            !c.old
              ? `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`
              : c.old.type !== c.type
                ? `CAST(${quoteIdent(c.old.name)} AS ${c.type}) AS ${quoteIdent(c.name)}`
                : `${quoteIdent(c.old.name)} AS ${quoteIdent(c.name)}`,
          )
          .join(', ')
      : // A partition_by column the table gains in this change: the old rows are NULL in it (written to its NULL partition).
        ['*', ...incoming.filter((c) => !c.old && (parts ?? []).some((p) => p.toLowerCase() === c.name.toLowerCase())).map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`)].join(', ');
    // A value the cast cannot convert (or a cast DuckDB has not got) fails the model naming the columns.
    const write = async (sql: string, parts?: string[]): Promise<{ files: string[]; rows: number }> => {
      try {
        const out = await this.writeParquet(node, sql, parts);
        wrote.push(...out.files);
        return out;
      } catch (error) {
        if (retyped.length === 0) throw error;
        const which = retyped.map((c) => `${c.name} (${c.old!.type} in the table, ${c.type} in the model's SQL)`).join(', ');
        throw new ModelError(
          'SCHEMA_CHANGED',
          `${nodeLabel(node)}: column ${which} changed type and on_schema_change '${onChange}' casts it to ${sync ? "the model's type" : "the table's type (only sync_all_columns changes a column's type)"}, which failed: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    };
    // The rows written first stand unless a column must be cast to the table's type (rare).
    if (prewritten && retyped.length > 0) removeFiles(prewritten.files);
    const written = withoutEmptyFiles(prewritten && retyped.length === 0 ? prewritten : await write(newRows, parts));
    if (written.rows === 0 && !sync) {
      // Columns the model's SQL gained reach the table even with no new row: one empty file carries
      // them (the view reads by name, NULL in the old rows). Outside the partition folders: the next
      // merge into a partitioned model rewrites the old files once.
      const carrier = onChange === 'append_new_columns' && added.length > 0 ? (await this.writeParquet(node, `${newRows} LIMIT 0`)).files : [];
      return { files: [...prev.files, ...carrier], rows: await this.rowsOf(prev, prev.files), newFiles: [] };
    }
    const strategy = cfg.incremental_strategy ?? (cfg.unique_key ? 'merge' : 'append');
    if (strategy === 'append' && !sync) {
      return { files: [...prev.files, ...written.files], rows: (await this.rowsOf(prev, prev.files)) + written.rows, newFiles: written.files };
    }
    const keys = strategy === 'append' ? [] : (cfg.unique_key ?? []);
    // A key column the table has not got yet (it comes with this change) is NULL in its old rows;
    // one sync_all_columns retypes is compared in its new type, as the old rows are rewritten with it
    // (INTEGER 1 is '1', not the same key as '01').
    const oldKey = (k: string): string => {
      if (!existing.has(k.toLowerCase())) return 'NULL';
      const c = sync ? retyped.find((r) => r.name.toLowerCase() === k.toLowerCase()) : undefined;
      return c ? `CAST(o.${quoteIdent(c.old!.name)} AS ${c.type})` : `o.${quoteIdent(k)}`;
    };
    const match = keys.map((k) => `n.${quoteIdent(k)} IS NOT DISTINCT FROM ${oldKey(k)}`).join(' AND ');
    // The new rows read back as written (partition values from the files, not the folder names).
    const newRowsRead = written.files.length > 0 ? `(${tableViewSql(written.files)})` : undefined;
    // The files the new rows replace: those of the partitions they fall in, or all (no
    // partitions, sync_all_columns, or files laid out by another partition_by than the model's now).
    let replaced = prev.files;
    const byPartition = parts !== undefined && parts.length > 0 && !sync && prev.files.every((f) => sameKeys(partitionKeysOf(f), parts));
    if (parts && byPartition) {
      const touched = new Set(written.files.map((f) => JSON.stringify(partitionValuesOf(f, parts))));
      const inTouched = new Set(prev.files.filter((f) => touched.has(JSON.stringify(partitionValuesOf(f, parts)))));
      replaced = prev.files.filter((f) => inTouched.has(f));
      // A unique key that leaves out a partition column lets a row move to another partition:
      // the files still holding one of the new rows' keys are replaced too.
      const elsewhere = prev.files.filter((f) => !inTouched.has(f));
      if (keys.length > 0 && newRowsRead && elsewhere.length > 0 && !parts.every((p) => keys.some((k) => k.toLowerCase() === p.toLowerCase()))) {
        const holding = readerRows(
          await this.c.runAndReadAll(
            `SELECT DISTINCT o.__duckhouse_file AS f FROM read_parquet([${elsewhere.map(quoteLiteral).join(', ')}], union_by_name = true, hive_partitioning = false, filename = '__duckhouse_file') AS o WHERE EXISTS (SELECT 1 FROM ${newRowsRead} AS n WHERE ${match})`,
          ),
        ).map((r) => path.resolve(String(r.f)));
        const held = new Set(holding);
        replaced = [...replaced, ...elsewhere.filter((f) => held.has(path.resolve(f)))];
      }
    }
    const replacedSet = new Set(replaced);
    const untouched = prev.files.filter((f) => !replacedSet.has(f));
    // With every partition column in the key, an old row can only be superseded by a new row of
    // its own partition: only the new files of the partitions replaced are read to find which.
    let superseding = newRowsRead;
    if (parts && byPartition && parts.every((p) => keys.some((k) => k.toLowerCase() === p.toLowerCase()))) {
      const replacedParts = new Set(replaced.map((f) => JSON.stringify(partitionValuesOf(f, parts))));
      const same = written.files.filter((f) => replacedParts.has(JSON.stringify(partitionValuesOf(f, parts))));
      if (same.length > 0) superseding = `(${tableViewSql(same)})`;
    }
    let kept = { files: [] as string[], rows: 0 };
    if (replaced.length > 0) {
      const oldRows = `SELECT ${oldColumns} FROM (${tableViewSql(replaced)}) AS o`;
      const keptSql = keys.length > 0 && superseding ? `${oldRows} WHERE NOT EXISTS (SELECT 1 FROM ${superseding} AS n WHERE ${match})` : oldRows;
      kept = withoutEmptyFiles(await write(keptSql, parts));
    }
    const files = [...untouched, ...kept.files, ...written.files];
    // A table needs at least one file: everything replaced and nothing left gives one empty file.
    if (files.length === 0) return { ...(await this.writeTable(node, newRows)), newFiles: [] };
    return { files, rows: (await this.rowsOf(prev, untouched)) + kept.rows + written.rows, newFiles: written.files };
  }

  /** Rows in `kept`, some of the previous version's files: its count less the others' (counted from their footers). */
  private async rowsOf(prev: ModelState, kept: string[]): Promise<number> {
    if (kept.length === 0) return 0;
    const keptSet = new Set(kept);
    const others = prev.files.filter((f) => !keptSet.has(f));
    if (prev.rows !== null && others.length === 0) return prev.rows;
    const files = prev.rows === null ? kept : others;
    const [count] = readerRows(await this.c.runAndReadAll(`SELECT count(*) AS n FROM read_parquet([${files.map(quoteLiteral).join(', ')}])`));
    const n = Number(count?.n ?? 0);
    return prev.rows === null ? n : prev.rows - n;
  }

  /** Removes `audit.<model>_rejected` from the new catalog and the state (nothing when there is none). */
  private async dropAudit(node: ProjectNode): Promise<void> {
    const id = auditId(node);
    if (!this.state.has(id)) return;
    await this.c.run(`DROP VIEW IF EXISTS ${qualified('audit', `${node.name}_rejected`)}`);
    this.state.delete(id);
    this.uncarried.delete(id);
  }

  /** Rows of `fresh` (rejections) beyond the copies of them `previous` holds, compared on the rule and the columns both have. */
  private async unseenRejections(fresh: string, previous: string): Promise<string> {
    const before = new Set([...(await this.columnsOf(previous)).keys()].map((c) => c.toLowerCase()));
    const same = [...(await this.columnsOf(fresh)).keys()].filter((c) => c !== '_rejected_run_id' && c !== '_rejected_at' && before.has(c.toLowerCase()));
    const copy = quoteIdent('_duckhouse_copy');
    const match = same.map((c) => `o.${quoteIdent(c)} IS NOT DISTINCT FROM n.${quoteIdent(c)}`).join(' AND ');
    return (
      `SELECT * EXCLUDE (${copy}) FROM (SELECT *, row_number() OVER (PARTITION BY ${same.map(quoteIdent).join(', ')}) AS ${copy} FROM (${fresh})) AS n ` +
      `WHERE ${copy} > (SELECT count(*) FROM (${previous}) AS o WHERE ${match})`
    );
  }

  /** `audit.<model>_rejected`: the rows each `reject_if` rule removed, with the rule's name. */
  private async buildAudit(node: ProjectNode, incremental: boolean, prevAudit: ModelState | undefined, stagedRows?: string): Promise<void> {
    const probe = renderModel(this.project, node, this.renderContextFor(node, incremental));
    const rules = probe.rejectRules;
    if (rules.length === 0) {
      // No rule left: the audit table of earlier builds would show rows the model now keeps. It
      // leaves the catalog (its files go to garbage); rules added back later start a new one. An
      // incremental run whose rules sit only in the full-refresh branch keeps it as it is.
      if (incremental && node.rejectRules.length > 0) return;
      await this.dropAudit(node);
      return;
    }
    const selects = rules.map((rule, i) => {
      // The rows R rejects wherever it sits (one WHERE, a CTE, one branch of a UNION): the model
      // with R as its condition, less (EXCEPT ALL) the model with R as FALSE. Rows that do not
      // pass through R are on both sides and cancel; with R in the one WHERE, the second side is
      // `… AND FALSE`, which DuckDB plans as an empty result.
      const audit = (ruleAs: 'condition' | 'false') =>
        renderModel(this.project, node, this.renderContextFor(node, incremental, { kind: 'audit', rule: rule.rule, earlier: rules.slice(0, i).map((r) => r.rule), ruleAs })).sql;
      const rejected = `SELECT * FROM (${audit('condition')}\n) EXCEPT ALL SELECT * FROM (${audit('false')}\n)`;
      return `SELECT ${quoteLiteral(rule.rule)} AS _rejected_rule, ${quoteLiteral(this.env.runId)} AS _rejected_run_id, now() AS _rejected_at, * FROM (${rejected})`;
    });
    const target = { schema: 'audit', name: `${node.name}_rejected` };
    const fresh = selects.join('\nUNION ALL BY NAME\n');
    // An incremental model's audit keeps earlier rejections, except those its new rows re-decided
    // (same unique key): they are replaced, like the model's own rows.
    const keys = node.config.unique_key ?? [];
    let sql = fresh;
    if (incremental && prevAudit && keys.length > 0) {
      // A key column the audit has not got yet (the model gained it in this change) is NULL in its old rows.
      const had = await this.viewColumns({ schema: 'audit', name: `${node.name}_rejected` });
      // sync_all_columns may retype a key column: the earlier rejections' keys are compared in the new
      // type, as the model's old rows are (INTEGER 1 is '1', not the same key as '01').
      const now = node.config.on_schema_change === 'sync_all_columns' ? await this.storedColumns(node, fresh) : undefined;
      const oldKey = (k: string): string => {
        const o = had.get(k.toLowerCase());
        if (!o) return 'NULL';
        const type = now ? [...now].find(([c]) => c.toLowerCase() === k.toLowerCase())?.[1] : undefined;
        return type && type !== o.type ? `CAST(o.${quoteIdent(o.name)} AS ${type})` : `o.${quoteIdent(k)}`;
      };
      const match = keys.map((k) => `n.${quoteIdent(k)} IS NOT DISTINCT FROM ${oldKey(k)}`).join(' AND ');
      const redecided = [`SELECT 1 FROM (${fresh}) AS n WHERE ${match}`, ...(stagedRows ? [`SELECT 1 FROM ${stagedRows} AS n WHERE ${match}`] : [])];
      sql = `SELECT * FROM (${tableViewSql(prevAudit.files)}) AS o WHERE ${redecided.map((q) => `NOT EXISTS (${q})`).join(' AND ')} UNION ALL BY NAME ${fresh}`;
    } else if (incremental && prevAudit) {
      // Without a key, the new rejections are appended. A row rejected by an earlier run that this
      // run's filter reads again (`ts > max(ts)` of the kept rows stays below it) is rejected
      // again: only the copies beyond those already audited are new.
      sql = await this.unseenRejections(fresh, tableViewSql(prevAudit.files));
    }
    const written = await this.writeTable(target, sql);
    const replaced = incremental && prevAudit && keys.length > 0;
    const rows = replaced || !prevAudit || !incremental ? written.rows : (prevAudit.rows ?? 0) + written.rows;
    const files = incremental && prevAudit && !replaced ? [...prevAudit.files, ...written.files] : written.files;
    const entry: ModelState = {
      id: auditId(node),
      schema: 'audit',
      name: target.name,
      kind: 'table',
      materialized: incremental ? 'incremental' : 'table',
      sql: null,
      files,
      hash: this.hashes.get(node.id) ?? '',
      rows,
      runId: this.env.runId,
      builtAt: new Date().toISOString(),
    };
    await defineObject(this.c, entry);
    this.replaced(entry);
  }
}

/** The engine's own quality history table. */
const QUALITY_ID = 'marts.mart_data_quality';

/** Whether a build scores the node when it makes or keeps it: the trusted and mart models. */
function scored(node: ProjectNode): boolean {
  return node.kind === 'model' && (node.schema === 'trusted' || node.schema === 'marts') && node.id !== QUALITY_ID;
}

/**
 * The partition values of a file from its `col=value` folders, in `parts` order (NULL, or no such
 * folder: null). Names match regardless of case, as DuckDB's do (`partition_by='Store'` writes `store=…`).
 */
function partitionValuesOf(file: string, parts: string[]): (string | null)[] {
  const found = new Map(partitionFolders(file).map(([k, v]) => [k.toLowerCase(), v]));
  return parts.map((p) => found.get(p.toLowerCase()) ?? null);
}

/** The `col=value` folders a warehouse file sits in, nearest the model's folder first (names and values decoded: `hiveFolder`). */
function partitionFolders(file: string): [string, string | null][] {
  const segments = file.split(path.sep);
  const out: [string, string | null][] = [];
  // DuckDB percent-encodes `=` in values: only the folders right above the file are partition folders.
  for (let i = segments.length - 2; i >= 0; i--) {
    const folder = hiveFolder(segments[i]!);
    if (!folder) break;
    out.unshift(folder);
  }
  return out;
}

/**
 * A write of no rows as no files: an unpartitioned COPY still makes an (empty) file, which a merge
 * does not need (it was never published, so it goes at once).
 */
function withoutEmptyFiles(out: { files: string[]; rows: number }): { files: string[]; rows: number } {
  if (out.rows > 0) return out;
  removeFiles(out.files);
  return { files: [], rows: 0 };
}

/**
 * Deletes warehouse files this build wrote and will not publish (never in a catalog: they go at
 * once), with the partition and version folders they leave empty: the sweep, which removes those
 * too, never sees them once their files are gone.
 */
function removeFiles(files: string[]): void {
  for (const f of files) {
    fs.rmSync(f, { force: true });
    removeEmptyParents(path.dirname(f));
  }
}

function partitionKeysOf(file: string): string[] {
  return partitionFolders(file).map(([k]) => k);
}

/** Whether two lists of column names are the same, regardless of case (DuckDB's names are case-insensitive). */
function sameKeys(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((k, i) => k.toLowerCase() === b[i]!.toLowerCase());
}

/** Fails naming the option and the column when `unique_key` or `partition_by` names a column the model's output lacks. */
function checkKeyColumns(node: ProjectNode, columns: Iterable<string>): void {
  const names = [...columns];
  const have = new Set(names.map((c) => c.toLowerCase()));
  // A table model's unique_key is unused (no merge): only an incremental one's is checked.
  const uniqueKey = node.config.materialized === 'incremental' ? (node.config.unique_key ?? []) : [];
  for (const [option, keys] of [['unique_key', uniqueKey], ['partition_by', node.config.partition_by ?? []]] as const) {
    const absent = keys.filter((k) => !have.has(k.toLowerCase()));
    if (absent.length > 0) {
      throw new ModelError(
        'MODEL_CONFIG_INVALID',
        `${nodeLabel(node)}: ${option} names ${absent.map((k) => `'${k}'`).join(', ')}, which the model's SQL does not output (its columns: ${names.join(', ')})`,
      );
    }
  }
}

/** The audit tables (`audit.<model>_rejected`, quoted or not) a compiled SQL names: conservative, like `mentionsItself`. */
function auditsRead(sql: string): string[] {
  const found = new Set<string>();
  for (const m of sql.matchAll(/(?:^|[^A-Za-z0-9_$])"?audit"?\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*_rejected)\b/gi)) found.add(`audit.${m[1]!.toLowerCase()}`);
  return [...found].sort();
}

/** Whether a model's SQL names the model (its `{{ this }}` or its name as a word): conservative. */
function mentionsItself(node: ProjectNode, sql: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9_$])${escapeRegExp(node.name)}($|[^A-Za-z0-9_$])`, 'i').test(sql);
}

function auditId(node: { name: string }): string {
  return `audit.${node.name}_rejected`;
}

export { readState };
