/**
 * The shop models (models/{staging,trusted,marts}, tag:shop) on real DuckDB: a generated
 * Olist-shaped dataset end to end with its dirty rows counted in audit.*, and CLV / RFM checked
 * against a small dataset computed by hand.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { csvSource, generateShopDataset, type BuildResult, type Lakehouse } from '../../src/index.js';
import { SHOP_DIRT_KINDS, type ShopTable } from '../../src/connectors/shop/generate.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
const TABLES: ShopTable[] = ['customers', 'orders', 'order_items', 'order_payments', 'order_reviews', 'products', 'sellers', 'geolocation'];
const SHOP = ['tag:shop'];
// A whole build runs ~300 data tests: ~10 s alone, over 20 s beside the rest of the suite.
const BUILD_TIMEOUT = 120_000;

async function loadShop(lake: Lakehouse, dir: string): Promise<void> {
  const result = await lake.extract(TABLES.map((t) => csvSource({ source: 'shop', dataset: t, path: path.join(dir, `${t}.csv`) })));
  expect(result.status).toBe('success');
  for (const s of result.sources) expect(s.rejected, s.dataset).toBe(0);
}

/** Every model built and no test failing; returns the tests that warned, with their failures. */
function expectClean(result: BuildResult): Record<string, number> {
  const broken = result.models.filter((m) => m.status !== 'success' && m.status !== 'up-to-date');
  expect(broken.map((m) => `${m.name}: ${m.error ?? m.skippedBecause}`)).toEqual([]);
  const failing = result.tests.filter((t) => t.status !== 'pass' && t.status !== 'warn');
  expect(failing.map((t) => `${t.name} (${t.status}, ${t.failures})`)).toEqual([]);
  expect(result.status).toBe('success');
  return Object.fromEntries(result.tests.filter((t) => t.status === 'warn').map((t) => [t.name, t.failures]));
}

const SHOP_MODELS = [
  'staging.stg_shop__customers', 'staging.stg_shop__geolocation', 'staging.stg_shop__order_items', 'staging.stg_shop__order_payments',
  'staging.stg_shop__order_reviews', 'staging.stg_shop__orders', 'staging.stg_shop__products', 'staging.stg_shop__sellers',
  'trusted.tru_shop_customer', 'trusted.tru_shop_geolocation', 'trusted.tru_shop_order', 'trusted.tru_shop_order_item',
  'trusted.tru_shop_payment', 'trusted.tru_shop_product', 'trusted.tru_shop_review', 'trusted.tru_shop_seller',
  'marts.dim_customers', 'marts.dim_dates', 'marts.dim_shop_products', 'marts.dim_shop_sellers',
  'marts.fct_order_items', 'marts.fct_shop_orders', 'marts.fct_payments', 'marts.fct_reviews',
  'marts.mart_customer_daily', 'marts.mart_customer_ltv', 'marts.mart_customer_rfm', 'marts.mart_sales_hourly',
];

