import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { selectForTest, selectNodes } from '../../../src/transform/select.js';
import { caught, project } from './helpers.js';

const files = {
  'seeds/stores.csv': 'store\nbistek\n',
  'staging/stg_products.sql': "{{ config(tags=['prices']) }}select * from {{ source('vtex', 'products') }}",
  'staging/stg_orders.sql': "select * from {{ source('meli', 'orders') }} join {{ source('vtex', 'stores') }} using (x)",
  'trusted/tru_product.sql': "select * from {{ ref('stg_products') }} join {{ ref('stores') }} using (store)",
  'trusted/tru_order.sql': "{{ config(tags=['orders', 'daily']) }}select * from {{ ref('stg_orders') }}",
  'marts/fct_prices.sql': "select * from {{ ref('tru_product') }}",
  'marts/fct_orders.sql': "{{ config(tags=['daily']) }}select * from {{ ref('tru_order') }} join {{ ref('tru_product') }} using (sku)",
  'marts/old.sql': '{{ config(enabled=false) }}select 1',
  'assertions/check.sql': "select * from {{ ref('fct_orders') }} where false",
};
const sorted = (s: Set<string>) => [...s].sort();

describe('selectNodes', () => {
  it('no selector: every enabled model and seed (no assertions)', async () => {
    const p = await project(files);
    const all = ['marts.fct_orders', 'marts.fct_prices', 'seeds.stores', 'staging.stg_orders', 'staging.stg_products', 'trusted.tru_order', 'trusted.tru_product'];
    expect(sorted(selectNodes(p, undefined))).toEqual(all);
    expect(sorted(selectNodes(p, []))).toEqual(all);
  });

  it('name, schema.name, seeds by name, and several at once (union)', async () => {
    const p = await project(files);
    expect(sorted(selectNodes(p, ['tru_product']))).toEqual(['trusted.tru_product']);
    expect(sorted(selectNodes(p, ['marts.fct_orders', 'stores']))).toEqual(['marts.fct_orders', 'seeds.stores']);
    expect(sorted(selectNodes(p, ['tru_product tru_order']))).toEqual(['trusted.tru_order', 'trusted.tru_product']);
  });

  it('+x ancestors, x+ descendants, +x+ both', async () => {
    const p = await project(files);
    expect(sorted(selectNodes(p, ['+fct_prices']))).toEqual(['marts.fct_prices', 'seeds.stores', 'staging.stg_products', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['tru_product+']))).toEqual(['marts.fct_orders', 'marts.fct_prices', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['+tru_order+']))).toEqual(['marts.fct_orders', 'staging.stg_orders', 'trusted.tru_order']);
    expect(sorted(selectNodes(p, ['stores+']))).toEqual(['marts.fct_orders', 'marts.fct_prices', 'seeds.stores', 'trusted.tru_product']);
  });

  it('layer:, source:, source:x.y, tag:, with + too', async () => {
    const p = await project(files);
    expect(sorted(selectNodes(p, ['layer:marts']))).toEqual(['marts.fct_orders', 'marts.fct_prices']);
    expect(sorted(selectNodes(p, ['source:vtex']))).toEqual(['staging.stg_orders', 'staging.stg_products']);
    expect(sorted(selectNodes(p, ['source:vtex.products']))).toEqual(['staging.stg_products']);
    expect(sorted(selectNodes(p, ['source:meli.orders+']))).toEqual(['marts.fct_orders', 'staging.stg_orders', 'trusted.tru_order']);
    expect(sorted(selectNodes(p, ['tag:daily']))).toEqual(['marts.fct_orders', 'trusted.tru_order']);
    expect(sorted(selectNodes(p, ['+tag:prices']))).toEqual(['staging.stg_products']);
    expect(sorted(selectNodes(p, ['layer:staging+', 'stores']))).toHaveLength(7);
  });

  it('unknown selectors are ConfigErrors naming the selector and the closest name', async () => {
    const p = await project(files);
    const cases: [string, string][] = [
      ['fct_ordres', 'selector "fct_ordres" matches no enabled model or seed — did you mean fct_orders?'],
      ['+marts.fct_price', 'selector "+marts.fct_price" matches no enabled model or seed — did you mean marts.fct_prices?'],
      ['layer:mart', 'selector "layer:mart" matches no enabled model or seed — did you mean layer:marts?'],
      ['source:vtx', 'selector "source:vtx" matches no enabled model or seed — did you mean source:vtex?'],
      ['tag:dayly', 'selector "tag:dayly" matches no enabled model or seed — did you mean tag:daily?'],
      ['old', 'selector "old" matches no enabled model or seed — did you mean'],
      ['check', 'selector "check" matches no enabled model or seed'],
    ];
    for (const [selector, message] of cases) {
      const err = await caught(() => selectNodes(p, [selector]));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain(message);
    }
    // (path: was the example of an unknown method until it became one; state: needs a previous manifest.)
    const method = await caught(() => selectNodes(p, ['state:modified']));
    expect(method.message).toContain('unknown method "state:"');
    expect((await caught(() => selectNodes(p, ['path:marts']))).message).toBe('selector "path:marts" matches no enabled model or seed — did you mean path:models/marts?');
    expect((await caught(() => selectNodes(p, ['config.materialised:table']))).message).toContain('no model has config "materialised" — did you mean materialized?');
    expect((await caught(() => selectNodes(p, ['@+tru_order']))).message).toContain('@ does not combine with +');
    expect((await caught(() => selectNodes(p, ['tag:daily,layer:staging']))).message).toBe('selector "tag:daily,layer:staging": the intersection of "tag:daily" and "layer:staging" is empty');
  });

  it("dbt's graph operators: depth-limited 1+x and x+1, @x, globs, path:, config.<key>:, and a,b as the intersection", async () => {
    const p = await project(files);
    // Before: each was "matches no enabled model or seed" or "unknown method".
    expect(sorted(selectNodes(p, ['1+fct_orders']))).toEqual(['marts.fct_orders', 'trusted.tru_order', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['2+fct_prices']))).toEqual(['marts.fct_prices', 'seeds.stores', 'staging.stg_products', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['stg_products+1']))).toEqual(['staging.stg_products', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['1+tru_product+1']))).toEqual(['marts.fct_orders', 'marts.fct_prices', 'seeds.stores', 'staging.stg_products', 'trusted.tru_product']);
    // @x: x, its descendants, and every ancestor of those (what building them needs).
    expect(sorted(selectNodes(p, ['@stg_orders']))).toEqual(['marts.fct_orders', 'seeds.stores', 'staging.stg_orders', 'staging.stg_products', 'trusted.tru_order', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['stg_*']))).toEqual(['staging.stg_orders', 'staging.stg_products']);
    expect(sorted(selectNodes(p, ['marts.*']))).toEqual(['marts.fct_orders', 'marts.fct_prices']);
    expect(sorted(selectNodes(p, ['path:models/trusted']))).toEqual(['trusted.tru_order', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['path:models/marts/fct_prices.sql+']))).toEqual(['marts.fct_prices']);
    expect(sorted(selectNodes(p, ['path:models/*/tru_*.sql']))).toEqual(['trusted.tru_order', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['config.materialized:view']))).toEqual(['staging.stg_orders', 'staging.stg_products']);
    expect(sorted(selectNodes(p, ['config.tags:daily']))).toEqual(['marts.fct_orders', 'trusted.tru_order']);
    expect(sorted(selectNodes(p, ['tag:daily,layer:marts']))).toEqual(['marts.fct_orders']);
    expect(sorted(selectNodes(p, ['+fct_orders,layer:staging', 'stores']))).toEqual(['seeds.stores', 'staging.stg_orders', 'staging.stg_products']);
  });

  it("exclude (dbt's --exclude) takes the same selectors out of the selection; leaving nothing, or an exclude matching nothing, is an error", async () => {
    const p = await project(files);
    expect(sorted(selectNodes(p, ['+fct_orders'], ['layer:staging', 'stores']))).toEqual(['marts.fct_orders', 'trusted.tru_order', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, undefined, ['tag:daily']))).toEqual(['marts.fct_prices', 'seeds.stores', 'staging.stg_orders', 'staging.stg_products', 'trusted.tru_product']);
    expect(sorted(selectNodes(p, ['layer:marts'], []))).toEqual(['marts.fct_orders', 'marts.fct_prices']);
    expect((await caught(() => selectNodes(p, ['layer:marts'], ['fct_*']))).message).toBe('select "layer:marts" less exclude "fct_*" leaves no model or seed');
    expect((await caught(() => selectNodes(p, ['layer:marts'], ['fct_ordrs']))).message).toContain('selector "fct_ordrs" matches no enabled model or seed — did you mean fct_orders?');
  });
});

describe('selectForTest with exclude', () => {
  it('leaves out the tests it names and the tests defined on the nodes it selects', async () => {
    const p = await project({
      ...files,
      'marts/_m.yml': 'models:\n  - name: fct_orders\n    columns: [{ name: sku, tests: [not_null, unique] }]\n  - name: fct_prices\n    columns: [{ name: sku, tests: [not_null] }]\n',
    });
    const all = selectForTest(p, undefined, ['unique_fct_orders_sku', 'fct_prices']);
    expect([...all.excludedTests].sort()).toEqual(['not_null_fct_prices_sku', 'unique_fct_orders_sku']);
    expect(all.nodes?.has('marts.fct_prices')).toBe(false);
    expect(all.nodes?.has('marts.fct_orders')).toBe(true);
    const named = selectForTest(p, ['not_null_fct_orders_sku', 'unique_fct_orders_sku'], ['unique_fct_orders_sku']);
    expect([...named.tests]).toEqual(['not_null_fct_orders_sku']);
    expect((await caught(() => selectForTest(p, ['unique_fct_orders_sku'], ['fct_orders']))).message).toBe('select "unique_fct_orders_sku" less exclude "fct_orders" leaves no model, seed or test');
  });
});
