/**
 * Pack sizes parsed from names (macros/pack_size.sql and its TypeScript twin) through the shipped
 * models: tru_product's pack columns and fct_prices_daily's price per unit.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, parsePackSize, vtexProductSchema, type Lakehouse, type VtexProductRecord } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

function product(id: string, name: string, price: number): VtexProductRecord {
  return {
    productId: id, productName: name, brand: 'Marca', categoryId: '1', categories: ['/Saúde/Medicamentos/'],
    items: [{
      itemId: id, name, nameComplete: name, ean: '', measurementUnit: 'un', unitMultiplier: 1,
      sellers: [{ sellerId: '1', sellerName: 'Loja', sellerDefault: true, commertialOffer: { Price: price, ListPrice: price, PriceWithoutDiscount: price, PriceValidUntil: null, AvailableQuantity: 5, IsAvailable: true } }],
    }],
  };
}

type Pack = [name: string, packQty: number, unit: 'kg' | 'l' | 'un', netAmount: number];

/** One store's products (sku ids 1, 2, … in order) at `price`, built through the price models; every model succeeds. */
async function built(names: string[], price: number): Promise<{ lake: Lakehouse; packs: Pack[]; failingErrorTests: string[] }> {
  const lake = await tempLake({ models: MODELS });
  const source = defineSource({
    source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'mercado', region: 'default' },
    extract: () => [names.map((name, i) => product(String(i + 1), name, price))],
  });
  expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
  const build = await lake.build({ select: ['stg_vtex__products+'] });
  expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);
  const rows = await lake.query<{ sku_name: string; pack_qty: number; unit: 'kg' | 'l' | 'un'; net_amount: number }>('select sku_name, pack_qty, unit, net_amount from trusted.tru_product order by sku_id');
  const failingErrorTests = build.tests.filter((t) => t.severity === 'error' && (t.status === 'fail' || t.status === 'error')).map((t) => `${t.name} (${t.failures})`);
  return { lake, packs: rows.map((r) => [r.sku_name, r.pack_qty, r.unit, r.net_amount]), failingErrorTests };
}

/** The TypeScript twin's answer, in the same shape (same rules by design). */
const twin = (names: string[]): Pack[] => names.map((name) => { const p = parsePackSize(name)!; return [name, p.packQty, p.unit, p.netAmount]; });