describe('shop models on a generated dataset', () => {
  it('build clean, and every dirty row is rejected into audit.* with its rule (duplicates deduplicated, not audited)', { timeout: BUILD_TIMEOUT }, async () => {
    const csv = tempDir();
    // dirtyShare 0.05 instead of the default 0.02, so every kind occurs a few times.
    const shop = await generateShopDataset({ seed: 7, customers: 300, days: 120, outDir: csv, dirtyShare: 0.05 });
    for (const kind of SHOP_DIRT_KINDS) expect(shop.dirty[kind], kind).toBeGreaterThan(0);

    const lake = await tempLake({ models: MODELS });
    await loadShop(lake, csv);
    const result = await lake.build({ select: SHOP });
    // Warnings: the raw-input checks of staging see the dirt, and orders that lost a rejected item
    // or payment no longer balance. Nothing fails.
    const warned = expectClean(result);
    expect(Object.keys(warned).sort()).toEqual([
      'expression_fct_shop_orders_payments_match_items',
      'expression_stg_shop__order_items_price_positive',
      'expression_stg_shop__order_payments_value_non_negative',
    ]);
    expect(warned.expression_stg_shop__order_items_price_positive).toBe(shop.dirty.non_positive_price);
    expect(warned.expression_stg_shop__order_payments_value_non_negative).toBe(shop.dirty.negative_payment);
    // Exactly the shop's models: the prices models were not needed.
    expect(result.models.map((m) => m.name).sort()).toEqual([...SHOP_MODELS].sort());

    // The census of every audit table, by rule.
    const audits = ['tru_shop_order', 'tru_shop_customer', 'tru_shop_order_item', 'tru_shop_payment', 'tru_shop_review', 'tru_shop_product', 'tru_shop_seller', 'tru_shop_geolocation'];
    const census = await lake.query<{ model: string; rule: string; n: number }>(
      audits.map((m) => `select '${m}' as model, _rejected_rule as rule, count(*)::INTEGER as n from audit.${m}_rejected group by all`).join(' union all ') + ' order by 1, 2',
    );
    const count = (model: string, rule: string) => census.find((c) => c.model === model && c.rule === rule)?.n ?? 0;
    // Each dirty kind lands in the table that holds it, under the rule of the same name, exactly.
    expect({
      null_customer_id: count('tru_shop_order', 'null_customer_id'),
      delivered_before_purchase: count('tru_shop_order', 'delivered_before_purchase'),
      out_of_range_date: count('tru_shop_order', 'out_of_range_date'),
      null_product_id: count('tru_shop_order_item', 'null_product_id'),
      non_positive_price: count('tru_shop_order_item', 'non_positive_price'),
      negative_payment: count('tru_shop_payment', 'negative_payment'),
    }).toEqual({
      null_customer_id: shop.dirty.null_customer_id,
      delivered_before_purchase: shop.dirty.delivered_before_purchase,
      out_of_range_date: shop.dirty.out_of_range_date,
      null_product_id: shop.dirty.null_product_id,
      non_positive_price: shop.dirty.non_positive_price,
      negative_payment: shop.dirty.negative_payment,
    });
    // The only other rejects are the items, payments and reviews of those rejected orders.
    const others = census.filter((c) => !['null_customer_id', 'delivered_before_purchase', 'out_of_range_date', 'null_product_id', 'non_positive_price', 'negative_payment'].includes(c.rule));
    expect(others.map((c) => c.rule)).toEqual(others.map(() => 'unknown_order'));
    const [orphans] = await lake.query<{ n: number; linked: number }>(`
      with children as (
          select order_id from audit.tru_shop_order_item_rejected where _rejected_rule = 'unknown_order'
          union all select order_id from audit.tru_shop_payment_rejected where _rejected_rule = 'unknown_order'
          union all select order_id from audit.tru_shop_review_rejected where _rejected_rule = 'unknown_order'
      )
      select count(*)::INTEGER as n,
             count(*) filter (where order_id in (select order_id from audit.tru_shop_order_rejected))::INTEGER as linked
      from children`);
    expect(orphans!.linked).toBe(orphans!.n);
    expect(orphans!.n).toBe(others.reduce((s, c) => s + c.n, 0));

    // Duplicated order rows: deduplicated and counted in duplicates_dropped, never audited.
    const [dups] = await lake.query<{ dropped: number; staged: number; distinct_orders: number; trusted: number }>(`
      select (select sum(duplicates_dropped)::INTEGER from trusted.tru_shop_order) as dropped,
             (select count(*)::INTEGER from staging.stg_shop__orders) as staged,
             (select count(distinct order_id)::INTEGER from staging.stg_shop__orders) as distinct_orders,
             (select count(*)::INTEGER from trusted.tru_shop_order) as trusted`);
    expect(dups!.dropped).toBe(shop.dirty.duplicate_order_row);
    expect(dups!.staged - dups!.distinct_orders).toBe(shop.dirty.duplicate_order_row);
    expect(dups!.staged).toBe(shop.files.orders.rows);
    expect(dups!.trusted).toBe(shop.orders - shop.dirty.null_customer_id - shop.dirty.delivered_before_purchase - shop.dirty.out_of_range_date);
    expect(census.some((c) => c.rule === 'duplicate_order_row')).toBe(false);

    // The marts hang together.
    const [sums] = await lake.query<Record<string, number>>(`
      select (select count(*)::INTEGER from marts.dim_customers) as people,
             (select sum(revenue) from marts.fct_shop_orders) as fct_revenue,
             (select sum(revenue) from marts.mart_sales_hourly) as hourly_revenue,
             (select sum(revenue) from marts.mart_customer_daily) as daily_revenue,
             (select sum(revenue) from marts.mart_customer_ltv) as ltv_revenue,
             (select count(*)::INTEGER from marts.mart_customer_rfm) as rfm_people,
             (select count(*)::INTEGER from marts.mart_customer_ltv) as ltv_people,
             (select count(*)::INTEGER from marts.mart_sales_hourly) as hours,
             (select count(distinct order_date)::INTEGER * 24 from marts.mart_sales_hourly) as grid`);
    expect(sums!.people).toBe(shop.customers);
    expect(sums!.hourly_revenue).toBeCloseTo(sums!.fct_revenue!, 2);
    expect(sums!.daily_revenue).toBeCloseTo(sums!.fct_revenue!, 2);
    expect(sums!.ltv_revenue).toBeCloseTo(sums!.fct_revenue!, 2); // as_of = the last purchase date: every paid order counts
    expect(sums!.rfm_people).toBe(sums!.ltv_people);
    expect(sums!.hours).toBe(sums!.grid);
    const holidays = await lake.query<{ date_day: string; holiday_name: string }>(
      `select strftime(date_day, '%Y-%m-%d') as date_day, holiday_name from marts.dim_dates where holiday_name is not null order by 1`,
    );
    expect(holidays).toEqual([
      { date_day: '2024-05-12', holiday_name: "Mother's Day" },
      { date_day: '2024-11-29', holiday_name: 'Black Friday' },
      { date_day: '2024-12-02', holiday_name: 'Cyber Monday' },
      { date_day: '2024-12-24', holiday_name: 'Christmas Eve' },
      { date_day: '2024-12-25', holiday_name: 'Christmas Day' },
    ]);
    // ISO weeks cross the calendar year: grouped by (iso_year, iso_week), each is one week.
    const weeks = await lake.query<{ date_day: string; iso_year: number; iso_week: number }>(
      `select strftime(date_day, '%Y-%m-%d') as date_day, iso_year, iso_week from marts.dim_dates where date_day in ('2024-12-29', '2024-12-30', '2024-12-31') order by 1`,
    );
    expect(weeks).toEqual([
      { date_day: '2024-12-29', iso_year: 2024, iso_week: 52 },
      { date_day: '2024-12-30', iso_year: 2025, iso_week: 1 },
      { date_day: '2024-12-31', iso_year: 2025, iso_week: 1 },
    ]);
    expect(await lake.query(`select iso_year, iso_week from marts.dim_dates group by all having count(distinct week_start_date) > 1`)).toEqual([]);
  });
});

