/**
 * The report's sections: each reads what it needs from `analytics.duckdb` (ctx.query) or the
 * metrics database, and draws a chart or a table, or says "no data yet" when its table is missing
 * or empty. Columns are checked before a query runs, so a mart that is not built (or built by an
 * older model version) degrades into a note instead of an error.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import type { TopLevelSpec } from 'vega-lite';
import type { Lakehouse } from '../lakehouse.js';
import { offsetAt } from '../bronze/partition.js';
import { readDeadRuns, type RunOwnerRow } from '../metrics/run-history.js';
import { redactString } from '../redact.js';
import { esc, note, table, type Column } from './html.js';
import { lineageSvg } from './lineage-svg.js';
import { chartRows, type ChartRenderer } from './vega-render.js';

type Row = Record<string, unknown>;

export interface ReportContext {
  lake: Lakehouse;
  /**
   * A read-only query on analytics.duckdb as it was when the report started (`lake.catalogSnapshot`):
   * every section reads the same build, even if another one publishes while the page is drawn.
   */
  query(sql: string, params?: DuckDBValue[]): Promise<Row[]>;
  timezone: string;
  charts: ChartRenderer;
  /** `schema.table` → its columns, for every table and view of analytics.duckdb. */
  analytics: Map<string, Set<string>>;
  /** Metrics table → its columns. */
  metrics: Map<string, Set<string>>;
  /** Headline numbers collected while sections render. */
  summary: { label: string; value: string; badge?: string }[];
  /** Renders a Vega-Lite spec (or takes an SVG drawn here) and returns its figure; counts it. */
  chart(id: string, spec: TopLevelSpec | string, caption?: string): Promise<string>;
}

export interface SectionDef {
  id: string;
  title: string;
  /** One line under the title: what is shown and where it comes from. */
  about: string;
  render(ctx: ReportContext): Promise<string>;
}

const STATUS_COLORS = {
  domain: ['success', 'partial', 'failed', 'abandoned', 'running'],
  range: ['#2e7d32', '#f9a825', '#c62828', '#757575', '#1565c0'],
};

/**
 * An amount that is a number: a NaN or infinite price or revenue (a DOUBLE column of a mart) is no
 * amount, so sums and indexes leave it out (it made them NaN, or ranked it first).
 */
const FINITE = (column: string) => `isfinite(${column}::DOUBLE)`;

/** SQL identifier quoting for column names found in information_schema. */
const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;

function has(cols: Set<string> | undefined, ...names: string[]): cols is Set<string> {
  return cols !== undefined && names.every((n) => cols.has(n));
}

function first(cols: Set<string>, names: string[]): string | undefined {
  return names.find((n) => cols.has(n));
}

function missing(what: string): string {
  return note(`No data yet: ${what} is not built in this lake.`);
}

const empty = (what: string) => note(`No data yet: ${what} has no rows.`);

/** A count and its noun, singular for one: "1 test", "2 tests". */
const plural = (n: number, noun: string) => `${n} ${n === 1 ? noun : `${noun}s`}`;

/** Text cut to `max` characters (an ellipsis says so). */
const clipped = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

function daysSpanned(rows: Row[], field: string): number {
  return new Set(rows.map((r) => r[field])).size;
}

/**
 * An x encoding for a 'YYYY-MM-DD' field. vega reads those strings as UTC midnight, so a UTC time
 * unit keeps each on its calendar day; ticks fall on whole days (about ten of them), never twice a day.
 */
function dayAxis(rows: Row[], field: string, title: string) {
  const times = rows.map((r) => Date.parse(String(r[field]))).filter((t) => Number.isFinite(t));
  const days = times.length > 0 ? Math.round((Math.max(...times) - Math.min(...times)) / 86_400_000) + 1 : 1;
  return {
    field,
    type: 'temporal',
    timeUnit: 'utcyearmonthdate',
    title,
    axis: { format: days > 180 ? '%b %Y' : '%d %b', tickCount: { interval: 'day', step: Math.max(1, Math.ceil(days / 10)) }, labelOverlap: true },
  } as const;
}

/**
 * The UTC offsets of `timezone` over [lo, hi] (epoch ms): where each starts and its size, the first
 * from -Infinity. Read daily, each change pinned to the millisecond by bisection (zones change
 * offset at most a few times a year).
 */
function zoneOffsets(timezone: string, lo: number, hi: number): { from: number; offsetMs: number }[] {
  const at = (t: number): number => offsetAt(t, timezone);
  const offsets = [{ from: -Infinity, offsetMs: at(lo) }];
  for (let t = lo; t < hi; ) {
    const next = Math.min(t + 86_400_000, hi);
    const offsetMs = at(next);
    if (offsetMs !== offsets.at(-1)!.offsetMs) {
      let [a, b] = [t, next];
      while (b - a > 1) {
        const mid = Math.floor((a + b) / 2);
        if (at(mid) === offsetMs) b = mid;
        else a = mid;
      }
      offsets.push({ from: b, offsetMs });
    }
    t = next;
  }
  return offsets;
}

/**
 * Tick instants where the lake's clock reads a whole `stepMs` (minutes, hours, days since its
 * midnight) or, for 'month', the first of every `step`-th month. A scan by quarter hours finds them
 * in zones off the hour (+05:45) and on both sides of a DST change. A day's tick is its first
 * instant: midnight, or 01:00 where a DST change skipped midnight (São Paulo until 2019).
 */
