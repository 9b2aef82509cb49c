/**
 * The report's HTML pieces: escaping, tables, notes and the page shell (inline CSS, no scripts,
 * no external resources), so the file opens offline and from `file://`.
 */

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** One value as table text: dates as ISO, numbers with grouping, null as an em dash. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toLocaleString('en-US', { maximumFractionDigits: 2 });
  if (typeof value === 'bigint') return value.toLocaleString('en-US');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'object') return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return String(value);
}

export interface Column<T> {
  label: string;
  value: (row: T) => unknown;
  /** Right-aligned (numbers). */
  numeric?: boolean;
  /** A CSS class for the cell, from the row (e.g. a status badge). */
  badge?: (row: T) => string | undefined;
}

/** An HTML table; every cell escaped. */
export function table<T>(rows: T[], columns: Column<T>[]): string {
  const head = columns.map((c) => `<th${c.numeric ? ' class="num"' : ''}>${esc(c.label)}</th>`).join('');
  const body = rows
    .map((row) => {
      const cells = columns.map((c) => {
        const text = esc(formatValue(c.value(row)));
        const badge = c.badge?.(row);
        const inner = badge ? `<span class="badge ${esc(badge)}">${text}</span>` : text;
        return `<td${c.numeric ? ' class="num"' : ''}>${inner}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** The short note a section shows instead of a chart when there is nothing to draw. */
export function note(text: string, kind: 'empty' | 'error' = 'empty'): string {
  return `<p class="note ${kind}">${esc(text)}</p>`;
}

/** A chart: the inline SVG (already safe markup) in a figure the browser test can find. */
export function figure(id: string, svg: string, caption?: string): string {
  return `<figure class="chart" data-chart="${esc(id)}">${svg}${caption ? `<figcaption>${esc(caption)}</figcaption>` : ''}</figure>`;
}

export interface PageSection {
  id: string;
  title: string;
  /** Safe HTML. */
  body: string;
}

export interface PageInput {
  title: string;
  subtitle: string;
  /** Headline numbers: label → value. */
  summary: { label: string; value: string; badge?: string }[];
  sections: PageSection[];
}

const CSS = `
:root { color-scheme: light; --fg: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #fff; --accent: #3e4c59; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 24px 32px 8px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: var(--muted); }
nav { padding: 8px 32px; display: flex; flex-wrap: wrap; gap: 6px 14px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; border-bottom: 1px dotted var(--accent); }
.summary { display: flex; flex-wrap: wrap; gap: 12px; padding: 8px 32px 0; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 140px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 20px; font-weight: 600; }
main { padding: 8px 32px 40px; display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
section h2 { margin: 0 0 4px; font-size: 17px; }
section .about { margin: 0 0 10px; color: var(--muted); font-size: 12.5px; }
figure { margin: 8px 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; }
.note { color: var(--muted); font-style: italic; margin: 8px 0; }
.note.error { color: #b71c1c; font-style: normal; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 11.5px; font-weight: 600; color: #fff; background: #7b8794; }
.badge.success, .badge.pass { background: #2e7d32; }
.badge.partial, .badge.warn, .badge.warning { background: #f9a825; color: #1f2933; }
.badge.failed, .badge.fail, .badge.error, .badge.critical { background: #c62828; }
.badge.abandoned, .badge.skipped { background: #757575; }
.badge.running, .badge.info { background: #1565c0; }
.badge.up { background: #c62828; }
.badge.down { background: #2e7d32; }
footer { padding: 0 32px 24px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } main { display: block; } section { break-inside: avoid; margin-bottom: 12px; } nav { display: none; } }
`;

/** The whole page: one file, inline CSS, no scripts, no external references. */
export function page(input: PageInput): string {
  const nav = input.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('\n');
  const summary = input.summary
    .map((k) => `<div class="kpi"><div class="label">${esc(k.label)}</div><div class="value">${k.badge ? `<span class="badge ${esc(k.badge)}">${esc(k.value)}</span>` : esc(k.value)}</div></div>`)
    .join('\n');
  const WIDE = new Set(['runs', 'lineage', 'alerts', 'tests', 'price-moves']);
  const sections = input.sections
    .map((s) => `<section id="${esc(s.id)}"${WIDE.has(s.id) ? ' class="wide"' : ''}>\n<h2>${esc(s.title)}</h2>\n${s.body}\n</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="duckhouse">
<title>${esc(input.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(input.title)}</h1><p>${esc(input.subtitle)}</p></header>
<div class="summary">${summary}</div>
<nav>${nav}</nav>
<main>
${sections}
</main>
<footer>Generated by duckhouse. Self-contained: no scripts, no external resources; charts are static SVG.</footer>
</body>
</html>
`;
}
