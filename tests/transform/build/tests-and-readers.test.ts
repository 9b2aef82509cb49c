import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LockError, defineSource, z } from '../../../src/index.js';
import { spawnHelper } from '../../helpers/child.js';
import { prices, projectLake, writeFiles } from '../../helpers/models.js';
import { holdDuckDbFile } from '../../helpers/lock-holder.js';

describe('data tests in a build', () => {
  it('runs every kind with its severity; results land in test_results; lake.test re-runs them', async () => {
    const { lake } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'marts/dim_stores.sql': `select distinct store from {{ ref('stg_prices') }} where store <> 'ghost'`,
      'marts/_marts.yml': `version: 2
models:
  - name: stg_prices
    columns:
      - name: sku
        tests: [not_null, unique]
      - name: store
        tests:
          - accepted_values: { values: [bistek, fort] }
          - relationships: { to: "ref('dim_stores')", field: store, severity: warn }
      - name: price
        tests:
          - max_null_share: { max: 0.2 }
    tests:
      - row_count: { min: 1, max: 10 }
      - expression: { expression: "price > 0" }
`,
      'assertions/no_expensive.sql': `select * from {{ ref('stg_prices') }} where price > 100`,
    });
    await lake.extract([prices([['bistek', 'a', 1], ['fort', 'a', 2], ['ghost', 'b', -1], ['fort', 'c', 500]])]);
    const r = await lake.build();
    const byKind = Object.fromEntries(r.tests.map((t) => [`${t.kind}${t.column ? `:${t.column}` : ''}`, [t.status, t.failures]]));
    expect(byKind).toEqual({
      'not_null:sku': ['pass', 0],
      'unique:sku': ['fail', 1],
      'accepted_values:store': ['fail', 1],
      'relationships:store': ['warn', 1],
      'max_null_share:price': ['pass', 0],
      row_count: ['pass', 0],
      expression: ['fail', 1],
      singular: ['fail', 1],
      // The quality gate of marts.dim_stores (the one trusted/mart model), added by the engine.
      min_quality_score: ['pass', 0],
    });
    expect(r.status).toBe('partial');
    const stored = await lake.metrics.select(`select name, status, failures from test_results where run_id = $1 order by name`, [r.runId]);
    expect(stored).toHaveLength(9);
    const again = await lake.test({ select: ['stg_prices'] });
    expect(again.map((t) => [t.name, t.status]).sort()).toEqual(r.tests.filter((t) => t.kind !== 'min_quality_score').map((t) => [t.name, t.status]).sort());
  });

  it("relationships to a source (`to: source('shop', 'prices')`) checks the child values against its bronze, in a build and in lake.test()", async () => {
    const { lake } = await projectLake({
      'trusted/tru_x.sql': `select * from (values ('a'), ('z'), (null)) as t(store)`,
      'trusted/_t.yml': `version: 2
models:
  - name: tru_x
    columns:
      - name: store
        tests:
          - relationships: { to: "source('shop', 'prices')", field: store }
`,
    });
    await lake.extract([prices([['a', '1', 1], ['b', '2', 2]])]);
    // Before: "ref('source('shop', 'prices')') not found — did you mean tru_x?"
    const r = await lake.build();
    expect(r.tests.find((t) => t.kind === 'relationships')).toMatchObject({ name: 'relationships_tru_x_store__store__prices', status: 'fail', failures: 1 });
    expect((await lake.test()).find((t) => t.kind === 'relationships')).toMatchObject({ status: 'fail', failures: 1 });
  });

  it('a test on a model neither selected nor ever built is not run, with a warning, instead of erroring', async () => {
    const { lake } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'marts/dim_stores.sql': `select distinct store from {{ ref('stg_prices') }}`,
      'marts/_marts.yml': `version: 2
models:
  - name: stg_prices
    columns:
      - name: store
        tests:
          - not_null
          - relationships: { to: "ref('dim_stores')", field: store }
`,
    });
    await lake.extract([prices([['bistek', 'a', 1]])]);
    const first = await lake.build({ select: ['stg_prices'] });
    expect(first.tests.map((t) => [t.kind, t.status])).toEqual([['not_null', 'pass']]);
    expect(first.status).toBe('success');
    expect(first.warnings).toContainEqual(expect.stringMatching(/test relationships_stg_prices_store\S* not run: marts.dim_stores is neither selected nor built yet/));
    // Once dim_stores is published, selecting stg_prices alone runs the relationships test against it.
    await lake.build();
    const again = await lake.build({ select: ['stg_prices'], fullRefresh: true });
    expect(again.tests.map((t) => [t.kind, t.status]).sort()).toEqual([['not_null', 'pass'], ['relationships', 'pass']]);
  });

  it('reject_if drops rows and stores them with the rule in audit.<model>_rejected', async () => {
    const { lake } = await projectLake({
      'trusted/tru.sql': `select store, sku, price from {{ source('shop', 'prices') }}
        where {{ reject_if('price <= 0', 'non_positive_price') }} and {{ reject_if("sku = 'x'", 'banned_sku') }}`,
    });
    await lake.extract([prices([['a', '1', 1], ['a', '2', 0], ['a', 'x', 5], ['a', 'x', -1]])]);
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(await lake.query('select sku from trusted.tru')).toEqual([{ sku: '1' }]);
    const audit = await lake.query('select _rejected_rule, sku, price from audit.tru_rejected order by sku, price');
    expect(audit).toEqual([
      { _rejected_rule: 'non_positive_price', sku: '2', price: 0 },
      { _rejected_rule: 'non_positive_price', sku: 'x', price: -1 },
      { _rejected_rule: 'banned_sku', sku: 'x', price: 5 },
    ]);
  });

  it('a reject_if condition ending in a -- comment builds and audits (the comment cut the closing parentheses: a bare "syntax error at end of input")', async () => {
    const { lake } = await projectLake({
      'trusted/tru.sql': `select store, sku, price from {{ source('shop', 'prices') }} where {{ reject_if('price <= 0 -- free samples', 'non_positive_price') }}`,
    });
    await lake.extract([prices([['a', '1', 1], ['a', '2', 0]])]);
    const r = await lake.build();
    expect(r.models.map((m) => [m.name, m.status, m.error])).toEqual([['trusted.tru', 'success', undefined]]);
    expect(await lake.query('select sku from trusted.tru')).toEqual([{ sku: '1' }]);
    expect(await lake.query('select _rejected_rule, sku from audit.tru_rejected')).toEqual([{ _rejected_rule: 'non_positive_price', sku: '2' }]);
  });

  it('macros, vars and env_var reach the models; lake vars are overridden by build vars', async () => {
    process.env.DUCKHOUSE_TEST_FACTOR = '3';
    const { lake } = await projectLake(
      {
        'macros/money.sql': `{% macro cents(col) %}round({{ col }} * 100)::BIGINT{% endmacro %}`,
        'marts/m.sql': `select {{ cents('1.234') }} as c, {{ var('k', 0) }} as k, {{ env_var('DUCKHOUSE_TEST_FACTOR') }} as f`,
      },
      { vars: { k: 1 } },
    );
    await lake.build();
    expect(await lake.query('select * from marts.m')).toEqual([{ c: 123, k: 1, f: 3 }]);
    await lake.build({ vars: { k: 2 } });
    expect(await lake.query('select k from marts.m')).toEqual([{ k: 2 }]);
  });

  it('an empty source is an empty relation with the recorded columns, and a warning', async () => {
    const { lake } = await projectLake({ 'staging/s.sql': `select sku, price from {{ source('shop', 'prices') }}` });
    const empty = defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }), extract: () => [] });
    await lake.extract([empty]);
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(r.warnings).toEqual([expect.stringMatching(/source shop\.prices is empty/)]);
    expect(await lake.query('select count(*) as n from staging.s')).toEqual([{ n: 0 }]);
  });
});