function localTicks(offsets: { from: number; offsetMs: number }[], lo: number, hi: number, step: { ms: number } | { months: number }): number[] {
  const ticks: number[] = [];
  const quarter = 900_000;
  const dayMs = 86_400_000;
  let i = 0;
  const localAt = (t: number): number => {
    while (i + 1 < offsets.length && offsets[i + 1]!.from <= t) i++;
    return t + offsets[i]!.offsetMs;
  };
  const start = Math.ceil(lo / quarter) * quarter;
  // The latest local day reached: a clock set back across midnight does not start that day twice.
  let lastDay = Math.floor(localAt(start - quarter) / dayMs);
  for (let t = start; t <= hi; t += quarter) {
    const local = localAt(t);
    const day = Math.floor(local / dayMs);
    const dayStarts = day > lastDay;
    lastDay = Math.max(lastDay, day);
    const date = new Date(day * dayMs);
    const tick =
      'ms' in step
        ? step.ms % dayMs === 0
          ? dayStarts && (day * dayMs) % step.ms === 0
          : local % step.ms === 0
        : dayStarts && date.getUTCDate() === 1 && date.getUTCMonth() % step.months === 0;
    if (tick) ticks.push(t);
  }
  return ticks;
}

/**
 * The run timeline's x encoding. Positions are instants (epoch ms on a UTC scale), so runs an hour
 * apart stand an hour apart across a DST change; ticks fall on round times of the lake's clock and
 * their labels read it (a label expression adds the zone's offset in force at each tick), whatever
 * the machine's zone. The axis spans a minute at least and is labelled with the clock (seconds under
 * an hour), then with days: vega's own labels for a short span were bare fractions of a second
 * (".950") or seconds (":56").
 */
function runAxis(rows: Row[], title: string, timezone: string) {
  const times = rows.flatMap((r) => [Number(r.started_ms), Number(r.finished_ms)]).filter((t) => Number.isFinite(t));
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  const pad = Math.max(0, 60_000 - (hi - lo)) / 2;
  const domain: number[] = [lo - pad, hi + pad];
  const days = (hi - lo) / 86_400_000;
  const offsets = zoneOffsets(timezone, domain[0]!, domain[1]!);
  const minutes = [15, 30, 60, 120, 180, 360, 720].find((m) => (hi - lo) / (m * 60_000) <= 10) ?? 720;
  const [format, values] =
    days < 1 / 24
      ? ['%H:%M:%S', undefined]
      : days < 2
        ? ['%H:%M', localTicks(offsets, domain[0]!, domain[1]!, { ms: minutes * 60_000 })]
        : days <= 180
          ? ['%d %b', localTicks(offsets, domain[0]!, domain[1]!, { ms: Math.max(1, Math.ceil(days / 10)) * 86_400_000 })]
          : ['%b %Y', localTicks(offsets, domain[0]!, domain[1]!, { months: Math.max(1, Math.ceil(days / 300)) })];
  let offset = String(offsets[0]!.offsetMs);
  for (const o of offsets.slice(1)) offset = `time(datum.value) < ${o.from} ? (${offset}) : ${o.offsetMs}`;
  const labelExpr = `utcFormat(time(datum.value) + (${offset}), '${format}')`;
  return { field: 'started_ms', type: 'temporal' as const, scale: { type: 'utc' as const, domain }, title, axis: { ...(values ? { values } : {}), labelExpr, labelOverlap: true } };
}

/** Colours the palette tells apart (CHART_CONFIG.range.category); past these, vega reuses them. */
const PALETTE = 10;

/**
 * Rows of more series than the palette has colours, with the largest `PALETTE - 1` series (by the
 * sum of `measure`) kept and the rest summed as one "other (N …)": two series never share a colour.
 */
function foldSmallest(rows: Row[], series: string, measure: string, noun: string): Row[] {
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(String(r[series]), (totals.get(String(r[series])) ?? 0) + Number(r[measure] ?? 0));
  if (totals.size <= PALETTE) return rows;
  const kept = new Set([...totals].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).slice(0, PALETTE - 1).map(([name]) => name));
  const other = `other (${totals.size - kept.size} ${noun})`;
  return rows.map((r) => (kept.has(String(r[series])) ? r : { ...r, [series]: other }));
}

/**
 * The price index of more stores than the palette has colours: the stores with the most priced
 * SKU-days kept, the rest one "other (N stores)" line whose index is theirs averaged per day,
 * weighted by SKUs (as each store's index is the mean over its SKUs).
 */
function foldStores(rows: Row[]): Row[] {
  const folded = foldSmallest(rows, 'store', 'skus', 'stores');
  if (folded === rows) return rows;
  const days = new Map<string, { store: unknown; price_date: unknown; weighted: number; skus: number }>();
  for (const r of folded) {
    const key = JSON.stringify([r.store, r.price_date]);
    const day = days.get(key) ?? { store: r.store, price_date: r.price_date, weighted: 0, skus: 0 };
    day.weighted += Number(r.price_index) * Number(r.skus);
    day.skus += Number(r.skus);
    days.set(key, day);
  }
  return [...days.values()].map((d) => ({ store: d.store, price_date: d.price_date, price_index: Math.round((100 * d.weighted) / d.skus) / 100, skus: d.skus }));
}

// ---------------------------------------------------------------------------------------------

