import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsRows } from '../../helpers/metrics-read.js';
import { prices, projectLake, writeFiles } from '../../helpers/models.js';

describe('data quality scores', () => {
  it('scores trusted and mart models on the 8 dimensions, publishes mart_data_quality and gates the score as a test', async () => {
    const { lake } = await projectLake(
      {
        'trusted/tru_prices.sql': `select store, sku, price, case when store = 'a' then 'SC' else 'XX' end as uf from {{ source('shop', 'prices') }}
          where {{ reject_if('price <= 0', 'non_positive_price') }}`,
        'trusted/_t.yml': `version: 2
models:
  - name: tru_prices
    columns:
      - name: sku
        tests: [not_null, unique]
      - name: store
        tests:
          - accepted_values: { values: [a] }
    tests:
      - expression: { expression: "price < 100" }
`,
      },
      { quality: { minQualityScore: 0.95, gateSeverity: 'error' } },
    );
    await lake.extract([prices([['a', '1', 10], ['a', '2', 20], ['b', '3', 200], ['a', '4', 0]])]);
    const r = await lake.build();
    const [q] = await lake.query(`select * from marts.mart_data_quality where model = 'trusted.tru_prices'`);
    // 3 rows kept, 1 rejected; store 'b' is outside the accepted values; one price fails the expression; uf 'XX' is no UF.
    expect(q).toMatchObject({ rows: 3, completeness: 1, uniqueness: 1, integrity: null });
    expect(q!.accuracy).toBeCloseTo(3 / 4);
    expect(q!.validity).toBeCloseTo(1 - 1 / 3);
    expect(q!.consistency).toBeCloseTo(1 - 1 / 3);
    expect(q!.conformity).toBeCloseTo(2 / 3);
    expect(q!.timeliness).toBe(1);
    const dims = [1, 1, 2 / 3, 3 / 4, 2 / 3, 2 / 3, 1];
    expect(q!.score).toBeCloseTo(dims.reduce((a, b) => a + b, 0) / dims.length);
    const gate = r.tests.find((t) => t.name === 'quality_score_trusted_tru_prices')!;
    expect(gate).toMatchObject({ kind: 'min_quality_score', severity: 'error', status: 'fail', failures: 1 });
    expect(r.status).toBe('partial');
    const stored = await lake.metrics.select(`select model, score from quality_scores where run_id = $1`, [r.runId]);
    expect(stored).toHaveLength(1);
    // History accumulates across builds.
    await lake.build({ fullRefresh: true });
    expect(await lake.query(`select count(*) as n from marts.mart_data_quality`)).toEqual([{ n: 2 }]);
  });
});

describe('a build whose every rebuilt model fails (nothing new to publish)', () => {
  it('scores nothing (metrics db and mart_data_quality agree), keeps the gates of the recorded scores, and leaves no orphan files', async () => {
    const { lake, models, root } = await projectLake({
      'seeds/src.csv': 'k,v\n1,1\n',
      'trusted/a.sql': `select k from {{ ref('src') }}`,
      'trusted/b.sql': `select v from {{ ref('src') }}`,
      'trusted/_b.yml': 'version: 2\nmodels:\n  - name: b\n    columns:\n      - name: v\n        tests: [not_null]\n',
    });
    expect((await lake.build()).tests.find((t) => t.name === 'quality_score_trusted_b')).toMatchObject({ status: 'pass', measured: 1 });
    writeFiles(models, { 'trusted/a.sql': `select no_such_column from {{ ref('src') }}` });
    const failed = await lake.build();
    expect(failed.models.map((m) => [m.name, m.status])).toEqual([
      ['seeds.src', 'up-to-date'],
      ['trusted.a', 'error'],
      ['trusted.b', 'up-to-date'],
    ]);
    // No catalog is published, so no score is computed: the metrics db and the published history
    // (marts.mart_data_quality) agree; the gates stand as the last published build scored them.
    const recorded = await metricsRows(root, `select model from quality_scores where run_id = '${failed.runId}' order by model`);
    const published = await lake.query(`select model from marts.mart_data_quality where run_id = '${failed.runId}' order by model`);
    expect(published).toEqual(recorded);
    expect(recorded).toEqual([]);
    expect(failed.tests.find((t) => t.name === 'quality_score_trusted_b')).toMatchObject({ status: 'pass', measured: 1 });

    writeFiles(models, { 'trusted/a.sql': `select k from {{ ref('src') }}` });
    await lake.build();
    // No file of the failed build is left for the next one to sweep as if after a crash.
    const logs = fs.readdirSync(path.join(root, 'logs')).map((f) => fs.readFileSync(path.join(root, 'logs', f), 'utf8')).join('\n');
    expect(logs).not.toMatch(/of builds that never published/);
  });
});