describe('error_if and warn_if (dbt: severity error checks error_if, then warn_if; severity warn only warn_if; both default !=0)', () => {
  it('decide a test status from its failures, in YAML and in a singular test, in a build and in lake.test()', async () => {
    const { lake } = await projectLake({
      // 3 NULL values of v, 1 of w.
      'seeds/src.csv': 'k,v,w\n1,,1\n2,,2\n3,,\n4,4,4\n',
      'trusted/t.sql': `select k, v, w from {{ ref('src') }}`,
      'assertions/three_rows.sql': `{{ config(error_if='>5', warn_if='>=3') }}select * from {{ ref('t') }} where k < 4`,
      'trusted/_t.yml': `version: 2
models:
  - name: t
    columns:
      - name: v
        tests:
          - not_null: { name: v_error_above_10, config: { error_if: ">10" } }
          - not_null: { name: v_error_above_2, config: { error_if: ">2" } }
          - not_null: { name: v_quiet_below_5, config: { error_if: ">10", warn_if: ">5" } }
          - not_null: { name: v_warn_between, config: { severity: warn, warn_if: "between 2 and 3" } }
          - not_null: { name: v_warn_ignores_error_if, severity: warn, error_if: "!=0", warn_if: ">100" }
      - name: w
        tests:
          - not_null: { name: w_error_at_least_1, config: { error_if: ">=1" } }
`,
    });
    const r = await lake.build();
    const statuses = (tests: { name: string; status: string; failures: number }[]) =>
      Object.fromEntries(tests.filter((t) => t.name !== 'quality_score_trusted_t').map((t) => [t.name, `${t.status} ${t.failures}`]));
    const expected = {
      three_rows: 'warn 3',
      v_error_above_10: 'warn 3',
      v_error_above_2: 'fail 3',
      v_quiet_below_5: 'pass 3',
      v_warn_between: 'warn 3',
      v_warn_ignores_error_if: 'pass 3',
      w_error_at_least_1: 'fail 1',
    };
    expect(statuses(r.tests)).toEqual(expected);
    expect(statuses(await lake.test())).toEqual(expected);
  });

  it('a condition that is not one on the number of failures is an error naming the file', async () => {
    const { lake } = await projectLake({
      'trusted/t.sql': 'select 1 as v',
      'trusted/_t.yml': 'version: 2\nmodels:\n  - name: t\n    columns:\n      - name: v\n        tests:\n          - not_null: { config: { warn_if: "many" } }\n',
    });
    await expect(lake.build()).rejects.toThrow(/models\/trusted\/_t\.yml line 7: .*warn_if: "many" is not a condition/);
  });
});

