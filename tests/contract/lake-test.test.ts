/**
 * lake.test() and the alerts it raises, against what the build says of the same project.
 * README: a test whose model "is neither selected nor built yet" is "not run, with a warning,
 * instead of erroring"; `lake.test()` gives "TestResult[] against the published build".
 */
import { describe, expect, it } from 'vitest';
import { projectLake, prices } from '../helpers/models.js';

const files = {
  'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
  // Reads a source never extracted: the build skips it ("waiting"), without failing.
  'staging/stg_orders.sql': `select id from {{ source('shop', 'orders') }}`,
  'staging/_staging.yml': `version: 2
models:
  - name: stg_prices
    columns:
      - name: store
        tests: [not_null]
  - name: stg_orders
    columns:
      - name: id
        tests: [not_null]
`,
};

describe('lake.test() on a project where a model waits for its first extract', () => {
  it('does not error on the tests of a model the published build does not hold (as the build does not)', async () => {
    const { lake } = await projectLake(files);
    await lake.extract([prices([['bistek', 'a', 1]])]);
    const build = await lake.build();
    expect(build.status).toBe('success');
    expect(build.models.find((m) => m.name === 'staging.stg_orders')?.status).toBe('skipped');
    expect(build.tests.map((t) => `${t.name}:${t.status}`)).toEqual(['not_null_stg_prices_store:pass']);
    expect(build.warnings).toContainEqual(expect.stringMatching(/test not_null_stg_orders_id not run/));

    const tests = await lake.test();
    // The build said "not run"; lake.test() on the same published build must not turn it into an
    // error-severity failure (which makes `duckhouse test` exit 1 and opens an error alert).
    expect(tests.filter((t) => t.status === 'error' || t.status === 'fail')).toEqual([]);
    expect(tests.map((t) => `${t.name}:${t.status}`)).toContain('not_null_stg_prices_store:pass');
    const [run] = await lake.runs({ limit: 1 });
    expect(run!.kind).toBe('test');
    expect(run!.status).toBe('success');
    expect((await lake.alerts()).filter((a) => a.kind === 'test_failed')).toEqual([]);
  });
});

describe('test_failed alerts', () => {
  it('an alert for a test that errored says why, not "0 failing"', async () => {
    const { lake } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      // A column the model does not have: the test errors (DuckDB binder error).
      'staging/_staging.yml': `version: 2
models:
  - name: stg_prices
    columns:
      - name: shop_id
        tests: [not_null]
`,
    });
    await lake.extract([prices([['bistek', 'a', 1]])]);
    const build = await lake.build();
    const errored = build.tests.find((t) => t.name === 'not_null_stg_prices_shop_id');
    expect(errored?.status).toBe('error');
    expect(errored?.error).toMatch(/shop_id/);
    const alert = (await lake.alerts()).find((a) => a.kind === 'test_failed' && a.subject === 'not_null_stg_prices_shop_id');
    expect(alert).toBeDefined();
    // The hook and `lake.alerts()` show this message: it must carry the test's error.
    expect(alert!.message).not.toMatch(/^0 failing/);
    expect(alert!.message).toMatch(/shop_id/);
  });
});

describe('lake.test({ select }) by test name, as `dbt test --select <test or singular test>`', () => {
  const project = {
    'seeds/src.csv': 'k,v\n1,\n2,2\n',
    'trusted/t.sql': `select k, v from {{ ref('src') }}`,
    'trusted/u.sql': `select k from {{ ref('src') }}`,
    'assertions/no_big_k.sql': `select * from {{ ref('t') }} where k > 1`,
    'assertions/always_ok.sql': `select 1 where false`,
    'trusted/_t.yml': `version: 2
models:
  - name: t
    columns:
      - name: v
        tests: [not_null]
      - name: k
        tests: [unique]
  - name: u
    columns:
      - name: k
        tests: [not_null]
`,
  };

  it('runs just the named tests (a generic test by its name, a singular test by its file name), alone or with models', async () => {
    const { lake } = await projectLake(project);
    await lake.build();
    const names = (tests: { name: string; status: string }[]) => tests.map((t) => `${t.name}:${t.status}`).sort();
    expect(names(await lake.test({ select: ['not_null_t_v'] }))).toEqual(['not_null_t_v:fail']);
    expect(names(await lake.test({ select: ['no_big_k'] }))).toEqual(['no_big_k:fail']);
    const mixed = names(await lake.test({ select: ['assertions.no_big_k', 'u'] }));
    expect(mixed).toEqual(expect.arrayContaining(['no_big_k:fail', 'not_null_u_k:pass', 'quality_score_trusted_u:pass']));
    expect(mixed.filter((n) => n.includes('_t_'))).toEqual([]);
    // A name that is neither a node nor a test is still a usage error naming it.
    await expect(lake.test({ select: ['not_null_t_vv'] })).rejects.toThrow(/selector "not_null_t_vv" matches no enabled model, seed or test.*not_null_t_v/);
  });
});
