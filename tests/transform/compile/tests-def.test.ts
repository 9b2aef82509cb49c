import { describe, expect, it } from 'vitest';
import type { Project } from '../../../src/transform/project.js';
import { renderModel } from '../../../src/transform/render.js';
import { testSql, type TestDef } from '../../../src/transform/tests-def.js';
import { caught, ctx, memoryDb, project, relationOf } from './helpers.js';

const yaml = `
version: 2
models:
  - name: tru_product
    tests:
      - row_count: { min: 1, max: 5 }
      - unique: { columns: [store, sku_id] }
      - max_duplicate_share: { columns: [store, sku_id], max: 0.1 }
      - expression: { expression: 'list_price >= price' }
    columns:
      - name: sku_id
        tests: [not_null, unique]
      - name: unit
        data_tests:
          - accepted_values: { values: [kg, l, un] }
      - name: pack_qty
        tests:
          - accepted_values: { values: [1, 6, 12], quote: false, severity: warn }
          - expression: { expression: '> 0' }
      - name: ean
        tests:
          - max_null_share
          - max_null_share: { max: 0.5, config: { severity: error } }
      - name: store
        tests:
          - relationships: { to: "ref('dim_stores')", field: store }
  - name: fct_orders
    tests:
      - unique: { column_name: "order_id || '-' || item_id" }
      - expression: { arguments: { expression: 'paid <= total' }, config: { where: "status = 'paid'" } }
  - name: quality
    columns:
      - name: score
        tests: [min_quality_score]
`;

const files = {
  'trusted/tru_product.sql': 'select 1',
  'marts/dim_stores.sql': 'select 1',
  'marts/fct_orders.sql': 'select 1',
  'marts/quality.sql': 'select 1',
  'marts/_props.yml': yaml,
  'assertions/no_negative_totals.sql': "select * from {{ ref('fct_orders') }} where total < 0",
};