describe("dbt_utils' tests under their own names keep dbt_utils' meaning", () => {
  const values = `select * from (values (0), (5), (6), (-1), (null), (1)) as t(v)`;
  const failures = (tests: { name: string; failures: number }[]) => Object.fromEntries(tests.filter((t) => !t.name.startsWith('quality_score')).map((t) => [t.name, t.failures]));

  it('expression_is_true (where not (…): a NULL row passes) and accepted_range (min_value / max_value / inclusive, SQL bounds as written), beside our expression (a NULL row fails)', async () => {
    const { lake } = await projectLake({
      'trusted/t.sql': values,
      'trusted/_t.yml': `version: 2
models:
  - name: t
    tests:
      - dbt_utils.expression_is_true: { name: model_level, expression: "v > 0" }
      - expression: { name: ours_model_level, expression: "v > 0" }
    columns:
      - name: v
        tests:
          - dbt_utils.expression_is_true: { name: column_level, expression: "> 0" }
          - expression_is_true: { name: column_level_bare, expression: ">= 0" }
          - dbt_utils.accepted_range: { name: range_0_5, min_value: 0, max_value: 5 }
          - dbt_utils.accepted_range: { name: range_0_5_exclusive, min_value: 0, max_value: 5, inclusive: false }
          - accepted_range: { name: range_sql_min, arguments: { min_value: "abs(-1)" } }
          - dbt_utils.accepted_range: { name: range_max_warn, max_value: 1, config: { severity: warn } }
`,
    });
    const r = await lake.build();
    // v: 0, 5, 6, -1, NULL, 1. dbt_utils selects `where not (…)`: the NULL row is never a failure.
    const expected = {
      model_level: 2, // 0, -1
      ours_model_level: 3, // 0, -1 and the NULL row (duckhouse's own expression test)
      column_level: 2,
      column_level_bare: 1, // -1
      range_0_5: 2, // 6, -1
      range_0_5_exclusive: 4, // 0, 5, 6, -1
      range_sql_min: 2, // 0, -1
      range_max_warn: 2, // 5, 6
    };
    expect(failures(r.tests)).toEqual(expected);
    expect(r.tests.find((t) => t.name === 'range_max_warn')).toMatchObject({ kind: 'expression', severity: 'warn', status: 'warn', column: 'v' });
    expect(failures(await lake.test())).toEqual(expected);
  });

  it('accepted_range without a bound, with an unknown argument or on no column is an error naming the file and line', async () => {
    const project = (test: string, where = 'column') =>
      projectLake({
        'trusted/t.sql': values,
        'trusted/_t.yml':
          where === 'column'
            ? `version: 2\nmodels:\n  - name: t\n    columns:\n      - name: v\n        tests:\n          - ${test}\n`
            : `version: 2\nmodels:\n  - name: t\n    tests:\n      - ${test}\n`,
      });
    await expect((await project('dbt_utils.accepted_range: { inclusive: true }')).lake.build()).rejects.toThrow(/models\/trusted\/_t\.yml line 7: .*column v: test dbt_utils\.accepted_range needs min_value, max_value or both/);
    await expect((await project('accepted_range: { min_vale: 1 }')).lake.build()).rejects.toThrow(/_t\.yml line 7: .*test accepted_range: .*min_vale/);
    await expect((await project('dbt_utils.accepted_range: { min_value: 1 }', 'model')).lake.build()).rejects.toThrow(/_t\.yml line 5: .*test dbt_utils\.accepted_range checks a column: put it under columns:/);
  });
});

