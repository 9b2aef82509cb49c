import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prices, projectLake, writeFiles } from '../../helpers/models.js';

/** The error a build fails with at discovery, checked to be the name rule's. */
async function discoveryError(lake: { build: () => Promise<unknown> }): Promise<Error> {
  const error = (await lake.build().then(
    () => undefined,
    (e: unknown) => e,
  )) as (Error & { code?: string }) | undefined;
  expect(error, 'the build should fail at discovery').toBeDefined();
  expect(error!.code).toBe('MODEL_NAME_INVALID');
  return error!;
}

const STG = { 'staging/stg_prices.sql': `select store, sku, price, _extracted_at from {{ source('shop', 'prices') }}` };

describe('seeds: column_types', () => {
  it('applies YAML column_types to the seed (a numeric-looking code stays text, leading zeros kept)', async () => {
    const { lake } = await projectLake({
      'seeds/ceps.csv': 'cep,city,n\n12345,sp,1\n01234,rj,2\n',
      'seeds/_seeds.yml': `version: 2\nseeds:\n  - name: ceps\n    config:\n      column_types:\n        cep: VARCHAR\n        n: DOUBLE\n`,
    });
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(await lake.query('select cep, city, n from seeds.ceps order by cep')).toEqual([
      { cep: '01234', city: 'rj', n: 2 },
      { cep: '12345', city: 'sp', n: 1 },
    ]);
    const types = await lake.query(`select column_name, data_type from information_schema.columns where table_schema = 'seeds' and table_name = 'ceps' order by ordinal_position`);
    expect(types.map((t) => t.data_type)).toEqual(['VARCHAR', 'VARCHAR', 'DOUBLE']);
  });

  it('an invalid type or an unknown column in column_types is an error naming the seed file', async () => {
    const { lake, models } = await projectLake({
      'seeds/ceps.csv': 'cep,city\n12345,sp\n',
      'seeds/_seeds.yml': `version: 2\nseeds:\n  - name: ceps\n    config:\n      column_types:\n        cep: NOT_A_TYPE\n`,
    });
    const r = await lake.build();
    const seed = r.models.find((m) => m.name === 'seeds.ceps')!;
    expect(seed.status).toBe('error');
    expect(seed.error).toContain('models/seeds/ceps.csv');
    expect(seed.error).toMatch(/column_types/);
    expect(seed.error).toMatch(/NOT_A_TYPE/);
    writeFiles(models, { 'seeds/_seeds.yml': `version: 2\nseeds:\n  - name: ceps\n    config:\n      column_types:\n        zip: VARCHAR\n` });
    const again = (await lake.build()).models.find((m) => m.name === 'seeds.ceps')!;
    expect(again.status).toBe('error');
    expect(again.error).toContain('models/seeds/ceps.csv');
    expect(again.error).toMatch(/zip/);
  });

  it('changing column_types rebuilds the seed', async () => {
    const { lake, models } = await projectLake({ 'seeds/ceps.csv': 'cep\n12345\n' });
    await lake.build();
    expect(await lake.query('select cep from seeds.ceps')).toEqual([{ cep: 12345 }]);
    writeFiles(models, { 'seeds/_seeds.yml': `version: 2\nseeds:\n  - name: ceps\n    config:\n      column_types:\n        cep: VARCHAR\n` });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'seeds.ceps')!.status).toBe('success');
    expect(await lake.query('select cep from seeds.ceps')).toEqual([{ cep: '12345' }]);
  });
});

describe('model names too long for the files a build writes', () => {
  it('a 220-character model name (a valid file name) is refused at discovery naming the file, not failed on ENAMETOOLONG of an internal temp file', async () => {
    const name = `m${'x'.repeat(219)}`;
    const { lake, root } = await projectLake({ [`staging/${name}.sql`]: "{{ config(materialized='table') }} select 1 as x" });
    const error = await discoveryError(lake);
    expect(error.message).toContain(`models/staging/${name}.sql`);
    expect(error.message).toContain('at most 64 characters');
    expect(fs.existsSync(path.join(root, 'analytics.duckdb'))).toBe(false);
  });

  it('a 64-character model name in a 64-character schema folder builds', async () => {
    const schema = `s${'y'.repeat(63)}`;
    const name = `m${'x'.repeat(63)}`;
    const { lake } = await projectLake({ [`${schema}/${name}.sql`]: "{{ config(materialized='table') }} select 1 as x" });
    const r = await lake.build();
    expect(r.models.map((m) => [m.status, m.error])).toEqual([['success', undefined]]);
    expect(await lake.query(`select x from ${schema}.${name}`)).toEqual([{ x: 1 }]);
  });
});

