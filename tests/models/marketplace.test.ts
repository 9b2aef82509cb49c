/**
 * The marketplace models that ship in `models/` (DESIGN "Model contracts" → Marketplace (Mercado
 * Livre)), built by the real engine on real bronze:
 *  1. the real connectors against the loopback Mercado Livre (orders, items fromOrders, sellers),
 *     two extraction days with late order updates in between, every model and YAML test, and the
 *     numbers checked against the fixture data computed here (dim_sellers, tru_item attributes,
 *     tru_item_price history, the latest status per order);
 *  2. hand-written orders that break the rules (audit.*_rejected), ties between order versions,
 *     and the null-safe (order_id, item_id, variation_id) key of tru_order_item.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defineSource, mercadoLivreItems, mercadoLivreOrders, mercadoLivreSeller, type BuildResult, type Lakehouse } from '../../src/index.js';
import { mlItemSchema, mlOrderSchema, mlUserSchema } from '../../src/connectors/mercadolivre/schemas.js';
import { buildMercadoLivreData, type MlData, type MlItem, type MlOrder } from '../../examples/fixtures/mercadolivre/data.js';
import { startMercadoLivreServer, type MercadoLivreServer } from '../../examples/fixtures/mercadolivre/server.js';
import { tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
const MARKETPLACE = ['tag:marketplace'];
const ALL_MODELS = [
  'staging.stg_ml__orders',
  'staging.stg_ml__order_items',
  'staging.stg_ml__payments',
  'staging.stg_ml__items',
  'staging.stg_ml__sellers',
  'trusted.tru_order',
  'trusted.tru_order_item',
  'trusted.tru_item',
  'trusted.tru_item_price',
  'trusted.tru_seller',
  'marts.fct_orders',
  'marts.dim_sellers',
];
const SECRET = 'ml-client-secret-0042';
const REFRESH = 'TG-marketplace-refresh-0001';
const fast = { requestsPerSecond: 500, burst: 50, backoffBaseMillis: 5 };

const servers: MercadoLivreServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function expectBuilt(result: BuildResult, names: string[]): void {
  const broken = result.models.filter((m) => m.status !== 'success' && m.status !== 'up-to-date');
  expect(broken.map((m) => `${m.name}: ${m.status} ${m.error ?? m.skippedBecause ?? ''}`)).toEqual([]);
  expect(result.models.map((m) => m.name).sort()).toEqual([...names].sort());
}

/** Error-severity tests must pass; warnings are listed (and returned) for the reader. */
function expectTestsPass(result: BuildResult): string[] {
  const failing = result.tests.filter((t) => t.status === 'fail' || t.status === 'error');
  expect(failing.map((t) => `${t.name}: ${t.status} (${t.failures}) ${t.error ?? ''}`)).toEqual([]);
  expect(result.tests.length).toBeGreaterThan(50);
  return result.tests.filter((t) => t.status === 'warn').map((t) => `${t.name} (${t.failures}${t.measured === undefined ? '' : `, measured ${t.measured}`})`);
}

const cents = (x: number): number => Math.round(x * 100);

/** dim_sellers' numbers for one seller, from the fixture's orders (DESIGN: paid revenue = paid orders' paid_amount − refunds). */
function expectedSales(orders: readonly MlOrder[], sellerId: number) {
  const mine = orders.filter((o) => o.seller.id === sellerId);
  const paid = mine.filter((o) => o.status === 'paid' || o.status === 'partially_refunded');
  const revenueCents = paid.reduce(
    (sum, o) => sum + Math.max(0, cents(o.paid_amount) - o.payments.reduce((r, p) => r + cents(p.transaction_amount_refunded), 0)),
    0,
  );
  return {
    orders: mine.length,
    paidOrders: paid.length,
    cancelled: mine.filter((o) => o.status === 'cancelled').length,
    revenue: revenueCents / 100,
    averageTicket: paid.length === 0 ? null : revenueCents / paid.length / 100,
    gross: mine.reduce((s, o) => s + cents(o.total_amount), 0) / 100,
  };
}

