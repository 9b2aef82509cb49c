import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineSource, mercadoLivreItems, mercadoLivreOrders, mercadoLivreReviews, mercadoLivreSearch, mercadoLivreSeller, mercadoLivreTrends, z } from '../../src/index.js';
import { mlHttp } from '../../src/connectors/mercadolivre/common.js';
import { buildMercadoLivreData, type MlData, type MlOrder } from '../../examples/fixtures/mercadolivre/data.js';
import { startMercadoLivreServer, type MercadoLivreServer } from '../../examples/fixtures/mercadolivre/server.js';
import { startFaultyServer } from '../helpers/faulty-server.js';
import { listFiles, tempLake } from '../helpers/temp-lake.js';

const SECRET = 'client-secret-abcdef123';
const REFRESH = 'TG-initial-refresh-token-0001';
const servers: MercadoLivreServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

async function setup(options: { tokenTtlSeconds?: number; offsetCap?: number; orders?: number } = {}): Promise<{ data: MlData; server: MercadoLivreServer; common: { baseUrl: string; auth: { clientId: string; clientSecret: string; refreshToken: string } } }> {
  const data = buildMercadoLivreData({ orders: options.orders ?? 600, items: 60, days: 30 });
  const server = await startMercadoLivreServer({ data, clientId: 'app-1', clientSecret: SECRET, initialRefreshToken: REFRESH, ...options });
  servers.push(server);
  return { data, server, common: { baseUrl: server.url, auth: { clientId: 'app-1', clientSecret: SECRET, refreshToken: REFRESH } } };
}

const fast = { requestsPerSecond: 500, burst: 50, backoffBaseMillis: 5 };

function bronze(root: string, dataset: string): string {
  return `read_parquet('${root}/bronze/mercadolivre/${dataset}/**/*.parquet', hive_partitioning = true, union_by_name = true)`;
}

/** Every file under the lake except the token store: none may contain a secret. */
function assertNoSecrets(root: string, secrets: string[]): void {
  for (const rel of listFiles(root)) {
    if (rel.startsWith(path.join('state', 'tokens'))) continue;
    const text = fs.readFileSync(path.join(root, rel)).toString('latin1');
    for (const s of secrets) expect(text.includes(s), `${s.slice(0, 6)}… found in ${rel}`).toBe(false);
  }
}