const runs: SectionDef = {
  id: 'runs',
  title: 'Run timeline',
  about: 'The latest 100 runs (metrics: runs): one row per kind, a dot at the start, a line to the end; colour is the status.',
  async render(ctx) {
    if (!ctx.metrics.has('runs')) return missing('the runs table');
    const rows = await ctx.lake.metrics.select(
      `SELECT run_id, kind, status,
              epoch_ms(started_at) AS started_ms,
              epoch_ms(coalesce(finished_at, started_at)) AS finished_ms,
              strftime(timezone($1, started_at), '%Y-%m-%d %H:%M:%S') AS started_local,
              duration_ms, rows, rejected, error, host, pid, proc_start
       FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 100`,
      [ctx.timezone],
    );
    // A run whose process died after this lake opened reads as lake.runs() says (readDeadRuns):
    // abandoned with what its committed batches hold, or as it finished when only its finish record failed.
    const { metrics } = ctx.lake;
    const dead = await readDeadRuns(metrics.file, rows as unknown as RunOwnerRow[], async (sql) => (await metrics.select(sql)).map((r) => String(r.dead_run)), undefined, metrics.otherHostAbandonHours);
    for (const r of rows) {
      const d = dead.get(String(r.run_id));
      if (d) Object.assign(r, { status: d.status, error: d.error, rows: d.rows, rejected: d.rejected, duration_ms: d.durationMs, finished_ms: Number(r.started_ms) + d.durationMs });
    }
    if (rows.length === 0) return note('No runs yet: run lake.extract(), lake.build() or lake.run() first.');
    const latest = rows[0]!;
    ctx.summary.push({ label: 'last run', value: `${String(latest.kind)} · ${String(latest.status)}`, badge: String(latest.status) });
    const kinds = new Set(rows.map((r) => r.kind)).size;
    const x = runAxis(rows, `started (${ctx.timezone})`, ctx.timezone);
    const color = { field: 'status', type: 'nominal', scale: STATUS_COLORS, title: 'status' } as const;
    const chart = await ctx.chart('runs', {
      width: 900,
      height: 30 + 30 * kinds,
      // The marks' accessible text, in the lake's clock (vega-lite's own would read started_ms in UTC).
      data: { values: chartRows(rows).map((r) => ({ ...r, description: `started (${ctx.timezone}): ${String(r.started_local)}; kind: ${String(r.kind)}; status: ${String(r.status)}` })) },
      encoding: { y: { field: 'kind', type: 'nominal', title: null }, color, description: { field: 'description' } },
      layer: [
        { mark: { type: 'rule', strokeWidth: 3, opacity: 0.5 }, encoding: { x, x2: { field: 'finished_ms' } } },
        { mark: { type: 'circle', size: 70, opacity: 0.9 }, encoding: { x } },
      ],
    });
    const columns: Column<Row>[] = [
      { label: 'run', value: (r) => r.run_id },
      { label: 'kind', value: (r) => r.kind },
      { label: 'status', value: (r) => r.status, badge: (r) => String(r.status) },
      { label: `started (${ctx.timezone})`, value: (r) => r.started_local },
      { label: 'duration', value: (r) => (r.duration_ms === null ? null : `${(Number(r.duration_ms) / 1000).toFixed(1)} s`), numeric: true },
      { label: 'rows', value: (r) => r.rows, numeric: true },
      { label: 'rejected', value: (r) => r.rejected, numeric: true },
      { label: 'error', value: (r) => (typeof r.error === 'string' ? clipped(redactString(r.error), 200) : r.error) },
    ];
    return `${chart}\n<h3>Latest 10 runs</h3>\n${table(rows.slice(0, 10), columns)}`;
  },
};

/** The rows section's 60 days: up to the latest commit, in the lake's time zone ($1). */
const WINDOW = (from: string) => `timezone($1, committed_at)::DATE > (SELECT max(timezone($1, committed_at))::DATE - 60 FROM ${from})`;

const rowsPerSource: SectionDef = {
  id: 'rows',
  title: 'Rows per source per day',
  about: 'Rows committed to bronze per source/dataset and day (metrics: source_batches, else bronze_files), last 60 days.',
  async render(ctx) {
    const table = ['source_batches', 'bronze_files'].find((t) => has(ctx.metrics.get(t), 'source', 'dataset', 'rows', 'committed_at'));
    if (!table) return missing('the source_batches table');
    const query = (from: string) =>
      ctx.lake.metrics.select(
        `SELECT source || '/' || dataset AS dataset_name,
                strftime(timezone($1, committed_at), '%Y-%m-%d') AS committed_date,
                sum(rows)::BIGINT AS rows
         FROM ${from}
         WHERE ${WINDOW(from)}
         GROUP BY ALL ORDER BY committed_date, dataset_name`,
        [ctx.timezone],
      );
    let rows = await query(table);
    if (rows.length === 0 && table === 'source_batches' && has(ctx.metrics.get('bronze_files'), 'source', 'dataset', 'rows', 'committed_at')) rows = await query('bronze_files');
    if (rows.length === 0) return note('No data yet: nothing has been extracted into bronze.');
    const total = rows.reduce((s, r) => s + Number(r.rows ?? 0), 0);
    if (total === 0) {
      // Batches recorded with no rows (every row rejected, or none sent): a chart of them is empty.
      const [counted] = has(ctx.metrics.get(table), 'rejected') ? await ctx.lake.metrics.select(`SELECT coalesce(sum(rejected), 0)::BIGINT AS n FROM ${table} WHERE ${WINDOW(table)}`, [ctx.timezone]) : [];
      const rejected = Number(counted?.n ?? 0);
      return note(`No rows committed to bronze in the last 60 days${rejected > 0 ? ` (${rejected.toLocaleString('en-US')} rejected)` : ''}.`);
    }
    ctx.summary.push({ label: 'bronze rows (60 days)', value: total.toLocaleString('en-US') });
    return ctx.chart('rows', {
      width: 560,
      height: 220,
      data: { values: foldSmallest(chartRows(rows), 'dataset_name', 'rows', 'datasets') },
      mark: { type: 'bar' },
      encoding: {
        // Ordinal days: a bar per day that has rows, readable with one day as with sixty.
        x: { field: 'committed_date', type: 'ordinal', title: `committed day (${ctx.timezone})`, axis: { labelAngle: -40, labelOverlap: true } },
        y: { field: 'rows', type: 'quantitative', aggregate: 'sum', title: 'rows' },
        color: { field: 'dataset_name', type: 'nominal', title: 'source/dataset' },
      },
    });
  },
};