describe('schema folders named like a catalog or an engine schema are rejected at discovery', () => {
  it.each([
    ['the catalog readers attach', 'analytics'],
    ["DuckDB's own catalogs", 'temp'],
    ["DuckDB's own catalogs", 'memory'],
    ["DuckDB's own catalogs", 'system'],
    ['schemas the engine or DuckDB write to', '_duckhouse'],
    ['schemas the engine or DuckDB write to', 'information_schema'],
    ['schemas the engine or DuckDB write to', 'pg_catalog'],
    ['schemas the engine or DuckDB write to', 'main'],
  ])('%s: %s', async (_class, schema) => {
    const { lake, root } = await projectLake({
      [`${schema}/base.sql`]: `select 1 as n`,
      'marts/m.sql': `select n from {{ ref('base') }}`,
    });
    const error = await discoveryError(lake);
    expect(error.message).toContain(`models/${schema}/base.sql`);
    expect(error.message).toContain(`schema "${schema}" is reserved`);
    // Stopped before anything was written.
    expect(fs.existsSync(path.join(root, 'analytics.duckdb'))).toBe(false);
  });
});

describe('assertions reading a source', () => {
  it('give the same answer in a build with changes, a build with none and lake.test()', async () => {
    const { lake } = await projectLake({
      ...STG,
      'assertions/no_negative_bronze.sql': `select * from {{ source('shop', 'prices') }} where price < 0`,
    });
    await lake.extract([prices([['a', '1', 1]])]);
    const first = await lake.build();
    expect(first.tests.find((t) => t.name === 'no_negative_bronze')).toMatchObject({ status: 'pass' });
    const second = await lake.build();
    expect(second.models.every((m) => m.status === 'up-to-date')).toBe(true);
    const t = second.tests.find((x) => x.name === 'no_negative_bronze')!;
    expect(t.status, t.error).toBe('pass');
    expect(second.status).toBe('success');
    const tested = (await lake.test()).find((x) => x.name === 'no_negative_bronze');
    expect(tested, 'lake.test() runs the assertion').toBeDefined();
    expect(tested!.status, tested!.error).toBe('pass');

    // A negative price in bronze: the three paths fail it alike.
    await lake.extract([prices([['a', '2', -1], ['a', '3', -2]])]);
    const changed = await lake.build();
    expect(changed.tests.find((x) => x.name === 'no_negative_bronze')).toMatchObject({ status: 'fail', failures: 2 });
    const unchanged = await lake.build();
    expect(unchanged.models.every((m) => m.status === 'up-to-date')).toBe(true);
    expect(unchanged.tests.find((x) => x.name === 'no_negative_bronze')).toMatchObject({ status: 'fail', failures: 2 });
    expect((await lake.test()).find((x) => x.name === 'no_negative_bronze')).toMatchObject({ status: 'fail', failures: 2 });
  });
});