describe('mercadoLivreOrders', () => {
  it('splits date windows past the offset cap, lands every order once, and resumes incrementally without gap or repeat', async () => {
    const { data, server, common } = await setup({ offsetCap: 200, orders: 600 });
    const lake = await tempLake({ limits: fast });
    const first = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate, offsetCap: 200 })]);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: data.orders.length, rejected: 0 });
    // Nothing the server refused: the client never asked past the cap.
    expect(server.requests.filter((r) => r.status === 400)).toEqual([]);
    data.advanceDay({ orders: 40 });
    const second = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate, offsetCap: 200 })]);
    expect(second.sources[0]!.rows).toBe(data.orders.length - first.sources[0]!.rows);
    const [stats] = await lake.query(`select count(*) as n, count(distinct id) as d, min(date_created) as first from ${bronze(lake.paths.root, 'orders')}`);
    expect(stats).toMatchObject({ n: data.orders.length, d: data.orders.length });
    const [part] = await lake.query(`select distinct seller_id from read_parquet('${lake.paths.root}/bronze/mercadolivre/orders/**/*.parquet', hive_partitioning = true, hive_types = {'seller_id': VARCHAR})`);
    expect(part!.seller_id).toBe(String(data.mainSellerId));
    // The API's -03:00 timestamps are instants.
    const [one] = await lake.query(`select date_created from ${bronze(lake.paths.root, 'orders')} where id = ${data.orders[0]!.id}`);
    expect((one!.date_created as Date).getTime()).toBe(Date.parse(data.orders[0]!.date_created));
    assertNoSecrets(lake.paths.root, [SECRET, REFRESH, server.currentRefreshToken()]);
  }, 60_000);

  it('reads a date-only `to` as the whole of that day (São Paulo time), inclusive', async () => {
    const { data, common } = await setup({ orders: 200 });
    const lake = await tempLake({ limits: fast });
    // A day in the middle of the data, with its orders counted by their own -03:00 timestamps.
    const day = new Date(Date.parse(data.orders[100]!.date_created) - 3 * 3_600_000).toISOString().slice(0, 10);
    const start = Date.parse(`${day}T00:00:00-03:00`);
    const expected = data.orders.filter((o) => Date.parse(o.date_created) >= start && Date.parse(o.date_created) < start + 86_400_000).length;
    expect(expected).toBeGreaterThan(0);
    const result = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: day, to: day })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: expected });
  }, 60_000);

  it('reads a date-only `from`/`to` as São Paulo days with the offset São Paulo had then: summer time before 2019, 23- and 25-hour days', async () => {
    const { data, server, common } = await setup({ orders: 20 });
    const lake = await tempLake({ limits: fast });
    // [from, to] → the window sent: 2018-12-01 was a -02:00 day; 2018-11-04 began at 01:00 (23 hours);
    // 2019-02-16 had 23:00–24:00 twice (25 hours); 2026-01-10 is a plain -03:00 day.
    const cases: [string, string, string, string][] = [
      ['2018-12-01', '2018-12-01', '2018-12-01T02:00:00.000Z', '2018-12-02T01:59:59.999Z'],
      ['2018-11-04', '2018-11-04', '2018-11-04T03:00:00.000Z', '2018-11-05T01:59:59.999Z'],
      ['2019-02-16', '2019-02-16', '2019-02-16T02:00:00.000Z', '2019-02-17T02:59:59.999Z'],
      ['2026-01-10', '2026-01-10', '2026-01-10T03:00:00.000Z', '2026-01-11T02:59:59.999Z'],
    ];
    for (const [from, to, sentFrom, sentTo] of cases) {
      const seen = server.requests.length;
      const result = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from, to })]);
      expect(result.sources[0]!.status).toBe('success');
      const searches = server.requests.slice(seen).filter((r) => r.path === '/orders/search').map((r) => new URL(r.url, server.url).searchParams);
      expect(searches.length).toBeGreaterThan(0);
      expect([searches[0]!.get('order.date_created.from'), searches[0]!.get('order.date_created.to')], from).toEqual([sentFrom, sentTo]);
      // A new cursor key per case: a committed cursor would start the next window instead of `from`.
      fs.rmSync(path.join(lake.paths.state, 'cursors'), { recursive: true, force: true });
    }
  }, 60_000);

  it('refreshes an expired access token and never presents the same refresh token twice', async () => {
    const { data, server, common } = await setup({ tokenTtlSeconds: 1 });
    const lake = await tempLake({ limits: { ...fast, requestsPerSecond: 20, burst: 1 } });
    await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })]);
    server.expireAccessTokens();
    const again = await lake.extract([mercadoLivreSeller({ sellerId: data.mainSellerId, ...common }), mercadoLivreTrends({ site: 'MLB', ...common })]);
    expect(again.status).toBe('success');
    expect(server.refreshCount).toBeGreaterThanOrEqual(2);
    expect(new Set(server.presentedRefreshTokens).size).toBe(server.presentedRefreshTokens.length);
    const mode = fs.statSync(path.join(lake.paths.state, 'tokens', fs.readdirSync(path.join(lake.paths.state, 'tokens')).find((f) => f.endsWith('.json'))!)).mode & 0o777;
    expect(mode).toBe(0o600);
    assertNoSecrets(lake.paths.root, [SECRET, REFRESH, server.currentRefreshToken()]);
  }, 60_000);

  it('last: N fetches the latest N orders, newest first', async () => {
    const { data, common } = await setup();
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, last: 120 })]);
    expect(r.sources[0]!.rows).toBe(120);
    const newest = [...data.orders].sort((a, b) => Date.parse(b.date_created) - Date.parse(a.date_created) || b.id - a.id).slice(0, 120).map((o) => o.id);
    const got = (await lake.query(`select id from ${bronze(lake.paths.root, 'orders')}`)).map((r) => r.id);
    expect(new Set(got)).toEqual(new Set(newest));
  });
});

