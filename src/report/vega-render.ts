/**
 * Vega-Lite spec → static SVG, in Node: `vl.compile(spec).spec` → `vega.parse` → a headless
 * `vega.View` (renderer 'none') → `toSVG()`. vega and vega-lite load on first use, so processes
 * that never write a report do not pay for them.
 */
import type { TopLevelSpec } from 'vega-lite';

type Vega = typeof import('vega');
type VegaLite = typeof import('vega-lite');

export interface ChartRenderer {
  /** Renders one chart; warnings from vega/vega-lite go to `onWarning`. */
  svg(spec: TopLevelSpec): Promise<string>;
}

/** Shared look: system fonts (nothing to download), quiet axes, a fixed palette. */
export const CHART_CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, titleColor: '#616e7c', labelColor: '#3e4c59', gridColor: '#eef0f3', domainColor: '#cbd2d9', tickColor: '#cbd2d9' },
  legend: { labelFontSize: 11, titleFontSize: 11, titleColor: '#616e7c', labelLimit: 220 },
  range: { category: ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac', '#eeca3b'] },
} as const;

/**
 * Loads vega and vega-lite (lazily) and returns a renderer.
 * @example
 * const charts = await chartRenderer((m) => logger.debug(m));
 * const svg = await charts.svg({ data: { values }, mark: 'bar', encoding: { … } });
 */
export async function chartRenderer(onWarning: (message: string) => void = () => undefined): Promise<ChartRenderer> {
  const [vega, vl]: [Vega, VegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const logger = vega.logger(vega.Warn, undefined, (_method: unknown, _level: unknown, input: readonly unknown[]) => {
    onWarning(input.map((x) => (x instanceof Error ? x.message : String(x))).join(' '));
  });
  return {
    async svg(spec) {
      const compiled = vl.compile({ config: CHART_CONFIG, ...spec } as TopLevelSpec, { logger }).spec;
      const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger, logLevel: vega.Warn });
      try {
        const svg = await view.toSVG();
        // vega escapes text and attributes itself; this only guards the page against a surprise.
        if (activeContent(svg)) throw new Error('vega produced active content in an SVG chart');
        return svg;
      } finally {
        view.finalize();
      }
    },
  };
}

/** A tag: its name, then its attributes (quoted values may hold anything but their own quote). */
const TAG = /<\/?([A-Za-z][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

/**
 * Whether SVG markup holds active content: a `<script>` or `<foreignObject>` element, or an event
 * handler attribute (`onload=`, `onclick=` …). Only markup counts: text and attribute values
 * (escaped by vega, so `<` never appears there) may say " online=" without being refused.
 */
export function activeContent(svg: string): boolean {
  // A raw `<` only opens markup, so these are elements wherever they appear.
  if (/<\/?(?:[\w.-]+:)?(?:script|foreignObject)\b/i.test(svg)) return true;
  for (const [, , attributes] of svg.matchAll(TAG)) {
    const names = attributes!.replace(/"[^"]*"|'[^']*'/g, '""');
    if (/(?:^|[\s/"'])on[a-z]+\s*=/i.test(names)) return true;
  }
  return false;
}

/** Values vega can hold: bigint → number, Date → epoch ms (vega cannot do arithmetic on bigint). */
export function chartRows<T extends Record<string, unknown>>(rows: T[]): Record<string, unknown>[] {
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) out[k] = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : v;
    return out;
  });
}
