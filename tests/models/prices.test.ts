/**
 * The prices models that ship in `models/` (DESIGN "Model contracts" → Prices (VTEX)), built by
 * the real engine on real bronze: the pack-size macro on a table of real name shapes, the models
 * on a hand-written fixture with hand-computed rows, their YAML tests, incremental == full
 * refresh, and a realistic catalog from the VTEX fixture generator.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, vtexProductSchema, type BuildResult, type Lakehouse, type VtexProductRecord } from '../../src/index.js';
import { buildVtexCatalog, priceOf, toVtexProduct } from '../../examples/fixtures/vtex/catalog.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
/** The prices models only: other domains share the models folder and have no bronze in these lakes. */
const PRICES = ['stg_vtex__products+'];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

interface Offer {
  price: number;
  list: number;
  seller?: string;
  sellerName?: string;
  isDefault?: boolean;
}

interface ProductSpec {
  id: string;
  sku: string;
  name: string;
  brand: string;
  ean: string;
  /** Department › category › subcategory. */
  path: [string, string, string];
}

/** A product as the VTEX search API returns it (the fields bronze keeps). */
function vtex(p: ProductSpec, ...offers: Offer[]): VtexProductRecord {
  const categories = [3, 2, 1].map((n) => `/${p.path.slice(0, n).join('/')}/`);
  return {
    productId: p.id,
    productName: p.name,
    brand: p.brand,
    categoryId: String(100 + p.path.length),
    categories,
    items: [
      {
        itemId: p.sku,
        name: p.name,
        nameComplete: p.name,
        ean: p.ean,
        measurementUnit: 'un',
        unitMultiplier: 1,
        sellers: offers.map((o) => ({
          sellerId: o.seller ?? '1',
          sellerName: o.sellerName ?? 'Loja',
          sellerDefault: o.isDefault ?? (o.seller ?? '1') === '1',
          commertialOffer: {
            Price: o.price,
            ListPrice: o.list,
            PriceWithoutDiscount: o.list,
            // Every key of a nested struct must be present for the bronze writer (see the report: absent optional keys fail the batch).
            PriceValidUntil: null,
            AvailableQuantity: o.price > 0 ? 10 : 0,
            IsAvailable: o.price > 0,
          },
        })),
      },
    ],
  };
}

/** One extraction run of one store's catalog, stamped at `at` (an ISO instant). */
async function snapshot(lake: Lakehouse, at: string, store: string, region: string, records: VtexProductRecord[]): Promise<void> {
  const source = defineSource({
    source: 'vtex',
    dataset: 'products',
    schema: vtexProductSchema,
    partitionBy: { store, region },
    extract: () => [records],
  });
  const result = await lake.extract([source], { extractedAt: new Date(at) });
  expect(result.status, `extract ${store} at ${at}: ${result.sources[0]?.error ?? ''}`).toBe('success');
  expect(result.sources[0]!.rows).toBe(records.length);
}

function notPassing(result: BuildResult): string[] {
  return result.tests.filter((t) => t.status !== 'pass').map((t) => `${t.name}: ${t.status} (${t.failures})${'error' in t ? ` ${String((t as { error?: unknown }).error)}` : ''}`);
}

function expectBuilt(result: BuildResult): void {
  const broken = result.models.filter((m) => m.status !== 'success' && m.status !== 'up-to-date');
  expect(broken.map((m) => `${m.name}: ${m.status} ${m.error ?? m.skippedBecause ?? ''}`)).toEqual([]);
}

// ---------------------------------------------------------------------------------------
// The hand-written fixture: two stores, two days (and a third for the incremental test)
// ---------------------------------------------------------------------------------------

const LEITE_A: ProductSpec = { id: '101', sku: '1001', name: 'Leite Integral Piracanjuba 1L', brand: 'Piracanjuba', ean: '7891000100103', path: ['Frios e Laticínios', 'Leite', 'Leite Integral'] };
const ARROZ_A: ProductSpec = { id: '102', sku: '1002', name: 'Arroz Tio João Tipo 1 5kg', brand: 'Tio João', ean: '7891000200209', path: ['Mercearia', 'Arroz e Feijão', 'Arroz Branco'] };
const CERVEJA_A: ProductSpec = { id: '103', sku: '1003', name: 'Cerveja Heineken Lata 12x350ml', brand: 'Heineken', ean: '7896045500012', path: ['Bebidas', 'Cervejas', 'Cervejas Puro Malte'] };
/** Registered without EAN: its product key is store:sku_id. */
const OVOS_A: ProductSpec = { id: '104', sku: '1004', name: 'Ovos Brancos Mantiqueira 12un', brand: 'Mantiqueira', ean: '', path: ['Frios e Laticínios', 'Ovos', 'Ovos Brancos'] };
/** Same EAN as LEITE_A in another store, under its own ids and a different name. */
const LEITE_B: ProductSpec = { id: '501', sku: '9001', name: 'Leite Piracanjuba Integral 1 Litro', brand: 'Piracanjuba', ean: '7891000100103', path: ['Frios e Laticínios', 'Leite', 'Leite Integral'] };
const PAPEL_B: ProductSpec = { id: '502', sku: '9002', name: 'Papel Higiênico Neve Folha Dupla 12 rolos', brand: 'Neve', ean: '7891172422001', path: ['Higiene e Beleza', 'Papel Higiênico', 'Folha Dupla'] };
const CAFE_B: ProductSpec = { id: '503', sku: '9003', name: 'Café Torrado e Moído Pilão Tradicional 500g', brand: 'Pilão', ean: '7896089012345', path: ['Mercearia', 'Café e Chás', 'Café em Pó'] };

const partner = (price: number): Offer => ({ seller: 'parceiro01', sellerName: 'Empório Parceiro', isDefault: false, price, list: price });
const one = (price: number, list = price): Offer => ({ price, list, sellerName: 'Loja' });