/** tru_item's attribute rules, written again in TypeScript over the API's item. */
function expectedAttributes(item: MlItem) {
  const attr = (id: string) => item.attributes.find((a) => a.id === id)?.value_name?.trim() || null;
  const fromVariations = (id: string) => [
    ...new Set(item.variations.flatMap((v) => v.attribute_combinations.filter((a) => a.id === id).map((a) => a.value_name?.trim())).filter((v): v is string => Boolean(v))),
  ];
  const sizes = fromVariations('SIZE');
  const colors = fromVariations('COLOR');
  return {
    brand: attr('BRAND'),
    size: attr('SIZE') ?? (sizes.length === 1 ? sizes[0]! : null),
    color: attr('COLOR') ?? (colors.length === 1 ? colors[0]! : null),
    gender: attr('GENDER'),
  };
}

/** Distinct (item, variation) pairs of each order: tru_order_item's grain. */
function expectedOrderItems(orders: readonly MlOrder[]): number {
  return orders.reduce((n, o) => n + new Set(o.order_items.map((l) => `${l.item.id}:${l.item.variation_id ?? '-'}`)).size, 0);
}

/** The fixture's clock day, just before São Paulo midnight: every order and update of the day is in. */
function endOfDay(data: MlData, day: number): Date {
  return new Date(`${data.dateOf(day)}T23:59:59.000-03:00`);
}

async function one<T = Record<string, unknown>>(lake: Lakehouse, sql: string): Promise<T> {
  const rows = await lake.query(sql);
  expect(rows).toHaveLength(1);
  return rows[0] as T;
}

// ---------------------------------------------------------------------------------------
// 1. Real connectors, two days
// ---------------------------------------------------------------------------------------