const priceIndex: SectionDef = {
  id: 'prices',
  title: 'Price index per store',
  about: 'marts.fct_prices_daily: each SKU\'s price relative to its first day in that store, averaged per store and day (first day = 100).',
  async render(ctx) {
    const cols = ctx.analytics.get('marts.fct_prices_daily');
    if (!has(cols, 'store', 'sku_id', 'price_date', 'price')) return missing('marts.fct_prices_daily');
    const region = cols.has('region') ? 'region, ' : '';
    const rows = await ctx.query(
      `WITH p AS (
         SELECT store, price_date,
                price::DOUBLE / first_value(price::DOUBLE) OVER (PARTITION BY store, ${region}sku_id ORDER BY price_date) AS rel
         FROM marts.fct_prices_daily
         WHERE price > 0 AND ${FINITE('price')}
       )
       SELECT store, strftime(price_date, '%Y-%m-%d') AS price_date, round(100 * avg(rel), 2) AS price_index, count(*)::BIGINT AS skus
       FROM p GROUP BY ALL ORDER BY price_date, store`,
    );
    if (rows.length === 0) {
      // The index leaves out prices of 0 or NULL (sold out) and NaN ones: the table may still have rows.
      const [all] = await ctx.query(`SELECT count(*)::BIGINT AS n FROM marts.fct_prices_daily`);
      const n = Number(all?.n ?? 0);
      return n === 0 ? empty('marts.fct_prices_daily') : note(`No data yet: marts.fct_prices_daily has no positive prices (${plural(n, 'row')}).`);
    }
    const stores = new Set(rows.map((r) => r.store)).size;
    ctx.summary.push({ label: 'stores priced', value: String(stores) });
    const points = daysSpanned(rows, 'price_date') <= 90;
    return ctx.chart('prices', {
      width: 560,
      height: 240,
      data: { values: foldStores(chartRows(rows)) },
      encoding: {
        x: dayAxis(rows, 'price_date', 'day'),
        y: { field: 'price_index', type: 'quantitative', title: 'index (first day = 100)', scale: { zero: false } },
        color: { field: 'store', type: 'nominal', title: 'store' },
      },
      layer: [{ mark: { type: 'line', strokeWidth: 2 } }, ...(points ? [{ mark: { type: 'circle' as const, size: 30 } }] : [])],
    });
  },
};

/** A change in percent that is a number: not NULL, NaN or infinite. */
const measured = (value: unknown): boolean => value !== null && value !== undefined && Number.isFinite(Number(value));

const priceMoves: SectionDef = {
  id: 'price-moves',
  title: 'Biggest price moves',
  about: 'marts.mart_price_changes: the 15 largest day-over-day moves in percent (moves without a percent last).',
  async render(ctx) {
    const cols = ctx.analytics.get('marts.mart_price_changes');
    if (!has(cols, 'store', 'price_date', 'previous_price', 'new_price', 'change_pct')) return missing('marts.mart_price_changes');
    const optional = ['region', 'product_name', 'sku_id', 'previous_price_date', 'direction'].filter((c) => cols.has(c));
    const rows = await ctx.query(
      `SELECT store, price_date, previous_price, new_price, change_pct${optional.map((c) => `, ${qi(c)}`).join('')}
       FROM marts.mart_price_changes
       ORDER BY CASE WHEN ${FINITE('change_pct')} THEN abs(change_pct) END DESC NULLS LAST, price_date DESC, store${['region', 'sku_id'].filter((c) => cols.has(c)).map((c) => `, ${qi(c)}`).join('')}
       LIMIT 15`,
    );
    if (rows.length === 0) return note('No price moves yet: prices need at least two days of extraction to move.');
    const columns: Column<Row>[] = [
      { label: 'day', value: (r) => r.price_date },
      { label: 'store', value: (r) => (r.region ? `${String(r.store)} · ${String(r.region)}` : r.store) },
      ...(cols.has('product_name') ? [{ label: 'product', value: (r: Row) => r.product_name ?? r.sku_id }] : cols.has('sku_id') ? [{ label: 'sku', value: (r: Row) => r.sku_id }] : []),
      { label: 'before', value: (r) => r.previous_price, numeric: true },
      { label: 'after', value: (r) => r.new_price, numeric: true },
      {
        label: 'change',
        // A change that is no number (NULL, NaN, from a price of 0) shows as unknown, not as 0.0%.
        value: (r) => (measured(r.change_pct) ? `${Number(r.change_pct) > 0 ? '+' : ''}${Number(r.change_pct).toFixed(1)}%` : null),
        numeric: true,
        badge: (r) => (measured(r.change_pct) ? (Number(r.change_pct) > 0 ? 'up' : 'down') : undefined),
      },
    ];
    return table(rows, columns);
  },
};

interface ProductSource {
  name: string;
  caption: string;
  ready(ctx: ReportContext): boolean;
  query(ctx: ReportContext): Promise<Row[]>;
}