describe('the other Mercado Livre connectors', () => {
  it('items multiget in 20s with unknown ids quarantined; seller, search, reviews, trends', async () => {
    const { data, server, common } = await setup();
    const lake = await tempLake({ limits: fast });
    const ids = [...data.itemIds().slice(0, 45), 'MLB999999999', 'MLB888888888'];
    const r = await lake.extract([
      mercadoLivreItems({ ids, ...common }),
      mercadoLivreSeller({ sellerId: data.mainSellerId, ...common }),
      mercadoLivreSearch({ site: 'MLB', category: data.categories[0]!.id, ...common }),
      mercadoLivreReviews({ itemIds: data.itemIds().slice(0, 3), ...common }),
      mercadoLivreTrends({ site: 'MLB', ...common }),
    ]);
    const by = Object.fromEntries(r.sources.map((s) => [s.dataset, s]));
    expect(by.items).toMatchObject({ status: 'success', rows: 45, rejected: 2 });
    expect(server.requests.filter((q) => q.path === '/items').length).toBe(3);
    const q = fs.readFileSync(path.join(lake.paths.quarantine, 'mercadolivre', 'items', `${r.runId}.ndjson`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(q.map((e) => e.record.id).sort()).toEqual(['MLB888888888', 'MLB999999999']);
    expect(q[0].reasons[0].message).toMatch(/HTTP 404/);
    expect(by.sellers).toMatchObject({ rows: 1 });
    expect(by.search!.rows).toBe(1000);
    expect(by.search!.warnings![0]).toMatch(/past the search's 1000 window/);
    expect(by.reviews).toMatchObject({ rows: 3 });
    expect(by.trends!.rows).toBeGreaterThan(0);
    const [seller] = await lake.query(`select seller_reputation.transactions.total as total from ${bronze(lake.paths.root, 'sellers')}`);
    expect(seller!.total as number).toBeGreaterThan(0);
  });

  it('search reads up to a window that is not a multiple of the page size: the last page asks only for what is left under it', async () => {
    const data = buildMercadoLivreData({ orders: 10, items: 60, days: 30 });
    const server = await startMercadoLivreServer({ data, clientId: 'app-1', clientSecret: SECRET, initialRefreshToken: REFRESH, searchOffsetCap: 120 });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const common = { baseUrl: server.url, auth: { clientId: 'app-1', clientSecret: SECRET, refreshToken: REFRESH } };
    const r = await lake.extract([mercadoLivreSearch({ site: 'MLB', category: data.categories[0]!.id, ...common, offsetCap: 120 })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: 120 });
    expect(server.requests.filter((q) => q.status === 400)).toEqual([]);
    expect(r.sources[0]!.warnings![0]).toMatch(/past the search's 120 window/);
  });

  it('search keeps each result\'s seller as the site search sends it ({ seller: { id, nickname } })', async () => {
    const { data, common } = await setup();
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreSearch({ site: 'MLB', category: data.categories[0]!.id, ...common, offsetCap: 100 })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: 100 });
    const rows = await lake.query(`select id, seller.id as seller_id, seller.nickname as nickname from ${bronze(lake.paths.root, 'search')}`);
    expect(rows).toHaveLength(100);
    for (const row of rows) {
      const sellerId = data.getItem(row.id as string)!.seller_id;
      expect(row).toEqual({ id: row.id, seller_id: sellerId, nickname: data.getUser(sellerId)!.nickname });
    }
  });

  it('reviews pages /reviews/item/{id} until paging.total (the API answers 5 per call unless asked) into one row per item', async () => {
    const { data, common } = await setup();
    const itemId = data.itemIds().find((id) => (data.reviews(id)?.reviews.length ?? 0) > 8)!;
    expect(itemId).toBeDefined();
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreReviews({ itemIds: [itemId], ...common })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    const [row] = await lake.query(`select list_transform(reviews, r -> r.id) as ids from ${bronze(lake.paths.root, 'reviews')}`);
    expect(row!.ids).toEqual(data.reviews(itemId)!.reviews.map((review) => review.id));
  });

  it('items fromOrders reads the ids from bronze orders', async () => {
    const { data, common } = await setup();
    const lake = await tempLake({ limits: fast });
    await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })]);
    const r = await lake.extract([mercadoLivreItems({ fromOrders: true, ...common })]);
    const ordered = new Set(data.orders.flatMap((o) => o.order_items.map((i) => i.item.id)));
    expect(r.sources[0]!.rows).toBe(ordered.size);
  });

  it('items fromOrders reads only the orders bronze shows (a pruned partition, hidden until its files are deleted, gives no ids)', async () => {
    const { data, server, common } = await setup({ orders: 100 });
    const lake = await tempLake({ limits: fast });
    await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })], { extractedAt: new Date('2020-01-05T12:00:00Z') });
    const pruned = await lake.prune({ source: 'mercadolivre', dataset: 'orders', olderThan: '2021-01-01' });
    expect(pruned.files).toBeGreaterThan(0);
    expect(listFiles(path.join(lake.paths.bronze, 'mercadolivre', 'orders')).length).toBeGreaterThan(0); // deletion is deferred
    const before = server.requests.length;
    const r = await lake.extract([mercadoLivreItems({ fromOrders: true, ...common })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: 0 });
    expect(server.requests.slice(before).filter((q) => q.path.startsWith('/items'))).toEqual([]);
  });

  it('options are checked, naming the field', () => {
    expect(() => mercadoLivreOrders({ sellerId: 'abc', auth: { clientId: 'a', clientSecret: 'b' } } as never)).toThrow(/option "sellerId"/);
    expect(() => mercadoLivreItems({ auth: { clientId: 'a', clientSecret: 'b' } } as never)).toThrow(/exactly one of "ids" or "fromOrders: true"/);
    expect(() => mercadoLivreSearch({ site: 'MLB', auth: { clientId: 'a', clientSecret: 'b' } } as never)).toThrow(/"category" or "query"/);
  });
});

