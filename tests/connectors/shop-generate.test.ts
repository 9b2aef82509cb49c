import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateShopDataset,
  type GenerateShopDatasetOptions,
  type GenerateShopDatasetResult,
  type ShopTable,
} from '../../src/connectors/shop/generate.js';
import { ConfigError } from '../../src/errors.js';
import { BUSY_WAIT, child, repo } from '../helpers/mid-batch.js';

// Olist's file columns, written out by hand so a rename in the generator cannot go unnoticed.
const HEADERS: Record<ShopTable, string[]> = {
  customers: ['customer_id', 'customer_unique_id', 'customer_zip_code_prefix', 'customer_city', 'customer_state'],
  orders: [
    'order_id', 'customer_id', 'order_status', 'order_purchase_timestamp', 'order_approved_at',
    'order_delivered_carrier_date', 'order_delivered_customer_date', 'order_estimated_delivery_date',
  ],
  order_items: ['order_id', 'order_item_id', 'product_id', 'seller_id', 'shipping_limit_date', 'price', 'freight_value'],
  order_payments: ['order_id', 'payment_sequential', 'payment_type', 'payment_installments', 'payment_value'],
  order_reviews: [
    'review_id', 'order_id', 'review_score', 'review_comment_title', 'review_comment_message',
    'review_creation_date', 'review_answer_timestamp',
  ],
  products: [
    'product_id', 'product_category_name', 'product_name_lenght', 'product_description_lenght', 'product_photos_qty',
    'product_weight_g', 'product_length_cm', 'product_height_cm', 'product_width_cm',
  ],
  sellers: ['seller_id', 'seller_zip_code_prefix', 'seller_city', 'seller_state'],
  geolocation: ['geolocation_zip_code_prefix', 'geolocation_lat', 'geolocation_lng', 'geolocation_city', 'geolocation_state'],
};
const TABLES = Object.keys(HEADERS) as ShopTable[];

/** RFC 4180 reader, small on purpose: quoted fields, doubled quotes, line breaks inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

type Row = Record<string, string>;
interface Table {
  header: string[];
  rows: Row[];
}
type Dataset = Record<ShopTable, Table>;

function readDataset(dir: string): Dataset {
  const entries = TABLES.map((table): [ShopTable, Table] => {
    const [header = [], ...lines] = parseCsv(fs.readFileSync(path.join(dir, `${table}.csv`), 'utf8'));
    const rows = lines.map((fields) => Object.fromEntries(header.map((column, i) => [column, fields[i] ?? ''])));
    return [table, { header, rows }];
  });
  return Object.fromEntries(entries) as Dataset;
}

const cents = (money: string): number => Math.round(Number(money) * 100);

/** The dirt found by reading the files with the rules a trusted model would apply. */
function detectDirt(data: Dataset, spanStart: string, spanEnd: string): Record<string, number> {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const row of data.orders.rows) {
    const key = Object.values(row).join('\u0001');
    if (seen.has(key)) duplicates++;
    seen.add(key);
  }
  const orders = data.orders.rows;
  return {
    duplicate_order_row: duplicates,
    null_customer_id: orders.filter((o) => o.customer_id === '').length,
    null_product_id: data.order_items.rows.filter((i) => i.product_id === '').length,
    non_positive_price: data.order_items.rows.filter((i) => Number(i.price) <= 0).length,
    delivered_before_purchase: orders.filter(
      (o) => o.order_delivered_customer_date !== '' && o.order_delivered_customer_date! < o.order_purchase_timestamp!,
    ).length,
    out_of_range_date: orders.filter((o) => o.order_purchase_timestamp! < spanStart || o.order_purchase_timestamp! >= spanEnd)
      .length,
    negative_payment: data.order_payments.rows.filter((p) => Number(p.payment_value) < 0).length,
  };
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-shop-'));
  tempDirs.push(dir);
  return dir;
}

const BASE = { seed: 7, customers: 1500, days: 365, startDate: '2024-01-01', dirtyShare: 0.05 } as const;
const SPAN = ['2024-01-01 00:00:00', '2025-01-01 00:00:00'] as const;

let summary: GenerateShopDatasetResult;
let data: Dataset;