describe("a project's own generic tests (dbt's {% test %} blocks in models/macros/)", () => {
  it('run as dbt runs them: model, column_name and the YAML arguments, with where, severity and a name; in a build and in lake.test()', async () => {
    const { lake } = await projectLake({
      'macros/generic.sql': [
        '{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}',
        '{%- test at_most(model, column_name, value) -%}',
        '  select * from {{ model }} where {{ column_name }} > {{ value }}',
        '{%- endtest %}',
        '{% test has_rows(model, min_rows=1) %}select n from (select count(*) as n from {{ model }}) where n < {{ min_rows }}{% endtest %}',
      ].join('\n'),
      'trusted/t.sql': `select * from (values (0), (5), (6), (-1), (null), (1)) as t(v)`,
      'trusted/_t.yml': `version: 2
models:
  - name: t
    tests:
      - has_rows: { min_rows: 10 }
    columns:
      - name: v
        tests:
          - positive
          - at_most: { value: 5, severity: warn }
          - positive: { name: pos_small, config: { where: "v < 6" } }
          - positive: { name: pos_off, config: { enabled: false } }
`,
    });
    const r = await lake.build();
    const got = (tests: { name: string; kind: string; status: string; failures: number }[]) =>
      Object.fromEntries(tests.filter((t) => t.kind === 'generic').map((t) => [t.name, `${t.status} ${t.failures}`]));
    // v: 0, 5, 6, -1, NULL, 1 — before: 'unknown block tag: test' in the macro file.
    // pos_off is disabled, as any test with enabled: false (it ran before the generic tests shared makeTest's path).
    const expected = { has_rows_t__10: 'fail 1', positive_t_v: 'fail 2', at_most_t_v__5: 'warn 1', pos_small: 'fail 2' };
    expect(got(r.tests)).toEqual(expected);
    expect(r.tests.find((t) => t.name === 'positive_t_v')).toMatchObject({ model: 'trusted.t', column: 'v', severity: 'error' });
    expect(got(await lake.test({ select: ['positive_t_v', 'at_most_t_v__5'] }))).toEqual({ positive_t_v: 'fail 2', at_most_t_v__5: 'warn 1' });
  });

  it('an unknown test names the generic ones; a generic test reading ref() is an error naming the test', async () => {
    const base = { 'macros/generic.sql': '{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}', 'trusted/t.sql': 'select 1 as v' };
    const typo = await projectLake({ ...base, 'trusted/_t.yml': 'models: [{ name: t, columns: [{ name: v, tests: [positiv] }] }]' });
    await expect(typo.lake.build()).rejects.toThrow(/_t\.yml line 1: .*unknown test "positiv" — did you mean positive\?/);
    const reads = await projectLake({
      'macros/generic.sql': "{% test against(model, column_name) %}select * from {{ model }} where {{ column_name }} not in (select v from {{ ref('t') }}){% endtest %}",
      'trusted/t.sql': 'select 1 as v',
      'trusted/_t.yml': 'models: [{ name: t, columns: [{ name: v, tests: [against] }] }]',
    });
    await expect(reads.lake.build()).rejects.toThrow(/_t\.yml line 1: .*test against: ref\(\) is not available in a generic test/);
  });
});

describe("exclude (dbt's --exclude) in lake.build, lake.test and lake.run", () => {
  it('leaves the excluded models and their tests out; an exclude matching nothing is a usage error recording no run', async () => {
    const { lake } = await projectLake({
      'trusted/a.sql': 'select 1 as v',
      'marts/b.sql': "select v from {{ ref('a') }}",
      'marts/c.sql': "select v + 1 as v from {{ ref('a') }}",
      'marts/_m.yml': 'version: 2\nmodels:\n  - name: b\n    columns: [{ name: v, tests: [not_null] }]\n  - name: c\n    columns: [{ name: v, tests: [not_null, unique] }]\n',
    });
    const built = await lake.build({ exclude: ['c'] });
    expect(built.models.map((m) => m.name).sort()).toEqual(['marts.b', 'trusted.a']);
    expect(built.tests.filter((t) => t.kind !== 'min_quality_score').map((t) => t.name)).toEqual(['not_null_b_v']);
    const run = await lake.run({ select: ['a+'], exclude: ['b'] });
    expect(run.build?.models.map((m) => `${m.name}:${m.status}`).sort()).toEqual(['marts.c:success', 'trusted.a:up-to-date']);
    expect((await lake.test({ exclude: ['unique_c_v', 'b'] })).filter((t) => t.kind !== 'min_quality_score').map((t) => t.name)).toEqual(['not_null_c_v']);
    const before = (await lake.runs({ limit: 100 })).length;
    await expect(lake.build({ exclude: ['d'] })).rejects.toThrow(/selector "d" matches no enabled model or seed/);
    await expect(lake.run({ exclude: ['layer:mart'] })).rejects.toThrow(/did you mean layer:marts/);
    await expect(lake.test({ select: ['b'], exclude: ['layer:marts'] })).rejects.toThrow('select "b" less exclude "layer:marts" leaves no model, seed or test');
    expect((await lake.runs({ limit: 100 })).length).toBe(before);
  });
});

describe('selecting the parent of a relationships test (dbt indirect selection, eager: a test runs when any model it reads is selected)', () => {
  it('runs the relationships test of an unselected child in build({ select }) and lake.test({ select })', async () => {
    const { lake, models } = await projectLake({
      'seeds/stores.csv': 'store\na\nb\n',
      'marts/dim_stores.sql': `select store from {{ ref('stores') }}`,
      'marts/fct_sales.sql': `select 'b' as store, 10 as amount`,
      'marts/_m.yml': `version: 2
models:
  - name: fct_sales
    columns:
      - name: store
        tests:
          - relationships: { to: "ref('dim_stores')", field: store }
`,
    });
    expect((await lake.build()).tests.find((t) => t.kind === 'relationships')).toMatchObject({ status: 'pass' });
    // dim_stores loses store b: fct_sales now holds an orphan, and the build of dim_stores must say so.
    writeFiles(models, { 'marts/dim_stores.sql': `select store from {{ ref('stores') }} where store <> 'b'` });
    const r = await lake.build({ select: ['dim_stores'] });
    expect(r.tests.find((t) => t.kind === 'relationships')).toMatchObject({ name: 'relationships_fct_sales_store__store__dim_stores', status: 'fail', failures: 1 });
    expect(r.status).toBe('partial');
    expect((await lake.test({ select: ['dim_stores'] })).find((t) => t.kind === 'relationships')).toMatchObject({ status: 'fail', failures: 1 });
  });
});

