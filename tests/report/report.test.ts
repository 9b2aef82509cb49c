/**
 * The HTML report on a small real lake: three days of prices from a `defineSource` (one store
 * named like an XSS payload), a tiny inline models project whose marts carry the names and
 * columns of the shipped ones (shop marts as literal rows), a warn test that fails, an open alert.
 * Then the page is opened in Debian's Chromium through playwright-core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lakehouse, defineSource, z } from '../../src/index.js';
import { buildReport, type ReportResult } from '../../src/report/report.js';
import { CHROMIUM_ARGS, ensureChromium } from '../helpers/chromium.js';
import { writeFiles } from '../helpers/models.js';
import { section } from '../helpers/report-html.js';

const HOSTILE = '<script>alert(1)</script>';
const STORES = ['bistek', 'fort', HOSTILE];
const DAYS = ['2026-03-01', '2026-03-02', '2026-03-03'];

const priceRecord = z.object({ store: z.string(), sku: z.string(), name: z.string(), price: z.number() });

/** One day's prices: every store, four SKUs, moving a little each day. */
function pricesOn(dayIndex: number) {
  const rows = STORES.flatMap((store, s) =>
    ['1', '2', '3', '4'].map((sku, k) => ({ store, sku, name: `Produto ${sku} ${k % 2 ? '1kg' : '500g'}`, price: Number((5 + k * 3 + s + dayIndex * (k - 1.5) * 0.4).toFixed(2)) })),
  );
  return defineSource({ source: 'test', dataset: 'prices', schema: priceRecord, extract: () => [rows] });
}

const values = (rows: unknown[][]) => rows.map((r) => `(${r.map((v) => (typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v))).join(', ')})`).join(',\n  ');

const SEGMENTS = ['Champions', 'Loyal Customers', 'At Risk', 'Hibernating', 'Lost'];
const UF = ['SP', 'RJ', 'MG', 'SC', 'PR'];

const MODELS: Record<string, string> = {
  'staging/stg_test__prices.sql': `select store, sku, name, price, _extracted_at from {{ source('test', 'prices') }}`,
  'trusted/tru_price.sql': `select store, 'default' as region, sku as sku_id, name as product_name, price::DECIMAL(18, 2) as price,
    timezone('America/Sao_Paulo', _extracted_at)::DATE as price_date
  from {{ ref('stg_test__prices') }}
  qualify row_number() over (partition by store, sku, price_date order by _extracted_at desc) = 1`,
  'marts/fct_prices_daily.sql': `select store, region, sku_id, price_date, product_name, price from {{ ref('tru_price') }}`,
  'marts/mart_price_changes.sql': `with c as (
    select *, lag(price) over w as previous_price, lag(price_date) over w as previous_price_date
    from {{ ref('fct_prices_daily') }} window w as (partition by store, region, sku_id order by price_date))
  select store, region, sku_id, price_date, product_name, previous_price_date, previous_price, price as new_price,
    price - previous_price as change, round(100 * (price - previous_price)::DOUBLE / previous_price::DOUBLE, 2) as change_pct,
    case when price > previous_price then 'up' else 'down' end as direction
  from c where previous_price is not null and price <> previous_price`,
  'marts/fct_shop_orders.sql': `select * from (values
  ${values(Array.from({ length: 30 }, (_, i) => [`o${i}`, `c${i % 12}`, `2026-02-${String(1 + (i % 20)).padStart(2, '0')}`, 50 + i * 7, i % 7 !== 0]))}
) as t(order_id, customer_unique_id, purchased_date, revenue, is_paid)`.replace(/'(2026-\d\d-\d\d)'/g, "DATE '$1'"),
  'marts/fct_order_items.sql': `select * from (values
  ${values(Array.from({ length: 40 }, (_, i) => [`o${i % 30}`, `p${String(i % 14).padStart(3, '0')}abcdef`, 10 + (i % 14) * 9, i % 7 !== 0]))}
) as t(order_id, product_id, price, is_paid)`,
  'marts/dim_shop_products.sql': `select * from (values
  ${values(Array.from({ length: 14 }, (_, i) => [`p${String(i).padStart(3, '0')}abcdef`, ['cama_mesa_banho', 'beleza_saude', 'esporte_lazer'][i % 3]!]))}
) as t(product_id, category)`,
  'marts/dim_customers.sql': `select * from (values
  ${values(Array.from({ length: 12 }, (_, i) => [`c${i}`, UF[i % 4 === 0 ? 0 : i % UF.length]!]))}
) as t(customer_unique_id, state)`,
  'marts/mart_customer_rfm.sql': `select * from (values
  ${values(Array.from({ length: 12 }, (_, i) => [`c${i}`, SEGMENTS[i % 3 === 0 ? 0 : i % SEGMENTS.length]!]))}
) as t(customer_unique_id, segment)`,
  'marts/mart_data_quality.sql': `select * from (values
  ${values([
    ['marts.fct_prices_daily', 'r1', 0.97, 1, 1, 0.95, 0.9, 1, 0.98, 1, 0.9],
    ['marts.fct_shop_orders', 'r1', 0.72, 0.8, 1, 0.5, 0.6, 0.7, 0.6, 0.9, 0.7],
    ['marts.dim_customers', 'r1', 0.91, 0.95, 1, 0.9, 0.85, 0.9, 0.9, 0.9, 0.9],
  ])}
) as t(table_name, run_id, score, completeness, uniqueness, validity, accuracy, conformity, consistency, integrity, timeliness)`,
  'marts/_marts.yml': `version: 2
models:
  - name: fct_prices_daily
    columns:
      - name: store
        tests:
          - accepted_values: { values: [bistek, fort], severity: warn }
      - name: price
        tests: [not_null]
`,
};