// ───────────────────────────── the hand-computed dataset ─────────────────────────────
//
// D0 = 2024-06-30, the last purchase day (so the default as_of). 15 people with paid orders and
// one (u16) with only a canceled order. Orders counts 1..5 put three people in each F quintile;
// recency puts three in each R quintile; (R, F) pairs are chosen so all 11 segments occur:
//
//   person  orders at (days before D0)      paid each     R F  segment
//   u01     30 20 10 3                      100 150 200 250  5 4  Champions        (+ a 'created' order on D0, not counted)
//   u02     180 140 100 60                  120 ×4           3 4  Loyal Customers
//   u03     300 275 250 225 200             100 ×5           1 5  Cannot Lose Them (+ a canceled order at 190, not counted)
//   u04     0 (23:30 São Paulo = 02:30 UTC next day)  89.90  5 1  New Customers
//   u05     130 100                         60 40            2 2  Hibernating      } same recency 100:
//   u06     160 100                         75 ×2            3 2  About to Sleep   } u05 < u06 by id → R2 / R3
//   u07     250                             35.50            1 1  Lost
//   u08     20                              120              4 1  Promising
//   u09     60 30                           80 70            4 2  Potential Loyalists
//   u10     240 210 180 150                 50 ×4            2 4  At Risk
//   u11     140 110 80                      90 ×3            3 3  Need Attention
//   u12     50 40 30 20 10                  60 ×5            4 5  Loyal Customers
//   u13     25 15 5                         110 ×3           5 3  Potential Loyalists
//   u14     280 250 220                     45 ×3            1 3  At Risk
//   u15     240 210 180 150 120             200 ×5           2 5  Cannot Lose Them (first order paid by voucher 50 + card 150)
//   u16     40 (canceled)                   —                   not in LTV / RFM
//
// Every order has one item (price = paid − 10.00 freight) and payments summing to item + freight.
// One orders row is written twice (an exact duplicate) and must change nothing.