/** Day 1 (2026-03-02) and day 2 (2026-03-03), times in São Paulo (-03:00). */
async function extractTwoDays(lake: Lakehouse): Promise<void> {
  // loja_a: a morning and a late-night snapshot on day 1 (23:30 in São Paulo is already 03-03 in UTC).
  await snapshot(lake, '2026-03-02T09:00:00-03:00', 'loja_a', 'default', [
    vtex(LEITE_A, one(5.49)),
    vtex(ARROZ_A, one(28.9)),
    vtex(CERVEJA_A, one(54.9, 59.9), partner(52.9)),
    vtex(OVOS_A, one(11.99)),
  ]);
  await snapshot(lake, '2026-03-02T09:00:00-03:00', 'loja_b', 'sc1', [
    vtex(LEITE_B, one(5.39)),
    vtex(PAPEL_B, one(21.9, 24.9)),
    // ListPrice below Price (bad source data): list_price is raised to the price, no promotion.
    vtex(CAFE_B, one(16.9, 15.9)),
  ]);
  await snapshot(lake, '2026-03-02T23:30:00-03:00', 'loja_a', 'default', [
    vtex(LEITE_A, one(5.29, 5.49)),
    vtex(ARROZ_A, one(28.9)),
    vtex(CERVEJA_A, one(54.9, 59.9), partner(52.9)),
    vtex(OVOS_A, one(11.99)),
  ]);
  // Day 2: eggs out of stock (VTEX answers Price 0), milk drops again in the evening.
  await snapshot(lake, '2026-03-03T09:00:00-03:00', 'loja_a', 'default', [
    vtex(LEITE_A, one(5.29, 5.49)),
    vtex(ARROZ_A, one(29.9)),
    vtex(CERVEJA_A, one(54.9, 59.9), partner(53.9)),
    vtex(OVOS_A, one(0, 0)),
  ]);
  await snapshot(lake, '2026-03-03T12:00:00-03:00', 'loja_b', 'sc1', [
    vtex(LEITE_B, one(5.39)),
    vtex(PAPEL_B, one(22.9, 24.9)),
    vtex(CAFE_B, one(16.9, 18.9)),
  ]);
  await snapshot(lake, '2026-03-03T18:00:00-03:00', 'loja_a', 'default', [
    vtex(LEITE_A, one(4.99, 5.49)),
    vtex(ARROZ_A, one(29.9)),
    vtex(CERVEJA_A, one(54.9, 59.9), partner(53.9)),
    vtex(OVOS_A, one(0, 0)),
  ]);
}

// ---------------------------------------------------------------------------------------
// (1) Pack sizes from product names
// ---------------------------------------------------------------------------------------

/** [name, measurementUnit, unitMultiplier, pack_qty, unit, net_amount, parsed_from] */
type PackCase = [string, string, number, number, 'kg' | 'l' | 'un', number, 'name' | 'measurement_unit' | 'default'];

