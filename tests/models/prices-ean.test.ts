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