beforeAll(async () => {
  summary = await generateShopDataset({ ...BASE, outDir: tempDir() });
  data = readDataset(summary.outDir);
});

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('generateShopDataset', () => {
  it("writes Olist's eight files with their exact headers, and no temp file is left", () => {
    for (const table of TABLES) {
      expect(data[table].header, table).toEqual(HEADERS[table]);
      expect(summary.files[table].path).toBe(path.join(summary.outDir, `${table}.csv`));
    }
    expect(fs.readdirSync(summary.outDir).sort()).toEqual(TABLES.map((t) => `${t}.csv`).sort());
  });

  it('is deterministic: same options give byte-identical files, another seed does not', async () => {
    const again = await generateShopDataset({ ...BASE, outDir: tempDir() });
    for (const table of TABLES) {
      expect(fs.readFileSync(again.files[table].path).equals(fs.readFileSync(summary.files[table].path)), table).toBe(true);
    }
    expect(again.dirty).toEqual(summary.dirty);

    const other = await generateShopDataset({ ...BASE, seed: 8, outDir: tempDir() });
    for (const table of ['orders', 'order_items', 'customers', 'products'] as const) {
      expect(fs.readFileSync(other.files[table].path).equals(fs.readFileSync(summary.files[table].path)), table).toBe(false);
    }
  });

  it('reports the rows it wrote: one customers row per order, one person per customer_unique_id', () => {
    for (const table of TABLES) expect(data[table].rows.length, table).toBe(summary.files[table].rows);
    expect(summary.customers).toBe(BASE.customers);
    expect(new Set(data.customers.rows.map((c) => c.customer_unique_id)).size).toBe(BASE.customers);
    expect(new Set(data.orders.rows.map((o) => o.order_id)).size).toBe(summary.orders);
    expect(data.customers.rows.length).toBe(summary.orders);
    expect(data.orders.rows.length).toBe(summary.orders + summary.dirty.duplicate_order_row);
    const hex32 = /^[0-9a-f]{32}$/;
    const ids = [
      ...data.orders.rows.map((o) => o.order_id!),
      ...data.customers.rows.flatMap((c) => [c.customer_id!, c.customer_unique_id!]),
      ...data.order_reviews.rows.map((r) => r.review_id!),
      ...data.products.rows.map((p) => p.product_id!),
      ...data.sellers.rows.map((s) => s.seller_id!),
    ];
    expect(ids.filter((id) => !hex32.test(id))).toEqual([]);
  });

  it('has repeat buyers: a customer_unique_id with several customer_id', () => {
    const perPerson = new Map<string, number>();
    for (const c of data.customers.rows) perPerson.set(c.customer_unique_id!, (perPerson.get(c.customer_unique_id!) ?? 0) + 1);
    const repeaters = [...perPerson.values()].filter((n) => n >= 2).length;
    expect(repeaters / perPerson.size).toBeGreaterThan(0.15);
    expect(Math.max(...perPerson.values())).toBeGreaterThanOrEqual(4);
    expect(new Set(data.customers.rows.map((c) => c.customer_id)).size).toBe(data.customers.rows.length);
  });

  it('balances payments with items + freight for clean orders; cards take 1–10 installments', () => {
    const itemCents = new Map<string, number>();
    const dirtyOrders = new Set<string>();
    for (const i of data.order_items.rows) {
      itemCents.set(i.order_id!, (itemCents.get(i.order_id!) ?? 0) + cents(i.price!) + cents(i.freight_value!));
      if (cents(i.price!) <= 0) dirtyOrders.add(i.order_id!);
    }
    const paidCents = new Map<string, number>();
    const badInstallments: Row[] = [];
    for (const p of data.order_payments.rows) {
      paidCents.set(p.order_id!, (paidCents.get(p.order_id!) ?? 0) + cents(p.payment_value!));
      if (cents(p.payment_value!) < 0) dirtyOrders.add(p.order_id!);
      const installments = Number(p.payment_installments);
      const ok = p.payment_type === 'credit_card' ? installments >= 1 && installments <= 10 : installments === 1;
      if (!ok) badInstallments.push(p);
    }
    expect(badInstallments).toEqual([]);
    const unbalanced: string[] = [];
    let checked = 0;
    for (const orderId of new Set(data.orders.rows.map((o) => o.order_id!))) {
      if (!itemCents.has(orderId) || !paidCents.has(orderId)) unbalanced.push(`${orderId} has no items or payments`);
      if (dirtyOrders.has(orderId)) continue;
      if (paidCents.get(orderId) !== itemCents.get(orderId)) unbalanced.push(orderId);
      checked++;
    }
    expect(unbalanced).toEqual([]);
    expect(checked).toBeGreaterThan(summary.orders * 0.9);
    const types = new Set(data.order_payments.rows.map((p) => p.payment_type));
    expect([...types].sort()).toEqual(['boleto', 'credit_card', 'debit_card', 'voucher']);
  });

  it('keeps the timestamps of delivered orders in order, in São Paulo local format', () => {
    const stamp = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
    const statuses = new Set(['delivered', 'shipped', 'canceled', 'invoiced', 'processing', 'unavailable', 'approved', 'created']);
    const [start, end] = SPAN;
    let delivered = 0;
    const wrong: Row[] = [];
    for (const o of data.orders.rows) {
      if (!statuses.has(o.order_status!) || !stamp.test(o.order_purchase_timestamp!)) wrong.push(o);
      if (!o.order_estimated_delivery_date!.endsWith(' 00:00:00')) wrong.push(o);
      const dirtyDates =
        o.order_purchase_timestamp! < start ||
        o.order_purchase_timestamp! >= end ||
        (o.order_delivered_customer_date !== '' && o.order_delivered_customer_date! < o.order_purchase_timestamp!);
      if (o.order_status !== 'delivered' || dirtyDates) continue;
      delivered++;
      const times = [o.order_purchase_timestamp!, o.order_approved_at!, o.order_delivered_carrier_date!, o.order_delivered_customer_date!];
      const inOrder = times.every((t, i) => stamp.test(t) && (i === 0 || times[i - 1]! <= t));
      if (!inOrder) wrong.push(o);
    }
    expect(wrong).toEqual([]);
    expect(delivered / summary.orders).toBeGreaterThan(0.85);
    expect(new Set(data.orders.rows.map((o) => o.order_status)).size).toBeGreaterThanOrEqual(7);
  });

  it('writes exactly the dirt it reports, spread over every kind', () => {
    const found = detectDirt(data, ...SPAN);
    expect(found).toEqual(summary.dirty);
    const total = Object.values(summary.dirty).reduce((a, b) => a + b, 0);
    expect(total).toBe(Math.round(summary.orders * BASE.dirtyShare));
    for (const [kind, count] of Object.entries(summary.dirty)) expect(count, kind).toBeGreaterThan(0);
    const years = new Set(
      data.orders.rows.map((o) => o.order_purchase_timestamp!.slice(0, 4)).filter((y) => y !== '2024'),
    );
    expect([...years].sort()).toEqual(['1970', '2099']);
  });

  it('leaves the clean data unchanged when dirtyShare changes', async () => {
    const clean = await generateShopDataset({ ...BASE, dirtyShare: 0, outDir: tempDir() });
    expect(Object.values(clean.dirty).every((n) => n === 0)).toBe(true);
    const cleanData = readDataset(clean.outDir);
    expect(detectDirt(cleanData, ...SPAN)).toEqual(clean.dirty);
    expect(clean.orders).toBe(summary.orders);
    const ids = (d: Dataset): string[] => [...new Set(d.orders.rows.map((o) => o.order_id!))];
    expect(ids(cleanData)).toEqual(ids(data));
    for (const table of ['products', 'sellers', 'geolocation', 'customers'] as const) {
      expect(fs.readFileSync(clean.files[table].path).equals(fs.readFileSync(summary.files[table].path)), table).toBe(true);
    }
  });

  it('follows the shop calendar: busy evenings, quiet small hours, holiday peaks', () => {
    const [start, end] = SPAN;
    const purchases = data.orders.rows
      .map((o) => o.order_purchase_timestamp!)
      .filter((t) => t >= start && t < end);
    const byHour = new Array<number>(24).fill(0);
    const byDay = new Map<string, number>();
    for (const t of purchases) {
      byHour[Number(t.slice(11, 13))]!++;
      byDay.set(t.slice(0, 10), (byDay.get(t.slice(0, 10)) ?? 0) + 1);
    }
    const evening = (byHour[19]! + byHour[20]! + byHour[21]! + byHour[22]!) / 4;
    const smallHours = (byHour[3]! + byHour[4]!) / 2;
    expect(evening).toBeGreaterThan(smallHours * 5);

    const day = (d: string): number => byDay.get(d) ?? 0;
    const mean = (from: number, to: number, month: string): number => {
      let sum = 0;
      for (let d = from; d <= to; d++) sum += day(`2024-${month}-${String(d).padStart(2, '0')}`);
      return sum / (to - from + 1);
    };
    // 2024: Black Friday on 29 November, Mother's Day on 12 May.
    expect(day('2024-11-29')).toBeGreaterThan(3 * mean(1, 20, '11'));
    expect(mean(18, 24, '12')).toBeGreaterThan(1.2 * mean(1, 14, '12'));
    expect(mean(5, 11, '05')).toBeGreaterThan(1.2 * mean(13, 31, '05'));
  });

  it('quotes commas, quotes and line breaks as RFC 4180 says, with \\n line endings', () => {
    const raw = fs.readFileSync(summary.files.order_reviews.path, 'utf8');
    expect(raw).not.toContain('\r');
    expect(raw).toContain('""voando""');
    const messages = data.order_reviews.rows.map((r) => r.review_comment_message!);
    expect(messages.some((m) => m.includes('\n'))).toBe(true);
    expect(messages.some((m) => m.includes('"'))).toBe(true);
    expect(messages.some((m) => m.includes(','))).toBe(true);
    expect(messages.some((m) => m.includes('ó'))).toBe(true); // UTF-8 survives the round trip
    expect(new Set(data.order_reviews.rows.map((r) => r.review_score))).toEqual(new Set(['1', '2', '3', '4', '5']));
  });

  it('places people in real CEP ranges of their state, weighted towards SP', () => {
    const ranges: Record<string, [number, number][]> = {
      SP: [[1000, 19999]], RJ: [[20000, 28999]], ES: [[29000, 29999]], MG: [[30000, 39999]], BA: [[40000, 48999]],
      SE: [[49000, 49999]], PE: [[50000, 56999]], AL: [[57000, 57999]], PB: [[58000, 58999]], RN: [[59000, 59999]],
      CE: [[60000, 63999]], PI: [[64000, 64999]], MA: [[65000, 65999]], PA: [[66000, 68899]], AP: [[68900, 68999]],
      AM: [[69000, 69299], [69400, 69899]], RR: [[69300, 69399]], AC: [[69900, 69999]],
      DF: [[70000, 72799], [73000, 73699]], GO: [[72800, 72999], [73700, 76799]], RO: [[76800, 76999]],
      TO: [[77000, 77999]], MT: [[78000, 78899]], MS: [[79000, 79999]], PR: [[80000, 87999]], SC: [[88000, 89999]],
      RS: [[90000, 99999]],
    };
    const geo = new Map<string, string>();
    const outside: Row[] = [];
    for (const g of data.geolocation.rows) {
      const zip = Number(g.geolocation_zip_code_prefix);
      const inRange = (ranges[g.geolocation_state!] ?? []).some(([lo, hi]) => zip >= lo && zip <= hi);
      // Brazil lies between about 5°N and 34°S, 34°W and 74°W.
      const lat = Number(g.geolocation_lat);
      const lng = Number(g.geolocation_lng);
      const inBrazil = lat < 6 && lat > -34 && lng < -34 && lng > -74;
      if (!/^\d{5}$/.test(g.geolocation_zip_code_prefix!) || !inRange || !inBrazil) outside.push(g);
      geo.set(g.geolocation_zip_code_prefix!, `${g.geolocation_city}|${g.geolocation_state}`);
    }
    expect(outside).toEqual([]);
    const unknownPlace = [
      ...data.customers.rows.filter((c) => geo.get(c.customer_zip_code_prefix!) !== `${c.customer_city}|${c.customer_state}`),
      ...data.sellers.rows.filter((s) => geo.get(s.seller_zip_code_prefix!) !== `${s.seller_city}|${s.seller_state}`),
    ];
    expect(unknownPlace).toEqual([]);
    const sp = data.customers.rows.filter((c) => c.customer_state === 'SP').length / data.customers.rows.length;
    expect(sp).toBeGreaterThan(0.3);
    expect(new Set(data.customers.rows.map((c) => c.customer_state)).size).toBeGreaterThan(15);
  });

  it('handles a one-day span: purchases on that day, later steps cut at the end of the span', async () => {
    const oneDay = await generateShopDataset({ seed: 'one-day', customers: 40, days: 1, startDate: '2025-03-10', dirtyShare: 0, outDir: tempDir() });
    const day = readDataset(oneDay.outDir);
    for (const o of day.orders.rows) {
      expect(o.order_purchase_timestamp!.startsWith('2025-03-10 ')).toBe(true);
      expect(o.order_status).not.toBe('delivered');
      expect(o.order_delivered_customer_date).toBe('');
    }
    expect(day.order_reviews.rows.length).toBe(0);
  });

  it('rejects bad options, naming the field and the value', async () => {
    const outDir = tempDir();
    const ok: GenerateShopDatasetOptions = { seed: 1, customers: 10, days: 10, outDir };
    const cases: [unknown, RegExp][] = [
      [{ ...ok, customers: -3 }, /^generateShopDataset: option "customers" must be a positive integer.*\(got -3\)$/],
      [{ ...ok, customers: 2.5 }, /option "customers" .*\(got 2\.5\)/],
      [{ ...ok, days: 0 }, /option "days" must be a positive integer.*\(got 0\)/],
      [{ ...ok, seed: '' }, /option "seed" .*\(got ""\)/],
      [{ ...ok, seed: -1 }, /option "seed" .*\(got -1\)/],
      [{ ...ok, outDir: '' }, /option "outDir" .*\(got ""\)/],
      [{ ...ok, startDate: '2024-02-30' }, /option "startDate" must be a calendar date.*\(got "2024-02-30"\)/],
      [{ ...ok, startDate: '1/1/2024' }, /option "startDate" .*\(got "1\/1\/2024"\)/],
      [{ ...ok, dirtyShare: 0.9 }, /option "dirtyShare" must be a number between 0 and 0\.5 \(got 0\.9\)/],
      [{ ...ok, dirtyShare: Number.NaN }, /option "dirtyShare" .*\(got NaN\)/],
      [{ seed: 1, days: 10, outDir }, /option "customers" .*\(got undefined\)/],
      [{ ...ok, rows: 5 }, /option "rows" is not a known option/],
      [null, /^generateShopDataset: options must be an object \(got null\)$/],
    ];
    for (const [options, message] of cases) {
      await expect(generateShopDataset(options as GenerateShopDatasetOptions), JSON.stringify(options)).rejects.toThrow(message);
      await expect(generateShopDataset(options as GenerateShopDatasetOptions)).rejects.toBeInstanceOf(ConfigError);
    }
    expect(fs.readdirSync(outDir)).toEqual([]); // nothing written before the options are checked
  });
});