const PACK_CASES: PackCase[] = [
  // The shapes DESIGN names
  ['Leite Condensado Moça 12x395g', 'un', 1, 12, 'kg', 4.74, 'name'],
  ['Refrigerante Coca-Cola 2L', 'un', 1, 1, 'l', 2, 'name'],
  ['Leite Integral Piracanjuba Caixa 6x1L', 'un', 1, 6, 'l', 6, 'name'],
  ['Sabão em Pó Omo 1,5kg', 'un', 1, 1, 'kg', 1.5, 'name'],
  ['Biscoito Trakinas Chocolate 395g', 'un', 1, 1, 'kg', 0.395, 'name'],
  // Multipacks: N x M
  ['Cerveja Heineken Lata 12x350ml', 'un', 1, 12, 'l', 4.2, 'name'],
  ['Creme Dental Colgate Pack 3 x 90g', 'un', 1, 3, 'kg', 0.27, 'name'],
  ['Cerveja Heineken Long Neck 6 x 330 ml', 'un', 1, 6, 'l', 1.98, 'name'],
  ['Leite Integral Italac 12 X 1 L', 'un', 1, 12, 'l', 12, 'name'],
  ['Cerveja Brahma Chopp Lata 8x269ml', 'un', 1, 8, 'l', 2.152, 'name'],
  ['Água Mineral Crystal sem Gás Pack 12x500ml', 'un', 1, 12, 'l', 6, 'name'],
  ['Sabonete Dove Original 6 un x 90g', 'un', 1, 6, 'kg', 0.54, 'name'],
  ['Iogurte Nestlé Morango 6x90g', 'un', 1, 6, 'kg', 0.54, 'name'],
  // A measure and a container count: each container holds the measure
  ['Cerveja Skol Lata 350ml c/ 12', 'un', 1, 12, 'l', 4.2, 'name'],
  ['Refrigerante Guaraná Antarctica Pet 2L c/6', 'un', 1, 6, 'l', 12, 'name'],
  ['Cerveja Brahma Lata 350ml com 12 unidades', 'un', 1, 12, 'l', 4.2, 'name'],
  ['Sabonete Protex Aveia 85g 6 Unidades', 'un', 1, 6, 'kg', 0.51, 'name'],
  ['Cerveja Itaipava 12 Latas de 350ml', 'un', 1, 12, 'l', 4.2, 'name'],
  ['Kit 3 Sabonete Lux Suave 85g', 'un', 1, 3, 'kg', 0.255, 'name'],
  ['Kit com 2 Shampoo Seda 325ml', 'un', 1, 2, 'l', 0.65, 'name'],
  ['Sabonete Lux Leve 6 Pague 5 85g', 'un', 1, 6, 'kg', 0.51, 'name'],
  // A comma that is no decimal comma ("Leve 4, Pague 3", "c/ 4, Alcalina") does not end a count as a point would.
  ['Sabonete Lux Leve 4, Pague 3 85g', 'un', 1, 4, 'kg', 0.34, 'name'],
  ['Cerveja Skol 2 Pacotes com 12 Latas 350ml', 'un', 1, 24, 'l', 8.4, 'name'],
  ['Kit Churrasco Picanha 1kg', 'un', 1, 1, 'kg', 1, 'name'],
  // A measure and an item count: the measure is the pack's total
  ['Chá Leão Camomila 10 Sachês 15g', 'un', 1, 10, 'kg', 0.015, 'name'],
  // Single measures: spacing, case, decimal comma or point, spelled-out units, thousands dot
  ['Arroz Tio João Tipo 1 500 g', 'un', 1, 1, 'kg', 0.5, 'name'],
  ['Arroz Tio João Tipo 1 5kg', 'un', 1, 1, 'kg', 5, 'name'],
  ['Água Mineral Crystal 1.5L', 'un', 1, 1, 'l', 1.5, 'name'],
  ['Suco Del Valle Uva 200ML', 'un', 1, 1, 'l', 0.2, 'name'],
  ['Leite em Pó Ninho Integral 400G', 'un', 1, 1, 'kg', 0.4, 'name'],
  ['Amaciante Comfort Concentrado 1,5 L', 'un', 1, 1, 'l', 1.5, 'name'],
  ['Refrigerante Guaraná Antarctica 2 Litros', 'un', 1, 1, 'l', 2, 'name'],
  ['Leite Integral Tirol 1 Litro', 'un', 1, 1, 'l', 1, 'name'],
  ['Farinha de Trigo Dona Benta 1.000g', 'un', 1, 1, 'kg', 1, 'name'],
  ['Vinho Tinto Chileno Casillero del Diablo Reserva Malbec 750ml', 'un', 1, 1, 'l', 0.75, 'name'],
  ['Vinho Tinto Argentino Trapiche Malbec 1,5L', 'un', 1, 1, 'l', 1.5, 'name'],
  ['Chiclete Trident Menta 8g', 'un', 1, 1, 'kg', 0.008, 'name'],
  // Numbers that are not sizes: brands, percentages, grades, ages
  ['Café Torrado e Moído 3 Corações Tradicional 500g', 'un', 1, 1, 'kg', 0.5, 'name'],
  ['Chocolate Lacta 70% Cacau 80g', 'un', 1, 1, 'kg', 0.08, 'name'],
  ['Bala Mastigável 7Belo Morango Sortimento 1 7g', 'un', 1, 1, 'kg', 0.007, 'name'],
  ['Refrigerante H2OH! Limão 500ml', 'un', 1, 1, 'l', 0.5, 'name'],
  ['Whisky Johnnie Walker 12 Anos 1L', 'un', 1, 1, 'l', 1, 'name'],
  ['Detergente 3 em 1 Ypê 500ml', 'un', 1, 1, 'l', 0.5, 'name'],
  ['Lâmpada LED Philips 9W 1 Lâmpada', 'un', 1, 1, 'un', 1, 'default'],
  // Counts without a measure
  ['Ovos Brancos Mantiqueira 12un', 'un', 1, 12, 'un', 12, 'name'],
  ['Ovos Brancos 30 UN', 'un', 1, 30, 'un', 30, 'name'],
  ['Papel Higiênico Neve 12 rolos', 'un', 1, 12, 'un', 12, 'name'],
  ['Papel Toalha Snob 2 rolos 60 folhas', 'un', 1, 2, 'un', 2, 'name'],
  ['Chá Leão Camomila 10 sachês', 'un', 1, 10, 'un', 10, 'name'],
  ['Café em Cápsula 3 Corações Espresso 10un', 'un', 1, 10, 'un', 10, 'name'],
  ['Esponja Multiuso Scotch-Brite 3 un.', 'un', 1, 3, 'un', 3, 'name'],
  ['Fralda Pampers Confort Sec G 36 Unidades', 'un', 1, 36, 'un', 36, 'name'],
  ['Fralda Huggies Supreme Care M 1 Pacote com 42 Unidades', 'un', 1, 42, 'un', 42, 'name'],
  ['Kit 3 Escovas Dentais Oral-B', 'un', 1, 3, 'un', 3, 'name'],
  ['Pilha Duracell AA c/ 4', 'un', 1, 4, 'un', 4, 'name'],
  ['Pilha Duracell AA c/ 4, Alcalina', 'un', 1, 4, 'un', 4, 'name'],
  ['Ovos Vermelhos Katayama 1 Dúzia', 'un', 1, 12, 'un', 12, 'name'],
  ['Ovos Caipiras Korin Meia Dúzia', 'un', 1, 6, 'un', 6, 'name'],
  // Sold by weight: "Kg" alone, or VTEX's measurementUnit/unitMultiplier when the name has no measure
  ['Picanha Bovina Resfriada Kg', 'un', 1, 1, 'kg', 1, 'name'],
  ['Tomate Italiano kg', 'un', 1, 1, 'kg', 1, 'name'],
  ['Banana Prata', 'kg', 0.15, 1, 'kg', 0.15, 'measurement_unit'],
  ['Queijo Prato Fatiado', 'g', 200, 1, 'kg', 0.2, 'measurement_unit'],
  ['Queijo Prato Fatiado 150g', 'kg', 0.2, 1, 'kg', 0.15, 'name'],
  // Nothing to parse
  ['Vinho Tinto Brasileiro Miolo Seleção Cabernet Sauvignon', 'un', 1, 1, 'un', 1, 'default'],
];