const D0 = Date.UTC(2024, 5, 30);
const DAY_MS = 86_400_000;
const pad = (n: number) => String(n).padStart(2, '0');
function dayText(daysBefore: number): string {
  const d = new Date(D0 - daysBefore * DAY_MS);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}
/** Naive São Paulo wall-clock text, as Olist writes it, `daysBefore` whole days before D0. */
function ts(daysBefore: number, hh = 10, mm = 0): string {
  return `${dayText(daysBefore)} ${pad(hh)}:${pad(mm)}:00`;
}

type Status = 'delivered' | 'shipped' | 'invoiced' | 'approved' | 'processing' | 'created' | 'canceled';
interface HandOrder { person: string; daysBefore: number; paid: number[]; status?: Status; hour?: number; minute?: number; types?: string[] }

const rep = (person: string, days: number[], amounts: number | number[]): HandOrder[] =>
  days.map((d, i) => ({ person, daysBefore: d, paid: [Array.isArray(amounts) ? amounts[i]! : amounts] }));

const HAND_ORDERS: HandOrder[] = [
  ...rep('u01', [30, 20, 10], [100, 150, 200]),
  { person: 'u01', daysBefore: 3, paid: [250], status: 'invoiced' },
  { person: 'u01', daysBefore: 0, paid: [999], status: 'created', hour: 8 },
  ...rep('u02', [180, 140, 100, 60], 120),
  ...rep('u03', [300, 275, 250, 225, 200], 100),
  { person: 'u03', daysBefore: 190, paid: [500], status: 'canceled' },
  { person: 'u04', daysBefore: 0, paid: [89.9], status: 'shipped', hour: 23, minute: 30 },
  ...rep('u05', [130, 100], [60, 40]),
  ...rep('u06', [160, 100], 75),
  ...rep('u07', [250], 35.5),
  ...rep('u08', [20], 120),
  ...rep('u09', [60, 30], [80, 70]),
  ...rep('u10', [240, 210, 180, 150], 50),
  ...rep('u11', [140, 110, 80], 90),
  ...rep('u12', [50, 40, 30, 20], 60),
  { person: 'u12', daysBefore: 10, paid: [60], status: 'approved' },
  ...rep('u13', [25, 15], 110),
  { person: 'u13', daysBefore: 5, paid: [110], status: 'processing' },
  ...rep('u14', [280, 250, 220], 45),
  { person: 'u15', daysBefore: 240, paid: [50, 150], types: ['voucher', 'credit_card'] },
  ...rep('u15', [210, 180, 150, 120], 200),
  { person: 'u16', daysBefore: 40, paid: [75], status: 'canceled' },
];

const money = (x: number) => x.toFixed(2);