describe('pack_size through tru_product and fct_prices_daily', () => {
  it('keeps a measure under half a milligram above zero (net_amount has 9 decimals) and gives a price per unit', async () => {
    // A real dosage on drugstore VTEX catalogs; at 6 decimals (a milligram) it was 0 kg, failing
    // tru_product's `pack_qty >= 1 and net_amount > 0` and leaving price_per_unit NULL.
    const { lake, packs, failingErrorTests } = await built(['Anticoncepcional Levonorgestrel 0,15mg'], 15);
    expect(packs).toHaveLength(1);
    expect(packs[0]!.slice(1, 3)).toEqual([1, 'kg']);
    expect(packs[0]![3]).toBeCloseTo(0.15e-6, 12);
    const [f] = await lake.query<{ price_per_unit: number | null }>('select price_per_unit from marts.fct_prices_daily');
    expect(f!.price_per_unit).not.toBeNull();
    expect(failingErrorTests).toEqual([]);
  }, 60_000);

  it('reads the measure, not a percentage after "com" ("com 70% Cacau" is no pack of 70)', async () => {
    const cases: Pack[] = [
      ['Chocolate Amargo Com 70% Cacau 100g', 1, 'kg', 0.1],
      ['Iogurte Natural com 0% Gordura 170g', 1, 'kg', 0.17],
      ['Suco de Uva Integral com 100% Fruta 1L', 1, 'l', 1],
    ];
    const names = cases.map(([name]) => name);
    const { lake, packs } = await built(names, 10);
    expect(packs).toEqual(cases);
    expect(await lake.query('select sku_id, price_per_unit from marts.fct_prices_daily order by sku_id')).toEqual([
      { sku_id: '1', price_per_unit: 100 },
      { sku_id: '2', price_per_unit: 58.8235 },
      { sku_id: '3', price_per_unit: 10 },
    ]);
    expect(twin(names)).toEqual(cases);
  }, 60_000);

  it('reads "1/2" as a half ("1/2 Dúzia" is 6 eggs, "1/2 kg" 0.5 kg)', async () => {
    const cases: Pack[] = [
      ['Ovos Brancos Mantiqueira 1/2 Dúzia', 6, 'un', 6],
      ['Queijo Minas Frescal Tirolez 1/2 kg', 1, 'kg', 0.5],
    ];
    const names = cases.map(([name]) => name);
    const { lake, packs } = await built(names, 12);
    expect(packs).toEqual(cases);
    expect(await lake.query('select sku_id, price_per_unit from marts.fct_prices_daily order by sku_id')).toEqual([
      { sku_id: '1', price_per_unit: 2 },
      { sku_id: '2', price_per_unit: 24 },
    ]);
    expect(twin(names)).toEqual(cases);
  }, 60_000);

  it('reads a measure whose number and unit a no-break space separates (5 kg, not "Kg" alone at 1 kg)', async () => {
    // Names pasted from web pages carry U+00A0, and pt-BR number formatting U+202F: neither is
    // \s, so "5 kg" fell to the "Kg alone" rule (1 kg: a price per kg 5x too high) and "1 L",
    // "12 x 350 ml" to the default 1 un.
    const cases: Pack[] = [
      ['Arroz Tio João Tipo 1 5\u202Fkg', 1, 'kg', 5],
      ['Leite Integral Italac 1\u00A0L', 1, 'l', 1],
      ['Cerveja Skol Lata 12\u00A0x\u00A0350\u00A0ml', 12, 'l', 4.2],
      ['Café Pilão 500\u2007g', 1, 'kg', 0.5],
    ];
    const names = cases.map(([name]) => name);
    const { lake, packs, failingErrorTests } = await built(names, 25);
    expect(packs).toEqual(cases);
    expect(await lake.query('select sku_id, price_per_unit from marts.fct_prices_daily order by sku_id')).toEqual([
      { sku_id: '1', price_per_unit: 5 },
      { sku_id: '2', price_per_unit: 25 },
      { sku_id: '3', price_per_unit: 5.9524 },
      { sku_id: '4', price_per_unit: 50 },
    ]);
    expect(twin(names)).toEqual(cases);
    expect(failingErrorTests).toEqual([]);
  }, 60_000);
});

describe('an item sold by weight (measurementUnit, unitMultiplier)', () => {
  it('gives the price per kg from the unrounded Price of one unitMultiplier, not from the cents it rounds to', async () => {
    // VTEX prices one unit of unitMultiplier (0.15 kg of cheese at R$ 34,99/kg: Price 5.2485) and
    // does not round it. Rounded to cents first (5.25) and divided by 0.15 kg, the price per kg
    // came out R$ 35,00 — off by up to half a cent divided by the multiplier.
    const lake = await tempLake({ models: MODELS });
    const cheese = product('1', 'Queijo Prato Fatiado Tirolez', 5.2485);
    cheese.items[0]!.measurementUnit = 'kg';
    cheese.items[0]!.unitMultiplier = 0.15;
    const source = defineSource({
      source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'mercado', region: 'default' },
      extract: () => [[cheese]],
    });
    expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
    const build = await lake.build({ select: ['stg_vtex__products+'] });
    expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);
    expect(await lake.query('select price, unit, net_amount, price_per_unit from marts.fct_prices_daily')).toEqual([
      { price: 5.25, unit: 'kg', net_amount: 0.15, price_per_unit: 34.99 },
    ]);
  }, 60_000);
});