describe('marketplace models on the loopback Mercado Livre', () => {
  it('build from the connectors, then catch late order updates and a second day of prices', async () => {
    const data = buildMercadoLivreData({ seed: 4242, orders: 300, items: 40, days: 30, sellers: 3 });
    const server = await startMercadoLivreServer({ data, clientId: 'app-ml', clientSecret: SECRET, initialRefreshToken: REFRESH });
    servers.push(server);
    const common = { baseUrl: server.url, auth: { clientId: 'app-ml', clientSecret: SECRET, refreshToken: REFRESH } };
    const lake = await tempLake({ models: MODELS, limits: fast });
    const sellers = () => data.sellers.map((s) => mercadoLivreSeller({ sellerId: s.id, ...common }));

    // --- Day 1: orders (incremental from the window's start), sellers, then the listings the orders name.
    const day1 = data.day;
    const first = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate }), ...sellers()], { extractedAt: endOfDay(data, day1) });
    expect(first.status, JSON.stringify(first.sources.map((s) => s.error))).toBe('success');
    const items1 = await lake.extract([mercadoLivreItems({ fromOrders: true, ...common })], { extractedAt: endOfDay(data, day1) });
    expect(items1.status).toBe('success');
    const orderedIds = [...new Set(data.orders.flatMap((o) => o.order_items.map((l) => l.item.id)))].sort();
    expect(items1.sources[0]!.rows).toBe(orderedIds.length);
    const priceDay1 = new Map(orderedIds.map((id) => [id, data.getItem(id)!]));

    const build1 = await lake.build({ select: MARKETPLACE });
    expectBuilt(build1, ALL_MODELS);
    const warns1 = expectTestsPass(build1);
    if (warns1.length > 0) console.info(`marketplace build 1 warnings:\n  ${warns1.join('\n  ')}`);

    // One row per order, every order kept (the fixture breaks no rule), lines at (order, item, variation).
    expect(await one(lake, 'select count(*) as n, count(distinct order_id) as d from trusted.tru_order')).toEqual({ n: data.orders.length, d: data.orders.length });
    expect(await one(lake, 'select count(*) as n from audit.tru_order_rejected')).toEqual({ n: 0 });
    expect(await one(lake, 'select count(*) as n from trusted.tru_order_item')).toEqual({ n: expectedOrderItems(data.orders) });
    expect(await one(lake, 'select count(*) as n from marts.fct_orders')).toEqual({ n: data.orders.length });

    // São Paulo date and hour: the API prints -03:00 local times, so the string says them.
    const sample = data.orders[Math.floor(data.orders.length / 2)]!;
    const fact = await one(lake, `select date_created_at, date_created_date::VARCHAR as d, date_created_hour as h, strftime(date_created_sp, '%Y-%m-%dT%H:%M:%S') as sp, gross_amount, status from marts.fct_orders where order_id = ${sample.id}`);
    expect(fact).toEqual({
      date_created_at: new Date(sample.date_created),
      d: sample.date_created.slice(0, 10),
      h: Number(sample.date_created.slice(11, 13)),
      sp: sample.date_created.slice(0, 19),
      gross_amount: sample.total_amount,
      status: sample.status,
    });

    // dim_sellers: hand-computed from the fixture; the two sellers without orders have zeros.
    const checkSellers = async () => {
      const rows = await lake.query('select seller_id, has_profile, orders_count, paid_orders_count, cancelled_orders_count, paid_revenue, average_ticket, gross_amount, level_id from marts.dim_sellers order by seller_id');
      expect(rows.map((r) => r.seller_id)).toEqual(data.sellers.map((s) => s.id).sort((a, b) => a - b));
      for (const row of rows) {
        const want = expectedSales(data.orders, row.seller_id as number);
        expect(row).toMatchObject({ has_profile: true, orders_count: want.orders, paid_orders_count: want.paidOrders, cancelled_orders_count: want.cancelled, level_id: data.getUser(row.seller_id as number)!.seller_reputation.level_id });
        expect(row.paid_revenue as number).toBeCloseTo(want.revenue, 2);
        expect(row.gross_amount as number).toBeCloseTo(want.gross, 2);
        if (want.averageTicket === null) expect(row.average_ticket).toBeNull();
        else expect(Math.abs((row.average_ticket as number) - want.averageTicket)).toBeLessThanOrEqual(0.005 + 1e-9);
      }
      const main = expectedSales(data.orders, data.mainSellerId);
      expect(main.paidOrders).toBeGreaterThan(0);
      expect(main.cancelled).toBeGreaterThan(0);
      return main;
    };
    await checkSellers();

    // tru_item: brand, size, color, gender out of the attributes (and the variations when they agree).
    const items = await lake.query('select item_id, brand, size, color, gender, size_from, color_from, variations_count from trusted.tru_item order by item_id');
    expect(items.map((r) => r.item_id)).toEqual(orderedIds);
    for (const row of items) {
      expect({ item: row.item_id, brand: row.brand, size: row.size, color: row.color, gender: row.gender }).toEqual({ item: row.item_id, ...expectedAttributes(priceDay1.get(row.item_id as string)!) });
    }
    // The fixture has clothes (size + gender), shoes and electronics (no size, no gender).
    expect(items.some((r) => r.size !== null && r.gender !== null)).toBe(true);
    expect(items.some((r) => r.size === null && r.gender === null && r.brand !== null)).toBe(true);
    expect(items.some((r) => (r.variations_count as number) > 0)).toBe(true);

    // --- Day 2: new orders, late updates (returns) of older orders, prices move.
    data.advanceDay({ orders: 20, updates: 0 });
    const day2 = data.day;
    const updated = data.updateOrders(6);
    expect(updated).toHaveLength(6);
    const run2 = endOfDay(data, day2);
    const incremental = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })], { extractedAt: run2 });
    expect(incremental.sources[0]!.rows).toBe(20);
    // The incremental cursor is on date_created, so the returns of older orders need a re-sync of the latest N.
    const resync = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, last: data.orders.length })], { extractedAt: run2 });
    expect(resync.sources[0]!.rows).toBe(data.orders.length);
    const rest = await lake.extract([mercadoLivreItems({ fromOrders: true, ...common }), ...sellers()], { extractedAt: run2 });
    expect(rest.status).toBe('success');

    const build2 = await lake.build({ select: MARKETPLACE });
    expectBuilt(build2, ALL_MODELS);
    const warns2 = expectTestsPass(build2);
    if (warns2.length > 0) console.info(`marketplace build 2 warnings:\n  ${warns2.join('\n  ')}`);

    // One row per order, the latest status: the returned orders are cancelled now.
    expect(await one(lake, 'select count(*) as n, count(distinct order_id) as d from trusted.tru_order')).toEqual({ n: data.orders.length, d: data.orders.length });
    for (const u of updated) {
      const row = await one(lake, `select status, paid_amount, refunded_amount, net_paid_amount, is_paid_revenue, last_updated_at, versions_count from trusted.tru_order where order_id = ${u.id}`);
      expect(row).toEqual({
        status: 'cancelled',
        paid_amount: 0,
        refunded_amount: cents(u.total_amount) / 100,
        net_paid_amount: 0,
        is_paid_revenue: false,
        last_updated_at: new Date(u.last_updated),
        versions_count: 2,
      });
    }
    const untouched = data.orders.find((o) => o.status === 'paid' && !updated.some((u) => u.id === o.id))!;
    expect(await one(lake, `select status, versions_count from trusted.tru_order where order_id = ${untouched.id}`)).toEqual({ status: 'paid', versions_count: 2 });
    expect(await one(lake, 'select count(*) as n from trusted.tru_order_item')).toEqual({ n: expectedOrderItems(data.orders) });
    const main = await checkSellers();
    expect(main.orders).toBe(320);

    // tru_item_price: a row per listing and São Paulo day; the listings whose price moved show both prices.
    const priceDay2 = new Map([...priceDay1.keys()].map((id) => [id, data.getItem(id)!]));
    const moved = [...priceDay1.keys()].filter((id) => priceDay1.get(id)!.price !== priceDay2.get(id)!.price);
    expect(moved.length).toBeGreaterThan(0);
    const history = await lake.query('select item_id, price_date::VARCHAR as price_date, price, original_price, on_promotion from trusted.tru_item_price order by item_id, price_date');
    for (const id of priceDay1.keys()) {
      const rows = history.filter((r) => r.item_id === id);
      const [d1, d2] = [priceDay1.get(id)!, priceDay2.get(id)!];
      expect(rows, id).toEqual([
        { item_id: id, price_date: data.dateOf(day1), price: d1.price, original_price: d1.original_price, on_promotion: d1.original_price !== null && d1.original_price > d1.price },
        { item_id: id, price_date: data.dateOf(day2), price: d2.price, original_price: d2.original_price, on_promotion: d2.original_price !== null && d2.original_price > d2.price },
      ]);
    }
    // tru_item keeps the latest snapshot.
    const latest = await one(lake, `select price, snapshots_count, last_seen_date::VARCHAR as d from trusted.tru_item where item_id = '${moved[0]}'`);
    expect(latest).toEqual({ price: priceDay2.get(moved[0]!)!.price, snapshots_count: 2, d: data.dateOf(day2) });
  }, 120_000);
});