describe('late order updates', () => {
  it('updatedWithinDays re-reads orders changed after they were first extracted', async () => {
    const { data, common } = await setup({ orders: 50 });
    const lake = await tempLake({ limits: fast });
    const options = { sellerId: data.mainSellerId, ...common, from: data.startDate, updatedWithinDays: 3650 };
    await lake.extract([mercadoLivreOrders(options)]);
    data.advanceDay({ orders: 0, updates: 0 });
    const [updated] = data.updateOrders(1);
    const r = await lake.extract([mercadoLivreOrders(options)]);
    expect(r.sources[0]!.rows).toBeGreaterThanOrEqual(1);
    const versions = await lake.query(`select status, last_updated from ${bronze(lake.paths.root, 'orders')} where id = ${updated!.id} order by last_updated`);
    expect(versions.at(-1)!.status).toBe(updated!.status);
    expect(versions.length).toBeGreaterThanOrEqual(2);
  });

  it('updatedWithinDays filters the search by order.date_last_updated: only orders changed within the window come again, not the whole history', async () => {
    // The fixture, like the live API, ignores a filter name it does not know (order.last_updated.*).
    // 30 days of orders ending about now (São Paulo); the late update lands on the next simulated day.
    const spDateDaysAgo = (days: number): string => new Date(Date.now() - 3 * 3_600_000 - days * 86_400_000).toISOString().slice(0, 10);
    const data = buildMercadoLivreData({ orders: 60, items: 30, days: 30, startDate: spDateDaysAgo(31) });
    const server = await startMercadoLivreServer({ data, clientId: 'app-1', clientSecret: SECRET, initialRefreshToken: REFRESH });
    servers.push(server);
    const lake = await tempLake({ limits: fast });
    const options = {
      sellerId: data.mainSellerId,
      baseUrl: server.url,
      auth: { clientId: 'app-1', clientSecret: SECRET, refreshToken: REFRESH },
      from: data.startDate,
      updatedWithinDays: 2,
    };
    const first = await lake.extract([mercadoLivreOrders(options)]);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: data.orders.length });

    data.advanceDay({ orders: 0, updates: 0 });
    const [updated] = data.updateOrders(1);
    const before = Date.now();
    const second = await lake.extract([mercadoLivreOrders(options)]);
    expect(second.sources[0]!.status).toBe('success');
    const rows = await lake.query(`select id, last_updated, status from ${bronze(lake.paths.root, 'orders')} where _run_id = $1`, [second.runId]);
    // The cancellation is caught…
    expect(rows.find((r) => r.id === updated!.id)).toMatchObject({ status: 'cancelled' });
    // …and no order last updated before the window comes again.
    const stale = rows.filter((r) => (r.last_updated as Date).getTime() < before - 2 * 86_400_000 - 60_000);
    expect(stale).toEqual([]);
  });
});