/** Generates into `outDir` with `seed`, waiting before its first rename until the file `go` exists (BUSY_WAIT). */
const GENERATOR = `
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { generateShopDataset } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [outDir, seed, go] = process.argv.slice(2);
${BUSY_WAIT}
const rename = fsp.rename;
fsp.rename = async function (...args) {
  if (!waited) waitForGo(go);
  return rename.apply(this, args);
} as typeof fsp.rename;
syncBuiltinESMExports();
await generateShopDataset({ seed, customers: 200, days: 60, outDir });
`;

describe('generateShopDataset, two processes into one folder', () => {
  it('each publishes the files it wrote: their temp files never collide', async () => {
    const outDir = tempDir();
    const base = tempDir();
    /** The files in `dir`, by name (temp files too). */
    const filesIn = (dir: string): Record<string, string> => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
    // What each writes (the generator is deterministic), generated alone.
    const alone = async (seed: string): Promise<Record<string, string>> => filesIn((await generateShopDataset({ seed, customers: 200, days: 60, outDir: tempDir() })).outDir);
    const [expectedA, expectedB] = [await alone('seed-a'), await alone('seed-b')];
    expect(expectedA).not.toEqual(expectedB);
    const [goA, goB] = [path.join(base, 'go-a'), path.join(base, 'go-b')];
    const a = child(base, 'gen-a', GENERATOR, [outDir, 'seed-a', goA], 'WAITING');
    const b = child(base, 'gen-b', GENERATOR, [outDir, 'seed-b', goB], 'WAITING');
    try {
      // Both wrote every file, and neither has renamed one yet; then one finishes, then the other.
      await a.reached;
      await b.reached;
      fs.writeFileSync(goA, '');
      expect(await a.exited, a.stderr()).toBe(0);
      expect(Object.fromEntries(Object.entries(filesIn(outDir)).filter(([f]) => f.endsWith('.csv')))).toEqual(expectedA);
      fs.writeFileSync(goB, '');
      expect(await b.exited, b.stderr()).toBe(0);
      expect(filesIn(outDir)).toEqual(expectedB);
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
    }
  });
});