// ---------------------------------------------------------------------------------------
// 2. Hand-written records: rules, version ties, the null-safe line key
// ---------------------------------------------------------------------------------------

const SELLER = 777;

interface Line {
  item: string;
  variation?: number | null;
  quantity: number;
  price: number;
  size?: string;
}

/** An order as the API returns it (every key present: the bronze writer wants full structs). */
function order(o: {
  id: number;
  status: string;
  created: string;
  closed?: string | null;
  updated: string;
  total: number;
  paid: number;
  refunded?: number;
  lines: Line[];
}): Record<string, unknown> {
  const refunded = o.refunded ?? 0;
  return {
    id: o.id,
    status: o.status,
    status_detail: null,
    date_created: o.created,
    date_closed: o.closed === undefined ? o.created : o.closed,
    last_updated: o.updated,
    total_amount: o.total,
    paid_amount: o.paid,
    currency_id: 'BRL',
    buyer: { id: 5000 + (o.id % 3), nickname: `BUYER${o.id % 3}` },
    seller: { id: SELLER },
    order_items: o.lines.map((l) => ({
      item: {
        id: l.item,
        title: `Listing ${l.item}`,
        category_id: 'MLB31447',
        variation_id: l.variation ?? null,
        seller_sku: null,
        variation_attributes: l.size ? [{ id: 'SIZE', name: 'Tamanho', value_id: null, value_name: l.size }] : [],
      },
      quantity: l.quantity,
      unit_price: l.price,
      full_unit_price: l.price,
      sale_fee: Math.round(l.price * 12) / 100,
      listing_type_id: 'gold_special',
    })),
    payments: [
      {
        id: o.id * 10,
        status: refunded >= o.total && o.total > 0 ? 'refunded' : 'approved',
        payment_type: 'credit_card',
        installments: 1,
        transaction_amount: o.total,
        total_paid_amount: o.total,
        transaction_amount_refunded: refunded,
        date_created: o.created,
        date_approved: o.created,
      },
    ],
    shipping: { id: o.id * 3 },
    tags: ['paid'],
  };
}