describe('mercadoLivreTrends', () => {
  it('sends the category as one path segment: a category holding "/.." reads no other endpoint with the seller\'s token', async () => {
    const { server, common } = await setup({ orders: 10 });
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreTrends({ site: 'MLB', category: 'MLB1055/../../../users/me', ...common })]);
    expect(r.sources[0]!.status).toBe('failed');
    const paths = server.requests.map((q) => q.path).filter((p) => p !== '/oauth/token');
    expect(paths).toEqual([expect.stringMatching(/^\/trends\/MLB\/MLB1055%2F/)]);
  }, 60_000);
});

describe('the Mercado Livre HTTP context', () => {
  it('sends the OAuth token to the API\'s origin only: a URL on another origin (a picture, a CDN) is fetched without it', async () => {
    const { data, server, common } = await setup({ orders: 10 });
    const other = await startFaultyServer({ '/picture.json': (_req, res) => void res.end('{"ok":true}') });
    const lake = await tempLake({ limits: fast });
    const source = defineSource({
      source: 'mercadolivre',
      dataset: 'origins',
      schema: z.object({ ok: z.boolean() }),
      async *extract(ctx) {
        const http = mlHttp(ctx, common);
        try {
          await http.getJson(`${server.url}/users/${data.mainSellerId}`);
          yield [await http.getJson<{ ok: boolean }>(`${other.url}/picture.json`)];
        } finally {
          await http.close();
        }
      },
    });
    try {
      expect((await lake.extract([source])).sources[0]).toMatchObject({ status: 'success', rows: 1 });
      // The API got the token (a 200 needs it); the other origin saw no Authorization at all.
      expect(server.requests.find((r) => r.path === `/users/${data.mainSellerId}`)).toMatchObject({ status: 200 });
      expect(other.requests).toHaveLength(1);
      expect(other.requests[0]!.headers.authorization).toBeUndefined();
    } finally {
      await other.close();
    }
  }, 60_000);
});

describe('orders as the API documents them', () => {
  it('keeps pack_id, the cart that groups orders bought together (null for a single order)', async () => {
    const { data, common } = await setup({ orders: 20 });
    // Two orders of one cart, as /orders/{id} and /orders/search send them: `pack_id` set on each.
    const list = data.orders as MlOrder[];
    const pack = 2000003508553677;
    list[3] = { ...list[3]!, pack_id: pack } as unknown as MlOrder;
    list[4] = { ...list[4]!, pack_id: pack } as unknown as MlOrder;
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: data.orders.length, rejected: 0 });
    const rows = await lake.query(`select id, pack_id from ${bronze(lake.paths.root, 'orders')} where pack_id is not null order by id`);
    expect(rows.map((x) => x.id)).toEqual([list[3]!.id, list[4]!.id].sort((a, b) => a - b));
    expect(rows.every((x) => x.pack_id === pack)).toBe(true);
  }, 60_000);

  it('lands an order whose buyer, seller and payment ids come as digit strings (as the API reference shows them) with numeric ids', async () => {
    const { data, common } = await setup({ orders: 20 });
    const list = data.orders as MlOrder[];
    const o = list[5]!;
    list[5] = {
      ...o,
      buyer: { ...o.buyer, id: String(o.buyer.id) },
      seller: { ...o.seller, id: String(o.seller.id) },
      payments: o.payments.map((p) => ({ ...p, id: String(p.id) })),
    } as unknown as MlOrder;
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: data.orders.length, rejected: 0 });
    const [row] = await lake.query(`select buyer.id as buyer_id, seller.id as seller_id, payments[1].id as payment_id from ${bronze(lake.paths.root, 'orders')} where id = ${o.id}`);
    expect(row).toEqual({ buyer_id: o.buyer.id, seller_id: o.seller.id, payment_id: o.payments[0]!.id });
  }, 60_000);
});