function writeHandDataset(dir: string): void {
  const people = [...new Set(HAND_ORDERS.map((o) => o.person))];
  const place = (p: string) => (people.indexOf(p) % 2 === 0 ? ['01310', 'sao paulo', 'SP'] : ['20040', 'rio de janeiro', 'RJ']);
  const files: Record<ShopTable, string[][]> = {
    customers: [['customer_id', 'customer_unique_id', 'customer_zip_code_prefix', 'customer_city', 'customer_state']],
    orders: [['order_id', 'customer_id', 'order_status', 'order_purchase_timestamp', 'order_approved_at', 'order_delivered_carrier_date', 'order_delivered_customer_date', 'order_estimated_delivery_date']],
    order_items: [['order_id', 'order_item_id', 'product_id', 'seller_id', 'shipping_limit_date', 'price', 'freight_value']],
    order_payments: [['order_id', 'payment_sequential', 'payment_type', 'payment_installments', 'payment_value']],
    order_reviews: [['review_id', 'order_id', 'review_score', 'review_comment_title', 'review_comment_message', 'review_creation_date', 'review_answer_timestamp']],
    products: [
      ['product_id', 'product_category_name', 'product_name_lenght', 'product_description_lenght', 'product_photos_qty', 'product_weight_g', 'product_length_cm', 'product_height_cm', 'product_width_cm'],
      ['p1', 'cama_mesa_banho', '40', '300', '1', '800', '30', '10', '20'],
      ['p2', 'informatica_acessorios', '50', '900', '3', '300', '20', '5', '15'],
    ],
    sellers: [['seller_id', 'seller_zip_code_prefix', 'seller_city', 'seller_state'], ['s1', '01310', 'sao paulo', 'SP'], ['s2', '80010', 'curitiba', 'PR']],
    geolocation: [
      ['geolocation_zip_code_prefix', 'geolocation_lat', 'geolocation_lng', 'geolocation_city', 'geolocation_state'],
      ['01310', '-23.56', '-46.65', 'sao paulo', 'SP'],
      ['01310', '-23.57', '-46.66', 'sao paulo', 'SP'],
      ['20040', '-22.90', '-43.18', 'rio de janeiro', 'RJ'],
      ['80010', '-25.43', '-49.27', 'curitiba', 'PR'],
    ],
  };
  HAND_ORDERS.forEach((o, i) => {
    const orderId = `o${pad(i + 1)}`;
    const customerId = `${o.person}-${orderId}`; // Olist mints a customer_id per order
    const status = o.status ?? 'delivered';
    const d = o.daysBefore;
    const hasApproval = status !== 'created';
    const shipped = status === 'shipped' || status === 'delivered';
    const row = [
      orderId, customerId, status, ts(d, o.hour ?? 10, o.minute ?? 0),
      hasApproval ? ts(d, o.hour ?? 10, (o.minute ?? 0) + 15) : '',
      shipped ? ts(d - 1) : '',
      status === 'delivered' ? ts(d - 5, 14) : '',
      `${dayText(d - 15)} 00:00:00`,
    ];
    files.orders.push(row);
    if (i === 1) files.orders.push([...row]); // an exact duplicate of the export
    files.customers.push([customerId, o.person, ...place(o.person)]);
    const total = o.paid.reduce((s, x) => s + x, 0);
    files.order_items.push([orderId, '1', i % 2 === 0 ? 'p1' : 'p2', i % 3 === 0 ? 's2' : 's1', ts(d - 6), money(total - 10), '10.00']);
    o.paid.forEach((x, k) => files.order_payments.push([orderId, String(k + 1), o.types?.[k] ?? 'credit_card', '1', money(x)]));
    if (status === 'delivered' && i % 4 === 0) files.order_reviews.push([`r${pad(i + 1)}`, orderId, String(1 + (i % 5)), '', i % 8 === 0 ? 'chegou bem' : '', `${dayText(d - 6)} 00:00:00`, ts(d - 7, 9)]);
  });
  for (const t of TABLES) fs.writeFileSync(path.join(dir, `${t}.csv`), files[t].map((r) => r.join(',')).join('\n') + '\n');
}

type LtvRow = { customer_unique_id: string; orders: number; revenue: number; aov: number; lifespan_days: number; lifespan_months: number; frequency: number; clv: number; days_since_last_order: number; churned: boolean };
type RfmRow = { customer_unique_id: string; recency_days: number; frequency: number; monetary: number; r_score: number; f_score: number; m_score: number; rfm_score: string; segment: string; recommended_action: string };

async function handLake(): Promise<Lakehouse> {
  const csv = tempDir();
  writeHandDataset(csv);
  const lake = await tempLake({ models: MODELS });
  await loadShop(lake, csv);
  return lake;
}