describe('a change of a model\'s tests only (its data is up to date)', () => {
  const yml = (test: string) => `version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        tests: [${test}]\n`;

  it('scores the model again without rebuilding it: the gate and the report follow the tests there are now, and the next build is cheap again', async () => {
    const { lake, models } = await projectLake({
      'marts/m.sql': `select * from (values (1), (null)) t(id)`,
      'marts/_m.yml': yml('not_null'),
    });
    const first = await lake.build();
    expect(first.tests.find((t) => t.name === 'quality_score_marts_m')?.status).toBe('warn'); // completeness 0.5

    // not_null (failing) replaced by unique (passing): a score computed with not_null is stale.
    fs.writeFileSync(path.join(models, 'marts', '_m.yml'), yml('unique'));
    const second = await lake.build();
    expect(second.models.map((m) => [m.name, m.status])).toEqual([['marts.m', 'up-to-date']]);
    expect(second.tests.find((t) => t.name === 'unique_m_id')?.status).toBe('pass');
    expect(second.tests.find((t) => t.name === 'quality_score_marts_m')).toMatchObject({ status: 'pass', measured: 1 });
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    expect(html).toMatch(/tables below quality gate<\/div><div class="value"><span class="badge pass">0 \/ 1</);

    // Scored with the tests there are: nothing changed since, so nothing is published.
    const before = fs.statSync(lake.paths.analytics).ino;
    const third = await lake.build();
    expect(fs.statSync(lake.paths.analytics).ino).toBe(before);
    expect(third.tests.find((t) => t.name === 'quality_score_marts_m')).toMatchObject({ status: 'pass', measured: 1 });
  }, 60_000);
});