describe('a singular test that refs no model (reads a source only)', () => {
  it('runs with the selection of a model reading that source, or of everything, and not with an unrelated model', async () => {
    const { lake } = await projectLake({
      'seeds/stores.csv': 'store\na\n',
      'marts/dim_stores.sql': `select store from {{ ref('stores') }}`,
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'assertions/no_free_prices.sql': `select * from {{ source('shop', 'prices') }} where price <= 0`,
    });
    await lake.extract([prices([['a', '1', 0]])]);
    const names = (tests: { name: string; status: string }[]) => tests.map((t) => `${t.name}:${t.status}`);
    expect(names((await lake.build()).tests)).toContain('no_free_prices:fail');
    // dim_stores reads no price: a failing price assertion does not make its build partial.
    const dim = await lake.build({ select: ['dim_stores'], fullRefresh: true });
    expect(names(dim.tests)).not.toContain('no_free_prices:fail');
    expect(dim.status).toBe('success');
    expect(names(await lake.test({ select: ['dim_stores'] }))).not.toContain('no_free_prices:fail');
    expect(names(await lake.test({ select: ['stg_prices'] }))).toContain('no_free_prices:fail');
    expect(names(await lake.test({ select: ['source:shop'] }))).toContain('no_free_prices:fail');
  });
});

describe('a singular test reading a source never extracted', () => {
  it('is not run, with a warning, as a test of a model waiting for that source; once extracted it runs', async () => {
    const { lake } = await projectLake({
      'marts/one.sql': `select 1 as x`,
      'assertions/no_free_prices.sql': `select * from {{ source('shop', 'prices') }} where price <= 0`,
    });
    const warning = 'test no_free_prices not run: assertions.no_free_prices reads a source that has never been extracted';
    const first = await lake.build();
    expect(first.status).toBe('success');
    expect(first.tests.filter((t) => t.name === 'no_free_prices')).toEqual([]);
    expect(first.warnings).toContain(warning);
    const again = await lake.build();
    expect(again.tests.filter((t) => t.name === 'no_free_prices')).toEqual([]);
    expect(again.warnings).toContain(warning);
    expect((await lake.test()).filter((t) => t.name === 'no_free_prices')).toEqual([]);
    await lake.extract([prices([['a', '1', 0]])]);
    expect((await lake.build()).tests.find((t) => t.name === 'no_free_prices')).toMatchObject({ status: 'fail', failures: 1 });
    expect((await lake.test()).find((t) => t.name === 'no_free_prices')).toMatchObject({ status: 'fail', failures: 1 });
  });
});

