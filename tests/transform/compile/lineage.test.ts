import { describe, expect, it } from 'vitest';
import { lineageOf, toMermaid } from '../../../src/transform/lineage.js';
import { project } from './helpers.js';

describe('lineage', () => {
  it('nodes (models, seeds, sources) and downstream edges, sorted; assertions and disabled models left out', async () => {
    const p = await project({
      'staging/stg_products.sql': "select * from {{ source('vtex', 'products') }} union all select * from {{ source('vtex', 'products', as_of_run='r1') }}",
      'staging/eph.sql': "{{ config(materialized='ephemeral') }}select 1",
      'trusted/tru_product.sql': "{{ config(materialized='incremental', unique_key='id') }}select * from {{ ref('stg_products') }}, {{ ref('stores') }}, {{ ref('eph') }}",
      'trusted/_t.yml': 'models: [{ name: tru_product, description: "one \\"row\\" per product" }]',
      'seeds/stores.csv': 'store\nx\n',
      'marts/old.sql': '{{ config(enabled=false) }}select 1',
      'assertions/a.sql': "select * from {{ ref('tru_product') }} where false",
    });
    const lineage = lineageOf(p);
    expect(lineage.nodes).toEqual([
      { id: 'seeds.stores', schema: 'seeds', name: 'stores', kind: 'seed', materialized: 'table', file: 'models/seeds/stores.csv' },
      { id: 'source:vtex.products', schema: 'vtex', name: 'products', kind: 'source', materialized: null, file: null },
      { id: 'staging.eph', schema: 'staging', name: 'eph', kind: 'model', materialized: 'ephemeral', file: 'models/staging/eph.sql' },
      { id: 'staging.stg_products', schema: 'staging', name: 'stg_products', kind: 'model', materialized: 'view', file: 'models/staging/stg_products.sql' },
      {
        id: 'trusted.tru_product',
        schema: 'trusted',
        name: 'tru_product',
        kind: 'model',
        materialized: 'incremental',
        file: 'models/trusted/tru_product.sql',
        description: 'one "row" per product',
      },
    ]);
    expect(lineage.edges).toEqual([
      { from: 'seeds.stores', to: 'trusted.tru_product' },
      { from: 'source:vtex.products', to: 'staging.stg_products' },
      { from: 'staging.eph', to: 'trusted.tru_product' },
      { from: 'staging.stg_products', to: 'trusted.tru_product' },
    ]);
    expect(JSON.parse(JSON.stringify(lineage))).toEqual(lineage);
  });

  it('renders a Mermaid graph LR with sanitised ids, shapes per kind and escaped labels', async () => {
    const p = await project({
      'staging/end.sql': "select * from {{ source('vtex', 'products') }}",
      'marts/m.sql': "select * from {{ ref('end') }}",
    });
    expect(toMermaid(lineageOf(p))).toBe(
      [
        'graph LR',
        '  subgraph bronze_sources["sources"]',
        '    n_source_vtex_products[("vtex.products")]',
        '  end',
        '  subgraph g_marts["marts"]',
        '    n_marts_m["m"]',
        '  end',
        '  subgraph g_staging["staging"]',
        '    n_staging_end("end")',
        '  end',
        '  n_source_vtex_products --> n_staging_end',
        '  n_staging_end --> n_marts_m',
        '',
      ].join('\n'),
    );
    const odd = toMermaid({
      nodes: [
        { id: 'a.b-c', schema: 'a', name: 'say "hi"', kind: 'model', materialized: 'table', file: null },
        { id: 'a.b_c', schema: 'a', name: 'b_c', kind: 'model', materialized: 'table', file: null },
      ],
      edges: [{ from: 'a.b-c', to: 'a.b_c' }],
    });
    expect(odd).toContain('n_a_b_c["say #quot;hi#quot;"]');
    expect(odd).toContain('n_a_b_c_2["b_c"]');
    expect(odd).toContain('n_a_b_c --> n_a_b_c_2');
  });
});