describe('pack size macro (models/macros/pack_size.sql)', () => {
  it(`parses ${PACK_CASES.length} real product name shapes into pack_qty, unit and net_amount`, async () => {
    const dir = tempDir();
    const models = path.join(dir, 'models');
    fs.mkdirSync(path.join(models, 'macros'), { recursive: true });
    fs.mkdirSync(path.join(models, 'trusted'), { recursive: true });
    fs.copyFileSync(path.join(MODELS, 'macros', 'pack_size.sql'), path.join(models, 'macros', 'pack_size.sql'));
    const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const values = PACK_CASES.map(([name, mu, mult], i) => `(${i}, ${quote(name)}, ${quote(mu)}, ${mult}::DOUBLE)`).join(',\n  ');
    fs.writeFileSync(
      path.join(models, 'trusted', 'pack_cases.sql'),
      `select i, name,
  {{ pack_size('name', 'measurement_unit', 'unit_multiplier') }} as pack,
  {{ pack_qty('name') }} as name_qty, {{ pack_unit('name') }} as name_unit, {{ pack_net_amount('name') }} as name_net
from (values
  ${values}
) as t(i, name, measurement_unit, unit_multiplier)\n`,
    );
    const lake = await tempLake({ root: path.join(dir, 'data'), models });
    expectBuilt(await lake.build());
    const rows = await lake.query<{ i: number; name: string; pack: { pack_qty: number; unit: string; net_amount: number; parsed_from: string }; name_qty: number; name_unit: string; name_net: number }>(
      'select * from trusted.pack_cases order by i',
    );
    const got = rows.map((r) => [r.name, r.pack.pack_qty, r.pack.unit, Number(r.pack.net_amount.toFixed(6)), r.pack.parsed_from]);
    const want = PACK_CASES.map(([name, , , qty, unit, net, from]) => [name, qty, unit, net, from]);
    expect(got).toEqual(want);
    // Without the VTEX fields, the convenience macros give the name-only answer.
    for (const r of rows.filter((r) => r.pack.parsed_from !== 'measurement_unit')) {
      expect([r.name_qty, r.name_unit, r.name_net], r.name).toEqual([r.pack.pack_qty, r.pack.unit, r.pack.net_amount]);
    }
    const banana = rows.find((r) => r.name === 'Banana Prata')!;
    expect([banana.name_qty, banana.name_unit, banana.name_net]).toEqual([1, 'un', 1]);
  });
});

// ---------------------------------------------------------------------------------------
// (2) + (3) The price models on the hand-written fixture
// ---------------------------------------------------------------------------------------

