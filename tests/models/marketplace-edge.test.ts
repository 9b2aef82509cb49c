/**
 * the Mercado Livre connector feeding the marketplace models, on the loopback fixture.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defineSource, mercadoLivreOrders } from '../../src/index.js';
import { mlItemSchema, mlOrderSchema, mlUserSchema } from '../../src/connectors/mercadolivre/schemas.js';
import { buildMercadoLivreData, type MlOrder } from '../../examples/fixtures/mercadolivre/data.js';
import { startMercadoLivreServer, type MercadoLivreServer } from '../../examples/fixtures/mercadolivre/server.js';
import { tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
const SECRET = 'client-secret-hunt-0001';
const REFRESH = 'TG-hunt-refresh-0001';
const fast = { requestsPerSecond: 500, burst: 50, backoffBaseMillis: 5 };
const servers: MercadoLivreServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

describe('mercadoLivreOrders updatedWithinDays', () => {
  it('re-reads a status change of the newest order of the previous run (the one the cursor sits on)', async () => {
    const data = buildMercadoLivreData({ orders: 40, items: 30, days: 10 });
    const server = await startMercadoLivreServer({ data, clientId: 'app-1', clientSecret: SECRET, initialRefreshToken: REFRESH });
    servers.push(server);
    const common = { baseUrl: server.url, auth: { clientId: 'app-1', clientSecret: SECRET, refreshToken: REFRESH } };
    const lake = await tempLake({ models: MODELS, limits: fast });
    const options = { sellerId: data.mainSellerId, ...common, from: data.startDate, updatedWithinDays: 3650 };

    const first = await lake.extract([mercadoLivreOrders(options)]);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: data.orders.length });

    // The buyer of the newest order (the one the date_created cursor now sits on) returns it the next day.
    const list = data.orders as MlOrder[];
    const newest = list.reduce((a, b) => (Date.parse(b.date_created) > Date.parse(a.date_created) ? b : a));
    const index = list.indexOf(newest);
    const later = new Date(Date.parse(newest.date_created) + 86_400_000).toISOString();
    list[index] = { ...structuredClone(newest), status: 'cancelled', paid_amount: 0, last_updated: later };

    // A second run with updatedWithinDays: the orders changed since are read again as new versions.
    const second = await lake.extract([mercadoLivreOrders(options)]);
    expect(second.sources[0]!.status).toBe('success');
    const versions = await lake.query(
      `select status from read_parquet('${lake.paths.root}/bronze/mercadolivre/orders/**/*.parquet', hive_partitioning = true, union_by_name = true) where id = ${newest.id} order by last_updated`,
    );
    expect(versions.map((v) => v.status)).toEqual([newest.status, 'cancelled']);

    await lake.build({ select: ['+tru_order'] });
    const [row] = await lake.query(`select status, versions_count from trusted.tru_order where order_id = ${newest.id}`);
    expect(row).toEqual({ status: 'cancelled', versions_count: 2 });
  }, 60_000);
});