let dir: string;
let lake: Lakehouse;
let report: ReportResult;
let html: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-report-'));
  writeFiles(path.join(dir, 'models'), MODELS);
  lake = await Lakehouse.open({ root: path.join(dir, 'data'), models: path.join(dir, 'models'), log: { console: false } });
  for (const [i, day] of DAYS.entries()) await lake.extract([pricesOn(i)], { extractedAt: new Date(`${day}T15:00:00Z`) });
  const build = await lake.build();
  expect(build.models.filter((m) => m.status === 'error')).toEqual([]);
  await lake.metrics.transaction(async (c) => {
    // The metrics schema creates `alerts`; the fallback keeps this test independent of that step.
    await c.run(`CREATE TABLE IF NOT EXISTS alerts (alert_id VARCHAR PRIMARY KEY, run_id VARCHAR, kind VARCHAR NOT NULL, severity VARCHAR NOT NULL,
      subject VARCHAR NOT NULL, message VARCHAR NOT NULL, raised_at TIMESTAMPTZ NOT NULL, resolved_at TIMESTAMPTZ)`);
    await c.run(`INSERT INTO alerts (alert_id, kind, severity, subject, message, raised_at) VALUES ('a1', 'freshness', 'error', $1, 'no successful extract for 80 h', now()),
      ('a2', 'volume', 'warn', 'test/prices', 'fewer rows than usual', now())`, [`test/${HOSTILE}`]);
    await c.run(`INSERT INTO alerts (alert_id, kind, severity, subject, message, raised_at, resolved_at) VALUES ('a3', 'volume', 'warn', 'resolved/one', 'gone', now(), now())`);
  });
  report = await buildReport(lake, { title: `Report of ${HOSTILE}` });
  html = fs.readFileSync(report.path, 'utf8');
}, 120_000);