const attribute = (id: string, value: string | null) => ({ id, name: id, value_id: null, value_name: value });

function listing(id: string, price: number, attributes: ReturnType<typeof attribute>[], variations: { id: number; size: string; color: string }[] = [], originalPrice: number | null = null): Record<string, unknown> {
  return {
    id,
    site_id: 'MLB',
    title: `Listing ${id}`,
    seller_id: SELLER,
    category_id: 'MLB31447',
    price,
    base_price: price,
    original_price: originalPrice,
    currency_id: 'BRL',
    available_quantity: 10,
    sold_quantity: 3,
    listing_type_id: 'gold_special',
    condition: 'new',
    permalink: `https://produto.mercadolivre.com.br/${id}`,
    attributes,
    variations: variations.map((v) => ({
      id: v.id,
      price,
      attribute_combinations: [attribute('SIZE', v.size), attribute('COLOR', v.color)],
      available_quantity: 5,
      sold_quantity: 1,
    })),
    status: 'active',
    date_created: '2025-12-01T10:00:00.000-03:00',
    last_updated: '2026-01-10T10:00:00.000-03:00',
  };
}

const seller = {
  id: SELLER,
  nickname: 'LOJA_TESTE',
  registration_date: '2020-05-01T12:00:00.000-03:00',
  country_id: 'BR',
  site_id: 'MLB',
  user_type: 'normal',
  permalink: 'http://perfil.mercadolivre.com.br/LOJA_TESTE',
  address: { state: 'BR-SC', city: 'Joinville' },
  // Not rated yet: no level, no MercadoLíder status.
  seller_reputation: { level_id: null, power_seller_status: null, transactions: { period: 'historic', total: 10, completed: 9, canceled: 1, ratings: { positive: 0.9, negative: 0.05, neutral: 0.05 } } },
};

async function land(lake: Lakehouse, at: string, orders: Record<string, unknown>[], items: Record<string, unknown>[] = [], users: Record<string, unknown>[] = []): Promise<void> {
  const sources = [
    defineSource({ source: 'mercadolivre', dataset: 'orders', schema: mlOrderSchema, partitionBy: { seller_id: String(SELLER) }, extract: () => [orders] }),
    ...(items.length ? [defineSource({ source: 'mercadolivre', dataset: 'items', schema: mlItemSchema, extract: () => [items] })] : []),
    ...(users.length ? [defineSource({ source: 'mercadolivre', dataset: 'sellers', schema: mlUserSchema, extract: () => [users] })] : []),
  ];
  const result = await lake.extract(sources, { extractedAt: new Date(at) });
  expect(result.status, JSON.stringify(result.sources.map((s) => [s.dataset, s.rejected, s.error]))).toBe('success');
  expect(result.sources.reduce((n, s) => n + s.rejected, 0)).toBe(0);
}

