/**
 * `data/report.html`: one self-contained page (inline CSS, inline SVG charts, no scripts, no
 * external resources) over the lake's runs, bronze, marts, quality, alerts, tests and lineage.
 * Charts are Vega-Lite specs rendered to SVG in Node; a section whose tables are missing or empty
 * shows a short "no data yet" note, and one that fails shows its error, never the whole report.
 */
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../bronze/commit.js';
import { META_SCHEMA } from '../transform/warehouse.js';
import { parseOptions } from '../config.js';
import { ClosedError, DuckhouseError, errorMessage } from '../errors.js';
import type { Lakehouse } from '../lakehouse.js';
import type { Logger } from '../log.js';
import { esc, figure, note, page, type PageSection } from './html.js';
import { SECTIONS, type ReportContext } from './sections.js';
import { chartRenderer, type ChartRenderer } from './vega-render.js';

/** Text that says something: a blank one (spaces) is refused like an empty one. */
const text = () => z.string().refine((s) => s.trim() !== '', 'must not be empty or blank');

export const reportOptionsSchema = z.strictObject({
  /** Where to write the page; default `<root>/report.html`. */
  to: text().optional(),
  title: text().optional(),
});
export type ReportOptions = z.input<typeof reportOptionsSchema>;

export interface ReportResult {
  /** Absolute path of the written file. */
  path: string;
  /** Charts drawn (inline SVGs), the lineage graph included. */
  charts: number;
  /** Ids of the sections, in page order (each is an anchor in the page). */
  sections: string[];
}

/**
 * Every table and view of analytics.duckdb with its columns (empty before the first build); the
 * engine's own state (`_duckhouse`) is no built table, and the page counts these.
 */
async function analyticsColumns(snapshot: CatalogSnapshot): Promise<Map<string, Set<string>>> {
  const rows = await snapshot.query(
    `SELECT table_schema || '.' || table_name AS t, column_name AS c FROM information_schema.columns WHERE table_catalog = $1 AND table_schema <> $2`,
    [snapshot.catalog, META_SCHEMA],
  );
  return groupColumns(rows);
}

async function metricsColumns(lake: Lakehouse): Promise<Map<string, Set<string>>> {
  const rows = await lake.metrics.select(`SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'main'`);
  return groupColumns(rows);
}

function groupColumns(rows: Record<string, unknown>[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const r of rows) {
    const t = String(r.t);
    if (!map.has(t)) map.set(t, new Set());
    map.get(t)!.add(String(r.c));
  }
  return map;
}

/**
 * Writes the HTML report (tmp + rename) and says what it holds.
 * @example
 * const { path, charts } = await buildReport(lake, { title: 'Prices and sales' });
 */
export async function buildReport(lake: Lakehouse, options: ReportOptions = {}): Promise<ReportResult> {
  const parsed = parseOptions(reportOptionsSchema, options, 'lake.report');
  const target = path.resolve(parsed.to ?? path.join(lake.paths.root, 'report.html'));
  const logger = lake.logger.child({ step: 'report' });
  const started = performance.now();
  const renderer = await chartRenderer((message) => logger.debug(`report chart: ${message}`));
  // Every section reads the catalog published when the page was started.
  const snapshot = await lake.catalogSnapshot();
  try {
    return await drawReport(lake, parsed, target, renderer, snapshot, logger, started);
  } finally {
    await snapshot.close();
  }
}

type CatalogSnapshot = Awaited<ReturnType<Lakehouse['catalogSnapshot']>>;

async function drawReport(lake: Lakehouse, parsed: z.output<typeof reportOptionsSchema>, target: string, renderer: ChartRenderer, snapshot: CatalogSnapshot, logger: Logger, started: number): Promise<ReportResult> {
  let charts = 0;
  const ctx: ReportContext = {
    lake,
    query: (sql, params) => snapshot.query(sql, params),
    timezone: lake.options.timezone,
    charts: renderer,
    analytics: await analyticsColumns(snapshot),
    metrics: await metricsColumns(lake),
    summary: [],
    async chart(id, spec, caption) {
      const svg = typeof spec === 'string' ? spec : await renderer.svg(spec);
      charts++;
      return figure(id, svg, caption);
    },
  };

  const sections: PageSection[] = [];
  for (const def of SECTIONS) {
    // The lake's close(): stop at the next section, writing nothing (a page of sections it
    // interrupted would replace the last good one).
    if (lake.closing) throw lake.closedError('lake.report()');
    let body: string;
    try {
      body = await def.render(ctx);
    } catch (error) {
      if (lake.closing) throw error instanceof ClosedError ? error : Object.assign(lake.closedError('lake.report()'), { cause: error });
      logger.warn(`report: section "${def.title}" failed: ${errorMessage(error)}`);
      body = note(`This section could not be drawn: ${errorMessage(error)}`, 'error');
    }
    sections.push({ id: def.id, title: def.title, body: `<p class="about">${esc(def.about)}</p>\n${body}` });
  }

  const generated = new Intl.DateTimeFormat('sv-SE', { timeZone: ctx.timezone, dateStyle: 'short', timeStyle: 'medium' }).format(new Date());
  if (lake.closing) throw lake.closedError('lake.report()');
  const html = page({
    title: parsed.title ?? 'duckhouse report',
    subtitle: `Lake ${lake.paths.root} · generated ${generated} (${ctx.timezone}) · ${ctx.analytics.size} tables and views built`,
    summary: ctx.summary,
    sections,
  });
  try {
    writeFileAtomic(target, html);
  } catch (error) {
    // The write goes through a temporary file beside the target: name the page asked for instead.
    // ("EACCES: permission denied, open '/srv/r.html.123.x.tmp'" → "EACCES: permission denied").
    const reason = errorMessage(error).replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
    throw new DuckhouseError('REPORT_WRITE_FAILED', `lake.report: could not write ${JSON.stringify(target)}${parsed.to ? ' (option "to")' : ''}: ${reason}`, { cause: error });
  }
  logger.info(`report written: ${target} (${charts} charts, ${Math.round(performance.now() - started)} ms)`);
  return { path: target, charts, sections: sections.map((s) => s.id) };
}
