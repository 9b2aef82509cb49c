/**
 * Alerts from the run history, with DESIGN's defaults (all in `quality` options):
 * - freshness: a source with no successful extract for 24 h warns, 72 h errors;
 * - volume: a run with fewer rows than 80 % of the average of its last 7 successful runs warns;
 * - extraction success: under 95 % of a source's last 20 runs succeeding warns;
 * - schema drift: columns added, removed or retyped between runs warns;
 * - failed sources, failed models and failing tests of a run;
 * - a run that stopped before doing its work (it threw: a project that does not compile, a cycle,
 *   an unknown ref; or its process died and the next open found it `abandoned`): `run_failed`, one
 *   per run kind (`build`, `extract`…), resolved by the next run of that kind that finishes.
 * A source is its dataset and scope (constant partition values, `store=a`): two stores of one
 * dataset are compared each with its own history, and a stale one is not hidden by a fresh one.
 * Schema drift is the dataset's (its scopes share one schema): one alert, subject `source/dataset`.
 * A source the user retired (`retire-source.ts`) is not judged for freshness until it extracts again.
 * An alert stays open (one row) while its condition holds and is resolved when a later check
 * finds it cleared; schema drift alone is one row per run and dataset that drifted.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { QualityOptions } from '../config.js';
import { readerRows } from '../db/values.js';
import { redactString } from '../redact.js';
import { sourceLabel, type AlertRecord, type ModelResult, type SourceResult, type TestResult } from '../results.js';
import type { MetricsDb } from './metrics-db.js';
import { SOURCES_FRESHNESS_SQL, chunks } from './schema.js';

const HISTORY = 20;

export interface SchemaChange {
  column: string;
  change: 'added' | 'removed' | 'retyped';
  oldType: string | null;
  newType: string | null;
}

/** Columns added, removed or retyped between two recorded bronze schemas. */
export function diffSchemas(before: { name: string; type: string }[] | undefined, after: { name: string; type: string }[]): SchemaChange[] {
  if (!before) return [];
  const old = new Map(before.map((c) => [c.name, c.type]));
  const now = new Map(after.map((c) => [c.name, c.type]));
  const changes: SchemaChange[] = [];
  for (const [name, type] of now) {
    if (!old.has(name)) changes.push({ column: name, change: 'added', oldType: null, newType: type });
    else if (old.get(name) !== type) changes.push({ column: name, change: 'retyped', oldType: old.get(name)!, newType: type });
  }
  for (const [name, type] of old) if (!now.has(name)) changes.push({ column: name, change: 'removed', oldType: type, newType: null });
  return changes;
}

/**
 * Writes a run's schema drift for one dataset to `schema_changes` at `atSql` (a SQL timestamp), once:
 * nothing when the run has rows for the dataset already. A run's first committed batch records it
 * (and a roll-forward of that batch), the run's end when it committed none without failing or the
 * batch's own record failed; a run that failed with nothing committed has no drift (SourceResult).
 */