describe('dimensions against hand-computed numbers', () => {
  it('a CEP with letters or more than 8 digits does not conform; a zip_code_prefix that lost its leading zero does', async () => {
    const { lake } = await projectLake({
      // valid: '88000-000', '01310100', 1310 (01310), 88000; invalid: '12345XYZ', '1234567890123'
      'trusted/tru_addr.sql': `select * from (values ('88000-000', 1310), ('01310100', 88000), ('12345XYZ', 1310), ('1234567890123', 1310)) as t(cep, zip_code_prefix)`,
    });
    await lake.build();
    const [q] = await lake.query(`select conformity from marts.mart_data_quality where model = 'trusted.tru_addr'`);
    // cep: 2 of 4 conform; zip_code_prefix: 4 of 4. (DuckDB's lpad cut '12345XYZ' to '12345', which conformed.)
    expect(q!.conformity).toBeCloseTo(6 / 8);
  });

  it('a *_date column conforms when it holds real calendar dates (DESIGN: conformity covers dates), typed or as ISO text', async () => {
    const { lake } = await projectLake({
      // sale_date (text): '2024-01-31' conforms; '2024-02-30' (no such day) and '31/01/2024' do not; NULL is not judged.
      // order_date (DATE): both conform.
      'trusted/tru_sales.sql': `select * from (values (1, '2024-01-31', DATE '2024-01-31'), (2, '2024-02-30', DATE '2024-02-01'), (3, '31/01/2024', NULL), (4, NULL, NULL)) as t(id, sale_date, order_date)`,
    });
    expect((await lake.build()).status).toBe('success');
    const [q] = await lake.query(`select conformity from marts.mart_data_quality where model = 'trusted.tru_sales'`);
    expect(q!.conformity).toBeCloseTo(3 / 5);
  });

  it('a DATE-typed *_date column is judged as its text would be: BC, infinite and five-digit years do not conform', async () => {
    const { lake } = await projectLake({
      // The typed check is a range, not the text match (which cost ~40 ms a build on 1M rows);
      // it must agree with the text form: DuckDB prints these as '0001-01-01 (BC)', 'infinity', '10000-01-01'.
      'trusted/tru_days.sql': `select * from (values (DATE '2024-01-31'), (DATE '0001-01-01'), (DATE '9999-12-31'), (DATE '0001-01-01 (BC)'), (DATE 'infinity'), (DATE '-infinity'), (DATE '10000-01-01'), (NULL::DATE)) as t(sale_date)`,
    });
    expect((await lake.build()).status).toBe('success');
    const [q] = await lake.query(`select conformity from marts.mart_data_quality where model = 'trusted.tru_days'`);
    expect(q!.conformity).toBeCloseTo(3 / 7);
  });

  it('a state as Mercado Livre sends it (BR-SP, ISO 3166-2) conforms as its bare UF does; an unknown one does not', async () => {
    const { lake } = await projectLake({
      'trusted/tru_seller.sql': `select * from (values (1, 'BR-SP', 'SP'), (2, 'BR-RJ', 'RJ'), (3, 'BR-XX', 'XX')) t(seller_id, state, state_uf)`,
    });
    expect((await lake.build()).status).toBe('success');
    const [q] = await lake.query(`select conformity from marts.mart_data_quality where model = 'trusted.tru_seller'`);
    // Before: 2/6 — every `BR-` state failed, so the shipped tru_seller and dim_sellers scored half.
    expect(q!.conformity).toBeCloseTo(4 / 6);
  });

  it("a test's `where` narrows the rows its dimension is a share of (a column required on 2 rows and null on both is not 80 % complete)", async () => {
    const { lake } = await projectLake({
      'trusted/tru_a.sql': `select * from (values (1, 'x', null), (2, 'x', null), (3, 'y', 1), (4, 'y', 2), (5, 'y', null), (6, 'y', null), (7, 'y', null), (8, 'y', null), (9, 'y', null), (10, 'y', null)) as t(id, kind, ref)`,
      'trusted/_t.yml': `version: 2
models:
  - name: tru_a
    columns:
      - name: ref
        tests:
          - not_null: { config: { where: "kind = 'x'" } }
      - name: id
        tests: [not_null]
`,
    });
    const r = await lake.build();
    expect(r.tests.find((t) => t.kind === 'not_null' && t.column === 'ref')).toMatchObject({ status: 'fail', failures: 2 });
    const [q] = await lake.query(`select completeness from marts.mart_data_quality`);
    // ref: 2 of the 2 rows it is required on are null; id: 0 of 10 → 1 − 2 / (2 + 10).
    expect(q!.completeness).toBeCloseTo(1 - 2 / 12);
  });

  it('max_duplicate_share does not count NULL keys as copies of each other, as `unique` and the uniqueness score do not', async () => {
    const { lake } = await projectLake({
      'marts/keys.sql': `select * from (values (1), (2), (2), (null), (null), (null)) t(k)`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: keys\n    columns:\n      - name: k\n        tests: [unique, { max_duplicate_share: { max: 0.1 } }]\n`,
    });
    const build = await lake.build();
    const byKind = Object.fromEntries(build.tests.map((t) => [t.kind, t]));
    expect(byKind.unique).toMatchObject({ status: 'fail', failures: 1 }); // the value 2; NULL excluded
    const [q] = await lake.query(`select uniqueness from marts.mart_data_quality where model = 'marts.keys'`);
    expect(q!.uniqueness).toBeCloseTo(1 - 1 / 6);
    // Before: 3/6 (the two extra NULLs counted as copies of one key), above the gate's 0.1.
    expect(byKind.max_duplicate_share!.measured).toBeCloseTo(1 / 6);
    expect(byKind.max_duplicate_share!.measured).toBeCloseTo(1 - Number(q!.uniqueness));
  });
});

describe('an empty table', () => {
  it("is not scored 1 on dimensions that checked no row: they are NULL, and its gate warns (nothing measured) while dbt's tests pass", async () => {
    const { lake } = await projectLake(
      {
        'trusted/t.sql': `select 1 as x where false`,
        'trusted/_t.yml': 'version: 2\nmodels:\n  - name: t\n    columns:\n      - name: x\n        tests: [not_null, unique]\n',
      },
      { quality: { gateSeverity: 'error' } },
    );
    const r = await lake.build();
    expect(r.tests.filter((t) => t.kind !== 'min_quality_score').map((t) => [t.name, t.status])).toEqual([
      ['not_null_t_x', 'pass'],
      ['unique_t_x', 'pass'],
    ]);
    const [q] = await lake.query(`select rows, completeness, uniqueness, score from marts.mart_data_quality where model = 'trusted.t'`);
    expect(q).toEqual({ rows: 0, completeness: null, uniqueness: null, score: null });
    const gate = r.tests.find((t) => t.name === 'quality_score_trusted_t');
    expect(gate).toMatchObject({ status: 'warn', failures: 0 });
    expect(gate!.measured).toBeUndefined();
    expect(gate!.error).toContain('nothing measured');
    // Not rebuilt: the gate from the recorded (NULL) score still warns.
    expect((await lake.build()).tests.find((t) => t.name === 'quality_score_trusted_t')).toMatchObject({ status: 'warn' });
    expect((await lake.test()).find((t) => t.name === 'quality_score_trusted_t')).toMatchObject({ status: 'warn' });
    // Its alert says why (it said "0 failing").
    expect((await lake.alerts()).find((a) => a.subject === 'quality_score_trusted_t')?.message).toMatch(/^min_quality_score on trusted\.t: nothing measured: trusted\.t is empty/);
  });

  it('a table with rows and nothing to measure (no test, no source, no column of a known format) has no gate, and raises no alert', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': `select 1 as x` });
    const r = await lake.build();
    const [q] = await lake.query(`select rows, score from marts.mart_data_quality where model = 'marts.m'`);
    expect(q).toEqual({ rows: 1, score: null });
    expect(r.tests.map((t) => t.name)).toEqual([]);
    expect((await lake.build()).tests.map((t) => t.name)).toEqual([]);
    expect(await lake.test()).toEqual([]);
    expect(await lake.alerts()).toEqual([]);
  });
});
