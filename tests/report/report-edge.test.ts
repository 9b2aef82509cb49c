/**
 * The report's active-content guard looks at markup only: a label that reads like an event
 * handler (" online=") is text and draws; a real <script>, <foreignObject> or on* attribute is refused.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { activeContent, chartRenderer } from '../../src/report/vega-render.js';
import { Lakehouse, defineSource, z } from '../../src/index.js';
import { projectLake } from '../helpers/models.js';
import { section as sectionOf } from '../helpers/report-html.js';

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
    const section = sectionOf(html, 'prices');
    expect(section).not.toMatch(/could not be drawn/);
    expect(section).toMatch(/data-chart="prices"/);
    expect(section).toContain('Loja online=sim');
  }, 60_000);
});

describe('report: biggest price moves with a change_pct that is no number', () => {
  it('ranks NULL, NaN and infinite changes after the measured ones and shows them as —, never as "0.0%" or "NaN%"', async () => {
    const { lake } = await projectLake({
      'marts/mart_price_changes.sql': `select * from (values
        ('s', DATE '2026-03-02', 10.0, 12.5, 25.0::DOUBLE, 'measured'),
        ('s', DATE '2026-03-03', 1.0, 1.5, NULL::DOUBLE, 'unmeasured'),
        ('s', DATE '2026-03-04', 0.0, 1.5, 'nan'::DOUBLE, 'not a number'),
        ('s', DATE '2026-03-05', 0.0, 2.5, 'inf'::DOUBLE, 'from zero')
      ) t(store, price_date, previous_price, new_price, change_pct, product_name)`,
    });
    expect((await lake.build()).status).toBe('success');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const section = sectionOf(html, 'price-moves');
    const rows = [...section.matchAll(/<tr><td>[\s\S]*?<\/tr>/g)].map((m) => m[0].replace(/<[^>]+>/g, '|').replace(/\|+/g, '|'));
    // Observed: NaN sorted first ("NaN%"), then "+Infinity%", and the NULL change read "0.0%" with a "down" badge.
    expect(rows[0]).toContain('|measured|');
    expect(rows[0]).toContain('|+25.0%|');
    expect(rows).toHaveLength(4);
    for (const row of rows.slice(1)) expect(row).toMatch(/\|—\|$/);
    expect(section).not.toMatch(/NaN|Infinity|0\.0%/);
  }, 60_000);
});

describe('report: biggest price moves equal in size, day, store and SKU', () => {
  // One SKU moving alike in two regions of a store: their order (and which of them the 15 keep)
  // was the mart's row order, which a parallel build does not fix.
  it('lists them by region', async () => {
    const { lake } = await projectLake({
      'marts/mart_price_changes.sql': `select * from (values
        ('s', 'sul', '1', DATE '2026-03-02', 10.0, 11.0, 10.0::DOUBLE),
        ('s', 'norte', '1', DATE '2026-03-02', 10.0, 11.0, 10.0::DOUBLE),
        ('s', 'centro', '1', DATE '2026-03-02', 10.0, 11.0, 10.0::DOUBLE)
      ) t(store, region, sku_id, price_date, previous_price, new_price, change_pct)`,
    });
    expect((await lake.build({ test: false })).status).toBe('success');
    const section = sectionOf(fs.readFileSync((await lake.report()).path, 'utf8'), 'price-moves');
    const stores = [...section.matchAll(/<tr><td>[^<]*<\/td><td>([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(stores).toEqual(['s · centro', 's · norte', 's · sul']);
  }, 60_000);
});

describe('report: the run timeline of a new lake', () => {
  it('labels its time axis with the clock, not with bare fractions of a second (".950") or seconds (":56")', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    expect((await lake.build()).status).toBe('success');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const chart = /<figure class="chart" data-chart="runs">[\s\S]*?<\/figure>/.exec(html)![0];
    // The x axis is the first axis-label group; the y axis (kinds) the second.
    const axis = /<g class="mark-text role-axis-label"[^>]*>([\s\S]*?)<\/g>/.exec(chart)![1]!;
    const labels = [...axis.matchAll(/opacity="1">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(labels.length).toBeGreaterThan(0);
    // Observed: one build of about a second gave ticks every 50 ms labelled ".950", ".750"…
    for (const label of labels) expect(label).toMatch(/^(\d\d:\d\d(:\d\d)?|\d\d [A-Z][a-z]{2}( \d\d:\d\d)?|[A-Z][a-z]{2} \d{4})$/);
  }, 60_000);

  it.each([
    // Fall back: 00:30 EDT, 01:30 EDT, 01:30 EST (the last two read the same on a wall clock).
    ['America/New_York', ['2026-11-01 04:30:00+00', '2026-11-01 05:30:00+00', '2026-11-01 06:30:00+00'], ['00:30', '01:30', '01:30']],
    // Spring forward: 01:30 CET, 03:30 CEST, 04:30 CEST (two wall-clock hours, then one).
    ['Europe/Berlin', ['2026-03-29 00:30:00+00', '2026-03-29 01:30:00+00', '2026-03-29 02:30:00+00'], ['01:30', '03:30', '04:30']],
  ])('across a DST change in %s, plots runs an hour apart an hour apart, and labels the axis with the lake\'s clock', async (timezone, starts, local) => {
    const { lake } = await projectLake({}, { timezone });
    await lake.metrics.transaction(async (c) => {
      for (const [i, start] of starts.entries()) {
        await c.run(`INSERT INTO runs (run_id, kind, status, started_at, finished_at, duration_ms) VALUES ($1, 'extract', 'success', $2::TIMESTAMPTZ, $2::TIMESTAMPTZ + INTERVAL 1 MINUTE, 60000)`, [`2026010${i}T000000000Z-dst00${i}`, start]);
      }
    });
    const chart = /<figure class="chart" data-chart="runs">[\s\S]*?<\/figure>/.exec(fs.readFileSync((await lake.report()).path, 'utf8'))![0];
    const dots = [...chart.matchAll(/<path aria-label="([^"]*)"[^>]*aria-roledescription="circle" transform="translate\(([\d.]+),/g)]
      .map((m) => ({ label: m[1]!, x: Number(m[2]) }))
      .sort((a, b) => a.x - b.x);
    expect(dots).toHaveLength(3);
    // Observed (New York): the 01:30 EDT and 01:30 EST runs drew at one x; (Berlin) the first gap was twice the second.
    const [a, b, c] = dots.map((d) => d.x) as [number, number, number];
    expect(b - a).toBeGreaterThan(100);
    expect(Math.abs(c - b - (b - a))).toBeLessThan(0.5);
    expect(dots.map((d) => /started \([^)]*\): [\d-]* ?(\d\d:\d\d)/.exec(d.label)?.[1])).toEqual(local);
    // Every x label reads the lake's clock at the instant its tick stands for (scale read off the dots).
    const t0 = Date.parse(starts[0]!.replace(' ', 'T').replace('+00', 'Z'));
    const msPerPx = 3_600_000 / (b - a);
    const clock = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const axis = /<g class="mark-text role-axis-label"[^>]*>([\s\S]*?)<\/g>/.exec(chart)![1]!;
    const ticks = [...axis.matchAll(/transform="translate\(([\d.]+),\d+\)"[^>]*opacity="1">([^<]*)<\/text>/g)].map((m) => ({ x: Number(m[1]), label: m[2]! }));
    expect(ticks.length).toBeGreaterThan(2);
    for (const tick of ticks) expect(tick.label).toBe(clock.format(Math.round((t0 + (tick.x - a) * msPerPx) / 60_000) * 60_000));
  }, 60_000);

  it('ticks every day of a week in which a DST change skipped midnight (São Paulo, 4 Nov 2018: 00:00 became 01:00)', async () => {
    const { lake } = await projectLake({}, { timezone: 'America/Sao_Paulo' });
    await lake.metrics.transaction(async (c) => {
      // Noon in São Paulo, 1 to 7 November 2018.
      for (let day = 1; day <= 7; day++) {
        const start = `2018-11-0${day} ${day < 4 ? '14' : '15'}:00:00+00`;
        await c.run(`INSERT INTO runs (run_id, kind, status, started_at, finished_at, duration_ms) VALUES ($1, 'extract', 'success', $2::TIMESTAMPTZ, $2::TIMESTAMPTZ + INTERVAL 1 MINUTE, 60000)`, [`2018110${day}T000000000Z-dstmid${day}`, start]);
      }
    });
    const chart = /<figure class="chart" data-chart="runs">[\s\S]*?<\/figure>/.exec(fs.readFileSync((await lake.report()).path, 'utf8'))![0];
    const axis = /<g class="mark-text role-axis-label"[^>]*>([\s\S]*?)<\/g>/.exec(chart)![1]!;
    const labels = [...axis.matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1]!);
    // Observed: 02, 03, 05, 06, 07 Nov — the day whose midnight never was had no tick.
    expect(labels).toEqual(['02 Nov', '03 Nov', '04 Nov', '05 Nov', '06 Nov', '07 Nov']);
  }, 60_000);
});

describe('report: NaN and infinite amounts in a mart', () => {
  it('leave them out of the price index, the top products and the revenue per day, which they blanked or ranked first', async () => {
    const { lake } = await projectLake({
      'marts/fct_prices_daily.sql': `select * from (values ('a', '1', DATE '2026-03-01', 10.0::DOUBLE), ('a', '1', DATE '2026-03-02', 'nan'::DOUBLE),
        ('a', '2', DATE '2026-03-01', 4.0), ('a', '2', DATE '2026-03-02', 5.0),
        ('b', '1', DATE '2026-03-01', 'inf'::DOUBLE), ('b', '1', DATE '2026-03-02', 3.0)) t(store, sku_id, price_date, price)`,
      'marts/fct_shop_orders.sql': `select * from (values ('o1', DATE '2026-02-01', 'nan'::DOUBLE, true), ('o2', DATE '2026-02-02', 5.0, true)) t(order_id, purchased_date, revenue, is_paid)`,
      'marts/fct_order_items.sql': `select * from (values ('o1', 'p1', 'nan'::DOUBLE, true), ('o2', 'p2', 5.0, true), ('o3', 'p3', 'inf'::DOUBLE, true), ('o3', 'p4', 2.0, true)) t(order_id, product_id, price, is_paid)`,
    });
    expect((await lake.build({ test: false })).status).toBe('success');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    // Observed: store a's index was NaN on 2 Mar (one SKU's NaN price), store b's 0 (its first price infinite),
    // the top products ranked p3 (∞) and p1 (NaN) first with no bar, and 1 Feb's revenue was NaN.
    expect(html).not.toMatch(/NaN|Infinity|∞/);
    expect(html).toContain('day: 02 Mar; index (first day = 100): 125; store: a');
    expect(html).toContain('day: 02 Mar; index (first day = 100): 100; store: b');
    expect(html).toContain('Y-axis for a discrete scale with 2 values: p2, p4');
    expect(html).toContain('day (São Paulo): 01 Feb; revenue (BRL): 0; domain: shop');
  }, 60_000);
});

describe('report: a lineage of one model with one test', () => {
  it('counts in the singular: "1 node, 0 edges", "1 test" (was "1 nodes", "1 tests")', async () => {
    const { lake } = await projectLake({
      // A staging model: no quality gate, so its one data test is the build's only test.
      'staging/m.sql': 'select 1 as x',
      'staging/_m.yml': 'version: 2\nmodels:\n  - name: m\n    columns:\n      - name: x\n        tests: [not_null]\n',
    });
    const build = await lake.build();
    expect(build.status).toBe('success');
    expect(build.tests).toHaveLength(1);
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    expect(sectionOf(html, 'tests')).toContain(': 1 test — 1 pass,');
    expect(sectionOf(html, 'lineage')).toContain('<figcaption>1 node, 0 edges.</figcaption>');
  }, 60_000);
});

describe('report: an extract whose every row was rejected', () => {
  it('says bronze has no rows instead of drawing a chart of one zero-height bar', async () => {
    const { lake } = await projectLake({});
    const extract = await lake.extract([defineSource({ source: 'src', dataset: 'ds', schema: z.object({ v: z.number() }), extract: () => [[{ v: Number.NaN }]] })]);
    expect(extract.sources.map((s) => [s.rows, s.rejected])).toEqual([[0, 1]]);
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const section = sectionOf(html, 'rows');
    // Observed: the batch recorded with 0 rows drew the chart, with nothing in it.
    expect(section).not.toContain('data-chart="rows"');
    expect(section).toContain('No rows committed to bronze in the last 60 days (1 rejected).');
  }, 60_000);
});

describe('report: top products when no product has revenue', () => {
  it('says so instead of drawing bars of no length (items priced 0 or NULL), and leaves out products whose revenue is not positive', async () => {
    const { lake } = await projectLake({
      'marts/fct_order_items.sql': `select * from (values ('o1', 'p1', 0.0, true), ('o2', 'p2', NULL, true), ('o3', 'p3', -4.0, true)) t(order_id, product_id, price, is_paid)`,
    });
    expect((await lake.build({ test: false })).status).toBe('success');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const section = sectionOf(html, 'top-products');
    // Observed: a chart of p1, p2 and p3 with no bar of any length (p3's drawn leftwards, as a "top" product).
    expect(section).not.toContain('data-chart=');
    expect(section).toContain('No data yet: marts.fct_order_items has no paid items with revenue.');
  }, 60_000);
});

describe('report: top Mercado Livre products whose listing was renamed', () => {
  // The label took any one of the listing's titles (any_value): the first DuckDB met, which a
  // parallel build of tru_order_item does not fix.
  it('are labelled with the title of their latest order', async () => {
    const { lake } = await projectLake({
      'trusted/tru_order_item.sql': `select * from (values
        (1, 'MLB1', 'Camiseta antiga', 50.0, 1, TIMESTAMPTZ '2026-01-01 10:00:00+00'),
        (3, 'MLB1', 'Camiseta nova', 60.0, 1, TIMESTAMPTZ '2026-02-01 10:00:00+00'),
        (2, 'MLB1', 'Camiseta de janeiro', 55.0, 1, TIMESTAMPTZ '2026-01-15 10:00:00+00')
      ) t(order_id, item_id, item_title, line_amount, quantity, order_created_at)`,
    });
    expect((await lake.build({ test: false })).status).toBe('success');
    const section = sectionOf(fs.readFileSync((await lake.report()).path, 'utf8'), 'top-products');
    expect(section).toContain('Camiseta nova · MLB1');
    expect(section).not.toMatch(/Camiseta (antiga|de janeiro)/);
  }, 60_000);
});

describe('report: a price mart whose prices are all 0 or NULL (sold out)', () => {
  it('says it has no positive prices, not that it has no rows', async () => {
    const { lake } = await projectLake({
      'marts/fct_prices_daily.sql': `select * from (values ('a', '1', DATE '2026-03-01', 0.0), ('a', '2', DATE '2026-03-01', NULL)) t(store, sku_id, price_date, price)`,
    });
    expect((await lake.build({ test: false })).status).toBe('success');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const section = sectionOf(html, 'prices');
    // Observed: "No data yet: marts.fct_prices_daily has no rows." of a table with two.
    expect(section).toContain('No data yet: marts.fct_prices_daily has no positive prices (2 rows).');
  }, 60_000);
});

describe('report: a build that publishes while the page is drawn', () => {
  it('every section reads the catalog published when the report started', async () => {
    const { lake, root, models } = await projectLake({
      // The second build leaves the price mart out of its catalog.
      'marts/fct_prices_daily.sql': `{{ config(enabled=(var('build_no', 1) == 1)) }}
select * from (values ('a', '1', DATE '2026-03-01', 10.0), ('a', '1', DATE '2026-03-02', 11.0)) t(store, sku_id, price_date, price)`,
      'marts/other.sql': `select {{ var('build_no', 1) }} as build_no`,
    });
    expect((await lake.build({ test: false })).status).toBe('success');
    const other = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      // The report reads the catalog's tables first, then the metrics db: the other lake publishes
      // its build right then, before any section is drawn.
      const metrics = lake.metrics;
      const select = metrics.select.bind(metrics);
      let published = false;
      metrics.select = async (...args: Parameters<typeof select>) => {
        if (!published) {
          published = true;
          expect((await other.build({ test: false, vars: { build_no: 2 } })).status).toBe('success');
        }
        return select(...args);
      };
      const html = fs.readFileSync((await lake.report()).path, 'utf8');
      expect(published).toBe(true);
      const prices = sectionOf(html, 'prices');
      expect(prices).not.toMatch(/could not be drawn/);
      expect(prices).toMatch(/data-chart="prices"/);
      // The next report reads the catalog published since.
      expect(sectionOf(fs.readFileSync((await lake.report()).path, 'utf8'), 'prices')).toMatch(/No data yet/);
    } finally {
      await other.close();
    }
  }, 60_000);
});