describe('test definitions from YAML and assertions', () => {
  it('builds stable dbt-like names, kinds, args and severities', async () => {
    const p = await project(files);
    const summary = p.tests.map((t) => [t.name, t.kind, t.model, t.column ?? null, t.severity]);
    expect(summary.map((s) => s[0])).toEqual([
      'no_negative_totals',
      'unique_fct_orders_order_id_item_id',
      'expression_fct_orders__paid_total',
      'min_quality_score_quality_score',
      'row_count_tru_product',
      'unique_tru_product__store__sku_id',
      'max_duplicate_share_tru_product__store__sku_id',
      'expression_tru_product__list_price_price',
      'not_null_tru_product_sku_id',
      'unique_tru_product_sku_id',
      'accepted_values_tru_product_unit__kg__l__un',
      'accepted_values_tru_product_pack_qty__1__6__12',
      'expression_tru_product_pack_qty__0',
      'max_null_share_tru_product_ean',
      expect.stringMatching(/^max_null_share_tru_product_ean_[0-9a-f]{8}$/),
      'relationships_tru_product_store__store__dim_stores',
    ]);
    const byName = new Map(p.tests.map((t) => [t.name, t]));
    expect(byName.get('no_negative_totals')).toMatchObject({ kind: 'singular', model: 'assertions.no_negative_totals', severity: 'error', dependsOn: ['marts.fct_orders'] });
    expect(byName.get('min_quality_score_quality_score')).toMatchObject({ column: 'score', severity: 'warn', args: { column: 'score', min: 0.8 } });
    expect(byName.get('max_null_share_tru_product_ean')).toMatchObject({ severity: 'warn', args: { column: 'ean', max: 0.2 } });
    expect(byName.get('max_duplicate_share_tru_product__store__sku_id')).toMatchObject({ severity: 'warn', args: { columns: ['store', 'sku_id'], max: 0.1 } });
    expect(byName.get('accepted_values_tru_product_pack_qty__1__6__12')).toMatchObject({ severity: 'warn', args: { values: [1, 6, 12], quote: false } });
    expect(byName.get('relationships_tru_product_store__store__dim_stores')).toMatchObject({
      severity: 'error',
      dependsOn: ['trusted.tru_product', 'marts.dim_stores'],
      args: { column: 'store', to: 'marts.dim_stores', field: 'store' },
      file: 'models/marts/_props.yml',
    });
    expect(byName.get('expression_tru_product_pack_qty__0')!.args).toEqual({ expression: 'pack_qty > 0' });
    expect(byName.get('expression_fct_orders__paid_total')).toMatchObject({ where: "status = 'paid'", args: { expression: 'paid <= total' } });
    expect(byName.get('unique_fct_orders_order_id_item_id')).toMatchObject({ column: "order_id || '-' || item_id", args: { columns: ["order_id || '-' || item_id"] } });
  });

  it('quality defaults come from options; custom names; disabled tests; quoted columns', async () => {
    const p = await project(
      {
        'marts/m.sql': 'select 1',
        'marts/p.yml': [
          'models:',
          '  - name: m',
          '    columns:',
          '      - name: day',
          '        quote: true',
          '        tests:',
          '          - not_null: { name: m_day_present }',
          '          - max_null_share',
          '          - unique: { config: { enabled: false } }',
        ].join('\n'),
      },
      { quality: { maxNullShare: 0.6, gateSeverity: 'error' } },
    );
    expect(p.tests.map((t) => [t.name, t.severity])).toEqual([
      ['m_day_present', 'error'],
      ['max_null_share_m_day', 'error'],
    ]);
    expect(p.tests[0]!.args).toEqual({ column: '"day"' });
    expect(p.tests[1]!.args).toEqual({ column: '"day"', max: 0.6 });
  });

  it('an unknown test kind names the yml file, its line and the kind', async () => {
    const err = await caught(() =>
      project({ 'marts/m.sql': 'select 1', 'marts/p.yml': 'models:\n  - name: m\n    columns:\n      - name: a\n        tests: [not_nul]\n' }),
    );
    expect(err.code).toBe('TEST_UNKNOWN');
    expect(err.message).toMatch(/^models\/marts\/p\.yml line 5: model marts\.m column a: unknown test "not_nul" — did you mean not_null\?/);
  });

  it('bad test arguments, a missing column, and an unknown relationships target are errors', async () => {
    const base = { 'marts/m.sql': 'select 1' };
    const args = await caught(() => project({ ...base, 'marts/p.yml': 'models: [{ name: m, columns: [{ name: a, tests: [{ accepted_values: { value: [1] } }] }] }]' }));
    expect(args.code).toBe('TEST_INVALID');
    expect(args.message).toContain('argument "values" is missing');
    expect(args.message).toContain('unknown argument "value" — did you mean values?');
    const column = await caught(() => project({ ...base, 'marts/p.yml': 'models: [{ name: m, tests: [not_null] }]' }));
    expect(column.message).toContain('test not_null needs a column');
    const to = await caught(() =>
      project({ ...base, 'marts/dim_x.sql': 'select 1', 'marts/p.yml': `models: [{ name: m, columns: [{ name: a, tests: [{ relationships: { to: "ref('dim_y')", field: id } }] }] }]` }),
    );
    expect(to.code).toBe('REF_UNKNOWN');
    expect(to.message).toContain("ref('dim_y') not found — did you mean dim_x?");
    const range = await caught(() => project({ ...base, 'marts/p.yml': 'models: [{ name: m, tests: [{ row_count: { min: 5, max: 1 } }] }]' }));
    expect(range.message).toContain('min 5 is above max 1');
  });
});