const PRODUCT_SOURCES: ProductSource[] = [
  {
    name: 'marts.fct_order_items',
    caption: 'Shop: paid items, item price without freight (marts.fct_order_items)',
    ready: (ctx) => has(ctx.analytics.get('marts.fct_order_items'), 'product_id', 'price'),
    query: (ctx) => {
      const cols = ctx.analytics.get('marts.fct_order_items')!;
      const dim = has(ctx.analytics.get('marts.dim_shop_products'), 'product_id', 'category');
      return ctx.query(
        `SELECT i.product_id, ${dim ? 'p.category' : 'NULL'} AS category, sum(i.price)::DOUBLE AS revenue, count(*)::BIGINT AS units
         FROM marts.fct_order_items AS i ${dim ? 'LEFT JOIN marts.dim_shop_products AS p USING (product_id)' : ''}
         WHERE ${FINITE('i.price')}${cols.has('is_paid') ? ' AND i.is_paid' : ''}
         GROUP BY ALL HAVING sum(i.price) > 0 ORDER BY revenue DESC, i.product_id LIMIT 10`,
      );
    },
  },
  {
    name: 'trusted.tru_order_item',
    caption: 'Mercado Livre: paid orders, line amount (trusted.tru_order_item)',
    ready: (ctx) => has(ctx.analytics.get('trusted.tru_order_item'), 'order_id', 'item_id', 'item_title', 'line_amount'),
    query: (ctx) => {
      const paidByFact = has(ctx.analytics.get('marts.fct_orders'), 'order_id', 'is_revenue');
      const where = `WHERE ${FINITE('i.line_amount')}${
        paidByFact
          ? ' AND i.order_id IN (SELECT order_id FROM marts.fct_orders WHERE is_revenue)'
          : ctx.analytics.get('trusted.tru_order_item')!.has('order_status')
            ? " AND i.order_status IN ('paid', 'partially_refunded')"
            : ''
      }`;
      // A renamed listing has several titles: the latest order's names it (any_value gave the first
      // DuckDB met, not the same from one build to the next).
      const latest = ['order_created_at', 'order_id'].filter((c) => ctx.analytics.get('trusted.tru_order_item')!.has(c)).map((c) => `i.${qi(c)}`);
      const title = `max((${[...latest, 'i.item_title'].join(', ')})) FILTER (WHERE i.item_title IS NOT NULL)[${latest.length + 1}]`;
      return ctx.query(
        `SELECT i.item_id AS product_id, ${title} AS category, sum(i.line_amount)::DOUBLE AS revenue, sum(i.quantity)::BIGINT AS units
         FROM trusted.tru_order_item AS i ${where}
         GROUP BY ALL HAVING sum(i.line_amount) > 0 ORDER BY revenue DESC, i.item_id LIMIT 10`,
      );
    },
  },
];

const topProducts: SectionDef = {
  id: 'top-products',
  title: 'Top 10 products by revenue',
  about: 'Shop (marts.fct_order_items + dim_shop_products) and Mercado Livre (trusted.tru_order_item), whichever are built.',
  async render(ctx) {
    const chosen = PRODUCT_SOURCES.filter((s) => s.ready(ctx));
    if (chosen.length === 0) return missing('an order-items fact (marts.fct_order_items or trusted.tru_order_item)');
    const parts: string[] = [];
    for (const source of chosen) {
      const rows = await source.query(ctx);
      if (rows.length === 0) {
        // A product without positive revenue (items priced 0 or NULL, refunds) is no top product.
        parts.push(note(`No data yet: ${source.name} has no paid items with revenue.`));
        continue;
      }
      const seen = new Set<string>();
      const values = chartRows(rows).map((r) => {
        const id = String(r.product_id);
        let label = r.category ? `${String(r.category)} · ${id.slice(0, 8)}` : id;
        if (seen.has(label)) label = r.category ? `${String(r.category)} · ${id}` : id;
        seen.add(label);
        return { ...r, label };
      });
      parts.push(
        await ctx.chart(
          `top-products-${source.name}`,
          {
            width: 420,
            height: 24 * values.length,
            data: { values },
            mark: { type: 'bar', color: '#4c78a8' },
            encoding: {
              y: { field: 'label', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 240 } },
              x: { field: 'revenue', type: 'quantitative', title: 'revenue (BRL)' },
            },
          },
          source.caption,
        ),
      );
    }
    return parts.join('\n');
  },
};