describe('YAML tests on an ephemeral model run against its inlined SQL', () => {
  const files = {
    'marts/eph.sql': `{{ config(materialized='ephemeral') }} select * from (values (1, 'a'), (2, null), (2, 'c')) as t(id, label)`,
    'marts/m.sql': `select * from {{ ref('eph') }}`,
    'marts/dim.sql': `select 1 as id`,
    'marts/_m.yml': `version: 2
models:
  - name: eph
    columns:
      - name: id
        tests:
          - not_null
          - unique
          - relationships: { to: "ref('dim')", field: id }
      - name: label
        tests: [not_null]
  - name: dim
    columns:
      - name: id
        tests:
          - relationships: { to: "ref('eph')", field: id }
`,
  };
  const expected = [
    ['not_null_eph_id', 'pass', 0],
    ['unique_eph_id', 'fail', 1],
    ['relationships_eph_id__id__dim', 'fail', 2],
    ['not_null_eph_label', 'fail', 1],
    ['relationships_dim_id__id__eph', 'pass', 0],
  ];
  const pick = (tests: { name: string; status: string; failures: number; error?: string }[]) =>
    expected.map(([name]) => {
      const t = tests.find((x) => x.name === name);
      return [name, t?.status ?? 'missing', t?.failures ?? -1, t?.error ?? ''];
    });
  const want = expected.map((e) => [...e, '']);

  it('in a build with changes, a build with none and lake.test()', async () => {
    const { lake } = await projectLake(files);
    const first = await lake.build();
    expect(first.models.every((m) => m.status === 'success')).toBe(true);
    expect(pick(first.tests)).toEqual(want);
    const second = await lake.build();
    expect(second.models.every((m) => m.status === 'up-to-date')).toBe(true);
    expect(pick(second.tests)).toEqual(want);
    expect(pick(await lake.test())).toEqual(want);
    expect(pick(await lake.test({ select: ['eph'] })).slice(0, 4)).toEqual(want.slice(0, 4));
  });

  it('a project whose only models are ephemerals runs their tests on a fresh lake (nothing else to build), then again up to date and in lake.test()', async () => {
    const { lake } = await projectLake({
      'marts/eph.sql': `{{ config(materialized='ephemeral') }} select * from (values (1), (null), (1)) as t(id)`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: eph\n    columns:\n      - name: id\n        tests: [not_null, unique]\n`,
    });
    const want = [
      ['not_null_eph_id', 'fail', 1],
      ['unique_eph_id', 'fail', 1],
    ];
    const seen = (tests: { name: string; status: string; failures: number }[]) => tests.map((t) => [t.name, t.status, t.failures]).sort();
    const first = await lake.build();
    expect(first.models).toEqual([]);
    expect(first.status).toBe('partial');
    expect(seen(first.tests)).toEqual(want);
    const second = await lake.build();
    expect(seen(second.tests)).toEqual(want);
    expect(seen(await lake.test())).toEqual(want);
  });

  it('a project whose only models are ephemerals, built with test: false, publishes a catalog: lake.test() then runs their tests', async () => {
    const { lake, root } = await projectLake({
      'marts/eph.sql': `{{ config(materialized='ephemeral') }} select * from (values (1), (null), (1)) as t(id)`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: eph\n    columns:\n      - name: id\n        tests: [not_null, unique]\n`,
    });
    const built = await lake.build({ test: false });
    expect(built.status).toBe('success');
    expect(built.models).toEqual([]);
    expect(built.tests).toEqual([]);
    expect(fs.existsSync(path.join(root, 'analytics.duckdb'))).toBe(true);
    const seen = (await lake.test()).map((t) => [t.name, t.status, t.failures]).sort();
    expect(seen).toEqual([
      ['not_null_eph_id', 'fail', 1],
      ['unique_eph_id', 'fail', 1],
    ]);
  });

  it('a test on an ephemeral reading a source never extracted is not run (with a warning), like a test on a view waiting for it; once extracted it runs', async () => {
    const { lake } = await projectLake({
      'marts/eph.sql': `{{ config(materialized='ephemeral') }} select sku from {{ source('shop', 'prices') }}`,
      'marts/eph_above.sql': `{{ config(materialized='ephemeral') }} select sku from {{ ref('eph') }}`,
      'marts/one.sql': `select 1 as one`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: eph_above\n    columns:\n      - name: sku\n        tests: [not_null]\n`,
    });
    const warned = (warnings: string[]) => warnings.filter((w) => w.startsWith('test not_null_eph_above_sku not run'));
    const first = await lake.build();
    expect(first.status).toBe('success');
    expect(first.tests.filter((t) => t.name === 'not_null_eph_above_sku')).toEqual([]);
    expect(warned(first.warnings)).toEqual(['test not_null_eph_above_sku not run: marts.eph reads a source that has never been extracted']);
    // Nothing changed: the same, and in lake.test().
    const again = await lake.build();
    expect(again.status).toBe('success');
    expect(again.tests.filter((t) => t.name === 'not_null_eph_above_sku')).toEqual([]);
    expect(warned(again.warnings)).toHaveLength(1);
    expect((await lake.test()).filter((t) => t.name === 'not_null_eph_above_sku')).toEqual([]);
    await lake.extract([prices([['a', '1', 1]])]);
    expect((await lake.build()).tests.find((t) => t.name === 'not_null_eph_above_sku')).toMatchObject({ status: 'pass' });
    expect((await lake.test()).find((t) => t.name === 'not_null_eph_above_sku')).toMatchObject({ status: 'pass' });
  });

  it('a test on an ephemeral whose upstream failed is not run (with a warning), like a test on the failed model', async () => {
    const { lake } = await projectLake({
      'marts/base.sql': `select 1 as id`,
      'marts/eph2.sql': `{{ config(materialized='ephemeral') }} select id from {{ ref('base') }}`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: eph2\n    columns:\n      - name: id\n        tests: [not_null]\n`,
    });
    const ok = await lake.build();
    expect(ok.tests.find((t) => t.name === 'not_null_eph2_id')).toMatchObject({ status: 'pass' });
    writeFiles(lake.paths.models, { 'marts/base.sql': `select no_such_column as id` });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'marts.base')!.status).toBe('error');
    expect(r.tests.find((t) => t.name === 'not_null_eph2_id')).toBeUndefined();
    expect(r.warnings.some((w) => w.includes('not_null_eph2_id') && w.includes('marts.base'))).toBe(true);
  });
});