describe('fct_orders payment columns', () => {
  // A card declined, then the buyer paid with account money: the order's payments list holds both
  // (status 'rejected' and 'approved'). main_payment_type ("type of the largest payment") and
  // installments should describe the payment that went through, not the declined attempt.
  it('main_payment_type and installments ignore a rejected payment attempt', async () => {
    const lake = await tempLake({ models: MODELS });
    const at = '2026-02-02T10:00:00.000-03:00';
    const payment = (id: number, status: string, type: string, installments: number) => ({
      id, status, payment_type: type, installments, transaction_amount: 100, total_paid_amount: 100, transaction_amount_refunded: 0, date_created: at, date_approved: status === 'approved' ? at : null,
    });
    const order = {
      id: 9001, status: 'paid', status_detail: null, date_created: at, date_closed: at, last_updated: at, total_amount: 100, paid_amount: 100, currency_id: 'BRL',
      buyer: { id: 5000, nickname: 'BUYER' }, seller: { id: 777 },
      order_items: [{ item: { id: 'MLB1', title: 'Camiseta', category_id: 'MLB31447', variation_id: null, seller_sku: null, variation_attributes: [] }, quantity: 1, unit_price: 100, full_unit_price: 100, sale_fee: 12, listing_type_id: 'gold_special' }],
      payments: [payment(1, 'rejected', 'credit_card', 12), payment(2, 'approved', 'account_money', 1)],
      shipping: { id: 1 }, tags: ['paid'],
    };
    const source = defineSource({ source: 'mercadolivre', dataset: 'orders', schema: mlOrderSchema, partitionBy: { seller_id: '777' }, extract: () => [[order]] });
    expect((await lake.extract([source], { extractedAt: new Date('2026-02-02T12:00:00.000-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['+fct_orders'] });
    expect(build.models.filter((m) => m.status === 'error' || m.status === 'skipped').map((m) => m.name)).toEqual([]);
    const [row] = await lake.query('select revenue_amount, main_payment_type, installments from marts.fct_orders where order_id = 9001');
    expect(row).toEqual({ revenue_amount: 100, main_payment_type: 'account_money', installments: 1 });
  }, 60_000);
});

describe('tru_seller and a seller nobody has rated yet', () => {
  // The API sends ratings { positive: 0, negative: 0, neutral: 0 } for a seller without rated
  // sales: copied as shares, dim_sellers read 0% positive (a terrible seller, not a new one) and
  // the shares-sum-to-1 test warned on valid data.
  it('has null rating shares, not 0% positive, and no expression test warns', async () => {
    const lake = await tempLake({ models: MODELS });
    const user = {
      id: 4242, nickname: 'LOJA_NOVA', registration_date: '2026-01-20T10:00:00.000-03:00', country_id: 'BR', site_id: 'MLB', user_type: 'normal',
      permalink: 'http://perfil.mercadolivre.com.br/LOJA_NOVA', address: { state: 'BR-SP', city: 'São Paulo' },
      seller_reputation: { level_id: null, power_seller_status: null, transactions: { period: 'historic', total: 0, completed: 0, canceled: 0, ratings: { positive: 0, negative: 0, neutral: 0 } } },
    };
    const source = defineSource({ source: 'mercadolivre', dataset: 'sellers', schema: mlUserSchema, partitionBy: { seller_id: '4242' }, extract: () => [[user]] });
    expect((await lake.extract([source], { extractedAt: new Date('2026-02-02T12:00:00.000-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['+tru_seller'] });
    expect(build.models.filter((m) => m.status === 'error' || m.status === 'skipped').map((m) => m.name)).toEqual([]);
    expect(await lake.query('select completed_share, ratings_positive_share, ratings_negative_share, ratings_neutral_share from trusted.tru_seller')).toEqual([
      { completed_share: null, ratings_positive_share: null, ratings_negative_share: null, ratings_neutral_share: null },
    ]);
    expect(build.tests.filter((t) => t.model === 'trusted.tru_seller' && t.kind === 'expression' && t.status !== 'pass').map((t) => `${t.name} (${t.failures})`)).toEqual([]);
  }, 60_000);
});

describe('tru_item and the listing statuses Mercado Livre sends', () => {
  // Besides active, paused, closed, under_review and inactive, the items API answers
  // payment_required (a debtor seller's listing, reactivated once paid) and not_yet_active (being
  // published). The accepted_values test (error severity) failed the build on such a listing.
  it('accepts payment_required and not_yet_active', async () => {
    const lake = await tempLake({ models: MODELS });
    const listing = (id: string, status: string) => ({
      id, site_id: 'MLB', title: `Camiseta ${id}`, seller_id: 777, category_id: 'MLB31447', price: 50, base_price: 50, original_price: null, currency_id: 'BRL',
      available_quantity: 5, sold_quantity: 0, listing_type_id: 'gold_special', condition: 'new', permalink: `https://produto.mercadolivre.com.br/${id}`,
      attributes: [{ id: 'BRAND', name: 'Marca', value_id: null, value_name: 'Hering' }, { id: 'COLOR', name: 'Cor', value_id: null, value_name: 'Azul' }], variations: [], status,
      date_created: '2026-02-01T10:00:00.000-03:00', last_updated: '2026-02-01T10:00:00.000-03:00',
    });
    const items = [listing('MLB1', 'active'), listing('MLB2', 'payment_required'), listing('MLB3', 'not_yet_active')];
    const source = defineSource({ source: 'mercadolivre', dataset: 'items', schema: mlItemSchema, extract: () => [items] });
    expect((await lake.extract([source], { extractedAt: new Date('2026-02-02T12:00:00.000-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['+tru_item'] });
    expect(build.models.filter((m) => m.status === 'error' || m.status === 'skipped').map((m) => m.name)).toEqual([]);
    expect(await lake.query('select item_id, status from trusted.tru_item order by item_id')).toEqual([
      { item_id: 'MLB1', status: 'active' },
      { item_id: 'MLB2', status: 'payment_required' },
      { item_id: 'MLB3', status: 'not_yet_active' },
    ]);
    expect(build.tests.filter((t) => t.status !== 'pass').map((t) => `${t.name} (${t.status}, ${t.failures})`)).toEqual([]);
    expect(build.status).toBe('success');
  }, 60_000);
});