describe('a relationships test to a source never extracted', () => {
  it('is not run, with a warning naming the source, as a test of a model waiting for it; once extracted it runs', async () => {
    const { lake } = await projectLake({
      'seeds/stores.csv': 'store\na\n',
      'marts/dim_stores.sql': `select store from {{ ref('stores') }}`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: dim_stores\n    columns:\n      - name: store\n        tests:\n          - relationships: { to: "source('shop', 'prices')", field: store }\n`,
    });
    const name = 'relationships_dim_stores_store__store__prices';
    const warning = `test ${name} not run: source shop.prices has never been extracted`;
    const first = await lake.build();
    expect(first.status).toBe('success');
    expect(first.tests.filter((t) => t.name === name)).toEqual([]);
    expect(first.warnings).toContain(warning);
    const again = await lake.build();
    expect(again.tests.filter((t) => t.name === name)).toEqual([]);
    expect(again.warnings).toContain(warning);
    expect((await lake.test()).filter((t) => t.name === name)).toEqual([]);
    await lake.extract([prices([['b', '1', 1]])]);
    expect((await lake.build()).tests.find((t) => t.name === name)).toMatchObject({ status: 'fail', failures: 1 });
    expect((await lake.test()).find((t) => t.name === name)).toMatchObject({ status: 'fail', failures: 1 });
  });
});

describe('a data test is one statement', () => {
  const project = (yml: string) => ({
    'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
    'marts/totals.sql': `{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('stg_prices') }}`,
    'marts/_marts.yml': `version: 2\nmodels:\n  - name: totals\n${yml}`,
  });

  it.each([
    ['an expression', `    tests:\n      - expression:\n          expression: "n > 0), false); drop view staging.stg_prices; select coalesce((1"\n`, 'expression'],
    ['a where', `    columns:\n      - name: n\n        tests:\n          - not_null:\n              config:\n                where: "true); drop view staging.stg_prices; select * from (select 1 as n"\n`, 'not_null'],
  ])('%s that closes the query and adds "; drop view …" is an error naming the test file, and runs nothing of it', async (_what, yml, kind) => {
    const { lake } = await projectLake(project(yml));
    await lake.extract([prices([['a', '1', 1]])]);
    const r = await lake.build();
    const test = r.tests.find((t) => t.kind === kind)!;
    expect(test.status).toBe('error');
    expect(test.error).toMatch(/models\/marts\/_marts\.yml\): its SQL is 3 statements, not one/);
    expect(await lake.query('select count(*) as n from staging.stg_prices')).toEqual([{ n: 1 }]);
  });
});

describe('readers during builds', () => {
  it('a reader process querying analytics.duckdb READ_ONLY through 10 builds sees no error and never a half-built state', async () => {
    const { lake } = await projectLake({
      'trusted/items.sql': `select sku, price from {{ source('shop', 'prices') }}`,
      'marts/totals.sql': `select count(*) as n, max(_b) as build from (select 1 as _b from {{ ref('items') }})`,
    });
    await lake.extract([prices([['a', '0', 1]])]);
    await lake.build();
    const reader = spawnHelper('child-reader.ts', [lake.paths.analytics, '12000']);
    for (let i = 1; i <= 10; i++) {
      await lake.extract([prices(Array.from({ length: 50 * i }, (_, j) => ['a', `${i}-${j}`, j] as [string, string, number]))]);
      const r = await lake.build();
      expect(r.status).toBe('success');
    }
    const { code, stderr } = await reader.exited;
    expect(code, stderr).toBe(0);
    const stats = JSON.parse(reader.lines.at(-1)!);
    expect(stats.errors, JSON.stringify(stats.messages)).toBe(0);
    expect(stats.inconsistent).toBe(0);
    expect(stats.queries).toBeGreaterThan(10);
    expect(fs.existsSync(lake.paths.analytics)).toBe(true);
  }, 60_000);
});

describe('a DuckDB client holding analytics.duckdb read-write (opened without READ_ONLY)', () => {
  const files = {
    'trusted/items.sql': `select sku, price from {{ source('shop', 'prices') }}`,
    'marts/totals.sql': `select count(*) as n from {{ ref('items') }}`,
  };

  it('a build and a query wait lockTimeoutMillis, then say who holds the file and how to open it (was DuckDB\'s bare "Could not set lock on file" at once)', async () => {
    const { lake } = await projectLake(files, { lockTimeoutMillis: 300 });
    await lake.extract([prices([['a', '1', 1]])]);
    await lake.build();
    await lake.extract([prices([['a', '2', 1]])]);
    const holder = await holdDuckDbFile(lake.paths.analytics);
    const said = new RegExp(`analytics\\.duckdb is held read-write by .*pid ${holder.pid} \\(waited 300 ms\\).*READ_ONLY.*file .*analytics\\.duckdb$`);
    const built = await lake.build().catch((e: unknown) => e);
    expect(built).toBeInstanceOf(LockError);
    expect((built as Error).message).toMatch(said);
    const queried = await lake.query('select n from marts.totals').catch((e: unknown) => e);
    expect(queried).toBeInstanceOf(LockError);
    expect((queried as Error).message).toMatch(said);
    const [run] = await lake.runs({ limit: 1 });
    expect(run).toMatchObject({ kind: 'build', status: 'failed', error: expect.stringMatching(said) });
    await holder.release();
    expect(await lake.query('select n from marts.totals')).toEqual([{ n: 1 }]);
    expect((await lake.build()).status).toBe('success');
    expect(await lake.query('select n from marts.totals')).toEqual([{ n: 2 }]);
  }, 60_000);

  it('a build waits for the client to let go, then publishes', async () => {
    const { lake } = await projectLake(files, { lockTimeoutMillis: 30_000 });
    await lake.extract([prices([['a', '1', 1]])]);
    await lake.build();
    await lake.extract([prices([['a', '2', 1]])]);
    const holder = await holdDuckDbFile(lake.paths.analytics);
    const build = lake.build();
    build.catch(() => undefined);
    while (!(await lake.runs({ limit: 1 }))[0]?.status.startsWith('running')) await new Promise((r) => setTimeout(r, 20));
    await holder.release();
    expect((await build).status).toBe('success');
    expect(await lake.query('select n from marts.totals')).toEqual([{ n: 2 }]);
  }, 60_000);
});

describe('audit of an incremental model', () => {
  it('a key rejected earlier and re-decided by a later run is not audited twice', async () => {
    const { lake } = await projectLake({
      'trusted/tru.sql': `{{ config(materialized='incremental', unique_key=['sku']) }}
        select sku, last(price order by _extracted_at) as price from {{ source('shop', 'prices') }}
        where {{ reject_if('price <= 0', 'non_positive_price') }}
        {% if is_incremental() %} and _extracted_at > (select coalesce(max(_rejected_at), '1970-01-01') from audit.tru_rejected) {% endif %}
        group by sku`,
    });
    await lake.extract([prices([['a', '1', 0], ['a', '2', 5]])]);
    await lake.build();
    expect(await lake.query('select sku from audit.tru_rejected')).toEqual([{ sku: '1' }]);
    await lake.extract([prices([['a', '1', 0]])]);
    await lake.build();
    expect(await lake.query('select sku from audit.tru_rejected')).toEqual([{ sku: '1' }]);
    await lake.extract([prices([['a', '1', 7]])]);
    await lake.build();
    // Key 1 got a valid price: the model has it and the audit no longer does.
    expect(await lake.query('select sku, price from trusted.tru order by sku')).toEqual([{ sku: '1', price: 7 }, { sku: '2', price: 5 }]);
    expect(await lake.query('select sku from audit.tru_rejected')).toEqual([]);
  });

  it('a unique_key column the model gains in the same change: the earlier rejections hold NULL in it, and the build succeeds', async () => {
    const keyed = (key: string, columns: string) => `{{ config(materialized='incremental', unique_key=${key}) }}
select ${columns} from {{ ref('src') }} where {{ reject_if('v < 0', 'negative') }}
{% if is_incremental() %} and k >= (select max(k) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,s,v\n1,a,-1\n2,b,2\n', 'trusted/t.sql': keyed(`'k'`, 'k, v') });
    expect((await lake.build()).status).toBe('success');
    // The key becomes (k, s): neither the table nor its audit has s yet.
    writeFiles(models, { 'seeds/src.csv': 'k,s,v\n1,a,-1\n2,b,2\n3,c,-3\n', 'trusted/t.sql': keyed(`['k', 's']`, 'k, s, v') });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success' });
    expect(await lake.query('select k, s, v from audit.t_rejected order by k')).toEqual([
      { k: 1, s: null, v: -1 },
      { k: 3, s: 'c', v: -3 },
    ]);
  });

  it("sync_all_columns retyping the unique_key: an earlier rejection's key is compared in the new type (INTEGER 1 is '1', not '01')", async () => {
    const keyed = (columns: string) => `{{ config(materialized='incremental', unique_key='k', on_schema_change='sync_all_columns') }}
select ${columns} from {{ ref('src') }} where {{ reject_if('v < 0', 'negative') }}
{% if is_incremental() %} and abs(v) > 20 {% endif %}`;
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,-10\n2,20\n', 'trusted/t.sql': keyed('k::INTEGER as k, v') });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,-10\n2,20\n01,-30\n', 'trusted/t.sql': keyed(`case when v = -30 then '01' else k::VARCHAR end as k, v`) });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success' });
    expect(await lake.query('select k, v from audit.t_rejected order by k')).toEqual([
      { k: '01', v: -30 },
      { k: '1', v: -10 },
    ]);
  });

  it('stores the rows a run rejects when its is_incremental() filter reads {{ this }} and the same run keeps rows past them', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'k,v\n1,1\n2,-2\n',
      'trusted/t.sql': `{{ config(materialized='incremental', unique_key='k') }}
select k, v from {{ ref('src') }}
where {{ reject_if('v < 0', 'negative') }}
{% if is_incremental() %} and k > (select max(k) from {{ this }}) {% endif %}`,
    });
    await lake.build();
    expect(await lake.query('select _rejected_rule, k from audit.t_rejected order by k')).toEqual([{ _rejected_rule: 'negative', k: 2 }]);
    // The next batch: k=3 is rejected, k=4 is kept.
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,1\n2,-2\n3,-3\n4,4\n' });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 2 });
    expect(await lake.query('select k from trusted.t order by k')).toEqual([{ k: 1 }, { k: 4 }]);
    // k=3 was dropped by the rule, so it is in the audit: the audit reads `{{ this }}` as the
    // model's run did (max(k) = 2), not the new version (max(k) = 4, nothing rejected past it).
    expect(await lake.query('select _rejected_rule, k, v from audit.t_rejected order by k')).toEqual([
      { _rejected_rule: 'negative', k: 2, v: -2 },
      { _rejected_rule: 'negative', k: 3, v: -3 },
    ]);
  });

  it('an append model whose filter reads a rejected row again audits it once, not once per build (identical rows of one run each count)', async () => {
    const schema = z.object({ id: z.number(), ts: z.number(), price: z.number() });
    const src = (rows: number[][]) => defineSource({ source: 's', dataset: 'p', schema, extract: () => [rows.map(([id, ts, price]) => ({ id: id!, ts: ts!, price: price! }))] });
    const { lake } = await projectLake({
      'trusted/tru_p.sql': `{{ config(materialized='incremental') }}
select id, ts, price from {{ source('s', 'p') }} where {{ reject_if('price <= 0', 'bad') }}
{% if is_incremental() %} and ts > (select max(ts) from {{ this }}) {% endif %}`,
    });
    await lake.extract([src([[1, 1, 5]])]);
    await lake.build();
    await lake.extract([src([[2, 2, -1], [2, 2, -1]])]);
    await lake.build();
    // ts 2 is past the kept rows' max(ts) = 1: the third build reads and rejects both copies again.
    await lake.extract([src([[3, 3, 5], [4, 4, 0]])]);
    await lake.build();
    expect(await lake.query(`select id from trusted.tru_p order by id`)).toEqual([{ id: 1 }, { id: 3 }]);
    expect(await lake.query(`select id from audit.tru_p_rejected order by id`)).toEqual([{ id: 2 }, { id: 2 }, { id: 4 }]);
    const [q] = await lake.query(`select accuracy from marts.mart_data_quality order by computed_at desc limit 1`);
    expect(q!.accuracy).toBeCloseTo(2 / 5);
  });
});