describe("a test's where, rendered as dbt renders it", () => {
  const yml = (where: string) =>
    `models:\n  - name: m\n    columns:\n      - name: x\n        tests:\n          - not_null: { config: { where: ${JSON.stringify(where)} } }\n`;

  it("reads var() and env_var() (dbt renders a test's where as Jinja), and the test counts the rows it keeps", async () => {
    const p = await project(
      { 'marts/m.sql': 'select 1', 'marts/p.yml': yml(`day >= '{{ var('start') }}' and store = '{{ env_var('DH_TEST_STORE', 'x') }}'`) },
      { vars: { start: '2024-01-02' }, env: { DH_TEST_STORE: 'a' } },
    );
    const [test] = p.tests;
    expect(test!.where).toBe("day >= '2024-01-02' and store = 'a'");
    const db = await memoryDb();
    await db.run('create schema marts');
    await db.run(`create table marts.m as select * from (values (null, '2024-01-01', 'a'), (null, '2024-01-02', 'b'), (null, '2024-01-03', 'a')) t(x, day, store)`);
    expect(await db.all(testSql(test!, relationOf))).toEqual([{ failures: 1n, measured: null }]);
  });

  it('a where without Jinja is kept as written; ref() in a where is an error naming the yml file and the test', async () => {
    const plain = await project({ 'marts/m.sql': 'select 1', 'marts/p.yml': yml("status = 'paid'") });
    expect(plain.tests[0]!.where).toBe("status = 'paid'");
    const err = await caught(() => project({ 'marts/m.sql': 'select 1', 'marts/p.yml': yml("id in (select id from {{ ref('m') }})") }));
    expect(err.message).toMatch(/^models\/marts\/p\.yml line 6: model marts\.m column x: test not_null: where: ref\(\) is not available in a test's where/);
    const missing = await caught(() => project({ 'marts/m.sql': 'select 1', 'marts/p.yml': yml("day > '{{ var('nope') }}'") }));
    expect(missing.message).toContain('models/marts/p.yml line 6');
    expect(missing.message).toContain('nope');
  });
});

describe("dbt's documentation properties of a test", () => {
  it('a test may carry meta (in config or beside the arguments) and a description, as dbt allows; they do not change the test', async () => {
    const p = await project({
      'marts/m.sql': 'select 1 as id',
      'marts/_m.yml': `version: 2
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null: { config: { meta: { owner: data-team } } }
          - unique:
              description: ids are the grain
              meta: { slack: "#alerts" }
`,
    });
    expect(p.tests.map((t) => [t.name, t.kind, t.severity])).toEqual([
      ['not_null_m_id', 'not_null', 'error'],
      ['unique_m_id', 'unique', 'error'],
    ]);
  });
});

describe('testSql on a real DuckDB', () => {
  async function runAll(p: Project, setup: string[]): Promise<Record<string, { failures: unknown; measured: unknown }>> {
    const db = await memoryDb();
    for (const schema of ['trusted', 'marts']) await db.run(`create schema ${schema}`);
    for (const statement of setup) await db.run(statement);
    const out: Record<string, { failures: unknown; measured: unknown }> = {};
    for (const test of p.tests) {
      const sql = test.kind === 'singular' ? testSql(test, relationOf, renderModel(p, p.nodes.get(test.model)!, ctx()).sql) : testSql(test, relationOf);
      const rows = await db.all(sql);
      expect(rows).toHaveLength(1);
      out[test.name.replace(/_[0-9a-f]{8}$/, '_custom_max')] = { failures: rows[0]!.failures, measured: rows[0]!.measured };
    }
    return out;
  }
  const tableDdl = [
    'create table trusted.tru_product (store VARCHAR, sku_id INTEGER, unit VARCHAR, pack_qty INTEGER, ean VARCHAR, price DECIMAL(18,2), list_price DECIMAL(18,2))',
    'create table marts.fct_orders (order_id INTEGER, item_id INTEGER, paid DECIMAL(18,2), total DECIMAL(18,2), status VARCHAR)',
    'create table marts.quality (score DOUBLE)',
    'create table marts.dim_stores (store VARCHAR)',
  ];

  it('every kind passes on good data (the null-share gate at its exact boundary)', async () => {
    const p = await project(files);
    const results = await runAll(p, [
      ...tableDdl,
      `insert into trusted.tru_product values ('a', 1, 'kg', 1, 'e1', 10, 12), ('a', 2, 'l', 6, null, 5, 5), ('b', 3, 'un', 12, 'e3', 3, 4), ('b', 4, 'kg', 1, 'e4', 3, 4), ('a', 5, 'kg', 1, 'e5', 3, 4)`,
      `insert into marts.fct_orders values (1, 1, 10, 10, 'paid'), (1, 2, 5, 10, 'paid'), (2, 1, 20, 10, 'open')`,
      'insert into marts.quality values (0.9), (0.85)',
      "insert into marts.dim_stores values ('a'), ('b')",
    ]);
    for (const [name, r] of Object.entries(results)) expect([name, r.failures]).toEqual([name, 0n]);
    expect(results.row_count_tru_product!.measured).toBe(5);
    expect(results.max_null_share_tru_product_ean!.measured).toBeCloseTo(0.2);
    expect(results.max_duplicate_share_tru_product__store__sku_id!.measured).toBe(0);
    expect(results.min_quality_score_quality_score!.measured).toBeCloseTo(0.85);
    expect(results.not_null_tru_product_sku_id!.measured).toBeNull();
  });

  it('every kind counts failures like dbt on bad data; gates report 1 and the measured share', async () => {
    const p = await project(files);
    const results = await runAll(p, [
      ...tableDdl,
      `insert into trusted.tru_product values
        ('a', 1, 'kg', 1, null, 10, 12),
        ('a', 1, 'g', 2, null, 10, 9),
        ('b', null, 'oz', 0, null, 1, 1),
        ('c', 2, 'g', null, 'e', 1, null),
        ('c', 2, 'kg', 1, 'e', 1, 2),
        ('d', 3, 'kg', 1, 'e', 1, 2)`,
      `insert into marts.fct_orders values (1, 1, 10, 10, 'paid'), (1, 1, 11, 10, 'paid'), (2, 1, 20, 10, 'open'), (3, 1, -2, -1, 'open')`,
      'insert into marts.quality values (0.9), (0.7)',
      "insert into marts.dim_stores values ('a')",
    ]);
    const failures = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Number(v.failures)]));
    expect(failures).toEqual({
      no_negative_totals: 1,
      unique_fct_orders_order_id_item_id: 1,
      expression_fct_orders__paid_total: 1, // the open order (paid 20 > total 10) is outside `where`
      min_quality_score_quality_score: 1,
      row_count_tru_product: 1,
      unique_tru_product__store__sku_id: 2,
      max_duplicate_share_tru_product__store__sku_id: 1,
      expression_tru_product__list_price_price: 2, // 9 < 10, and NULL counts as failing
      not_null_tru_product_sku_id: 1,
      unique_tru_product_sku_id: 2, // duplicated values, NULL excluded
      accepted_values_tru_product_unit__kg__l__un: 2, // distinct unexpected values: g, oz
      accepted_values_tru_product_pack_qty__1__6__12: 2, // 2 and 0; NULL is not judged
      expression_tru_product_pack_qty__0: 2,
      max_null_share_tru_product_ean: 1, // 0.5 > 0.2
      max_null_share_tru_product_ean_custom_max: 0, // 0.5 is not above 0.5
      relationships_tru_product_store__store__dim_stores: 4, // b, c, c, d
    });
    expect(results.row_count_tru_product!.measured).toBe(6);
    expect(results.max_duplicate_share_tru_product__store__sku_id!.measured).toBeCloseTo(2 / 6);
    expect(results.max_null_share_tru_product_ean!.measured).toBeCloseTo(0.5);
    expect(results.min_quality_score_quality_score!.measured).toBeCloseTo(0.7);
  });

  it('empty tables: counts are 0, shares are 0, row_count min fails', async () => {
    const p = await project(files);
    const results = await runAll(p, tableDdl);
    expect(Number(results.row_count_tru_product!.failures)).toBe(1);
    expect(results.max_null_share_tru_product_ean).toEqual({ failures: 0n, measured: 0 });
    expect(results.min_quality_score_quality_score).toEqual({ failures: 0n, measured: null });
  });

  it('a singular test needs its rendered SQL', async () => {
    const p = await project(files);
    const singular = p.tests.find((t) => t.kind === 'singular') as TestDef;
    const err = await caught(() => testSql(singular, relationOf));
    expect(err.code).toBe('TEST_SQL_MISSING');
  });
});
