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