describe('prices models on a hand-written fixture (two stores, two days)', () => {
  it('builds stg_vtex__products, tru_price, tru_product, fct_prices_daily, dim_products, dim_stores, mart_price_changes to the hand-computed rows', async () => {
    const lake = await tempLake({ models: MODELS });
    await extractTwoDays(lake);
    expectBuilt(await lake.build({ select: PRICES }));

    // stg_vtex__products: one row per product × SKU × seller per run, typed, São Paulo dates.
    const [count] = await lake.query('select count(*) as n, count(distinct run_id) as runs from staging.stg_vtex__products');
    // loja_a: 4 runs × (4 products + 1 partner offer); loja_b: 2 runs × 3 products.
    expect(count).toEqual({ n: 4 * 5 + 2 * 3, runs: 6 });
    const rows = await lake.query(`
      select store, region, product_id, sku_id, product_name, brand, category_path, department, category, subcategory, ean,
             seller_id, is_default_seller, price, list_price, is_available, strftime(extracted_sp, '%Y-%m-%d %H:%M') as sp, price_date,
             typeof(extracted_at) as at_type, typeof(extracted_sp) as sp_type
      from staging.stg_vtex__products
      where sku_id in ('1001', '1004') and extracted_at = TIMESTAMPTZ '2026-03-03 02:30:00+00'
      order by sku_id`);
    expect(rows).toEqual([
      {
        store: 'loja_a', region: 'default', product_id: '101', sku_id: '1001', product_name: 'Leite Integral Piracanjuba 1L', brand: 'Piracanjuba',
        category_path: '/Frios e Laticínios/Leite/Leite Integral/', department: 'Frios e Laticínios', category: 'Leite', subcategory: 'Leite Integral',
        ean: '7891000100103', seller_id: '1', is_default_seller: true, price: 5.29, list_price: 5.49, is_available: true,
        sp: '2026-03-02 23:30', price_date: '2026-03-02', at_type: 'TIMESTAMP WITH TIME ZONE', sp_type: 'TIMESTAMP',
      },
      {
        store: 'loja_a', region: 'default', product_id: '104', sku_id: '1004', product_name: 'Ovos Brancos Mantiqueira 12un', brand: 'Mantiqueira',
        category_path: '/Frios e Laticínios/Ovos/Ovos Brancos/', department: 'Frios e Laticínios', category: 'Ovos', subcategory: 'Ovos Brancos',
        ean: null, seller_id: '1', is_default_seller: true, price: 11.99, list_price: 11.99, is_available: true,
        sp: '2026-03-02 23:30', price_date: '2026-03-02', at_type: 'TIMESTAMP WITH TIME ZONE', sp_type: 'TIMESTAMP',
      },
    ]);

    // tru_price: last price of the São Paulo day, day min/max, list price of the same observation.
    const truPrice = await lake.query(`
      select store, region, sku_id, seller_id, price_date, price, list_price, price_min, price_max, on_promotion, discount_pct,
             is_default_seller, is_available, observations
      from trusted.tru_price order by all`);
    const p = (store: string, region: string, sku: string, seller: string, date: string, price: number, list: number, min: number, max: number, promo: boolean, disc: number, obs: number) => ({
      store, region, sku_id: sku, seller_id: seller, price_date: date, price, list_price: list, price_min: min, price_max: max, on_promotion: promo, discount_pct: disc,
      is_default_seller: seller === '1', is_available: true, observations: obs,
    });
    expect(truPrice).toEqual([
      // Milk: 5.49 at 09:00 then 5.29 at 23:30 (still 03-02 in São Paulo) → last 5.29, range 5.29–5.49.
      p('loja_a', 'default', '1001', '1', '2026-03-02', 5.29, 5.49, 5.29, 5.49, true, 3.64, 2),
      p('loja_a', 'default', '1001', '1', '2026-03-03', 4.99, 5.49, 4.99, 5.29, true, 9.11, 2),
      p('loja_a', 'default', '1002', '1', '2026-03-02', 28.9, 28.9, 28.9, 28.9, false, 0, 2),
      p('loja_a', 'default', '1002', '1', '2026-03-03', 29.9, 29.9, 29.9, 29.9, false, 0, 2),
      p('loja_a', 'default', '1003', '1', '2026-03-02', 54.9, 59.9, 54.9, 54.9, true, 8.35, 2),
      p('loja_a', 'default', '1003', '1', '2026-03-03', 54.9, 59.9, 54.9, 54.9, true, 8.35, 2),
      p('loja_a', 'default', '1003', 'parceiro01', '2026-03-02', 52.9, 52.9, 52.9, 52.9, false, 0, 2),
      p('loja_a', 'default', '1003', 'parceiro01', '2026-03-03', 53.9, 53.9, 53.9, 53.9, false, 0, 2),
      // Eggs: 03-03 had Price 0 only → no row that day (rejected, see the audit below).
      p('loja_a', 'default', '1004', '1', '2026-03-02', 11.99, 11.99, 11.99, 11.99, false, 0, 2),
      p('loja_b', 'sc1', '9001', '1', '2026-03-02', 5.39, 5.39, 5.39, 5.39, false, 0, 1),
      p('loja_b', 'sc1', '9001', '1', '2026-03-03', 5.39, 5.39, 5.39, 5.39, false, 0, 1),
      p('loja_b', 'sc1', '9002', '1', '2026-03-02', 21.9, 24.9, 21.9, 21.9, true, 12.05, 1),
      p('loja_b', 'sc1', '9002', '1', '2026-03-03', 22.9, 24.9, 22.9, 22.9, true, 8.03, 1),
      // ListPrice 15.90 < Price 16.90: list raised to the price, no promotion.
      p('loja_b', 'sc1', '9003', '1', '2026-03-02', 16.9, 16.9, 16.9, 16.9, false, 0, 1),
      p('loja_b', 'sc1', '9003', '1', '2026-03-03', 16.9, 18.9, 16.9, 16.9, true, 10.58, 1),
    ]);
    const [types] = await lake.query(`select typeof(price) as price, typeof(list_price) as list, typeof(price_min) as min, typeof(price_date) as d, typeof(last_extracted_at) as at from trusted.tru_price limit 1`);
    expect(types).toEqual({ price: 'DECIMAL(18,2)', list: 'DECIMAL(18,2)', min: 'DECIMAL(18,2)', d: 'DATE', at: 'TIMESTAMP WITH TIME ZONE' });

    // The zero price lands in the audit table with its rule, aggregated like the model's rows.
    const rejected = await lake.query(`
      select _rejected_rule, store, region, sku_id, seller_id, price_date, price, observations
      from audit.tru_price_rejected order by all`);
    expect(rejected).toEqual([
      { _rejected_rule: 'non_positive_price', store: 'loja_a', region: 'default', sku_id: '1004', seller_id: '1', price_date: '2026-03-03', price: 0, observations: 2 },
    ]);

    // tru_product: latest extraction per offer, pack size, product key.
    const truProduct = await lake.query(`
      select store, region, sku_id, seller_id, product_key, ean, product_name, brand, category_path, is_default_seller,
             pack_qty, unit, net_amount, pack_parsed_from, last_seen_date
      from trusted.tru_product order by store, region, sku_id, seller_id`);
    const t = (store: string, region: string, spec: ProductSpec, seller: string, key: string, qty: number, unit: string, net: number) => ({
      store, region, sku_id: spec.sku, seller_id: seller, product_key: key, ean: spec.ean === '' ? null : spec.ean, product_name: spec.name, brand: spec.brand,
      category_path: `/${spec.path.join('/')}/`, is_default_seller: seller === '1', pack_qty: qty, unit, net_amount: net, pack_parsed_from: 'name', last_seen_date: '2026-03-03',
    });
    expect(truProduct).toEqual([
      t('loja_a', 'default', LEITE_A, '1', '7891000100103', 1, 'l', 1),
      t('loja_a', 'default', ARROZ_A, '1', '7891000200209', 1, 'kg', 5),
      t('loja_a', 'default', CERVEJA_A, '1', '7896045500012', 12, 'l', 4.2),
      t('loja_a', 'default', CERVEJA_A, 'parceiro01', '7896045500012', 12, 'l', 4.2),
      t('loja_a', 'default', OVOS_A, '1', 'loja_a:1004', 12, 'un', 12),
      t('loja_b', 'sc1', LEITE_B, '1', '7891000100103', 1, 'l', 1),
      t('loja_b', 'sc1', PAPEL_B, '1', '7891172422001', 12, 'un', 12),
      t('loja_b', 'sc1', CAFE_B, '1', '7896089012345', 1, 'kg', 0.5),
    ]);

    // fct_prices_daily: default seller only, price per kg / l / unit as DECIMAL(18,4).
    const fct = await lake.query(`
      select store, region, sku_id, price_date, product_key, seller_id, price, list_price, on_promotion, pack_qty, unit, net_amount, price_per_unit
      from marts.fct_prices_daily order by all`);
    const f = (store: string, region: string, sku: string, date: string, key: string, price: number, list: number, promo: boolean, qty: number, unit: string, net: number, ppu: number) => ({
      store, region, sku_id: sku, price_date: date, product_key: key, seller_id: '1', price, list_price: list, on_promotion: promo, pack_qty: qty, unit, net_amount: net, price_per_unit: ppu,
    });
    expect(fct).toEqual([
      f('loja_a', 'default', '1001', '2026-03-02', '7891000100103', 5.29, 5.49, true, 1, 'l', 1, 5.29),
      f('loja_a', 'default', '1001', '2026-03-03', '7891000100103', 4.99, 5.49, true, 1, 'l', 1, 4.99),
      f('loja_a', 'default', '1002', '2026-03-02', '7891000200209', 28.9, 28.9, false, 1, 'kg', 5, 5.78),
      f('loja_a', 'default', '1002', '2026-03-03', '7891000200209', 29.9, 29.9, false, 1, 'kg', 5, 5.98),
      // 54.90 / 4.2 l = 13.071428… → 13.0714 per litre.
      f('loja_a', 'default', '1003', '2026-03-02', '7896045500012', 54.9, 59.9, true, 12, 'l', 4.2, 13.0714),
      f('loja_a', 'default', '1003', '2026-03-03', '7896045500012', 54.9, 59.9, true, 12, 'l', 4.2, 13.0714),
      // 11.99 / 12 eggs = 0.99916… per egg.
      f('loja_a', 'default', '1004', '2026-03-02', 'loja_a:1004', 11.99, 11.99, false, 12, 'un', 12, 0.9992),
      f('loja_b', 'sc1', '9001', '2026-03-02', '7891000100103', 5.39, 5.39, false, 1, 'l', 1, 5.39),
      f('loja_b', 'sc1', '9001', '2026-03-03', '7891000100103', 5.39, 5.39, false, 1, 'l', 1, 5.39),
      f('loja_b', 'sc1', '9002', '2026-03-02', '7891172422001', 21.9, 24.9, true, 12, 'un', 12, 1.825),
      f('loja_b', 'sc1', '9002', '2026-03-03', '7891172422001', 22.9, 24.9, true, 12, 'un', 12, 1.9083),
      f('loja_b', 'sc1', '9003', '2026-03-02', '7896089012345', 16.9, 16.9, false, 1, 'kg', 0.5, 33.8),
      f('loja_b', 'sc1', '9003', '2026-03-03', '7896089012345', 16.9, 18.9, true, 1, 'kg', 0.5, 33.8),
    ]);

    // dim_products: the EAN joins the two stores' milk; the egg without EAN keys on store:sku_id.
    const dimProducts = await lake.query(`
      select product_key, key_type, ean, product_name, brand, category_path, pack_qty, unit, net_amount, stores_count, skus_count, first_seen_date, last_seen_date
      from marts.dim_products order by product_key`);
    const d = (key: string, spec: ProductSpec, qty: number, unit: string, net: number, stores = 1, skus = 1) => ({
      product_key: key, key_type: key.includes(':') ? 'store_sku' : 'ean', ean: key.includes(':') ? null : key, product_name: spec.name, brand: spec.brand,
      category_path: `/${spec.path.join('/')}/`, pack_qty: qty, unit, net_amount: net, stores_count: stores, skus_count: skus, first_seen_date: '2026-03-02', last_seen_date: '2026-03-03',
    });
    expect(dimProducts).toEqual([
      // Both stores' offers are the store's own with a parsed pack: loja_a's was seen last (18:00 vs 12:00), so its name.
      d('7891000100103', LEITE_A, 1, 'l', 1, 2, 2),
      d('7891000200209', ARROZ_A, 1, 'kg', 5),
      d('7891172422001', PAPEL_B, 12, 'un', 12),
      d('7896045500012', CERVEJA_A, 12, 'l', 4.2),
      d('7896089012345', CAFE_B, 1, 'kg', 0.5),
      d('loja_a:1004', OVOS_A, 12, 'un', 12),
    ]);

    // dim_stores: one row per (store, region).
    expect(await lake.query('select * from marts.dim_stores order by all')).toEqual([
      { store: 'loja_a', region: 'default', products_count: 4, skus_count: 4, sellers_count: 2, active_products_count: 4, first_seen_date: '2026-03-02', last_seen_date: '2026-03-03' },
      { store: 'loja_b', region: 'sc1', products_count: 3, skus_count: 3, sellers_count: 1, active_products_count: 3, first_seen_date: '2026-03-02', last_seen_date: '2026-03-03' },
    ]);

    // mart_price_changes: only the default seller's moves (the partner's 52.90 → 53.90 is not one).
    const changes = await lake.query(`
      select store, region, sku_id, price_date, product_key, previous_price_date, days_since_previous, previous_price, new_price, change, change_pct, direction,
             previous_on_promotion, on_promotion
      from marts.mart_price_changes order by all`);
    expect(changes).toEqual([
      { store: 'loja_a', region: 'default', sku_id: '1001', price_date: '2026-03-03', product_key: '7891000100103', previous_price_date: '2026-03-02', days_since_previous: 1, previous_price: 5.29, new_price: 4.99, change: -0.3, change_pct: -5.67, direction: 'down', previous_on_promotion: true, on_promotion: true },
      { store: 'loja_a', region: 'default', sku_id: '1002', price_date: '2026-03-03', product_key: '7891000200209', previous_price_date: '2026-03-02', days_since_previous: 1, previous_price: 28.9, new_price: 29.9, change: 1, change_pct: 3.46, direction: 'up', previous_on_promotion: false, on_promotion: false },
      { store: 'loja_b', region: 'sc1', sku_id: '9002', price_date: '2026-03-03', product_key: '7891172422001', previous_price_date: '2026-03-02', days_since_previous: 1, previous_price: 21.9, new_price: 22.9, change: 1, change_pct: 4.57, direction: 'up', previous_on_promotion: true, on_promotion: true },
    ]);
  });

  it('passes every YAML test of the prices models on the fixture', async () => {
    const lake = await tempLake({ models: MODELS });
    await extractTwoDays(lake);
    const result = await lake.build({ select: PRICES });
    expectBuilt(result);
    const ours = new Set(['staging.stg_vtex__products', 'trusted.tru_product', 'trusted.tru_price', 'marts.fct_prices_daily', 'marts.dim_products', 'marts.dim_stores', 'marts.mart_price_changes']);
    const tests = result.tests.filter((t) => ours.has(t.model));
    for (const model of ours) expect(tests.some((t) => t.model === model), `${model} has tests`).toBe(true);
    expect(result.tests.every((t) => t.status === 'pass' || t.status === 'warn'), notPassing(result).join('\n')).toBe(true);
    // No warning either on this fixture (listed here if one appears).
    expect(notPassing(result)).toEqual([]);
    expect(result.status).toBe('success');
    // The kinds the contract asks for are all there.
    const kinds = new Set(tests.map((t) => t.kind));
    for (const kind of ['not_null', 'unique', 'accepted_values', 'relationships', 'expression', 'row_count', 'max_null_share', 'max_duplicate_share']) {
      expect(kinds.has(kind as never), kind).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------
// (4) Incremental == full refresh
// ---------------------------------------------------------------------------------------

describe('tru_price incremental', () => {
  it('after a third day and a late backfill of day 1, an incremental build equals a full refresh', async () => {
    const lake = await tempLake({ models: MODELS });
    await extractTwoDays(lake);
    expectBuilt(await lake.build({ select: PRICES }));
    const compiled = path.join(lake.paths.root, 'compiled', 'trusted', 'tru_price.sql');
    expect(fs.readFileSync(compiled, 'utf8')).not.toContain('_run_id >=');

    // Day 3, and a snapshot of loja_b taken on day 1 at 20:00 that arrives only now (a backfill).
    await snapshot(lake, '2026-03-04T12:00:00-03:00', 'loja_a', 'default', [
      vtex(LEITE_A, one(4.99, 5.49)),
      vtex(ARROZ_A, one(29.9)),
      vtex(CERVEJA_A, one(52.9, 59.9), partner(53.9)),
      vtex(OVOS_A, one(12.49)),
    ]);
    await snapshot(lake, '2026-03-04T12:00:00-03:00', 'loja_b', 'sc1', [vtex(LEITE_B, one(5.19, 5.39)), vtex(PAPEL_B, one(22.9, 24.9)), vtex(CAFE_B, one(17.9, 18.9))]);
    await snapshot(lake, '2026-03-02T20:00:00-03:00', 'loja_b', 'sc1', [vtex(LEITE_B, one(5.39)), vtex(PAPEL_B, one(21.9, 24.9)), vtex(CAFE_B, one(15.9, 18.9))]);

    const incremental = await lake.build({ select: PRICES });
    expectBuilt(incremental);
    expect(notPassing(incremental)).toEqual([]);
    expect(incremental.models.find((m) => m.name === 'trusted.tru_price')).toMatchObject({ status: 'success', materialization: 'incremental' });
    expect(fs.readFileSync(compiled, 'utf8')).toContain('_run_id >=');
    const snapshotOf = async () => ({
      truPrice: await lake.query('select * from trusted.tru_price order by all'),
      fct: await lake.query('select * from marts.fct_prices_daily order by all'),
      changes: await lake.query('select * from marts.mart_price_changes order by all'),
    });
    const afterIncremental = await snapshotOf();
    // The backfilled 20:00 observation is now the last of 03-02 for the coffee; day 3 is in.
    const cafe = afterIncremental.truPrice.filter((r) => r.sku_id === '9003').map((r) => [r.price_date, r.price, r.price_min, r.price_max, r.observations]);
    expect(cafe).toEqual([
      ['2026-03-02', 15.9, 15.9, 16.9, 2],
      ['2026-03-03', 16.9, 16.9, 16.9, 1],
      ['2026-03-04', 17.9, 17.9, 17.9, 1],
    ]);
    expect(afterIncremental.truPrice).toHaveLength(15 + 8);

    const full = await lake.build({ select: PRICES, fullRefresh: true });
    expectBuilt(full);
    expect(fs.readFileSync(compiled, 'utf8')).not.toContain('_run_id >=');
    const afterFull = await snapshotOf();
    expect(afterIncremental.truPrice).toEqual(afterFull.truPrice);
    expect(afterIncremental.fct).toEqual(afterFull.fct);
    expect(afterIncremental.changes).toEqual(afterFull.changes);

    // Nothing new: everything is up to date.
    const again = await lake.build({ select: PRICES });
    expect(again.models.every((m) => m.status === 'up-to-date')).toBe(true);
  });

  // Two stores crawled by two jobs: loja_b's crawl starts late on 03-02 and buffers its rows
  // (stamped 03-02) until it ends; loja_a's crawl starts after midnight, ends first, and a build
  // runs. loja_b's run sorts before the newest run built, yet after loja_b's own newest (none).
  it("redoes the days of a store's run that started before another store's built run but committed after that build", async () => {
    const lake = await tempLake({ models: MODELS });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const slow = defineSource({
      source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'loja_b', region: 'default' },
      extract: async function* () { await gate; yield [vtex(CAFE_B, one(8.49))]; },
    });
    const slowRun = lake.extract([slow], { extractedAt: new Date('2026-03-02T23:50:00-03:00') });
    await new Promise((r) => setTimeout(r, 200));
    const fast = defineSource({ source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'loja_a', region: 'default' }, extract: () => [[vtex(ARROZ_A, one(25.9))]] });
    const fastResult = await lake.extract([fast], { extractedAt: new Date('2026-03-03T00:10:00-03:00') });
    expect(fastResult.status).toBe('success');
    expectBuilt(await lake.build({ select: PRICES }));

    release();
    const slowResult = await slowRun;
    expect(slowResult.status).toBe('success');
    expect(slowResult.runId < fastResult.runId).toBe(true);
    const second = await lake.build({ select: PRICES });
    expectBuilt(second);
    expect(second.models.find((m) => m.name === 'trusted.tru_price')).toMatchObject({ status: 'success', materialization: 'incremental' });

    const rows = await lake.query('select store, sku_id, price_date::VARCHAR as price_date, price from trusted.tru_price order by store');
    expect(rows).toEqual([
      { store: 'loja_a', sku_id: '1002', price_date: '2026-03-03', price: 25.9 },
      { store: 'loja_b', sku_id: '9003', price_date: '2026-03-02', price: 8.49 },
    ]);
    expect(await lake.query("select store, price from marts.fct_prices_daily where store = 'loja_b'")).toEqual([{ store: 'loja_b', price: 8.49 }]);
    const incremental = await lake.query('select * from trusted.tru_price order by all');
    expectBuilt(await lake.build({ select: PRICES, fullRefresh: true }));
    expect(await lake.query('select * from trusted.tru_price order by all')).toEqual(incremental);
  }, 60_000);

  // loja_b's long crawl (one batch per page) commits its first pages on 03-02; loja_a's crawl,
  // started after midnight, ends and a build runs; then loja_b's last page commits. Its run is
  // loja_b's newest built one and sorts before the newest run built overall.
  it("redoes the days of a store's run that committed more batches after a build saw its first", async () => {
    const lake = await tempLake({ models: MODELS, limits: { flushRows: 1 } });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let firstPages!: () => void;
    const paged = new Promise<void>((resolve) => { firstPages = resolve; });
    const slow = defineSource({
      source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'loja_b', region: 'default' },
      extract: async function* () {
        yield [vtex(LEITE_B, one(5.39))];
        // The writer takes a batch while the next fills: after this yield the first is committed.
        yield [vtex(PAPEL_B, one(21.9))];
        firstPages();
        await gate;
        yield [vtex(CAFE_B, one(16.9))];
      },
    });
    const slowRun = lake.extract([slow], { extractedAt: new Date('2026-03-02T23:50:00-03:00') });
    await paged;
    const fast = defineSource({ source: 'vtex', dataset: 'products', schema: vtexProductSchema, partitionBy: { store: 'loja_a', region: 'default' }, extract: () => [[vtex(ARROZ_A, one(25.9))]] });
    expect((await lake.extract([fast], { extractedAt: new Date('2026-03-03T00:10:00-03:00') })).status).toBe('success');
    expectBuilt(await lake.build({ select: PRICES }));
    expect((await lake.query("select count(*) as n from trusted.tru_price where store = 'loja_b'"))[0]!.n).toBeGreaterThan(0);

    release();
    expect((await slowRun).status).toBe('success');
    expectBuilt(await lake.build({ select: PRICES }));
    expect(await lake.query("select sku_id, price from trusted.tru_price where store = 'loja_b' order by sku_id")).toEqual([
      { sku_id: '9001', price: 5.39 },
      { sku_id: '9002', price: 21.9 },
      { sku_id: '9003', price: 16.9 },
    ]);
    const incremental = await lake.query('select * from trusted.tru_price order by all');
    expectBuilt(await lake.build({ select: PRICES, fullRefresh: true }));
    expect(await lake.query('select * from trusted.tru_price order by all')).toEqual(incremental);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------
// (5) A realistic catalog from the VTEX fixture generator
// ---------------------------------------------------------------------------------------

describe('prices models on a generated VTEX catalog', () => {
  it('builds 500 bistek products over two days with every test passing and counts matching the generator', async () => {
    const started = performance.now();
    const catalog = buildVtexCatalog({ stores: ['bistek'] });
    const products = catalog.stores.bistek!.products.slice(0, 500);
    const lake = await tempLake({ models: MODELS });
    for (const day of [0, 1]) {
      const source = defineSource({
        source: 'vtex',
        dataset: 'products',
        schema: vtexProductSchema,
        partitionBy: { store: 'bistek', region: 'default' },
        extract: () => [products.map((p) => toVtexProduct(catalog, 'bistek', p, { day }))],
      });
      const r = await lake.extract([source], { extractedAt: new Date(`2026-03-0${2 + day}T12:00:00-03:00`) });
      expect(r.status).toBe('success');
    }
    const result = await lake.build({ select: PRICES });
    expectBuilt(result);
    expect(notPassing(result)).toEqual([]);

    // Expectations computed from the generator, not from SQL.
    const priced = (day: number) => products.filter((p) => priceOf(catalog, 'bistek', p, { day }) > 0);
    const partners = products.filter((p) => p.extraSeller).length;
    const moves = products.filter((p) => {
      const [a, b] = [0, 1].map((day) => priceOf(catalog, 'bistek', p, { day }));
      return a! > 0 && b! > 0 && a !== b;
    }).length;
    const keys = new Set(products.map((p) => (p.ean === '' ? `bistek:${p.skuId}` : p.ean))).size;
    const [counts] = await lake.query(`select
        (select count(*) from trusted.tru_product) as tru_product,
        (select count(*) from trusted.tru_price) as tru_price,
        (select count(*) from marts.fct_prices_daily) as fct,
        (select count(*) from marts.dim_products) as dim_products,
        (select count(*) from marts.mart_price_changes) as changes,
        (select count(*) from audit.tru_price_rejected) as rejected,
        (select count(*) from trusted.tru_product where pack_parsed_from = 'default') as unparsed`);
    expect(counts).toEqual({
      tru_product: products.length + partners,
      tru_price: priced(0).length + priced(1).length + 2 * partners,
      fct: priced(0).length + priced(1).length,
      dim_products: keys,
      changes: moves,
      rejected: 2 * products.length - priced(0).length - priced(1).length,
      unparsed: 0,
    });
    // Spot checks against the generator: one multipack and one wine.
    const byName = await lake.query<{ product_name: string; pack_qty: number; unit: string; net_amount: number }>(
      `select product_name, pack_qty, unit, net_amount from marts.dim_products where regexp_matches(product_name, '\\d+x\\d+ml$') or regexp_matches(product_name, '^Vinho .* 750ml$') order by product_name limit 200`,
    );
    for (const r of byName) {
      const m = /(\d+)x(\d+)ml$/.exec(r.product_name);
      if (m) expect([r.pack_qty, r.unit, r.net_amount], r.product_name).toEqual([Number(m[1]), 'l', (Number(m[1]) * Number(m[2])) / 1000]);
      else expect([r.pack_qty, r.unit, r.net_amount], r.product_name).toEqual([1, 'l', 0.75]);
    }
    console.info(`generated catalog: ${products.length} products × 2 days built and tested in ${Math.round(performance.now() - started)} ms`);
  }, 120_000);
});