describe('marketplace rules on hand-written records', () => {
  it('rejects impossible orders into audit, breaks version ties by extraction, keys lines null-safely', async () => {
    const lake = await tempLake({ models: MODELS });
    const created = '2026-02-02T22:30:00.000-03:00'; // 01:30 UTC on 02-03: the São Paulo date is still 02-02
    const A = { id: 1001, created, updated: '2026-02-03T10:00:00.000-03:00', total: 400, paid: 400 };
    const aLines: Line[] = [
      { item: 'MLB1', quantity: 1, price: 100 },
      { item: 'MLB1', quantity: 2, price: 100 }, // the same listing twice: one row, quantity 3
      { item: 'MLB2', variation: 55, quantity: 1, price: 50, size: 'M' },
      { item: 'MLB2', quantity: 1, price: 50 }, // same listing, no variation: its own row
    ];
    const B = { id: 1002, created: '2026-02-01T09:00:00.000-03:00', total: 80, paid: 80, lines: [{ item: 'MLB1', quantity: 1, price: 80 }] };

    // Run 1 (earlier): A paid; B already cancelled (later last_updated); four broken orders; a line with quantity 0.
    await land(
      lake,
      '2026-02-03T12:00:00.000-03:00',
      [
        order({ ...A, status: 'paid', lines: aLines }),
        order({ ...B, status: 'cancelled', paid: 0, refunded: 80, updated: '2026-02-03T08:00:00.000-03:00' }),
        order({ id: 1003, status: 'paid', created, updated: created, total: -10, paid: 0, lines: [{ item: 'MLB1', quantity: 1, price: -10 }] }),
        order({ id: 1004, status: 'paid', created, closed: '2026-02-02T21:00:00.000-03:00', updated: created, total: 100, paid: 100, lines: [{ item: 'MLB1', quantity: 1, price: 100 }] }),
        order({ id: 1005, status: 'paid', created, updated: created, total: 100, paid: 100, lines: [{ item: 'MLB1', quantity: 1, price: 100 }, { item: 'MLB2', variation: 56, quantity: 0, price: 50, size: 'G' }] }),
        order({ id: 1006, status: 'paid', created, updated: created, total: 0, paid: 0, lines: [] }),
      ],
      [
        // No COLOR attribute, two sizes and one colour in the variations: color from the variations, size from the attribute.
        listing('MLB1', 100, [attribute('BRAND', 'Hering'), attribute('SIZE', 'G'), attribute('GENDER', 'Feminino')], [{ id: 55, size: 'M', color: 'Azul' }, { id: 57, size: 'G', color: 'Azul' }], 120),
        // A blank brand is no brand; no SIZE attribute and two sizes: no size; one colour: color.
        listing('MLB2', 50, [attribute('BRAND', '  '), attribute('COLOR', 'Preto')], [{ id: 55, size: 'M', color: 'Preto' }, { id: 56, size: 'G', color: 'Preto' }]),
      ],
      [seller],
    );
    // Run 2 (later): A again with the same last_updated but a partial refund (the later extraction wins the tie);
    // B's older version (paid, earlier last_updated) read again: it must not win.
    await land(lake, '2026-02-03T18:00:00.000-03:00', [
      order({ ...A, status: 'partially_refunded', refunded: 40, lines: aLines }),
      order({ ...B, status: 'paid', updated: '2026-02-01T09:05:00.000-03:00' }),
    ], [listing('MLB1', 90, [attribute('BRAND', 'Hering')], [], 120)]);

    const result = await lake.build({ select: MARKETPLACE });
    expectBuilt(result, ALL_MODELS);
    const failing = result.tests.filter((t) => t.status === 'fail' || t.status === 'error');
    expect(failing.map((t) => `${t.name}: ${t.status} (${t.failures}) ${t.error ?? ''}`)).toEqual([]);

    const orders = await lake.query('select order_id, status, net_paid_amount, refunded_amount, date_created_date::VARCHAR as d, versions_count from trusted.tru_order order by order_id');
    expect(orders).toEqual([
      { order_id: 1001, status: 'partially_refunded', net_paid_amount: 360, refunded_amount: 40, d: '2026-02-02', versions_count: 2 },
      { order_id: 1002, status: 'cancelled', net_paid_amount: 0, refunded_amount: 80, d: '2026-02-01', versions_count: 2 },
      { order_id: 1005, status: 'paid', net_paid_amount: 100, refunded_amount: 0, d: '2026-02-02', versions_count: 1 },
    ]);
    expect(await lake.query('select order_id, _rejected_rule as rule from audit.tru_order_rejected order by order_id')).toEqual([
      { order_id: 1003, rule: 'negative_total' },
      { order_id: 1004, rule: 'closed_before_created' },
      { order_id: 1006, rule: 'order_without_items' },
    ]);

    const lines = await lake.query('select order_id, item_id, variation_id, order_item_key, quantity, unit_price, line_amount, lines_merged, variation_size from trusted.tru_order_item order by order_id, item_id, variation_id nulls first');
    expect(lines).toEqual([
      { order_id: 1001, item_id: 'MLB1', variation_id: null, order_item_key: '1001:MLB1:-', quantity: 3, unit_price: 100, line_amount: 300, lines_merged: 2, variation_size: null },
      { order_id: 1001, item_id: 'MLB2', variation_id: null, order_item_key: '1001:MLB2:-', quantity: 1, unit_price: 50, line_amount: 50, lines_merged: 1, variation_size: null },
      { order_id: 1001, item_id: 'MLB2', variation_id: 55, order_item_key: '1001:MLB2:55', quantity: 1, unit_price: 50, line_amount: 50, lines_merged: 1, variation_size: 'M' },
      { order_id: 1002, item_id: 'MLB1', variation_id: null, order_item_key: '1002:MLB1:-', quantity: 1, unit_price: 80, line_amount: 80, lines_merged: 1, variation_size: null },
      { order_id: 1005, item_id: 'MLB1', variation_id: null, order_item_key: '1005:MLB1:-', quantity: 1, unit_price: 100, line_amount: 100, lines_merged: 1, variation_size: null },
    ]);
    expect(await lake.query('select order_id, item_id, variation_id, _rejected_rule as rule from audit.tru_order_item_rejected')).toEqual([
      { order_id: 1005, item_id: 'MLB2', variation_id: 56, rule: 'non_positive_quantity' },
    ]);

    // Latest snapshot per listing; attributes by id, variations as fallback.
    expect(await lake.query('select item_id, brand, size, size_from, color, color_from, gender, price, snapshots_count from trusted.tru_item order by item_id')).toEqual([
      // MLB1's latest snapshot dropped its variations and most attributes.
      { item_id: 'MLB1', brand: 'Hering', size: null, size_from: null, color: null, color_from: null, gender: null, price: 90, snapshots_count: 2 },
      { item_id: 'MLB2', brand: null, size: null, size_from: null, color: 'Preto', color_from: 'attribute', gender: null, price: 50, snapshots_count: 1 },
    ]);
    // Both snapshots of MLB1 fall on the same São Paulo day: the later price wins, the day's range is kept.
    expect(await lake.query("select item_id, price_date::VARCHAR as d, price, price_min, price_max, original_price, on_promotion, observations from trusted.tru_item_price where item_id = 'MLB1'")).toEqual([
      { item_id: 'MLB1', d: '2026-02-03', price: 90, price_min: 90, price_max: 100, original_price: 120, on_promotion: true, observations: 2 },
    ]);

    // Seller without a reputation level; its sales from the kept orders: 1001 (360) and 1005 (100) are paid revenue.
    expect(
      await one(lake, 'select has_profile, level_id, reputation_level, power_seller_status, orders_count, paid_orders_count, cancelled_orders_count, paid_revenue, average_ticket, completed_share, state_uf from marts.dim_sellers'),
    ).toEqual({
      has_profile: true,
      level_id: null,
      reputation_level: null,
      power_seller_status: null,
      orders_count: 3,
      paid_orders_count: 2,
      cancelled_orders_count: 1,
      paid_revenue: 460,
      average_ticket: 230,
      completed_share: 0.9,
      state_uf: 'SC',
    });
  }, 60_000);

  it('color falls back to the variations when the listing has no COLOR attribute', async () => {
    const lake = await tempLake({ models: MODELS });
    await land(
      lake,
      '2026-02-03T12:00:00.000-03:00',
      [order({ id: 2001, status: 'paid', created: '2026-02-03T09:00:00.000-03:00', updated: '2026-02-03T09:00:00.000-03:00', total: 100, paid: 100, lines: [{ item: 'MLB1', quantity: 1, price: 100 }] })],
      [listing('MLB1', 100, [attribute('BRAND', 'Hering'), attribute('SIZE', 'G'), attribute('GENDER', 'Feminino')], [{ id: 55, size: 'M', color: 'Azul' }, { id: 57, size: 'G', color: 'Azul' }])],
      [seller],
    );
    expectBuilt(await lake.build({ select: ['+tru_item'] }), ['staging.stg_ml__items', 'trusted.tru_item']);
    expect(await lake.query('select brand, size, size_from, color, color_from, gender, variation_sizes, variation_colors from trusted.tru_item')).toEqual([
      { brand: 'Hering', size: 'G', size_from: 'attribute', color: 'Azul', color_from: 'variations', gender: 'Feminino', variation_sizes: ['G', 'M'], variation_colors: ['Azul'] },
    ]);
  }, 60_000);
});