afterAll(async () => {
  await lake?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('buildReport', () => {
  it('writes one self-contained file with every section and an SVG per chart', () => {
    expect(report.path).toBe(path.join(dir, 'data', 'report.html'));
    expect(report.sections).toEqual(['runs', 'rows', 'prices', 'price-moves', 'top-products', 'orders', 'states', 'rfm', 'quality', 'alerts', 'tests', 'lineage']);
    // runs, rows, prices, top products (shop), orders, states, rfm, quality + its dimensions, lineage.
    expect(report.charts).toBe(10);
    const figures = html.split('<figure class="chart"').slice(1);
    expect(figures).toHaveLength(report.charts);
    for (const f of figures) expect(f.slice(0, f.indexOf('</figure>'))).toContain('<svg');
    // Offline: no scripts at all, nothing loaded from elsewhere.
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed)\b/i);
    expect(fs.readdirSync(path.dirname(report.path)).filter((f) => f.includes('report.html') && f !== 'report.html')).toEqual([]);
  });

  it('escapes every value it prints', () => {
    expect(html).not.toContain(HOSTILE);
    const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;';
    expect(html).toContain(`<title>Report of ${escaped}</title>`);
    const prices = section(html, 'prices');
    expect(prices).toContain(escaped); // the legend of the price index (vega's SVG text)
    expect(section(html, 'price-moves')).toContain(escaped); // the table of moves
    expect(section(html, 'alerts')).toContain(`test/${escaped}`);
  });

  it('shows the data: moves, alerts (open only), failing tests, quality below the gate, lineage by schema', () => {
    const moves = section(html, 'price-moves');
    expect(moves.match(/<tr>/g)?.length).toBe(16); // header + 15 biggest
    const alerts = section(html, 'alerts');
    expect(alerts).toContain('no successful extract for 80 h');
    expect(alerts).toContain('fewer rows than usual');
    expect(alerts).not.toContain('resolved/one');
    const tests = section(html, 'tests');
    // 2 YAML tests plus the engine's quality gates of the 5 trusted/mart models with a measured
    // dimension (fct_shop_orders has one since conformity judges its *_date columns).
    expect(tests).toMatch(/7 tests — 6 pass, 1 warn, 0 fail, 0 error/);
    expect(tests).toContain('accepted_values');
    const quality = section(html, 'quality');
    expect(quality).toContain('below the gate');
    const lineage = section(html, 'lineage');
    for (const label of ['sources (1)', 'staging (1)', 'trusted (1)', 'marts (', 'stg_test__prices', 'mart_price_changes']) expect(lineage).toContain(label);
    // The two inserted above, and the one the build opened for its failing warn test.
    expect(alerts).toContain('test_failed');
    expect(html).toMatch(/<div class="label">open alerts<\/div><div class="value"><span class="badge error">3<\/span>/);
  });

  it('degrades to short notes on an empty lake, and honours `to`', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-report-empty-'));
    const bare = await Lakehouse.open({ root: path.join(empty, 'data'), models: path.join(empty, 'models'), log: { console: false } });
    try {
      const to = path.join(empty, 'out', 'r.html');
      const r = await buildReport(bare, { to });
      expect(r).toEqual({ path: to, charts: 0, sections: report.sections });
      const page = fs.readFileSync(to, 'utf8');
      expect(page).not.toContain('could not be drawn');
      expect(page.match(/class="note empty"/g)?.length).toBe(12);
      expect(page).toContain('No data yet: marts.fct_prices_daily is not built in this lake.');
      await expect(buildReport(bare, { title: '' })).rejects.toThrow(/lake\.report: option "title"/);
      await expect(buildReport(bare, { colour: 'red' } as never)).rejects.toThrow(/unknown option "colour"/);
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the report in Chromium', () => {
  let executablePath: string | undefined;
  beforeAll(async () => {
    executablePath = await ensureChromium();
  }, 900_000);

  it('renders without console errors or requests, and every chart has drawn marks', async (ctx) => {
    if (!executablePath) {
      ctx.skip('Chromium is not available and could not be installed (see stderr)');
      return;
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      // Playwright's 30 s default is a safety net, not what this test checks: on a loaded machine
      // (load 15–44 with other suites running) the page's load took longer. The test's own 120 s bounds it.
      page.setDefaultTimeout(100_000);
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        if (!r.url().startsWith('file://')) requests.push(r.url());
      });
      const url = pathToFileURL(report.path).href;
      await page.goto(url, { waitUntil: 'load' });
      // Runs in the browser: `document` is the page's (typed loosely: the project has no DOM lib).
      const charts = await page.evaluate(() =>
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        [...(globalThis as any).document.querySelectorAll('figure.chart')].map((fig: any) => {
          const svg = fig.querySelector('svg');
          const marks = svg ? [...svg.querySelectorAll('g.role-mark path, g.role-mark rect, g.role-mark circle, g.role-mark line, g.role-mark text')] : [];
          const drawn = marks.filter((m: any) => {
            const box = m.getBoundingClientRect();
            return box.width > 0 || box.height > 0;
          });
          const box = svg?.getBoundingClientRect();
          return { id: fig.getAttribute('data-chart'), svg: Boolean(svg), width: box?.width ?? 0, height: box?.height ?? 0, marks: drawn.length };
        }),
      );
      expect(charts).toHaveLength(report.charts);
      for (const c of charts) {
        expect(c, `chart ${c.id}`).toMatchObject({ svg: true });
        expect(c.width * c.height, `chart ${c.id} size`).toBeGreaterThan(0);
        expect(c.marks, `chart ${c.id} marks`).toBeGreaterThan(0);
      }
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      const png = path.join(dir, 'data', 'report.png');
      await page.screenshot({ path: png, fullPage: true });
      expect(fs.statSync(png).size).toBeGreaterThan(10_000);
      // For a look by hand: DUCKHOUSE_KEEP_REPORT=/some/dir keeps the page and its screenshot.
      const keep = process.env.DUCKHOUSE_KEEP_REPORT;
      if (keep) {
        fs.mkdirSync(keep, { recursive: true });
        fs.copyFileSync(png, path.join(keep, 'report.png'));
        fs.copyFileSync(report.path, path.join(keep, 'report.html'));
      }
    } finally {
      await browser.close();
    }
  }, 120_000);
});