describe('a source never extracted', () => {
  it('skips the models reading it without failing the build', async () => {
    const { lake } = await projectLake({
      'staging/stg_never.sql': `select * from {{ source('nowhere', 'items') }}`,
      'marts/after_never.sql': `select count(*) as n from {{ ref('stg_never') }}`,
      'marts/fine.sql': `select 1 as one`,
    });
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(Object.fromEntries(r.models.map((m) => [m.name, [m.status, m.skippedBecause ?? null]]))).toEqual({
      'staging.stg_never': ['skipped', 'source nowhere.items has never been extracted'],
      'marts.after_never': ['skipped', 'staging.stg_never: source nowhere.items has never been extracted'],
      'marts.fine': ['success', null],
    });
  });

  it('skips a selected model whose unselected upstream waits for it, with that cause, without failing the build', async () => {
    // Observed: `select: ['after_never+']` was `failed`, skipped because "trusted.tru_never: not built",
    // while a build of everything was `success` (README's quick start: build({ select: ['fct_prices_daily+'] })).
    const { lake } = await projectLake({
      'staging/stg_never.sql': `select * from {{ source('nowhere', 'items') }}`,
      'trusted/tru_never.sql': `select * from {{ ref('stg_never') }}`,
      'marts/after_never.sql': `select count(*) as n from {{ ref('tru_never') }}`,
    });
    const r = await lake.build({ select: ['after_never+'] });
    expect(r.status).toBe('success');
    expect(r.models.map((m) => [m.name, m.status, m.skippedBecause])).toEqual([
      ['marts.after_never', 'skipped', 'trusted.tru_never: upstream staging.stg_never was not built: source nowhere.items has never been extracted'],
    ]);
  });
});

