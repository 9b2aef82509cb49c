/** Result values of the public API. Statuses are exactly DESIGN's strings. */

export type RunOutcome = 'success' | 'partial' | 'failed';

/** How alerts and the CLI name a source: `shop/orders`, or `shop/orders (store=a)` for one store of several. */
export function sourceLabel(source: unknown, dataset: unknown, scope?: unknown): string {
  return `${String(source)}/${String(dataset)}${scope === null || scope === undefined || scope === '' ? '' : ` (${String(scope)})`}`;
}

export interface SourceResult {
  source: string;
  dataset: string;
  /**
   * The source's constant partition values (`store=a`, as its cursor is scoped), when it has any:
   * several sources of one dataset (a store each) are told apart by it in alerts and metrics.
   */
  scope?: string;
  status: RunOutcome;
  /** Rows committed to bronze. */
  rows: number;
  /** Records sent to quarantine. */
  rejected: number;
  files: number;
  bytes: number;
  requests: number;
  retries: number;
  durationMs: number;
  error?: string;
  /** The stable `code` of the error, when it is one of duckhouse's (`ALL_REJECTED`: records came and every one went to quarantine). */
  errorCode?: string;
  warnings?: string[];
  /**
   * Columns added, removed or retyped since the schema bronze holds (of the last run that committed a
   * batch or ended without error); none when this run failed with nothing committed, as it changed nothing.
   */
  schemaChanges?: { column: string; change: 'added' | 'removed' | 'retyped'; oldType: string | null; newType: string | null }[];
}

export interface ExtractResult {
  runId: string;
  status: RunOutcome;
  sources: SourceResult[];
  /** Alerts this extract raised or kept open: failures, volume, success rate, drift, freshness. */
  alerts?: AlertRecord[];
}

/** success when every part succeeded, failed when none did, partial otherwise. */
export function combineStatus(parts: { status: RunOutcome }[]): RunOutcome {
  if (parts.length === 0) return 'success';
  if (parts.every((p) => p.status === 'success')) return 'success';
  if (parts.every((p) => p.status === 'failed')) return 'failed';
  return 'partial';
}

export type ModelStatus = 'success' | 'error' | 'skipped' | 'up-to-date';

export interface ModelResult {
  /** `schema.model` */
  name: string;
  /** The model's file, as messages show it (`models/marts/fct_orders.sql`). */
  file: string;
  materialization: string;
  status: ModelStatus;
  /** Rows of the model after the build (null for views). */
  rows: number | null;
  durationMs: number;
  error?: string;
  /** For `skipped`: the upstream model that failed or was skipped, and why. */
  skippedBecause?: string;
}

export type TestStatus = 'pass' | 'fail' | 'warn' | 'error';

export interface TestResult {
  name: string;
  /** `schema.model` the test is attached to. */
  model: string;
  column?: string;
  kind: string;
  severity: 'warn' | 'error';
  status: TestStatus;
  /** Failing rows (or 1 for a gate out of bounds). */
  failures: number;
  /** The measured count or share, for row_count and the quality gates. */
  measured?: number;
  error?: string;
}

export interface BuildResult {
  runId: string;
  status: RunOutcome;
  models: ModelResult[];
  tests: TestResult[];
  warnings: string[];
}

/** One pipeline run: extract → build (with tests). */
export interface RunResult {
  runId: string;
  status: RunOutcome;
  extract: ExtractResult | null;
  build: BuildResult | null;
  /** Alerts raised by this run (freshness, volume, schema drift, failing tests…). */
  alerts: AlertRecord[];
  durationMs: number;
  /** What the run left undone without failing: no models folder (nothing built); the `onRunFinished` hook throwing (its notification was not sent). */
  warnings?: string[];
}

export interface AlertRecord {
  kind: string;
  severity: 'warn' | 'error';
  subject: string;
  message: string;
}