describe('audit tables of reject_if', () => {
  it('removing every reject_if of a model removes its audit table; adding them back brings it back', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'trusted/tru_r.sql': `select store, sku, price from {{ ref('stg_prices') }} where {{ reject_if('price <= 0', 'non_positive') }}`,
    });
    await lake.extract([prices([['a', '1', 1], ['a', '2', -1]])]);
    await lake.build();
    expect(await lake.query('select count(*) as n from audit.tru_r_rejected')).toEqual([{ n: 1 }]);
    const auditViews = `select count(*) as n from duckdb_views() where database_name = 'analytics' and schema_name = 'audit' and view_name = 'tru_r_rejected'`;

    writeFiles(models, { 'trusted/tru_r.sql': `select store, sku, price from {{ ref('stg_prices') }}` });
    const without = await lake.build();
    expect(without.models.find((m) => m.name === 'trusted.tru_r')!.status).toBe('success');
    expect(await lake.query('select count(*) as n from trusted.tru_r')).toEqual([{ n: 2 }]);
    expect(await lake.query(auditViews)).toEqual([{ n: 0 }]);
    // A build with nothing to do keeps it gone.
    await lake.build();
    expect(await lake.query(auditViews)).toEqual([{ n: 0 }]);

    writeFiles(models, { 'trusted/tru_r.sql': `select store, sku, price from {{ ref('stg_prices') }} where {{ reject_if("sku = '1'", 'sku_one') }}` });
    const back = await lake.build();
    expect(back.models.find((m) => m.name === 'trusted.tru_r')!.status).toBe('success');
    expect(await lake.query('select _rejected_rule, sku from audit.tru_r_rejected')).toEqual([{ _rejected_rule: 'sku_one', sku: '1' }]);
  });

  it('an ephemeral stores the rows its reject_if drops in audit.<model>_rejected: kept while nothing changes, rewritten with its inputs, gone with its rules', async () => {
    const { lake, models } = await projectLake({
      ...STG,
      'staging/stg_pos.sql': `{{ config(materialized='ephemeral') }} select store, sku, price from {{ ref('stg_prices') }} where {{ reject_if('price <= 0', 'non_positive') }}`,
      'trusted/tru_pos.sql': `select sku from {{ ref('stg_pos') }}`,
      'marts/other.sql': `select 1 as x`,
    });
    const rejected = () => lake.query(`select _rejected_rule, sku from audit.stg_pos_rejected order by sku`);
    await lake.extract([prices([['a', '1', 1], ['a', '2', -1]])]);
    expect((await lake.build()).status).toBe('success');
    expect(await lake.query('select sku from trusted.tru_pos')).toEqual([{ sku: '1' }]);
    // Before: sku 2 was dropped and stored nowhere.
    expect(await rejected()).toEqual([{ _rejected_rule: 'non_positive', sku: '2' }]);
    // Nothing to do (nothing published either), then another model rebuilt alone: the audit stays.
    const published = fs.statSync(lake.paths.analytics).ino;
    expect((await lake.build()).models.every((m) => m.status === 'up-to-date')).toBe(true);
    expect(fs.statSync(lake.paths.analytics).ino).toBe(published);
    writeFiles(models, { 'marts/other.sql': `select 2 as x` });
    await lake.build({ select: ['other'] });
    expect(await rejected()).toEqual([{ _rejected_rule: 'non_positive', sku: '2' }]);
    // New bronze: the audit follows what the ephemeral reads now.
    await lake.extract([prices([['a', '3', 0]])]);
    await lake.build();
    expect(await rejected()).toEqual([{ _rejected_rule: 'non_positive', sku: '2' }, { _rejected_rule: 'non_positive', sku: '3' }]);
    writeFiles(models, { 'staging/stg_pos.sql': `{{ config(materialized='ephemeral') }} select store, sku, price from {{ ref('stg_prices') }}` });
    await lake.build();
    expect(await lake.query(`select count(*) as n from duckdb_views() where schema_name = 'audit'`)).toEqual([{ n: 0 }]);
  });

  it('an incremental model losing its rules loses its audit table, and gets a fresh one when they come back', async () => {
    const inc = (where: string) => `{{ config(materialized='incremental', unique_key='sku') }}
      select store, sku, price, _extracted_at from {{ ref('stg_prices') }} where ${where}
      {% if is_incremental() %} and _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`;
    const { lake, models } = await projectLake({ ...STG, 'trusted/tru_i.sql': inc(`{{ reject_if('price <= 0', 'non_positive') }}`) });
    await lake.extract([prices([['a', '1', 1], ['a', '2', -1]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    await lake.build();
    expect(await lake.query('select sku from audit.tru_i_rejected')).toEqual([{ sku: '2' }]);
    writeFiles(models, { 'trusted/tru_i.sql': inc('true') });
    await lake.build();
    expect(await lake.query(`select count(*) as n from duckdb_views() where schema_name = 'audit' and view_name = 'tru_i_rejected'`)).toEqual([{ n: 0 }]);
    writeFiles(models, { 'trusted/tru_i.sql': inc(`{{ reject_if('price > 100', 'too_high') }}`) });
    await lake.extract([prices([['a', '3', 500]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.tru_i')!.status).toBe('success');
    expect(await lake.query('select _rejected_rule, sku from audit.tru_i_rejected')).toEqual([{ _rejected_rule: 'too_high', sku: '3' }]);
  });

  it('reject_if in both branches of a UNION ALL audits only the rows each rule rejects', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru_u.sql': `select store, sku, price from {{ ref('stg_prices') }} where store = 'a' and {{ reject_if('price <= 0', 'non_positive') }}
        union all
        select store, sku, price from {{ ref('stg_prices') }} where store = 'b' and {{ reject_if("sku is null or sku = 'x'", 'bad_sku') }}`,
    });
    await lake.extract([prices([['a', '1', 1], ['a', '2', -1], ['b', '1', 5], ['b', 'x', 6]])]);
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.tru_u')!.status).toBe('success');
    expect(await lake.query('select store, sku from trusted.tru_u order by all')).toEqual([
      { store: 'a', sku: '1' },
      { store: 'b', sku: '1' },
    ]);
    expect(await lake.query('select _rejected_rule, store, sku from audit.tru_u_rejected order by all')).toEqual([
      { _rejected_rule: 'bad_sku', store: 'b', sku: 'x' },
      { _rejected_rule: 'non_positive', store: 'a', sku: '2' },
    ]);
  });

  it('reject_if in a CTE and in the outer query, with duplicate rows: each rejected row audited once per occurrence, first rule wins', async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/tru_c.sql': `with positive as (
          select store, sku, price from {{ ref('stg_prices') }} where {{ reject_if('price <= 0', 'non_positive') }}
        )
        select store, sku, price from positive where {{ reject_if('price > 100', 'too_high') }} and {{ reject_if("store = 'z'", 'bad_store') }}`,
    });
    await lake.extract([prices([['a', '1', 1], ['a', '1', 1], ['a', '2', -1], ['a', '2', -1], ['z', '3', 500], ['z', '4', 5], ['a', '5', 200]])]);
    const r = await lake.build();
    expect(r.models.find((m) => m.name === 'trusted.tru_c')!.status).toBe('success');
    expect(await lake.query('select store, sku from trusted.tru_c order by all')).toEqual([
      { store: 'a', sku: '1' },
      { store: 'a', sku: '1' },
    ]);
    expect(await lake.query('select _rejected_rule, store, sku from audit.tru_c_rejected order by all')).toEqual([
      { _rejected_rule: 'bad_store', store: 'z', sku: '4' },
      { _rejected_rule: 'non_positive', store: 'a', sku: '2' },
      { _rejected_rule: 'non_positive', store: 'a', sku: '2' },
      { _rejected_rule: 'too_high', store: 'a', sku: '5' },
      { _rejected_rule: 'too_high', store: 'z', sku: '3' },
    ]);
  });
});

describe('quality scores, test fragments and lineage drawing', () => {
  it('validity and uniqueness count the rows at fault, not the distinct bad values or duplicated keys', async () => {
    const { lake } = await projectLake({
      'trusted/tru_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'trusted/_t.yml': `version: 2
models:
  - name: tru_prices
    columns:
      - name: store
        tests:
          - accepted_values: { values: [a], severity: warn }
      - name: sku
        tests:
          - unique: { severity: warn }
`,
    });
    // 4 rows: 3 have a store outside the accepted values (all 'b'); all 4 share sku '1' (3 extra copies).
    await lake.extract([prices([['a', '1', 10], ['b', '1', 20], ['b', '1', 30], ['b', '1', 40]])]);
    const r = await lake.build();
    // The tests themselves still count as dbt does: one bad value, one duplicated key.
    expect(r.tests.filter((t) => t.kind === 'accepted_values' || t.kind === 'unique').map((t) => [t.kind, t.failures])).toEqual(
      expect.arrayContaining([['accepted_values', 1], ['unique', 1]]),
    );
    const [q] = await lake.query<{ validity: number; uniqueness: number }>(`select validity, uniqueness from marts.mart_data_quality where model = 'trusted.tru_prices'`);
    expect(q!.validity).toBeCloseTo(0.25);
    expect(q!.uniqueness).toBeCloseTo(0.25);
    expect(r.tests.find((t) => t.name === 'quality_score_trusted_tru_prices')!.status).not.toBe('pass');
  });

  it('an expression or where in YAML may end in a comment', async () => {
    const { lake } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'staging/_t.yml': `version: 2
models:
  - name: stg_prices
    tests:
      - expression: { expression: "price > 0 -- prices are positive" }
    columns:
      - name: sku
        tests:
          - not_null: { where: "price > 0 -- only priced rows" }
`,
    });
    await lake.extract([prices([['a', '1', 10], ['b', '2', -1]])]);
    const r = await lake.build();
    const byKind = Object.fromEntries(r.tests.map((t) => [t.kind, [t.status, t.failures, t.error]]));
    expect(byKind.expression).toEqual(['fail', 1, undefined]);
    expect(byKind.not_null).toEqual(['pass', 0, undefined]);
  });

  it('Mermaid keeps the bronze sources apart from a schema named sources', async () => {
    const { lake } = await projectLake({ 'sources/s_one.sql': `select store, sku, price from {{ source('shop', 'prices') }}` });
    await lake.extract([prices([['a', '1', 10]])]);
    await lake.build();
    const { mermaid } = await lake.lineage();
    expect(mermaid.match(/subgraph /g)).toHaveLength(2);
    expect(mermaid).toContain('subgraph bronze_sources["sources"]');
    expect(mermaid).toContain('subgraph g_sources["sources"]');
  });

  it('Mermaid keeps the bronze sources apart from a schema named _bronze (their subgraph ids differ)', async () => {
    const { lake, root } = await projectLake({
      '_bronze/raw_prices.sql': `select store, price from {{ source('shop', 'prices') }}`,
      'marts/by_store.sql': `select store, count(*) as n from {{ ref('raw_prices') }} group by store`,
    });
    const { mermaid } = await lake.lineage();
    // Was ['g__bronze', 'g__bronze', 'g_marts']: Mermaid merged both blocks, drawing _bronze.raw_prices inside "sources".
    expect([...mermaid.matchAll(/^\s*subgraph (\S+?)\[/gm)].map((m) => m[1])).toEqual(['bronze_sources', 'g__bronze', 'g_marts']);
    expect(fs.readFileSync(path.join(root, 'lineage.mmd'), 'utf8')).toBe(mermaid);
  });
});

describe('a table or incremental model failing after its files were written', () => {
  // The audit selects the rows the rule rejects, which the model's own run filtered out before
  // the cast: only the audit query meets 'bad'::INTEGER.
  const model = (materialized: string) => `{{ config(materialized='${materialized}', unique_key='k') }}
select k, v::INTEGER as v from {{ ref('src') }} where {{ reject_if("v::VARCHAR = 'bad'", 'bad_v') }}
{% if is_incremental() %} and k > (select max(k) from {{ this }}) {% endif %}`;
  const parquetIn = (dir: string) => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort() : []);
  const published = async (lake: { query: (sql: string) => Promise<Record<string, unknown>[]> }) => {
    const [view] = await lake.query(`select sql from duckdb_views() where schema_name = 'trusted' and view_name = 't'`);
    return view ? [...String(view.sql).matchAll(/'([^']+\.parquet)'/g)].map((m) => path.basename(m[1]!)).sort() : [];
  };

  it('table: an audit failing at runtime fails the model and removes the files its run wrote', async () => {
    const { lake, root } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,bad\n', 'trusted/t.sql': model('table') });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/Could not convert string 'bad'/);
    expect(parquetIn(path.join(root, 'warehouse', 'trusted', 't'))).toEqual([]);
  });

  it('incremental: an audit failing after the merge wrote the new rows removes them; the published files stay', async () => {
    const { lake, models, root } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n', 'trusted/t.sql': model('incremental') });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, { 'seeds/src.csv': 'k,v\n1,10\n2,20\n3,bad\n' });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/Could not convert string 'bad'/);
    const kept = await published(lake);
    expect(kept).toHaveLength(1);
    expect(parquetIn(path.join(root, 'warehouse', 'trusted', 't')).map((f) => path.basename(f))).toEqual(kept);
    expect(await lake.query('select k, v from trusted.t')).toEqual([{ k: 1, v: 10 }]);
  });

  it('view: an audit failing at runtime fails the model and keeps its last good version, and the next build fails it again (not up to date)', async () => {
    const { lake, models } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,bad\n', 'staging/w.sql': `select k, 0 as v from {{ ref('src') }}`, 'staging/other.sql': 'select 1 as n' });
    expect((await lake.build()).status).toBe('success');
    // Another model rebuilt in the same build: a new catalog is published.
    writeFiles(models, { 'staging/w.sql': model('view'), 'staging/other.sql': 'select 2 as n' });
    const second = (await lake.build()).models.find((m) => m.name === 'staging.w')!;
    expect(second.status).toBe('error');
    expect(second.error).toMatch(/Could not convert string 'bad'/);
    expect(await lake.query('select k, v from staging.w order by k')).toEqual([
      { k: 1, v: 0 },
      { k: 2, v: 0 },
    ]);
    const third = (await lake.build()).models.find((m) => m.name === 'staging.w')!;
    expect(third.status).toBe('error');
  });

  it('view: a first build whose audit fails at runtime leaves no view of the model in the catalog', async () => {
    const { lake } = await projectLake({ 'seeds/src.csv': 'k,v\n1,10\n2,bad\n', 'staging/w.sql': model('view'), 'staging/other.sql': 'select 1 as n' });
    const r = await lake.build();
    expect(r.models.map((m) => [m.name, m.status]).sort()).toEqual([
      ['seeds.src', 'success'],
      ['staging.other', 'success'],
      ['staging.w', 'error'],
    ]);
    expect(await lake.query(`select view_name from duckdb_views() where schema_name = 'staging' order by 1`)).toEqual([{ view_name: 'other' }]);
  });
});

describe('unique_key or partition_by naming a column the model does not output', () => {
  it('fails the first build naming unique_key and the column, not the merge SQL of a later run ("Referenced table n not found")', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'sku,price\n1,10\n',
      'trusted/t.sql': `{{ config(materialized='incremental', unique_key='sku_id') }}
select sku, price from {{ ref('src') }}`,
    });
    const first = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(first.status).toBe('error');
    expect(first.error).toContain('models/trusted/t.sql');
    expect(first.error).toMatch(/unique_key names 'sku_id', which the model's SQL does not output \(its columns: sku, price\)/);
    // Fixed, it builds; a later run that loses the key column fails the same way, before any merge.
    writeFiles(models, { 'trusted/t.sql': `{{ config(materialized='incremental', unique_key='sku') }}\nselect sku, price from {{ ref('src') }}` });
    expect((await lake.build()).status).toBe('success');
    writeFiles(models, {
      'seeds/src.csv': 'sku,price\n1,10\n2,20\n',
      'trusted/t.sql': `{{ config(materialized='incremental', unique_key='sku') }}\nselect sku as sku_id, price from {{ ref('src') }}`,
    });
    const later = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(later.status).toBe('error');
    expect(later.error).toMatch(/unique_key names 'sku'/);
    expect(later.error).not.toMatch(/Referenced table "n" not found/);
    expect(await lake.query('select count(*)::INTEGER as n from trusted.t')).toEqual([{ n: 1 }]);
  });

  it('partition_by: fails naming partition_by and the column', async () => {
    const { lake } = await projectLake({
      'seeds/src.csv': 'sku,price\n1,10\n',
      'trusted/t.sql': `{{ config(materialized='table', partition_by='day') }}\nselect sku, price from {{ ref('src') }}`,
    });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/partition_by names 'day', which the model's SQL does not output/);
  });
});

describe('partition_by values that end up in folder names', () => {
  const model = (materialized: string) => `{{ config(materialized='${materialized}', partition_by='sku') }}
select store, sku, price, _extracted_at from {{ ref('stg_prices') }}
{% if is_incremental() %} where _extracted_at > (select max(_extracted_at) from {{ this }}) {% endif %}`;
  const onDisk = (dir: string) => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')) : []);

  it('/, =, .., NULL and ../../x are encoded inside the model folder and read back as they were', async () => {
    const { lake, root } = await projectLake({ ...STG, 'trusted/t.sql': model('table') });
    await lake.extract([prices([['a', 'a/b', 1], ['a', '../../x', 2], ['a', 'a=b', 3], ['a', '..', 4], ['a', '', 5]])]);
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')).toMatchObject({ status: 'success', rows: 5 });
    expect(await lake.query(`select sku, price from trusted.t order by price`)).toEqual([
      { sku: 'a/b', price: 1 },
      { sku: '../../x', price: 2 },
      { sku: 'a=b', price: 3 },
      { sku: '..', price: 4 },
      { sku: '', price: 5 },
    ]);
    // Every file sits one partition folder below the build's folder of the model.
    const files = onDisk(path.join(root, 'warehouse', 'trusted', 't'));
    expect(files).toHaveLength(5);
    for (const f of files) expect(f.split(path.sep)).toHaveLength(3);
  });

  // 'sku=' and 300 bytes: 300 letters, or 100 slashes DuckDB writes as %2F.
  it.each([
    ['table', 'x'.repeat(300)],
    ['incremental', '/'.repeat(100)],
  ])('%s: a value too long for a folder name fails the model naming partition_by and the column, in a short message; its last good version stays', async (materialized, long) => {
    const { lake, root } = await projectLake({ ...STG, 'trusted/t.sql': model(materialized) });
    await lake.extract([prices([['a', 'ok', 1]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')!.status).toBe('success');
    await lake.extract([prices([['a', 'ok', 2], ['a', long, 3]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toContain('models/trusted/t.sql');
    expect(t.error).toMatch(/partition_by 'sku' has a value that makes a 304-byte folder name \(at most 255/);
    expect(t.error!.length).toBeLessThan(400);
    expect(t.error).toContain(JSON.stringify(long.slice(0, 40)));
    expect(await lake.query('select sku, price from trusted.t')).toEqual([{ sku: 'ok', price: 1 }]);
    // The failed write left nothing behind, in the temp folder or the warehouse.
    expect(onDisk(path.join(root, '.tmp'))).toEqual([]);
    expect(onDisk(path.join(root, 'warehouse', 'trusted', 't'))).toHaveLength(1);
  });

  it("a column whose name DuckDB encodes in the folder ('sku code' → sku%20code=) counts its encoded bytes: 11 + 245 letters is 256 bytes, named as too long", async () => {
    const { lake } = await projectLake({
      ...STG,
      'trusted/t.sql': `{{ config(materialized='table', partition_by='sku code') }} select store, sku as "sku code", price from {{ ref('stg_prices') }}`,
    });
    await lake.extract([prices([['a', 'x'.repeat(245), 1]])]);
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/partition_by 'sku code' has a value that makes a 256-byte folder name \(at most 255/);
    });

  // Which of two values of one length the error named was whichever DuckDB met first: rows read
  // from several files in parallel could name either from one build to the next.
  it('of several values of the longest folder name, the error names the first in text order, wherever it is read from', async () => {
    const { lake } = await projectLake({ ...STG, 'trusted/t.sql': model('table') });
    await lake.extract([prices([['a', 'z'.repeat(300), 1], ['a', 'y'.repeat(300), 2]])], { extractedAt: new Date(Date.UTC(2026, 0, 1, 12)) });
    await lake.extract([prices([['a', 'x'.repeat(300), 3], ['a', 'ok', 4]])], { extractedAt: new Date(Date.UTC(2026, 0, 2, 12)) });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/partition_by 'sku' has a value that makes a 304-byte folder name \(at most 255/);
    expect(t.error).toContain(JSON.stringify('x'.repeat(40)));
  });

  /** Folders under `dir` with nothing in them (a partition folder whose file went). */
  const emptyFolders = (dir: string): string[] =>
    (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isDirectory() && fs.readdirSync(path.join(dir, f)).length === 0);

  it('a partitioned table whose audit fails after its files were written leaves no empty partition folder', async () => {
    const { lake, root } = await projectLake({
      'seeds/src.csv': 'k,p,v\n1,x,10\n2,y,bad\n',
      'trusted/t.sql': `{{ config(materialized='table', partition_by='p') }}
select k, p, v::INTEGER as v from {{ ref('src') }} where {{ reject_if("v = 'bad'", 'bad_v') }}`,
    });
    expect((await lake.build()).models.find((m) => m.name === 'trusted.t')!.status).toBe('error');
    const dir = path.join(root, 'warehouse', 'trusted');
    expect(onDisk(dir)).toEqual([]);
    expect(fs.existsSync(dir) ? emptyFolders(dir) : []).toEqual([]);
  });

  it('a partitioned merge failing after it wrote its new rows leaves no empty partition folder; the published files stay', async () => {
    const inc = (v: string) => `{{ config(materialized='incremental', unique_key='k', on_schema_change='sync_all_columns', partition_by='p') }}
select k, p, ${v} from {{ ref('src') }}
{% if is_incremental() %} where k > (select max(k) from {{ this }}) {% endif %}`;
    const { lake, models, root } = await projectLake({ 'seeds/src.csv': 'k,p,v\n1,x,a\n2,y,5\n', 'trusted/t.sql': inc('v') });
    expect((await lake.build()).status).toBe('success');
    const dir = path.join(root, 'warehouse', 'trusted', 't');
    const before = onDisk(dir).sort();
    // One old value does not cast (a second, in another file, could fail first: DuckDB reads them in parallel).
    writeFiles(models, { 'seeds/src.csv': 'k,p,v\n1,x,a\n2,y,5\n3,z,7\n', 'trusted/t.sql': inc('v::INTEGER as v') });
    const t = (await lake.build()).models.find((m) => m.name === 'trusted.t')!;
    expect(t.status).toBe('error');
    expect(t.error).toMatch(/Could not convert string 'a'/);
    expect(onDisk(dir).sort()).toEqual(before);
    expect(emptyFolders(dir)).toEqual([]);
  });
});

describe('config keys the model materialization does not read', () => {
  const ignored = (warnings: string[]) => warnings.filter((w) => /ignored/.test(w));

  it('partition_by on a view or an ephemeral, unique_key/incremental_strategy/on_schema_change on a table: the build succeeds with one warning per model naming its file, the keys and the materialization', async () => {
    const { lake } = await projectLake({
      'staging/v.sql': `{{ config(materialized='view', partition_by='day') }} select 1 as id, 'x' as day`,
      'marts/eph.sql': `{{ config(materialized='ephemeral', partition_by=['day'], unique_key='id') }} select * from {{ ref('v') }}`,
      'marts/t.sql': `{{ config(materialized='table', unique_key='id', incremental_strategy='delete+insert', on_schema_change='fail') }} select * from {{ ref('eph') }}`,
      'marts/ok_table.sql': `{{ config(materialized='table', partition_by='day') }} select * from {{ ref('v') }}`,
      'marts/ok_inc.sql': `{{ config(materialized='incremental', partition_by='day', unique_key='id', incremental_strategy='merge', on_schema_change='sync_all_columns') }} select * from {{ ref('v') }}`,
    });
    const first = await lake.build();
    expect(first.status).toBe('success');
    expect(first.models.map((m) => [m.name, m.status]).sort()).toEqual([
      ['marts.ok_inc', 'success'],
      ['marts.ok_table', 'success'],
      ['marts.t', 'success'],
      ['staging.v', 'success'],
    ]);
    expect(ignored(first.warnings).sort()).toEqual([
      "model marts.eph (models/marts/eph.sql): config partition_by, unique_key ignored: materialized='ephemeral' does not read them (partition_by is read by table and incremental models; unique_key by incremental models)",
      "model marts.t (models/marts/t.sql): config unique_key, incremental_strategy, on_schema_change ignored: materialized='table' does not read them (they are read by incremental models)",
      "model staging.v (models/staging/v.sql): config partition_by ignored: materialized='view' does not read it (it is read by table and incremental models)",
    ]);
    // A build with nothing to rebuild says it again: the models are still not what their config says.
    const second = await lake.build();
    expect(second.models.every((m) => m.status === 'up-to-date')).toBe(true);
    expect(ignored(second.warnings)).toHaveLength(3);
    // Only the selected models' configs are reported.
    expect(ignored((await lake.build({ select: ['t'] })).warnings)).toEqual([expect.stringMatching(/^model marts\.t /)]);
  });

  it('a key set in YAML names the YAML file too', async () => {
    const { lake } = await projectLake({
      'staging/v.sql': `select 1 as id`,
      'staging/_s.yml': `version: 2\nmodels:\n  - name: v\n    config:\n      unique_key: id\n`,
    });
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(ignored(r.warnings)).toEqual([
      "model staging.v (models/staging/v.sql): config unique_key (set in models/staging/_s.yml) ignored: materialized='view' does not read it (it is read by incremental models)",
    ]);
  });

  it("a table with incremental_strategy='merge' and no unique_key builds (dbt ignores the strategy there), with the warning", async () => {
    const { lake } = await projectLake({ 'marts/t.sql': `{{ config(materialized='table', incremental_strategy='merge') }} select 1 as id` });
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(await lake.query('select id from marts.t')).toEqual([{ id: 1 }]);
    expect(ignored(r.warnings)).toEqual([
      "model marts.t (models/marts/t.sql): config incremental_strategy ignored: materialized='table' does not read it (it is read by incremental models)",
    ]);
  });
});