const ltvSql = `select customer_unique_id, orders, revenue, aov, lifespan_days, lifespan_months, frequency, clv, days_since_last_order, churned
                from marts.mart_customer_ltv order by customer_unique_id`;

describe('CLV and RFM on a hand-computed dataset', () => {
  it('match the hand computation, and all 11 segments are reached', { timeout: BUILD_TIMEOUT }, async () => {
    const lake = await handLake();
    expect(expectClean(await lake.build({ select: SHOP }))).toEqual({}); // clean data: not even a warning

    const [asOf] = await lake.query<{ as_of: string; dropped: number }>(
      `select strftime(max(as_of_date), '%Y-%m-%d') as as_of, (select sum(duplicates_dropped)::INTEGER from trusted.tru_shop_order) as dropped from marts.mart_customer_ltv`,
    );
    // u04's last order is 2024-06-30 23:30 in São Paulo (2024-07-01 UTC): the São Paulo day wins.
    expect(asOf).toEqual({ as_of: '2024-06-30', dropped: 1 });

    // lifespan_months = max(1, lifespan_days / 30.44); frequency = orders / lifespan_months;
    // clv = aov × frequency × 36 = revenue × 36 / lifespan_months (unrounded inside, cents outside).
    //   u01: 700 / 4 = 175; span 27 d → 1 month; freq 4; clv 175 × 4 × 36                 = 25200.00
    //   u02: 480 / 4 = 120; 120 d / 30.44 = 3.9422; freq 4 × 30.44 / 120 = 1.0147;
    //        clv 480 × 36 × 30.44 / 120 = 144 × 30.44                                      =  4383.36
    //   u03: 500 / 5 = 100; 100 d → 3.2852; freq 5 × 30.44 / 100 = 1.522; clv 180 × 30.44  =  5479.20
    //   u04: 89.90 once; 1 month; clv 89.90 × 36                                          =  3236.40
    //   u05: 100 / 2 = 50; span 30 d < 30.44 → 1 month; freq 2; clv 50 × 2 × 36           =  3600.00
    //   u06: 150 / 2 = 75; 60 d → 1.9711; freq 2 × 30.44 / 60 = 1.0147; clv 90 × 30.44    =  2739.60
    //   u07: 35.50 once; clv 35.50 × 36                                                   =  1278.00
    //   u08: 120 once; clv 120 × 36                                                       =  4320.00
    //   u09: 150 / 2 = 75; span 30 d → 1; freq 2; clv 75 × 2 × 36                         =  5400.00
    //   u10: 200 / 4 = 50; 90 d → 2.9566; freq 4 × 30.44 / 90 = 1.3529; clv 80 × 30.44    =  2435.20
    //   u11: 270 / 3 = 90; 60 d → 1.9711; freq 3 × 30.44 / 60 = 1.522; clv 162 × 30.44    =  4931.28
    //   u12: 300 / 5 = 60; 40 d → 1.3141; freq 5 × 30.44 / 40 = 3.805; clv 270 × 30.44    =  8218.80
    //   u13: 330 / 3 = 110; span 20 d → 1; freq 3; clv 110 × 3 × 36                       = 11880.00
    //   u14: 135 / 3 = 45; 60 d → 1.9711; freq 1.522; clv 81 × 30.44                      =  2465.64
    //   u15: 1000 / 5 = 200; 120 d → 3.9422; freq 5 × 30.44 / 120 = 1.2683; clv 300 × 30.44 = 9132.00
    // churned = days_since_last_order > 90. u16 (only a canceled order) is absent; u01's 'created'
    // order and u03's canceled one count for nothing.
    const ltv = await lake.query<LtvRow>(ltvSql);
    const L = (customer_unique_id: string, orders: number, revenue: number, aov: number, lifespan_days: number, lifespan_months: number, frequency: number, clv: number, days_since_last_order: number, churned: boolean): LtvRow =>
      ({ customer_unique_id, orders, revenue, aov, lifespan_days, lifespan_months, frequency, clv, days_since_last_order, churned });
    expect(ltv).toEqual([
      L('u01', 4, 700, 175, 27, 1, 4, 25200, 3, false),
      L('u02', 4, 480, 120, 120, 3.9422, 1.0147, 4383.36, 60, false),
      L('u03', 5, 500, 100, 100, 3.2852, 1.522, 5479.2, 200, true),
      L('u04', 1, 89.9, 89.9, 0, 1, 1, 3236.4, 0, false),
      L('u05', 2, 100, 50, 30, 1, 2, 3600, 100, true),
      L('u06', 2, 150, 75, 60, 1.9711, 1.0147, 2739.6, 100, true),
      L('u07', 1, 35.5, 35.5, 0, 1, 1, 1278, 250, true),
      L('u08', 1, 120, 120, 0, 1, 1, 4320, 20, false),
      L('u09', 2, 150, 75, 30, 1, 2, 5400, 30, false),
      L('u10', 4, 200, 50, 90, 2.9566, 1.3529, 2435.2, 150, true),
      L('u11', 3, 270, 90, 60, 1.9711, 1.522, 4931.28, 80, false),
      L('u12', 5, 300, 60, 40, 1.3141, 3.805, 8218.8, 10, false),
      L('u13', 3, 330, 110, 20, 1, 3, 11880, 5, false),
      L('u14', 3, 135, 45, 60, 1.9711, 1.522, 2465.64, 220, true),
      L('u15', 5, 1000, 200, 120, 3.9422, 1.2683, 9132, 120, true),
    ]);

    // R: ntile(5) by recency DESC then id: 250 u07, 220 u14, 200 u03 | 150 u10, 120 u15, 100 u05 |
    //    100 u06, 80 u11, 60 u02 | 30 u09, 20 u08, 10 u12 | 5 u13, 3 u01, 0 u04   (u05/u06 tie split by id)
    // F: ntile(5) by orders then id: 1: u04 u07 u08 | 2: u05 u06 u09 | 3: u11 u13 u14 | 4: u01 u02 u10 | 5: u03 u12 u15
    // M: ntile(5) by revenue then id: 35.50 u07, 89.90 u04, 100 u05 | 120 u08, 135 u14, 150 u06 |
    //    150 u09, 200 u10, 270 u11 | 300 u12, 330 u13, 480 u02 | 500 u03, 700 u01, 1000 u15  (u06/u09 tie split by id)
    const rfm = await lake.query<RfmRow>(`select * exclude (as_of_date, last_order_date) from marts.mart_customer_rfm order by customer_unique_id`);
    const R = (customer_unique_id: string, recency_days: number, frequency: number, monetary: number, r: number, f: number, m: number, segment: string) =>
      ({ customer_unique_id, recency_days, frequency, monetary, r_score: r, f_score: f, m_score: m, rfm_score: `${r}${f}${m}`, segment });
    expect(rfm.map(({ recommended_action, ...rest }) => rest)).toEqual([
      R('u01', 3, 4, 700, 5, 4, 5, 'Champions'),
      R('u02', 60, 4, 480, 3, 4, 4, 'Loyal Customers'),
      R('u03', 200, 5, 500, 1, 5, 5, 'Cannot Lose Them'),
      R('u04', 0, 1, 89.9, 5, 1, 1, 'New Customers'),
      R('u05', 100, 2, 100, 2, 2, 1, 'Hibernating'),
      R('u06', 100, 2, 150, 3, 2, 2, 'About to Sleep'),
      R('u07', 250, 1, 35.5, 1, 1, 1, 'Lost'),
      R('u08', 20, 1, 120, 4, 1, 2, 'Promising'),
      R('u09', 30, 2, 150, 4, 2, 3, 'Potential Loyalists'),
      R('u10', 150, 4, 200, 2, 4, 3, 'At Risk'),
      R('u11', 80, 3, 270, 3, 3, 3, 'Need Attention'),
      R('u12', 10, 5, 300, 4, 5, 4, 'Loyal Customers'),
      R('u13', 5, 3, 330, 5, 3, 4, 'Potential Loyalists'),
      R('u14', 220, 3, 135, 1, 3, 2, 'At Risk'),
      R('u15', 120, 5, 1000, 2, 5, 5, 'Cannot Lose Them'),
    ]);
    expect(new Set(rfm.map((r) => r.segment)).size).toBe(11);
    // One action per segment, and every segment has its own.
    const actions = new Map(rfm.map((r) => [r.segment, r.recommended_action]));
    expect(new Set(actions.values()).size).toBe(11);
    for (const action of actions.values()) expect(action.length).toBeGreaterThan(20);

    // The person with only a canceled order is a customer, with no paid order.
    const [u16] = await lake.query(`select orders_count, paid_orders_count, revenue from marts.dim_customers where customer_unique_id = 'u16'`);
    expect(u16).toEqual({ orders_count: 1, paid_orders_count: 0, revenue: 0 });
  });

  it("var('as_of') moves recency and churn, and drops the orders placed after it", { timeout: BUILD_TIMEOUT }, async () => {
    const lake = await handLake();
    const pick = async (ids: string[]) =>
      (await lake.query<LtvRow>(ltvSql)).filter((r) => ids.includes(r.customer_unique_id)).map((r) => [r.customer_unique_id, r.orders, r.days_since_last_order, r.churned]);
    const ids = ['u01', 'u04', 'u05', 'u08', 'u11', 'u12', 'u13'];

    expectClean(await lake.build({ select: SHOP }));
    expect(await pick(ids)).toEqual([
      ['u01', 4, 3, false],
      ['u04', 1, 0, false],
      ['u05', 2, 100, true],
      ['u08', 1, 20, false],
      ['u11', 3, 80, false],
      ['u12', 5, 10, false],
      ['u13', 3, 5, false],
    ]);

    // 2024-05-31 = D0 − 30: u04, u08 and u13 had not ordered yet; u01 and u12 keep the orders up to
    // that day (u01: day −30 only; u12: −50, −40, −30); u05's last order is 70 days old: not churned.
    // The as-of marts alone are rebuilt (their tests' other models are published already).
    const early = await lake.build({ select: ['mart_customer_ltv+'], vars: { as_of: '2024-05-31' } });
    expectClean(early);
    expect(early.models.map((m) => `${m.name} ${m.status}`).sort()).toEqual(['marts.mart_customer_ltv success', 'marts.mart_customer_rfm success']);
    expect(await pick(ids)).toEqual([
      ['u01', 1, 0, false],
      ['u05', 2, 70, false],
      ['u11', 3, 50, false],
      ['u12', 3, 0, false],
    ]);
    const [early2] = await lake.query<{ as_of: string; people: number }>(
      `select strftime(max(as_of_date), '%Y-%m-%d') as as_of, count(*)::INTEGER as people from marts.mart_customer_rfm`,
    );
    expect(early2).toEqual({ as_of: '2024-05-31', people: 12 });

    // 2024-07-15 = D0 + 15: nothing new, everyone 15 days further; u11 (80 → 95 days) churns.
    expectClean(await lake.build({ select: ['mart_customer_ltv+'], vars: { as_of: '2024-07-15' } }));
    expect(await pick(ids)).toEqual([
      ['u01', 4, 18, false],
      ['u04', 1, 15, false],
      ['u05', 2, 115, true],
      ['u08', 1, 35, false],
      ['u11', 3, 95, true],
      ['u12', 5, 25, false],
      ['u13', 3, 20, false],
    ]);
  });
});

describe('shop mart names', () => {
  it("are DESIGN's, with shop_ only where a prices or marketplace mart has the name", () => {
    const marts = fs.readdirSync(path.join(MODELS, 'marts')).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4));
    for (const name of ['dim_customers', 'dim_dates', 'fct_order_items', 'fct_payments', 'fct_reviews', 'mart_sales_hourly', 'mart_customer_daily']) {
      expect(marts, name).toContain(name);
    }
    // dim_products, dim_sellers and fct_orders are the prices and Mercado Livre marts.
    for (const name of ['dim_products', 'dim_sellers', 'fct_orders']) expect(marts, name).toContain(name.replace('_', '_shop_'));
    for (const old of ['dim_shop_dates', 'fct_shop_order_items', 'fct_shop_payments', 'fct_shop_reviews']) expect(marts, old).not.toContain(old);
  });
});
