/**
 * Tables of `data/metrics/runs.duckdb`. Created if missing; new columns are added with
 * `ADD COLUMN IF NOT EXISTS` so older metrics files keep working.
 *
 * The tables that grow with history have no PRIMARY KEY: DuckDB rewrites a table's whole key
 * index at every checkpoint that touches it, so each metrics write got slower as `runs` and
 * `bronze_files` grew (+40 ms per transaction at 50,000 files, +100–400 ms at 5,000 runs with
 * large results). Writers keep the keys unique themselves.
 */
export const METRICS_DDL: string[] = [
  `CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR NOT NULL,         -- unique by construction (time + random suffix); no key index, see UNKEYED
    kind VARCHAR NOT NULL,            -- extract | build | test | run | compact | prune
    status VARCHAR NOT NULL,          -- running | success | partial | failed | abandoned
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    duration_ms BIGINT,
    host VARCHAR,
    pid INTEGER,
    proc_start VARCHAR,               -- the process's start time, so a reused pid is not mistaken for ours
    rows BIGINT DEFAULT 0,
    rejected BIGINT DEFAULT 0,
    files INTEGER DEFAULT 0,
    bytes BIGINT DEFAULT 0,
    error VARCHAR,
    result JSON                       -- older files only: results are in metrics/results/<yyyymm>/<runId>.json
  )`,
  `CREATE TABLE IF NOT EXISTS source_batches (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    batch_no INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    files INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    cursor JSON,
    committed_at TIMESTAMPTZ NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS bronze_files (
    path VARCHAR NOT NULL,            -- relative to the lake root; unique, kept so by the writers
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    batch_no INTEGER NOT NULL,
    partition JSON,
    rows BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL,
    removed_at TIMESTAMPTZ,           -- set by compaction and prune
    removed_by VARCHAR
  )`,
  `CREATE TABLE IF NOT EXISTS source_results (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    files INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    requests INTEGER NOT NULL,
    retries INTEGER NOT NULL,
    duration_ms BIGINT NOT NULL,
    error VARCHAR,
    finished_at TIMESTAMPTZ NOT NULL,
    scope VARCHAR                     -- the source's constant partition values (store=a), NULL when none
  )`,
  // Files from before sources of one dataset were told apart: their rows keep a NULL scope.
  `ALTER TABLE source_results ADD COLUMN IF NOT EXISTS scope VARCHAR`,
  `CREATE TABLE IF NOT EXISTS model_builds (
    run_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    file VARCHAR,
    materialization VARCHAR,
    status VARCHAR NOT NULL,          -- success | error | skipped | up-to-date
    rows BIGINT,
    duration_ms BIGINT,
    error VARCHAR,
    skipped_because VARCHAR,
    hash VARCHAR,
    finished_at TIMESTAMPTZ NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS test_results (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    column_name VARCHAR,
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- pass | fail | warn | error
    failures BIGINT NOT NULL,
    measured DOUBLE,
    error VARCHAR,
    finished_at TIMESTAMPTZ NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS column_profiles (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    batch_no INTEGER NOT NULL,
    column_name VARCHAR NOT NULL,
    column_type VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    null_share DOUBLE NOT NULL,
    approx_distinct BIGINT NOT NULL,
    min_value VARCHAR,
    max_value VARCHAR
  )`,
  `CREATE TABLE IF NOT EXISTS schema_changes (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    change VARCHAR NOT NULL,          -- added | removed | retyped
    old_type VARCHAR,
    new_type VARCHAR,
    detected_at TIMESTAMPTZ NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR PRIMARY KEY,
    run_id VARCHAR,
    kind VARCHAR NOT NULL,            -- freshness | volume | schema_drift | extraction_success | source_failed | model_failed | test_failed | run_failed (a quality gate is a test: test_failed)
    severity VARCHAR NOT NULL,        -- warn | error
    subject VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    raised_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
  )`,
  `CREATE TABLE IF NOT EXISTS quality_scores (
    run_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    rows BIGINT,
    completeness DOUBLE,
    uniqueness DOUBLE,
    validity DOUBLE,
    accuracy DOUBLE,
    conformity DOUBLE,
    consistency DOUBLE,
    integrity DOUBLE,
    timeliness DOUBLE,
    score DOUBLE,
    computed_at TIMESTAMPTZ NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS http_stats (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    requests INTEGER NOT NULL,
    retries INTEGER NOT NULL,
    statuses JSON,                    -- responses by status code ('ERR' for network errors)
    bytes BIGINT NOT NULL,            -- response body bytes over the wire (compressed, as sent)
    latency_ms BIGINT NOT NULL,
    throttled_ms BIGINT NOT NULL,     -- waited for the per-host rate limit
    breaker_opens INTEGER NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
  )`,
  // Sources the user retired (dropped from the config): freshness no longer judges them until a
  // later successful extract. One row per retirement; older files get the table on open.
  `CREATE TABLE IF NOT EXISTS source_retirements (
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    scope VARCHAR,                    -- as source_results has it, NULL when none
    retired_at TIMESTAMPTZ NOT NULL
  )`,
];

/** Tables that early metrics files created with a PRIMARY KEY, rebuilt without it on open. */
export const UNKEYED = ['runs', 'bronze_files'] as const;

/**
 * Each source (a dataset and its scope, `store=a`) with its last successful extract (`last_ok`,
 * NULL if none) and its last run. A dataset's results without a scope are `superseded` when scoped
 * ones came after them (recorded before scopes were, or a source since split by store): freshness
 * is judged on the current sources only, by the alerts and by the timeliness score alike.
 * A source is `retired` (`lake.retireSource`) when retired after its last successful extract: a
 * later one lifts the retirement with no record of its own.
 */
export const SOURCES_FRESHNESS_SQL = `
  WITH last AS (
    SELECT source, dataset, scope, max(finished_at) FILTER (WHERE status IN ('success', 'partial')) AS last_ok, max(finished_at) AS last_run
    FROM source_results GROUP BY source, dataset, scope
  ), retired AS (
    SELECT source, dataset, coalesce(scope, '') AS scope, max(retired_at) AS retired_at FROM source_retirements GROUP BY ALL
  )
  SELECT l.source, l.dataset, l.scope, l.last_ok,
    l.scope IS NULL AND EXISTS (SELECT 1 FROM last s WHERE s.source = l.source AND s.dataset = l.dataset AND s.scope IS NOT NULL AND s.last_run > l.last_run) AS superseded,
    r.retired_at IS NOT NULL AND (l.last_ok IS NULL OR r.retired_at >= l.last_ok) AS retired
  FROM last l LEFT JOIN retired r ON r.source = l.source AND r.dataset = l.dataset AND r.scope = coalesce(l.scope, '')`;

/**
 * Rows written per statement to the metrics tables (model and test rows, a batch's bronze files,
 * alerts): a parameter list of that many rows instead of a statement per row.
 */
export const ROWS_PER_STATEMENT = 100;

/** `items` in runs of `size` (the last one shorter). */
export function chunks<T>(items: T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