describe('orders changing while they are paged', () => {
  it('updatedWithinDays: an order updated between two pages (it leaves the search, the rest move up one place) makes no other order be skipped', async () => {
    const { data, server, common } = await setup({ orders: 300 });
    const lake = await tempLake({ limits: fast });
    const options = { sellerId: data.mainSellerId, ...common, from: data.startDate, updatedWithinDays: 3650 };
    await lake.extract([mercadoLivreOrders(options)]);
    // The live search reads the order list on every request: once the update sweep has served its
    // first page, the first order it sent is changed now (a status change in the seller's panel), so
    // its last_updated passes the window's end and it drops out of the pages still to come.
    const list = data.orders as MlOrder[];
    const proto = Object.getPrototypeOf(data) as object;
    const getter = Object.getOwnPropertyDescriptor(proto, 'orders')!.get!;
    let pagesServed = 0;
    let changed: number | undefined;
    Object.defineProperty(data, 'orders', {
      configurable: true,
      get() {
        const last = server.requests.at(-1);
        if (last?.url.includes('date_last_updated') && pagesServed++ === 1 && changed === undefined) {
          const first = [...list].sort((a, b) => Date.parse(a.date_created) - Date.parse(b.date_created) || a.id - b.id)[0]!;
          const i = list.indexOf(first);
          list[i] = { ...first, status: 'cancelled', last_updated: new Date(Date.now() + 3_600_000).toISOString() };
          changed = first.id;
        }
        return getter.call(data) as MlOrder[];
      },
    });
    const r = await lake.extract([mercadoLivreOrders(options)]);
    expect(r.sources[0]!.status).toBe('success');
    expect(changed).toBeDefined();
    const rows = await lake.query(`select distinct id from ${bronze(lake.paths.root, 'orders')} where _run_id = $1`, [r.runId]);
    const got = new Set(rows.map((x) => x.id));
    const missed = data.orders.filter((o) => o.id !== changed && !got.has(o.id)).map((o) => o.id);
    expect(missed).toEqual([]);
  }, 60_000);
});

describe('orders arriving while the latest are paged', () => {
  it('last: N gives N distinct orders when a new order arrives between two pages (newest first, the rest move down one place)', async () => {
    const { data, server, common } = await setup({ orders: 300 });
    const list = data.orders as MlOrder[];
    const proto = Object.getPrototypeOf(data) as object;
    const getter = Object.getOwnPropertyDescriptor(proto, 'orders')!.get!;
    let searches = 0;
    let arrived: number | undefined;
    Object.defineProperty(data, 'orders', {
      configurable: true,
      get() {
        if (server.requests.at(-1)?.path === '/orders/search' && searches++ === 1) {
          // A sale made now, while the client is between its first and second page.
          const template = list[0]!;
          arrived = Math.max(...list.map((o) => o.id)) + 1;
          const now = new Date().toISOString();
          list.push({ ...template, id: arrived, date_created: now, date_closed: now, last_updated: now });
        }
        return getter.call(data) as MlOrder[];
      },
    });
    const lake = await tempLake({ limits: fast });
    const r = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, last: 120 })]);
    expect(arrived).toBeDefined();
    const got = (await lake.query(`select id from ${bronze(lake.paths.root, 'orders')}`)).map((x) => x.id);
    expect(new Set(got).size).toBe(120);
    expect(r.sources[0]!.rows).toBe(120);
  }, 60_000);
});