const ordersPerDay: SectionDef = {
  id: 'orders',
  title: 'Orders and revenue per day',
  about: 'Shop (marts.fct_shop_orders, else mart_sales_hourly) and Mercado Livre (marts.fct_orders); revenue counts paid orders only.',
  async render(ctx) {
    const queries: Promise<Row[]>[] = [];
    if (has(ctx.analytics.get('marts.fct_shop_orders'), 'purchased_date', 'revenue')) {
      queries.push(ctx.query(`SELECT 'shop' AS domain, strftime(purchased_date, '%Y-%m-%d') AS order_date, count(*)::BIGINT AS orders, coalesce(sum(revenue) FILTER (WHERE ${FINITE('revenue')}), 0)::DOUBLE AS revenue FROM marts.fct_shop_orders WHERE purchased_date IS NOT NULL GROUP BY ALL`));
    } else if (has(ctx.analytics.get('marts.mart_sales_hourly'), 'order_date', 'orders_count', 'revenue')) {
      queries.push(ctx.query(`SELECT 'shop' AS domain, strftime(order_date, '%Y-%m-%d') AS order_date, sum(orders_count)::BIGINT AS orders, coalesce(sum(revenue) FILTER (WHERE ${FINITE('revenue')}), 0)::DOUBLE AS revenue FROM marts.mart_sales_hourly GROUP BY ALL`));
    }
    if (has(ctx.analytics.get('marts.fct_orders'), 'date_created_date', 'revenue_amount')) {
      queries.push(ctx.query(`SELECT 'mercadolivre' AS domain, strftime(date_created_date, '%Y-%m-%d') AS order_date, count(*)::BIGINT AS orders, coalesce(sum(revenue_amount) FILTER (WHERE ${FINITE('revenue_amount')}), 0)::DOUBLE AS revenue FROM marts.fct_orders WHERE date_created_date IS NOT NULL GROUP BY ALL`));
    }
    if (queries.length === 0) return missing('an orders fact (marts.fct_shop_orders or marts.fct_orders)');
    const rows = (await Promise.all(queries)).flat().sort((a, b) => String(a.order_date).localeCompare(String(b.order_date)));
    if (rows.length === 0) return note('No data yet: no orders in the built facts.');
    const orders = rows.reduce((s, r) => s + Number(r.orders ?? 0), 0);
    ctx.summary.push({ label: 'orders', value: orders.toLocaleString('en-US') });
    const points = daysSpanned(rows, 'order_date') <= 60;
    const x = dayAxis(rows, 'order_date', 'day (São Paulo)');
    const color = { field: 'domain', type: 'nominal', title: 'domain' } as const;
    const layer = (field: string, title: string) => ({
      width: 560,
      height: 140,
      encoding: { x, y: { field, type: 'quantitative' as const, title }, color },
      layer: [{ mark: { type: 'line' as const, strokeWidth: 1.5 } }, ...(points ? [{ mark: { type: 'circle' as const, size: 25 } }] : [])],
    });
    return ctx.chart('orders', { data: { values: chartRows(rows) }, vconcat: [layer('orders', 'orders'), layer('revenue', 'revenue (BRL)')] });
  },
};

const customersByState: SectionDef = {
  id: 'states',
  title: 'Customers by state',
  about: 'marts.dim_customers: people (customer_unique_id) by the state of their latest address.',
  async render(ctx) {
    if (!has(ctx.analytics.get('marts.dim_customers'), 'customer_unique_id', 'state')) return missing('marts.dim_customers');
    const rows = await ctx.query(`SELECT coalesce(state, '?') AS state, count(*)::BIGINT AS customers FROM marts.dim_customers GROUP BY ALL ORDER BY customers DESC, state`);
    if (rows.length === 0) return empty('marts.dim_customers');
    return ctx.chart('states', {
      width: Math.max(240, 22 * rows.length),
      height: 200,
      data: { values: chartRows(rows) },
      mark: { type: 'bar', color: '#54a24b' },
      encoding: {
        x: { field: 'state', type: 'nominal', sort: '-y', title: null, axis: { labelAngle: 0 } },
        y: { field: 'customers', type: 'quantitative', title: 'customers' },
      },
    });
  },
};

const rfmSegments: SectionDef = {
  id: 'rfm',
  title: 'RFM segments',
  about: 'marts.mart_customer_rfm: customers per segment (from R and F quintiles).',
  async render(ctx) {
    if (!has(ctx.analytics.get('marts.mart_customer_rfm'), 'segment')) return missing('marts.mart_customer_rfm');
    const rows = await ctx.query(`SELECT coalesce(segment, 'unscored') AS segment, count(*)::BIGINT AS customers FROM marts.mart_customer_rfm GROUP BY ALL ORDER BY customers DESC, segment`);
    if (rows.length === 0) return empty('marts.mart_customer_rfm');
    return ctx.chart('rfm', {
      width: 420,
      height: 24 * rows.length,
      data: { values: chartRows(rows) },
      mark: { type: 'bar', color: '#b279a2' },
      encoding: {
        y: { field: 'segment', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 200 } },
        x: { field: 'customers', type: 'quantitative', title: 'customers' },
      },
    });
  },
};

const DIMENSIONS = ['completeness', 'uniqueness', 'validity', 'accuracy', 'conformity', 'consistency', 'integrity', 'timeliness'];
const TABLE_COLS = ['table_name', 'model', 'table', 'relation', 'model_name', 'subject', 'dataset'];
const SCORE_COLS = ['score', 'quality_score', 'overall_score'];
const MODEL_ID = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const TIME_COLS = ['measured_at', 'computed_at', 'scored_at', 'checked_at', 'built_at', 'finished_at', 'run_started_at', 'as_of', 'as_of_date', 'run_id'];