export async function recordSchemaChanges(c: DuckDBConnection, runId: string, source: string, dataset: string, drift: readonly SchemaChange[], atSql: string): Promise<void> {
  if (drift.length === 0) return;
  const rows = readerRows(await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM schema_changes WHERE run_id = $1 AND source = $2 AND dataset = $3`, [runId, source, dataset]));
  if (Number(rows[0]?.n) > 0) return;
  for (const ch of drift) {
    await c.run(`INSERT INTO schema_changes VALUES ($1, $2, $3, $4, $5, $6, $7, ${atSql})`, [runId, source, dataset, ch.column, ch.change, ch.oldType, ch.newType]);
  }
}

/** The `schema_drift` alert of a dataset's changes in one run. */
export function driftAlert(source: string, dataset: string, drift: SchemaChange[]): AlertRecord {
  return { kind: 'schema_drift', severity: 'warn', subject: sourceLabel(source, dataset), message: drift.map((d) => `${d.column} ${d.change}${d.change === 'retyped' ? ` ${d.oldType} → ${d.newType}` : ''}`).join(', ') };
}

/**
 * The `schema_drift` alerts of a run, one per dataset, from the drift it recorded in
 * `schema_changes`; with `datasets` (`source/dataset`), of those only. The schema is the dataset's,
 * shared by its scopes (`store=a`, `store=b`): a drift is one alert under `source/dataset`, however
 * many scopes of it ran, and says what `schema_changes` holds, whichever scope recorded it.
 */
export async function runDriftAlerts(c: DuckDBConnection, runId: string, datasets?: ReadonlySet<string>): Promise<AlertRecord[]> {
  const rows = readerRows(await c.runAndReadAll(`SELECT source, dataset, column_name, change, old_type, new_type FROM schema_changes WHERE run_id = $1 ORDER BY rowid`, [runId]));
  const byDataset = new Map<string, { source: string; dataset: string; changes: SchemaChange[] }>();
  for (const r of rows) {
    const key = sourceLabel(r.source, r.dataset);
    if (datasets && !datasets.has(key)) continue;
    const entry = byDataset.get(key) ?? { source: String(r.source), dataset: String(r.dataset), changes: [] };
    entry.changes.push({ column: String(r.column_name), change: r.change as SchemaChange['change'], oldType: r.old_type === null ? null : String(r.old_type), newType: r.new_type === null ? null : String(r.new_type) });
    byDataset.set(key, entry);
  }
  return [...byDataset.values()].map((d) => driftAlert(d.source, d.dataset, d.changes));
}

export const PER_SOURCE_KINDS = ['source_failed', 'volume', 'extraction_success', 'schema_drift'];

/** Alerts about an extract run's sources: volume, success rate, drift, failures — and freshness of every known source. */
export async function evaluateExtract(metrics: MetricsDb, quality: QualityOptions, runId: string, sources: (SourceResult & { schemaChanges?: SchemaChange[] })[], now = new Date()): Promise<AlertRecord[]> {
  return metrics.transaction(async (c) => {
    const alerts: AlertRecord[] = [];
    const checked: { kind: string; subject: string }[] = [];
    const drifted = new Set<string>();
    for (const s of sources) {
      const subject = sourceLabel(s.source, s.dataset, s.scope);
      // Volume is measured on a successful run only: a failed or partial one leaves a drop's alert open.
      checked.push(...PER_SOURCE_KINDS.filter((kind) => kind !== 'volume' || s.status === 'success').map((kind) => ({ kind, subject })));
      // Alerts opened under the plain subject before the scope was recorded are resolved, not left open for good,
      // and so is the dataset's drift (its subject is plain). Drift under the scoped subject, checked above, is
      // what earlier versions opened: resolved too.
      if (s.scope !== undefined) checked.push(...PER_SOURCE_KINDS.map((kind) => ({ kind, subject: sourceLabel(s.source, s.dataset, null) })));
      if (s.status !== 'success') alerts.push({ kind: 'source_failed', severity: s.status === 'failed' ? 'error' : 'warn', subject, message: s.error ?? s.status });
      const history = readerRows(
        await c.runAndReadAll(
          `SELECT status, rows FROM source_results WHERE source = $1 AND dataset = $2 AND coalesce(scope, '') = $3 AND run_id <> $4 ORDER BY finished_at DESC LIMIT ${HISTORY}`,
          [s.source, s.dataset, s.scope ?? '', runId],
        ),
      );
      // The last successful runs, however many failed ones came between (an outage longer than HISTORY).
      const successful = readerRows(
        await c.runAndReadAll(
          `SELECT rows FROM source_results WHERE source = $1 AND dataset = $2 AND coalesce(scope, '') = $3 AND run_id <> $4 AND status = 'success' ORDER BY finished_at DESC LIMIT ${Number(quality.volumeWindowRuns)}`,
          [s.source, s.dataset, s.scope ?? '', runId],
        ),
      );
      if (s.status === 'success' && successful.length > 0) {
        const avg = successful.reduce((sum, h) => sum + Number(h.rows), 0) / successful.length;
        if (avg > 0 && s.rows < quality.volumeMinShare * avg) {
          alerts.push({ kind: 'volume', severity: 'warn', subject, message: `${s.rows} rows, under ${Math.round(quality.volumeMinShare * 100)}% of the average ${Math.round(avg)} of the last ${successful.length} successful runs` });
        }
      }
      const window = [{ status: s.status }, ...history].slice(0, HISTORY);
      const rate = window.filter((h) => h.status === 'success').length / window.length;
      if (window.length >= 2 && rate < quality.minExtractionSuccess) {
        alerts.push({ kind: 'extraction_success', severity: quality.gateSeverity, subject, message: `${Math.round(rate * 100)}% of the last ${window.length} extracts succeeded (gate ${Math.round(quality.minExtractionSuccess * 100)}%)` });
      }
      const drift = s.schemaChanges ?? [];
      // Recorded with the run's first committed batch (see BatchCommit.schemaChanges) unless that record
      // failed or the run committed none; a source that failed with none reports no drift (run-source.ts).
      await recordSchemaChanges(c, runId, s.source, s.dataset, drift, 'now()');
      if (drift.length > 0) drifted.add(sourceLabel(s.source, s.dataset));
    }
    if (drifted.size > 0) alerts.push(...(await runDriftAlerts(c, runId, drifted)));
    alerts.push(...(await freshness(c, quality, now, checked)));
    // A source's error may carry a URL with a token: the alerts returned (and printed) are the redacted ones stored.
    return applyAlerts(c, runId, alerts, checked);
  });
}

function redactAlert(a: AlertRecord): AlertRecord {
  return { ...a, message: redactString(a.message) };
}

/** The models and tests of the project as discovered by a build or a test run (names as their results carry them). */
export interface ProjectSubjects {
  models: Set<string>;
  tests: Set<string>;
}

/**
 * What a build's or test run's finish records about alerts, as plain JSON (kept in its `.finish`
 * file when the finish could not be written): the alerts raised, the subjects checked, and the
 * project's models and tests (an alert naming one no longer there is resolved).
 */
export interface RecordedOutcome {
  alerts: AlertRecord[];
  checked: { kind: string; subject: string }[];
  project?: { models: string[]; tests: string[] };
  /** The freshness windows, to judge the sources' freshness too (a build's, a test run's). */
  freshness?: FreshnessWindows;
}

type FreshnessWindows = Pick<QualityOptions, 'freshnessWarnHours' | 'freshnessErrorHours'>;

/**
 * Alerts of a build's (or a test run's) outcome: an error for each failed model, one for each
 * test not passing (a warn for a `warn`), the quality gates included: a model scored under
 * `minQualityScore` is its `quality_score_<schema>_<model>` test's `test_failed` alert, as DESIGN
 * makes a gate a test. `checked` names every model and test that ran, so a
 * `model_failed` or `test_failed` alert open for one of them is resolved when it passes now.
 * With `project`, an alert naming a model or test no longer in the project is resolved too:
 * nothing will ever run it again to clear it.
 */
export function outcomeAlerts(outcome: { models?: ModelResult[]; tests?: TestResult[]; project?: ProjectSubjects; freshness?: FreshnessWindows }): RecordedOutcome {
  const { project, freshness: windows } = outcome;
  const alerts: AlertRecord[] = [];
  const checked: { kind: string; subject: string }[] = [];
  for (const m of outcome.models ?? []) {
    checked.push({ kind: 'model_failed', subject: m.name });
    if (m.status === 'error') alerts.push({ kind: 'model_failed', severity: 'error', subject: m.name, message: m.error ?? 'failed' });
  }
  for (const t of outcome.tests ?? []) {
    checked.push({ kind: 'test_failed', subject: t.name });
    if (t.status !== 'pass') alerts.push({ kind: 'test_failed', severity: t.status === 'warn' ? 'warn' : 'error', subject: t.name, message: t.status === 'error' ? `${t.kind} on ${t.model} errored: ${t.error ?? 'unknown error'}` : failingMessage(t) });
  }
  return {
    alerts: alerts.map(redactAlert),
    checked,
    ...(project ? { project: { models: [...project.models], tests: [...project.tests] } } : {}),
    ...(windows ? { freshness: { freshnessWarnHours: windows.freshnessWarnHours, freshnessErrorHours: windows.freshnessErrorHours } } : {}),
  };
}

/** The `run_failed` alert of a run of `kind` (`build`, `extract`, `run`…) stopped by `message`. */
export function runFailedAlert(kind: string, message: string): AlertRecord {
  return { kind: 'run_failed', severity: 'error', subject: kind, message };
}

/**
 * The `run_failed` alert of a run of `kind` as it ended, as of `at` (default now): opened (or kept
 * open, naming this run) with `failure` when it stopped before doing its work, resolved when it
 * finished (whatever its status: what failed in it has its own alerts).
 */
export function applyRunEnd(c: DuckDBConnection, runId: string, kind: string, failure: string | null, at?: Date): Promise<AlertRecord[]> {
  const alerts: AlertRecord[] = failure === null ? [] : [runFailedAlert(kind, failure)];
  return applyAlerts(c, runId, alerts, [{ kind: 'run_failed', subject: kind }], undefined, at);
}

const SHARE_GATES = new Set(['max_null_share', 'max_duplicate_share', 'min_quality_score']);

/**
 * A failing test's alert: its failing rows, or, for a quality gate or a row count (one "failure":
 * out of bounds), what it measured — a score under its gate is the `quality` of a model.
 */
function failingMessage(t: TestResult): string {
  // A gate that measured nothing (an empty table) says so, not "0 failing".
  if (t.measured === undefined && t.error !== undefined) return `${t.kind} on ${t.model}: ${t.error}`;
  if (t.measured === undefined) return `${t.failures} failing (${t.kind} on ${t.model})`;
  const value = SHARE_GATES.has(t.kind) ? `${Math.round(t.measured * 1000) / 10}%` : String(t.measured);
  return `${t.kind} on ${t.model}: measured ${value}`;
}

/**
 * Records an outcome's alerts (`applyAlerts`), as of `at` (default now). With `freshness`, the
 * sources' freshness is judged too: a lake whose extracts stopped (their cron died) while its
 * builds go on is alerted, not only when an extract runs again.
 */
export async function applyOutcome(c: DuckDBConnection, runId: string, outcome: RecordedOutcome, at?: Date): Promise<AlertRecord[]> {
  const models = outcome.project && new Set(outcome.project.models);
  const tests = outcome.project && new Set(outcome.project.tests);
  const retired = models && tests && ((a: { kind: string; subject: string }) => (a.kind === 'model_failed' && !models.has(a.subject)) || (a.kind === 'test_failed' && !tests.has(a.subject)));
  const checked = [...outcome.checked];
  const stale = outcome.freshness ? await freshness(c, outcome.freshness, at ?? new Date(), checked) : [];
  return applyAlerts(c, runId, [...outcome.alerts, ...stale], checked, retired, at);
}

async function freshness(c: DuckDBConnection, quality: FreshnessWindows, now: Date, checked: { kind: string; subject: string }[]): Promise<AlertRecord[]> {
  const rows = readerRows(await c.runAndReadAll(SOURCES_FRESHNESS_SQL));
  const alerts: AlertRecord[] = [];
  for (const r of rows) {
    const subject = sourceLabel(r.source, r.dataset, r.scope);
    checked.push({ kind: 'freshness', subject });
    // Retired (dropped from the config, `lake.retireSource`): checked, so an alert still open resolves.
    if (r.superseded === true || r.retired === true) continue;
    const last = r.last_ok instanceof Date ? r.last_ok : null;
    const hours = last ? (now.getTime() - last.getTime()) / 3_600_000 : Number.POSITIVE_INFINITY;
    if (hours > quality.freshnessWarnHours) {
      alerts.push({
        kind: 'freshness',
        severity: hours > quality.freshnessErrorHours ? 'error' : 'warn',
        subject,
        message: last ? `no successful extract for ${Math.round(hours)} h (warn after ${quality.freshnessWarnHours} h, error after ${quality.freshnessErrorHours} h)` : 'never extracted successfully',
      });
    }
  }
  return alerts;
}

/**
 * Opens new alerts, keeps open ones that still hold, resolves the checked ones that cleared and
 * the `retired` ones (their subject is gone); returns the alerts as stored (redacted).
 */
export async function applyAlerts(
  c: DuckDBConnection,
  runId: string,
  alerts: AlertRecord[],
  checked: { kind: string; subject: string }[],
  retired?: (alert: { kind: string; subject: string }) => boolean,
  at?: Date,
): Promise<AlertRecord[]> {
  const when = at ? `TIMESTAMPTZ '${at.toISOString()}'` : 'now()';
  const key = (a: { kind?: unknown; subject?: unknown }) => `${String(a.kind)}\0${String(a.subject)}`;
  // Messages quote errors (a source's URL, a model's SQL): what is stored is redacted, whoever raised it.
  // A condition raised twice at once (one source listed twice in an extract) is one alert, the more severe.
  const current: AlertRecord[] = [];
  const byKey = new Map<string, number>();
  for (const a of alerts.map(redactAlert)) {
    const seen = a.kind === 'schema_drift' ? undefined : byKey.get(key(a));
    if (seen === undefined) {
      byKey.set(key(a), current.push(a) - 1);
    } else if (a.severity === 'error' && current[seen]!.severity !== 'error') current[seen] = a;
  }
  const open = readerRows(await c.runAndReadAll(`SELECT alert_id, kind, subject, severity FROM alerts WHERE resolved_at IS NULL`));
  const holding = new Set(current.map(key));
  const checkedKeys = new Set(checked.map(key));
  // A statement per ROWS_PER_STATEMENT alerts, not one per alert (a dataset of 5,000 stores has 5,000
  // freshness subjects): sets, not a scan of `checked` per open alert.
  const resolved = open.filter((o) => !holding.has(key(o)) && (checkedKeys.has(key(o)) || retired?.({ kind: String(o.kind), subject: String(o.subject) }) === true));
  for (const chunk of chunks(resolved)) {
    await c.run(`UPDATE alerts SET resolved_at = ${when} WHERE alert_id IN (${chunk.map((_, i) => `$${i + 1}`).join(', ')})`, chunk.map((o) => String(o.alert_id)));
  }
  const openKeys = new Set(open.map(key));
  // Drift is an event of this run (its columns): always recorded. The others, a volume drop
  // included, are conditions: one open row while they hold, its message and run the latest.
  const kept = new Map<string, AlertRecord>();
  const raised: AlertRecord[] = [];
  for (const a of current) {
    if (openKeys.has(key(a)) && a.kind !== 'schema_drift') kept.set(key(a), a);
    else raised.push(a);
  }
  for (const chunk of chunks([...kept.values()])) {
    await c.run(
      `UPDATE alerts SET severity = v.severity, message = v.message, run_id = $1
       FROM (VALUES ${chunk.map((_, i) => `($${4 * i + 2}, $${4 * i + 3}, $${4 * i + 4}, $${4 * i + 5})`).join(', ')}) AS v(kind, subject, severity, message)
       WHERE alerts.resolved_at IS NULL AND alerts.kind = v.kind AND alerts.subject = v.subject`,
      [runId, ...chunk.flatMap((a) => [a.kind, a.subject, a.severity, a.message])],
    );
  }
  for (const chunk of chunks(raised)) {
    await c.run(
      `INSERT INTO alerts VALUES ${chunk.map((_, i) => `(${[1, 2, 3, 4, 5, 6].map((k) => `$${6 * i + k}`).join(', ')}, ${when}, NULL)`).join(', ')}`,
      chunk.flatMap((a) => [randomBytes(8).toString('hex'), runId, a.kind, a.severity, a.subject, a.message]),
    );
  }
  return current;
}

export interface OpenAlert extends AlertRecord {
  runId: string | null;
  raisedAt: Date;
  resolvedAt: Date | null;
}

/**
 * Newest first. Alerts raised in one transaction share `raised_at`: among them errors come
 * first, then by kind and subject, so the order (and what `limit` keeps) is the same every time.
 */
export async function listAlerts(metrics: MetricsDb, options: { open?: boolean; limit?: number }): Promise<OpenAlert[]> {
  const rows = await metrics.select(
    `SELECT * FROM alerts ${options.open === false ? '' : 'WHERE resolved_at IS NULL'} ORDER BY raised_at DESC, severity = 'error' DESC, kind, subject, alert_id LIMIT $1`,
    [options.limit ?? 100],
  );
  return rows.map((r) => ({
    kind: String(r.kind),
    severity: r.severity as 'warn' | 'error',
    subject: String(r.subject),
    // Rows written before messages were redacted on the way in are scrubbed on the way out.
    message: redactString(String(r.message)),
    runId: (r.run_id as string | null) ?? null,
    raisedAt: r.raised_at as Date,
    resolvedAt: (r.resolved_at as Date | null) ?? null,
  }));
}
