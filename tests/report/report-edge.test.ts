/**
 * The report's active-content guard looks at markup only: a label that reads like an event
 * handler (" online=") is text and draws; a real <script>, <foreignObject> or on* attribute is refused.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { activeContent, chartRenderer } from '../../src/report/vega-render.js';
import { projectLake } from '../helpers/models.js';

describe('report: active-content guard', () => {
  it('passes labels, titles and aria-labels that contain " on…=" text', () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg"><g aria-label="store: Loja online=sim; x onclick=1"><text> Loja online=sim</text><text>a &lt;script&gt; b</text></g><rect title='sale on=1'/></svg>`;
    expect(activeContent(svg)).toBe(false);
  });

  it('refuses real event-handler attributes, <script> and <foreignObject> elements', () => {
    for (const svg of [
      `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`,
      `<svg><rect x="1" ONCLICK = "alert(1)"/></svg>`,
      `<svg><rect aria-label="online=sim"\nonmouseover='x'/></svg>`,
      `<svg><rect x=1 onload=alert(1)></rect></svg>`,
      `<svg><rect x="1"onload="alert(1)"/></svg>`,
      `<svg><script>alert(1)</script></svg>`,
      `<svg><svg:script href="x.js"/></svg>`,
      `<svg><foreignObject><div/></foreignObject></svg>`,
    ]) {
      expect(activeContent(svg), svg).toBe(true);
    }
  });

  it('vega draws a chart whose labels and data say " online=sim" (an SVG with a real onload would be refused)', async () => {
    const charts = await chartRenderer();
    const svg = await charts.svg({
      title: 'Price index: Loja online=sim',
      data: { values: [{ store: 'Loja online=sim', day: '2026-01-01', price: 10 }, { store: 'Loja online=sim', day: '2026-01-02', price: 11 }] },
      mark: { type: 'line', tooltip: true },
      encoding: { x: { field: 'day', type: 'ordinal' }, y: { field: 'price', type: 'quantitative' }, color: { field: 'store', type: 'nominal' } },
    });
    expect(svg).toContain('Loja online=sim');
    expect(activeContent(svg)).toBe(false);
    expect(activeContent(svg.replace('<svg ', '<svg onload="alert(1)" '))).toBe(true);
  }, 60_000);

  it('lake.report() draws the price index for a store named "Loja online=sim"', async () => {
    const { lake } = await projectLake({
      'marts/fct_prices_daily.sql': `select * from (values ('Loja online=sim', '1', DATE '2026-01-01', 10.0), ('Loja online=sim', '1', DATE '2026-01-02', 11.0)) t(store, sku_id, price_date, price)`,
    });
    expect((await lake.build()).status).toBe('success');
    const out = await lake.report();
    const html = fs.readFileSync(out.path, 'utf8');
    const section = /<section id="prices"[\s\S]*?<\/section>/.exec(html)![0];
    expect(section).not.toMatch(/could not be drawn/);
    expect(section).toMatch(/data-chart="prices"/);
    expect(section).toContain('Loja online=sim');
  }, 60_000);
});
