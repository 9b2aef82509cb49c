/**
 * Pack sizes parsed from names (macros/pack_size.sql and its TypeScript twin) and the
 * price per unit of fct_prices_daily.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, parsePackSize, vtexProductSchema, type VtexProductRecord } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

function product(id: string, name: string, price: number): VtexProductRecord {
  return {
    productId: id, productName: name, brand: 'Marca', categoryId: '1', categories: ['/Saúde/Medicamentos/'],
    items: [{
      itemId: id, name, nameComplete: name, ean: '', measurementUnit: 'un', unitMultiplier: 1,
      sellers: [{ sellerId: '1', sellerName: 'Drogaria', sellerDefault: true, commertialOffer: { Price: price, ListPrice: price, PriceWithoutDiscount: price, PriceValidUntil: null, AvailableQuantity: 5, IsAvailable: true } }],
    }],
  };
}

describe('pack_size and a measure under half a milligram', () => {
  // macros/pack_size.sql converts mg to kg and rounds net_amount to 6 decimals (a milligram), so
  // "0,15mg" (a real dosage on a drugstore's VTEX catalog) becomes net_amount 0: tru_product's own
  // error test `pack_qty >= 1 and net_amount > 0` fails, and fct_prices_daily.price_per_unit
  // (price / nullif(net_amount, 0)) is NULL, failing its error-severity not_null test.
  it('keeps net_amount above zero and gives a price per unit', async () => {
    const lake = await tempLake({ models: MODELS });
    const source = defineSource({
      source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'drogaria', region: 'default' },
      extract: () => [[product('1', 'Anticoncepcional Levonorgestrel 0,15mg', 15)]],
    });
    expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['stg_vtex__products+'] });
    expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);

    const [p] = await lake.query<{ pack_qty: number; unit: string; net_amount: number }>('select pack_qty, unit, net_amount from trusted.tru_product');
    expect(p!.pack_qty).toBe(1);
    expect(p!.unit).toBe('kg');
    expect(p!.net_amount).toBeGreaterThan(0);
    expect(p!.net_amount).toBeCloseTo(0.15e-6, 12);
    const [f] = await lake.query<{ price_per_unit: number | null }>('select price_per_unit from marts.fct_prices_daily');
    expect(f!.price_per_unit).not.toBeNull();
    const failing = build.tests.filter((t) => t.severity === 'error' && (t.status === 'fail' || t.status === 'error'));
    expect(failing.map((t) => `${t.name} (${t.failures})`)).toEqual([]);
  }, 60_000);
});

describe('pack_size and a percentage after "com" / "c/"', () => {
  // The macro's header: "Numbers glued to letters are never sizes: ... "70% Cacau"". Its "c/ 12",
  // "com 6" container pattern only asks that the number be followed by a non-letter, and '%' is
  // one: "com 70% Cacau 100g" becomes a pack of 70 bars (7 kg), "com 0% Gordura 170g" a pack of 0
  // (net 0: tru_product's error test `pack_qty >= 1 and net_amount > 0` fails and price_per_unit
  // is NULL), "com 100% Fruta 1L" a pack of 100 litres.
  const CASES: [string, number, 'kg' | 'l', number][] = [
    ['Chocolate Amargo Com 70% Cacau 100g', 1, 'kg', 0.1],
    ['Iogurte Natural com 0% Gordura 170g', 1, 'kg', 0.17],
    ['Suco de Uva Integral com 100% Fruta 1L', 1, 'l', 1],
  ];

  it('reads the measure, not the percentage, in tru_product and fct_prices_daily', async () => {
    const lake = await tempLake({ models: MODELS });
    const source = defineSource({
      source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'mercado', region: 'default' },
      extract: () => [CASES.map(([name], i) => product(String(i + 1), name, 10))],
    });
    expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['stg_vtex__products+'] });
    expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);

    const rows = await lake.query<{ sku_name: string; pack_qty: number; unit: string; net_amount: number }>('select sku_name, pack_qty, unit, net_amount from trusted.tru_product order by sku_id');
    expect(rows.map((r) => [r.sku_name, r.pack_qty, r.unit, r.net_amount])).toEqual(CASES);
    const perUnit = await lake.query<{ sku_id: string; price_per_unit: number | null }>('select sku_id, price_per_unit from marts.fct_prices_daily order by sku_id');
    expect(perUnit).toEqual([{ sku_id: '1', price_per_unit: 100 }, { sku_id: '2', price_per_unit: 58.8235 }, { sku_id: '3', price_per_unit: 10 }]);
    // The TypeScript twin (same rules by design) agrees.
    expect(CASES.map(([name]) => { const p = parsePackSize(name)!; return [name, p.packQty, p.unit, p.netAmount]; })).toEqual(CASES);
  }, 60_000);
});

describe('pack_size and a fraction', () => {
  // "1/2" is half: the patterns' boundary before a number accepts '/', so "1/2 Dúzia" reads as
  // 2 dozen (24 eggs, not 6) and "1/2 kg" as 2 kg (not 0.5): prices per unit off by 4×.
  const CASES: [string, number, 'kg' | 'un', number][] = [
    ['Ovos Brancos Mantiqueira 1/2 Dúzia', 6, 'un', 6],
    ['Queijo Minas Frescal Tirolez 1/2 kg', 1, 'kg', 0.5],
  ];

  it('reads "1/2" as a half in tru_product', async () => {
    const lake = await tempLake({ models: MODELS });
    const source = defineSource({
      source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'mercado', region: 'default' },
      extract: () => [CASES.map(([name], i) => product(String(i + 1), name, 12))],
    });
    expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['stg_vtex__products+'] });
    expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);
    const rows = await lake.query<{ sku_name: string; pack_qty: number; unit: string; net_amount: number }>('select sku_name, pack_qty, unit, net_amount from trusted.tru_product order by sku_id');
    expect(rows.map((r) => [r.sku_name, r.pack_qty, r.unit, r.net_amount])).toEqual(CASES);
    expect(await lake.query('select sku_id, price_per_unit from marts.fct_prices_daily order by sku_id')).toEqual([
      { sku_id: '1', price_per_unit: 2 },
      { sku_id: '2', price_per_unit: 24 },
    ]);
  }, 60_000);
});