const quality: SectionDef = {
  id: 'quality',
  title: 'Quality scores per table',
  about: 'The latest score per table (marts.mart_data_quality, else metrics: quality_scores) against the quality gate, and its 8 dimensions.',
  async render(ctx) {
    const candidates: { name: string; cols: Set<string> | undefined; select: (sql: string) => Promise<Row[]> }[] = [
      { name: 'marts.mart_data_quality', cols: ctx.analytics.get('marts.mart_data_quality'), select: (sql) => ctx.query(sql) },
      { name: 'quality_scores', cols: ctx.metrics.get('quality_scores'), select: (sql) => ctx.lake.metrics.select(sql) },
    ];
    let rows: Row[] = [];
    let from = '';
    let dims: string[] = [];
    let unscored = 0;
    for (const c of candidates) {
      if (!c.cols) continue;
      const t = first(c.cols, TABLE_COLS);
      const s = first(c.cols, SCORE_COLS);
      if (!t || !s) continue;
      const time = first(c.cols, TIME_COLS);
      dims = DIMENSIONS.filter((d) => c.cols!.has(d));
      rows = await c.select(
        `SELECT ${qi(t)}::VARCHAR AS table_name, ${qi(s)}::DOUBLE AS score${dims.map((d) => `, ${qi(d)}::DOUBLE AS ${qi(d)}`).join('')}
         FROM ${c.name}
         ${time ? `QUALIFY row_number() OVER (PARTITION BY ${qi(t)} ORDER BY ${qi(time)} DESC NULLS LAST) = 1` : ''}
         ORDER BY table_name`,
      );
      // The score history keeps models since removed from the project (their tables are dropped):
      // a `schema.name` the catalog no longer holds is not a table of this lake.
      rows = rows.filter((r) => !MODEL_ID.test(String(r.table_name)) || ctx.analytics.has(String(r.table_name)));
      // A score belongs to the build that measured it: a table whose latest row has none (nothing
      // measurable any more) shows no score, rather than an older one as if it were current.
      unscored = rows.filter((r) => r.score === null).length;
      rows = rows.filter((r) => r.score !== null);
      from = c.name;
      if (rows.length > 0 || unscored > 0) break;
    }
    if (!from) return missing('marts.mart_data_quality (or the quality_scores metrics table)');
    const unscoredNote = unscored > 0 ? ` ${unscored} ${unscored === 1 ? 'table has' : 'tables have'} no score: ${unscored === 1 ? 'its' : 'their'} latest scoring measured nothing.` : '';
    if (rows.length === 0) return unscored > 0 ? note(`No scores:${unscoredNote}`) : empty(from);
    // Scores may be stored as shares (0–1) or percents (0–100): show shares.
    const scale = Math.max(...rows.map((r) => Number(r.score))) > 1.5 ? 100 : 1;
    const gate = ctx.lake.options.quality.minQualityScore;
    const values = rows.map((r) => {
      const out: Row = { table_name: r.table_name, score: Number(r.score) / scale };
      for (const d of dims) out[d] = r[d] === null || r[d] === undefined ? null : Number(r[d]) / scale;
      out.gate = out.score !== null && Number(out.score) >= gate ? 'meets the gate' : 'below the gate';
      return out;
    });
    const below = values.filter((v) => v.gate === 'below the gate').length;
    ctx.summary.push({ label: 'tables below quality gate', value: `${below} / ${values.length}`, badge: below > 0 ? 'warn' : 'pass' });
    const parts = [
      await ctx.chart(
        'quality',
        {
          width: 420,
          height: 24 * values.length,
          data: { values },
          layer: [
            {
              mark: { type: 'bar' },
              encoding: {
                y: { field: 'table_name', type: 'nominal', title: null, axis: { labelLimit: 240 } },
                x: { field: 'score', type: 'quantitative', title: 'quality score', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
                color: { field: 'gate', type: 'nominal', scale: { domain: ['meets the gate', 'below the gate'], range: ['#54a24b', '#e45756'] }, title: null },
              },
            },
            { data: { values: [{ gate }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#3e4c59' }, encoding: { x: { field: 'gate', type: 'quantitative' } } },
          ],
        },
        `Source: ${from}. Dashed line: the quality gate (${Math.round(gate * 100)}%).${unscoredNote}`,
      ),
    ];
    if (dims.length > 0) {
      const cells = values.flatMap((v) => dims.map((d) => ({ table_name: v.table_name, dimension: d, value: v[d] }))).filter((c) => c.value !== null);
      if (cells.length > 0) {
        parts.push(
          await ctx.chart('quality-dimensions', {
            data: { values: cells },
            width: 34 * dims.length,
            height: 22 * values.length,
            encoding: {
              x: { field: 'dimension', type: 'nominal', sort: dims, title: null, axis: { labelAngle: -35 } },
              y: { field: 'table_name', type: 'nominal', title: null, axis: { labelLimit: 240 } },
            },
            layer: [
              { mark: { type: 'rect' }, encoding: { color: { field: 'value', type: 'quantitative', scale: { domain: [0, 1], scheme: 'redyellowgreen' }, title: 'share', legend: { format: '.0%' } } } },
              { mark: { type: 'text', fontSize: 9 }, encoding: { text: { field: 'value', type: 'quantitative', format: '.0%' } } },
            ],
          }),
        );
      }
    }
    return parts.join('\n');
  },
};

const alerts: SectionDef = {
  id: 'alerts',
  title: 'Open alerts',
  about: 'Alerts not yet resolved (metrics: alerts): freshness, volume, schema drift, failing sources, models and tests.',
  async render(ctx) {
    const cols = ctx.metrics.get('alerts');
    if (!cols) {
      ctx.summary.push({ label: 'open alerts', value: '—' });
      return note('No data yet: this lake does not record alerts yet.');
    }
    const shown = ['severity', 'kind', 'subject', 'message'].filter((c) => cols.has(c));
    const raised = cols.has('raised_at') ? `, strftime(timezone($1, raised_at), '%Y-%m-%d %H:%M') AS raised_local` : ', NULL AS raised_local';
    // Errors first, newest first; alerts raised together by kind and subject, as lake.alerts() ties them.
    const order = [cols.has('severity') ? `(severity = 'error') DESC` : '', cols.has('raised_at') ? 'raised_at DESC' : '', ...['kind', 'subject', 'alert_id'].filter((c) => cols.has(c))].filter(Boolean).join(', ');
    const rows = await ctx.lake.metrics.select(
      `SELECT ${shown.map(qi).join(', ') || 'NULL AS message'}${raised}
       FROM alerts ${cols.has('resolved_at') ? 'WHERE resolved_at IS NULL' : ''}
       ${order ? `ORDER BY ${order}` : ''} LIMIT 200`,
      [ctx.timezone],
    );
    // The headline counts every open alert; the table shows the first 200.
    const open = cols.has('resolved_at') ? `WHERE resolved_at IS NULL` : '';
    const [counted] = await ctx.lake.metrics.select(`SELECT count(*) AS n${cols.has('severity') ? `, count(*) FILTER (WHERE severity = 'error') AS errors` : ', 0 AS errors'} FROM alerts ${open}`);
    const total = Number(counted?.n ?? rows.length);
    ctx.summary.push({ label: 'open alerts', value: String(total), badge: Number(counted?.errors ?? 0) > 0 ? 'error' : total > 0 ? 'warn' : 'pass' });
    if (rows.length === 0) return note('No open alerts.');
    if (total > rows.length) return `${note(`Showing ${rows.length} of ${total} open alerts (errors first, newest first).`)}${table(rows, alertColumns(cols, ctx.timezone))}`;
    return table(rows, alertColumns(cols, ctx.timezone));
  },
};

// Messages and errors are redacted as they are stored; rows stored before that (an older metrics
// file, another client) are scrubbed again here, as lake.alerts() and lake.runs() do.
function alertColumns(cols: Set<string>, timezone: string): Column<Row>[] {
  return [
    ...(cols.has('severity') ? [{ label: 'severity', value: (r: Row) => r.severity, badge: (r: Row) => String(r.severity) }] : []),
    ...(cols.has('kind') ? [{ label: 'kind', value: (r: Row) => r.kind }] : []),
    ...(cols.has('subject') ? [{ label: 'subject', value: (r: Row) => r.subject }] : []),
    ...(cols.has('message') ? [{ label: 'message', value: (r: Row) => (typeof r.message === 'string' ? redactString(r.message) : r.message) }] : []),
    { label: `raised (${timezone})`, value: (r: Row) => r.raised_local },
  ];
}

const failingTests: SectionDef = {
  id: 'tests',
  title: 'Failing tests',
  about: 'Data tests of the latest build or test run (metrics: test_results) whose status is fail, error or warn.',
  async render(ctx) {
    if (!has(ctx.metrics.get('test_results'), 'run_id', 'name', 'status', 'finished_at')) return missing('the test_results table');
    const rows = await ctx.lake.metrics.select(
      `WITH latest AS (SELECT run_id FROM test_results GROUP BY run_id ORDER BY max(finished_at) DESC, run_id DESC LIMIT 1)
       SELECT run_id, name, model, column_name, kind, severity, status, failures, error
       FROM test_results WHERE run_id = (SELECT run_id FROM latest)
       ORDER BY CASE status WHEN 'error' THEN 0 WHEN 'fail' THEN 1 WHEN 'warn' THEN 2 ELSE 3 END, model, name`,
    );
    if (rows.length === 0) {
      ctx.summary.push({ label: 'failing tests', value: '—' });
      return note('No data yet: no data tests have run.');
    }
    const failing = rows.filter((r) => r.status !== 'pass');
    const count = (s: string) => rows.filter((r) => r.status === s).length;
    ctx.summary.push({ label: 'failing tests', value: String(failing.length), badge: count('fail') + count('error') > 0 ? 'fail' : failing.length > 0 ? 'warn' : 'pass' });
    const head = `<p class="about">Run ${esc(rows[0]!.run_id)}: ${plural(rows.length, 'test')} — ${count('pass')} pass, ${count('warn')} warn, ${count('fail')} fail, ${count('error')} error.</p>`;
    if (failing.length === 0) return `${head}\n${note('Every test passed.')}`;
    const columns: Column<Row>[] = [
      { label: 'status', value: (r) => r.status, badge: (r) => String(r.status) },
      { label: 'severity', value: (r) => r.severity },
      { label: 'test', value: (r) => r.name },
      { label: 'model', value: (r) => r.model },
      { label: 'column', value: (r) => r.column_name },
      { label: 'kind', value: (r) => r.kind },
      { label: 'failures', value: (r) => r.failures, numeric: true },
      { label: 'error', value: (r) => (typeof r.error === 'string' ? redactString(r.error) : r.error) },
    ];
    return `${head}\n${table(failing, columns)}`;
  },
};

const lineage: SectionDef = {
  id: 'lineage',
  title: 'Lineage',
  about: 'Models, seeds and the bronze sources they read, by schema (dashed boxes are views or ephemeral models; hover a box for its file).',
  async render(ctx) {
    let graph: Awaited<ReturnType<Lakehouse['lineage']>>;
    try {
      graph = await ctx.lake.lineage();
    } catch (error) {
      return note(`No lineage: the models project could not be read (${(error as Error).message}).`);
    }
    if (graph.nodes.length === 0) return note('No data yet: the models project has no models.');
    const drawn = lineageSvg(graph);
    ctx.summary.push({ label: 'models', value: String(graph.nodes.filter((n) => n.kind === 'model').length) });
    return ctx.chart('lineage', drawn.svg, `${plural(drawn.nodes, 'node')}, ${plural(drawn.edges, 'edge')}.`);
  },
};

/** The sections, in page order. */
export const SECTIONS: SectionDef[] = [runs, rowsPerSource, priceIndex, priceMoves, topProducts, ordersPerDay, customersByState, rfmSegments, quality, alerts, failingTests, lineage];