describe('source as of a run', () => {
  it('reads only what was committed up to that run', async () => {
    const { lake, models } = await projectLake({ 'staging/now.sql': `select count(*) as n from {{ source('shop', 'prices') }}` });
    const first = await lake.extract([prices([['a', '1', 1], ['a', '2', 2]])]);
    await lake.extract([prices([['a', '3', 3]])]);
    writeFiles(models, { 'staging/then.sql': `select count(*) as n from {{ source('shop', 'prices', as_of_run='${first.runId}') }}` });
    await lake.build();
    expect(await lake.query('select n from staging.now')).toEqual([{ n: 3 }]);
    expect(await lake.query('select n from staging.then')).toEqual([{ n: 2 }]);
  });

  // Compared as text with the files' run ids, 'latest' read every row and a date none, and the build succeeded.
  it.each(['latest', '2026-03-05', "x' or true --"])('as_of_run=%j that is not a run id fails the model naming its file and the value', async (value) => {
    const { lake } = await projectLake({ 'marts/pinned.sql': `{{ config(materialized='table') }}\nselect count(*) as n from {{ source('shop', 'prices', as_of_run=var('pin')) }}` });
    await lake.extract([prices([['a', '1', 1]])]);
    const r = await lake.build({ vars: { pin: value } });
    expect(r.models).toEqual([expect.objectContaining({ name: 'marts.pinned', status: 'error' })]);
    expect(r.models[0]!.error).toBe(
      `model marts.pinned (models/marts/pinned.sql): source('shop', 'prices', as_of_run=…): as_of_run must be a run id like 20260305T120000000Z-a1b2c3 (got ${JSON.stringify(value)})`,
    );
  });
});

describe('a table model reading an audit table by name', () => {
  it('is rebuilt once the audit table it reads has changed, instead of staying up-to-date forever', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'k,v\n1,1\n2,-2\n',
      'trusted/t.sql': `select k, v from {{ ref('src') }} where {{ reject_if('v < 0', 'negative') }}`,
      'marts/rejections.sql': `{{ config(materialized='table') }} select count(*) as n from audit.t_rejected`,
    });
    await lake.build(); // marts.rejections fails: no audit table published yet (README: from the second build on)
    await lake.build();
    expect(await lake.query('select n from marts.rejections')).toEqual([{ n: 1 }]);
    // A second rejected row: trusted.t and its audit table are rebuilt.
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,1\n2,-2\n3,-3\n' });
    await lake.build();
    expect(await lake.query('select count(*) as n from audit.t_rejected')).toEqual([{ n: 2 }]);
    // Whatever this build's order let it see, by the next build the reader has caught up: the
    // audit table's version is part of its hash, as a ref's is.
    await lake.build();
    expect(await lake.query('select n from marts.rejections')).toEqual([{ n: 2 }]);
  });
});
