/**
 * dim_products' EAN key and GTINs written with leading zeros.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, vtexProductSchema, type VtexProductRecord } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

function product(id: string, name: string, ean: string, price: number): VtexProductRecord {
  return {
    productId: id, productName: name, brand: 'Piracanjuba', categoryId: '1', categories: ['/Frios e Laticínios/Leite/'],
    items: [{
      itemId: id, name, nameComplete: name, ean, measurementUnit: 'un', unitMultiplier: 1,
      sellers: [{ sellerId: '1', sellerName: 'Loja', sellerDefault: true, commertialOffer: { Price: price, ListPrice: price, PriceWithoutDiscount: price, PriceValidUntil: null, AvailableQuantity: 5, IsAvailable: true } }],
    }],
  };
}

describe('dim_products and the same GTIN written as 13 or 14 digits', () => {
  // DESIGN: dim_products is "one row per product key (EAN when present, so stores compare)". A GTIN
  // is a number: 7891000100103 (EAN-13) and 07891000100103 (the same code as GTIN-14, as many
  // catalogs store it) are one product, but tru_product keys them as two strings, so the two
  // stores' milk never compares (two dim_products rows, stores_count 1 each).
  it('keys a GTIN-14 with a leading zero and its EAN-13 as one product', async () => {
    const lake = await tempLake({ models: MODELS });
    for (const [store, record] of [
      ['loja_a', product('101', 'Leite Integral Piracanjuba 1L', '7891000100103', 4.99)],
      ['loja_b', product('501', 'Leite Piracanjuba Integral 1 Litro', '07891000100103', 5.19)],
    ] as const) {
      const source = defineSource({ source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store, region: 'default' }, extract: () => [[record]] });
      expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
    }
    const build = await lake.build({ select: ['stg_vtex__products+'] });
    expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);
    const rows = await lake.query<{ key_type: string; stores_count: number }>('select key_type, stores_count from marts.dim_products');
    expect(rows).toEqual([{ key_type: 'ean', stores_count: 2 }]);
    const keys = await lake.query<{ n: number }>('select count(distinct product_key)::INTEGER as n from marts.fct_prices_daily');
    expect(keys).toEqual([{ n: 1 }]);
  }, 60_000);
});

describe('dim_products and an EAN-8 written as 8, 13 or 14 digits', () => {
  // GS1 writes an EAN-8 in a GTIN-13 or GTIN-14 field with leading zeros (00000078912342): the
  // same number. Only 12- and 14-digit codes were normalised (to 13 digits), so the padded
  // EAN-8 became '0000078912342' and never met the store writing '78912342'.
  it('keys an EAN-8 and its zero-padded GTIN-13 and GTIN-14 forms as one product', async () => {
    const lake = await tempLake({ models: MODELS });
    for (const [store, record] of [
      ['loja_a', product('101', 'Chiclete Trident Menta 8g', '78912342', 2.49)],
      ['loja_b', product('501', 'Chiclete Trident Menta 8g', '00000078912342', 2.59)],
      ['loja_c', product('901', 'Chiclete Trident Menta 8g', '0000078912342', 2.39)],
    ] as const) {
      const source = defineSource({ source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store, region: 'default' }, extract: () => [[record]] });
      expect((await lake.extract([source], { extractedAt: new Date('2026-03-02T10:00:00-03:00') })).status).toBe('success');
    }
    const build = await lake.build({ select: ['stg_vtex__products+'] });
    expect(build.models.filter((m) => m.status === 'error').map((m) => m.error)).toEqual([]);
    expect(await lake.query('select product_key, key_type, ean, stores_count from marts.dim_products')).toEqual([{ product_key: '78912342', key_type: 'ean', ean: '78912342', stores_count: 3 }]);
    expect(await lake.query('select count(distinct product_key)::INTEGER as n from marts.fct_prices_daily')).toEqual([{ n: 1 }]);
  }, 60_000);
});
