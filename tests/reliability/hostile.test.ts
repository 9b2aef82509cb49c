/**
 * Hostile input, table-driven, against one lake with a published build and committed bronze.
 * Every case must give a clear error naming the file, field or value (or, for the values the
 * README says are kept — `../../x`, `a=b`, odd field names, huge bodies — be stored safely and
 * read back unchanged); and after every case: the previous build still answers the same,
 * bronze is unchanged (extraction cases may only add files under their own dataset), no run
 * is left `running`, and nothing was written outside the lake root.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvSource, defineSource, DuckhouseError, httpSource, jsonSource, Lakehouse, z, type AnySource, type BuildOptions } from '../../src/index.js';
import { FAST_LIMITS, faults, sendJson, startFaultyServer, type FaultyServer } from '../helpers/faulty-server.js';
import { expectOnlyLiveTmp, treeDigest } from '../helpers/lake-checks.js';
import { writeFiles } from '../helpers/models.js';
import { scaled } from '../helpers/reliability.js';
import { listFiles } from '../helpers/temp-lake.js';

interface Sandbox {
  base: string;
  root: string;
  models: string;
  lake: Lakehouse;
  server: FaultyServer;
  /** A folder for this case's own lake (allowed to be written, removed after the case). */
  own: string;
}

interface HostileCase {
  name: string;
  /** Model files (relative to models/) present during the case only. */
  files?: Record<string, string>;
  /** Does the hostile thing; returns the text the user is given (error, result errors, quarantine reasons). */
  act(s: Sandbox): Promise<string> | string;
  /** Each must match that text: the file, field or value, and what is wrong. */
  expect: RegExp[];
  /** Extraction cases that legitimately add bronze files, under `bronze/hostile/<dataset>/` only. */
  adds?: string;
}

const prices = z.object({ store: z.string(), sku: z.string(), price: z.number() });
const item = z.object({ id: z.number().int(), name: z.string(), price: z.number() });
const limits = { ...FAST_LIMITS, retries: 1 };

/** A thrown error as the user sees it; it must be one of ours, with a stable code. */
function thrownText(error: unknown): string {
  expect(error, String(error)).toBeInstanceOf(DuckhouseError);
  return `${(error as DuckhouseError).code}: ${(error as Error).message}`;
}

async function caught(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    return thrownText(error);
  }
  return '(no error)';
}

/** What a build tells about its failures: a thrown error, or the errors and skip causes in its result. */
async function buildText(s: Sandbox, options?: BuildOptions): Promise<string> {
  try {
    const r = await s.lake.build(options);
    return [...r.models.flatMap((m) => [m.error, m.skippedBecause]), ...r.tests.map((t) => t.error), ...r.warnings].filter(Boolean).join('\n') || '(no error)';
  } catch (error) {
    return thrownText(error);
  }
}

/** What an extract tells: source errors, then each quarantined record's line (or position) and reasons. */
async function extractText(s: Sandbox, source: AnySource): Promise<string> {
  const r = await s.lake.extract([source]);
  const out = r.sources.map((x) => x.error).filter((e): e is string => Boolean(e));
  const file = path.join(s.root, 'quarantine', source.source, source.dataset, `${r.runId}.ndjson`);
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').trim().split('\n')) {
      const q = JSON.parse(line) as { line?: number; position?: number; reasons: { path: string; message: string }[] };
      out.push(`${q.line === undefined ? `record ${q.position}` : `line ${q.line}`}: ${q.reasons.map((x) => `${x.path ? `${x.path}: ` : ''}${x.message}`).join('; ')}`);
    }
  }
  return out.join('\n') || `accepted: ${r.sources.map((x) => `${x.rows} rows, ${x.rejected} rejected`).join('; ')}`;
}

const bronzeRows = (s: Sandbox, dataset: string, select = '*'): Promise<Record<string, unknown>[]> =>
  s.lake.query(`SELECT ${select} FROM read_parquet('${s.root}/bronze/hostile/${dataset}/**/*.parquet', hive_partitioning = true) ORDER BY ALL`);

function partitionSource(dataset: string, stores: string[]): AnySource {
  return defineSource({ source: 'hostile', dataset, partitionBy: ['store'], schema: prices, extract: () => [stores.map((store, i) => ({ store, sku: String(i), price: i + 1 }))] });
}

const escapeName = `hostile-escape-${process.pid}`;
const HUGE = scaled(30_000, 100_000);

const CASES: HostileCase[] = [
  // Models and their SQL
  { name: 'broken SQL', files: { 'marts/bad.sql': 'selec 1 frm' }, act: (s) => buildText(s), expect: [/model marts\.bad \(models\/marts\/bad\.sql\)/, /syntax error at or near "selec"/] },
  { name: 'a column that does not exist', files: { 'marts/bad.sql': `select nope from {{ ref('prices') }}` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /"nope" not found/] },
  { name: 'a Jinja syntax error', files: { 'marts/bad.sql': `select * from {{ ref('prices' }}` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /Jinja error at line 1/] },
  { name: 'a Jinja call to an undefined function', files: { 'marts/bad.sql': 'select {{ nope() }} as x' }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /Unable to call `nope`/] },
  { name: 'a var that is not set', files: { 'marts/bad.sql': `select {{ var('missing_var') }} as x` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /var\('missing_var'\) is not set/] },
  { name: 'an env_var that is not set', files: { 'marts/bad.sql': `select '{{ env_var('DUCKHOUSE_HOSTILE_UNSET') }}' as x` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /env_var\('DUCKHOUSE_HOSTILE_UNSET'\)/] },
  {
    name: 'a cycle',
    files: { 'marts/cyc_a.sql': `select * from {{ ref('cyc_b') }}`, 'marts/cyc_b.sql': `select * from {{ ref('cyc_a') }}` },
    act: (s) => buildText(s),
    expect: [/cycle: marts\.cyc_a → marts\.cyc_b → marts\.cyc_a/],
  },
  { name: 'an unknown ref', files: { 'marts/bad.sql': `select * from {{ ref('totalz') }}` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /ref\('totalz'\) not found — did you mean totals\?/] },
  { name: 'an unknown source', files: { 'marts/bad.sql': `select * from {{ source('nope', 'things') }}` }, act: (s) => buildText(s), expect: [/source nope\.things has never been extracted/] },
  { name: 'a duplicate model name', files: { 'staging/totals.sql': 'select 1 as x' }, act: (s) => buildText(s), expect: [/model name "totals" is used twice: models\/marts\/totals\.sql and models\/staging\/totals\.sql/] },
  { name: 'YAML that does not parse', files: { 'marts/_bad.yml': 'version: 2\nmodels:\n  - name: totals\n    columns: [\n' }, act: (s) => buildText(s), expect: [/models\/marts\/_bad\.yml line \d+/] },
  { name: 'YAML of the wrong shape', files: { 'marts/_bad.yml': 'version: 2\nmodels:\n  - name: totals\n    columns: 5\n' }, act: (s) => buildText(s), expect: [/models\/marts\/_bad\.yml line 4/, /"models\.0\.columns" expected array/] },
  {
    name: 'an unknown data test',
    files: { 'marts/_bad.yml': 'version: 2\nmodels:\n  - name: totals\n    columns:\n      - name: n\n        tests: [not_nul]\n' },
    act: (s) => buildText(s),
    expect: [/models\/marts\/_bad\.yml line 6/, /unknown test "not_nul" — did you mean not_null\?/],
  },
  {
    name: 'a relationships test to an unknown model',
    files: { 'marts/_bad.yml': `version: 2\nmodels:\n  - name: totals\n    columns:\n      - name: n\n        tests:\n          - relationships: { to: "ref('dim_nope')", field: store }\n` },
    act: (s) => buildText(s),
    expect: [/models\/marts\/_bad\.yml line 7/, /ref\('dim_nope'\) not found/],
  },
  { name: 'an unknown materialization', files: { 'marts/bad.sql': `{{ config(materialized='tabel') }} select 1 as x` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /"materialized".*\(got "tabel"\)/] },
  {
    name: 'merge without unique_key',
    files: { 'marts/bad.sql': `{{ config(materialized='incremental', incremental_strategy='merge') }} select 1 as x` },
    act: (s) => buildText(s),
    expect: [/models\/marts\/bad\.sql/, /'merge' needs a unique_key/],
  },
  { name: 'an unknown config key', files: { 'marts/bad.sql': `{{ config(materialised='table') }} select 1 as x` }, act: (s) => buildText(s), expect: [/models\/marts\/bad\.sql/, /unknown config "materialised" — did you mean materialized\?/] },
  { name: 'a model name with a quote', files: { "marts/o'brien.sql": 'select 1 as x' }, act: (s) => buildText(s), expect: [/models\/marts\/o'brien\.sql: model name "o'brien"/] },
  { name: 'a model name with a semicolon', files: { 'marts/a;drop.sql': 'select 1 as x' }, act: (s) => buildText(s), expect: [/models\/marts\/a;drop\.sql: model name "a;drop"/] },
  {
    name: 'a second statement after ";" in a view',
    files: { 'staging/two.sql': 'select 1 as x; drop view staging.stg_prices' },
    act: (s) => buildText(s),
    expect: [/models\/staging\/two\.sql/, /one SELECT statement, found 2/],
  },
  {
    name: 'a second statement after ";" in an incremental model',
    files: { 'trusted/inc.sql': `{{ config(materialized='incremental', unique_key='sku') }} select sku, {{ var('again', 0) }} as again from {{ ref('prices') }}{% if is_incremental() %}; drop view staging.stg_prices{% endif %}` },
    act: async (s) => {
      // The first build creates it; the next one (its SQL changed by the var) runs incrementally, with the second statement.
      const first = await s.lake.build({ select: ['inc'] });
      expect(first.models.map((m) => [m.name, m.status])).toEqual([['trusted.inc', 'success']]);
      return buildText(s, { select: ['inc'], vars: { again: 1 } });
    },
    expect: [/models\/trusted\/inc\.sql/, /one SELECT statement, found 2/],
  },
  { name: 'ragged rows in a seed CSV', files: { 'seeds/stores.csv': 'store,region\nbistek,sul\nfort\nangeloni,sul,extra\n' }, act: (s) => buildText(s), expect: [/seed seeds\.stores \(models\/seeds\/stores\.csv\)/] },
  { name: 'a selector that matches nothing', act: (s) => buildText(s, { select: ['totalz'] }), expect: [/selector "totalz" matches no enabled model or seed — did you mean totals\?/] },
  { name: 'a misspelt build option', act: (s) => buildText(s, { selct: ['totals'] } as BuildOptions), expect: [/lake\.build: unknown option "selct"/] },
  { name: 'a build option of the wrong type', act: (s) => buildText(s, { select: 'totals' } as unknown as BuildOptions), expect: [/lake\.build: option "select" expected array.*\(got "totals"\)/] },

  // Options and names, checked at the door
  {
    name: 'invalid Lakehouse.open options',
    act: async (s) => {
      const text = await caught(() => Lakehouse.open({ root: path.join(s.own, 'data'), limits: { flushRows: -5 }, log: { console: false } }));
      expect(fs.existsSync(path.join(s.own, 'data')), 'no lake folder was created').toBe(false);
      return text;
    },
    expect: [/option "limits\.flushRows".*\(got -5\)/],
  },
  { name: 'an httpSource with an ftp URL', act: () => caught(() => httpSource({ source: 'hostile', dataset: 'items', url: 'ftp://127.0.0.1/items', schema: item })), expect: [/httpSource\("hostile"\/"items"\): option "url"/] },
  { name: 'a source name with a quote', act: () => caught(() => defineSource({ source: "quo'te", dataset: 'd', schema: item, extract: () => [] })), expect: [/source name "quo'te" is invalid/] },
  { name: 'a dataset name with a semicolon', act: () => caught(() => defineSource({ source: 'hostile', dataset: 'a;drop', schema: item, extract: () => [] })), expect: [/dataset name "a;drop" is invalid/] },

  // Hostile values in data
  {
    name: 'partition values that climb: ../../x',
    adds: 'climb',
    act: async (s) => {
      const stores = [`../../../../../${escapeName}`, '../x', '..', 'a/../../b'];
      const text = await extractText(s, partitionSource('climb', stores));
      const dir = path.join(s.root, 'bronze', 'hostile', 'climb');
      for (const f of listFiles(dir)) expect(f.split(path.sep)[0]!.startsWith('store='), f).toBe(true);
      expect((await bronzeRows(s, 'climb', 'store')).map((r) => r.store)).toEqual([...stores].sort());
      expect(fs.existsSync(path.join(os.tmpdir(), escapeName))).toBe(false);
      return text;
    },
    expect: [/^accepted: 4 rows, 0 rejected$/],
  },
  {
    name: 'partition values with = and /: a=b',
    adds: 'equals',
    act: async (s) => {
      const stores = ['a=b', 'k=v/x=y', 'store=evil', '%2F'];
      const text = await extractText(s, partitionSource('equals', stores));
      for (const f of listFiles(path.join(s.root, 'bronze', 'hostile', 'equals'))) expect(f.split(path.sep)).toHaveLength(5);
      expect((await bronzeRows(s, 'equals', 'store')).map((r) => r.store)).toEqual([...stores].sort());
      return text;
    },
    expect: [/^accepted: 4 rows, 0 rejected$/],
  },
  {
    // The record goes to quarantine naming the field; the good one next to it is stored.
    name: 'a partition value with NUL',
    adds: 'nul',
    act: async (s) => {
      const text = await extractText(s, partitionSource('nul', ['ok', 'a\u0000b']));
      expect((await bronzeRows(s, 'nul', 'store, sku')).map((r) => [r.store, r.sku])).toEqual([['ok', '0']]);
      return text;
    },
    expect: [/record 2: store: .*partition field "store" has a NUL or control character in "a\\u0000b"/],
  },
  { name: 'a partition value of 10,000 characters', act: (s) => extractText(s, partitionSource('long', ['x'.repeat(10_000)])), expect: [/partition field "store" is 10000 characters long \(at most 200\)/] },
  {
    name: 'field names with quotes and semicolons',
    adds: 'names',
    act: async (s) => {
      const odd = z.object({ 'a"b': z.string(), 'x; drop table y; --': z.string(), "it's": z.number() });
      const text = await extractText(s, defineSource({ source: 'hostile', dataset: 'names', schema: odd, extract: () => [[{ 'a"b': 'q', 'x; drop table y; --': 'z', "it's": 1 }]] }));
      expect(await bronzeRows(s, 'names', `"a""b", "x; drop table y; --", "it's"`)).toEqual([{ 'a"b': 'q', 'x; drop table y; --': 'z', "it's": 1 }]);
      return text;
    },
    expect: [/^accepted: 1 rows, 0 rejected$/],
  },
  {
    name: 'ragged CSV rows',
    adds: 'csv',
    act: async (s) => {
      const file = path.join(s.own, 'ragged.csv');
      fs.mkdirSync(s.own, { recursive: true });
      fs.writeFileSync(file, 'id,name,price\n1,a,1.5\n2,b\n3,c,3,extra\n4,"d,e",4\n');
      const text = await extractText(s, csvSource({ source: 'hostile', dataset: 'csv', path: file }));
      expect((await bronzeRows(s, 'csv', 'id, name')).map((r) => [r.id, r.name])).toEqual([[1, 'a'], [4, 'd,e']]);
      return text;
    },
    expect: [/line 3: .*Expected Number of Columns: 3 Found: 2/, /line 4: .*Expected Number of Columns: 3 Found: 4/],
  },
  {
    name: 'a broken NDJSON line',
    adds: 'ndjson',
    act: async (s) => {
      fs.mkdirSync(s.own, { recursive: true });
      fs.writeFileSync(path.join(s.own, 'events.ndjson'), '{"id":1,"name":"a","price":1}\n{"id":2,"name":\n{"id":3,"name":"c","price":3}\n');
      return extractText(s, jsonSource({ source: 'hostile', dataset: 'ndjson', glob: path.join(s.own, '*.ndjson'), schema: item }));
    },
    expect: [/line 2: invalid JSON/],
  },
  {
    name: 'an HTML page where JSON was expected',
    act: (s) => extractText(s, httpSource({ source: 'hostile', dataset: 'html', url: `${s.server.url}/html`, schema: item, limits })),
    expect: [/GET http:\/\/127\.0\.0\.1:\d+\/html: HTTP 200 body is not valid JSON/, /content-type text\/html/],
  },
  {
    name: `a huge response (${HUGE.toLocaleString('en')} records in one body)`,
    adds: 'huge',
    act: async (s) => {
      const text = await extractText(s, httpSource({ source: 'hostile', dataset: 'huge', url: `${s.server.url}/huge`, schema: item, limits }));
      expect(await bronzeRows(s, 'huge', 'count(*) AS n, count(DISTINCT id) AS ids')).toEqual([{ n: HUGE, ids: HUGE }]);
      return text;
    },
    expect: [new RegExp(`^accepted: ${HUGE} rows, 0 rejected$`)],
  },
  {
    name: 'a record of 5 MB',
    adds: 'big_field',
    act: async (s) => {
      const text = await extractText(s, httpSource({ source: 'hostile', dataset: 'big_field', url: `${s.server.url}/big-field`, schema: item, limits }));
      expect(await bronzeRows(s, 'big_field', 'length(name) AS n')).toEqual([{ n: 5_000_000 }]);
      return text;
    },
    expect: [/^accepted: 1 rows, 0 rejected$/],
  },
  {
    name: 'a response nested 100,000 levels deep',
    act: (s) => extractText(s, httpSource({ source: 'hostile', dataset: 'deep', url: `${s.server.url}/deep`, schema: item, limits })),
    expect: [/record 1: .*expected object, received array/, /nested deeper than 64 levels/],
  },
  {
    name: 'a field nested 50,000 levels deep',
    act: (s) => extractText(s, httpSource({ source: 'hostile', dataset: 'deep_field', url: `${s.server.url}/deep-field`, schema: z.object({ id: z.number(), extra: z.any() }), limits })),
    expect: [/field "extra" is nested too deep to store as JSON/],
  },

  // Using the lake wrongly
  {
    name: 'use after close()',
    act: async (s) => {
      const lake = await Lakehouse.open({ root: path.join(s.own, 'data'), log: { console: false } });
      await lake.close();
      await lake.close();
      const texts = [
        await caught(() => lake.extract([partitionSource('after_close', ['a'])])),
        await caught(() => lake.build()),
        await caught(() => lake.query('select 1')),
        await caught(() => lake.runs()),
        await caught(() => lake.exportTable('marts.totals', { format: 'csv' })),
      ];
      expect(listFiles(path.join(s.own, 'data', 'bronze'))).toEqual([]);
      return texts.join('\n');
    },
    expect: [/LAKE_CLOSED: lake\.extract\(\): the lakehouse is closed/, /lake\.build\(\)/, /lake\.query\(\)/, /lake\.runs\(\)/, /lake\.exportTable\(\)/],
  },
  { name: 'a write through lake.query', act: (s) => caught(() => s.lake.query(`COPY (SELECT 1) TO '${path.join(s.base, 'escape.csv')}'`)), expect: [/read-only: COPY statements are not allowed/] },
  { name: 'two statements through lake.query', act: (s) => caught(() => s.lake.query('SELECT 1; DROP VIEW staging.stg_prices')), expect: [/one SQL statement, got 2/] },
  { name: 'an injected table name in exportTable', act: (s) => caught(() => s.lake.exportTable('marts.totals; drop', { format: 'csv' })), expect: [/table "marts\.totals; drop" must be "schema\.name"/] },
];

const QUERIES = ['SELECT * FROM marts.totals', 'SELECT * FROM trusted.prices ORDER BY ALL', 'SELECT * FROM staging.stg_prices ORDER BY ALL'];

describe('hostile input', () => {
  const s = {} as Sandbox;
  let answers: unknown[];
  const outside = (): Map<string, string> => treeDigest(s.base, (rel) => rel.startsWith(`data${path.sep}`) || rel.startsWith(`models${path.sep}`) || rel.startsWith(`own${path.sep}`));

  beforeAll(async () => {
    s.base = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-hostile-'));
    s.root = path.join(s.base, 'data');
    s.models = path.join(s.base, 'models');
    s.own = path.join(s.base, 'own');
    writeFiles(s.models, {
      'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
      'trusted/prices.sql': `select store, sku, price from {{ ref('stg_prices') }} where price > 0`,
      'marts/totals.sql': `select count(*) as n, sum(price) as total from {{ ref('prices') }}`,
    });
    const deepBody = `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`;
    const deepField = `[{"id":1,"extra":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}]`;
    const raw = (text: string) => (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    };
    s.server = await startFaultyServer({
      '/html': faults.html200(),
      '/huge': faults.json(Array.from({ length: HUGE }, (_, i) => ({ id: i, name: `item ${i} ${'x'.repeat(60)}`, price: i / 4 }))),
      '/big-field': (_req, res) => sendJson(res, 200, [{ id: 1, name: 'y'.repeat(5_000_000), price: 1 }]),
      '/deep': raw(deepBody),
      '/deep-field': raw(deepField),
    });
    s.lake = await Lakehouse.open({ root: s.root, models: s.models, log: { console: false } });
    const extracted = await s.lake.extract([defineSource({ source: 'shop', dataset: 'prices', schema: prices, extract: () => [[{ store: 'a', sku: '1', price: 2.5 }, { store: 'b', sku: '2', price: 4 }, { store: 'b', sku: '3', price: -1 }]] })]);
    expect(extracted.status).toBe('success');
    expect((await s.lake.build()).status).toBe('success');
    answers = await Promise.all(QUERIES.map((q) => s.lake.query(q)));
    expect(answers[0]).toEqual([{ n: 2, total: 6.5 }]);
    expect(outside()).toEqual(new Map());
  });

  afterAll(async () => {
    await s.lake?.close();
    await s.server?.close();
    fs.rmSync(s.base, { recursive: true, force: true });
  });

  it(`has at least 25 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const modelsBefore = treeDigest(s.models);
    const bronze = treeDigest(path.join(s.root, 'bronze'));
    if (c.files) writeFiles(s.models, c.files);
    let text: string;
    try {
      text = await c.act(s);
    } finally {
      for (const rel of Object.keys(c.files ?? {})) fs.rmSync(path.join(s.models, rel));
      fs.rmSync(s.own, { recursive: true, force: true });
    }
    // A clear message naming the file, field or value.
    for (const pattern of c.expect) expect(text, `message of "${c.name}"`).toMatch(pattern);

    // Nothing corrupted: the previous build answers the same, bronze holds what it held.
    expect(await Promise.all(QUERIES.map((q) => s.lake.query(q)))).toEqual(answers);
    const now = treeDigest(path.join(s.root, 'bronze'));
    for (const [file, digest] of bronze) expect(now.get(file), `bronze/${file} unchanged`).toBe(digest);
    const added = [...now.keys()].filter((f) => !bronze.has(f));
    if (c.adds) {
      expect(added.length, 'the accepted records were written').toBeGreaterThan(0);
      for (const f of added) expect(f.startsWith(path.join('hostile', c.adds) + path.sep), `new bronze file ${f}`).toBe(true);
    } else {
      expect(added, 'no bronze file written').toEqual([]);
    }
    expect(await s.lake.metrics.select(`SELECT run_id, kind FROM runs WHERE status = 'running'`)).toEqual([]);
    expectOnlyLiveTmp(s.lake);

    // Nothing written outside the lake root (the models folder is only what the test put there).
    expect(outside()).toEqual(new Map());
    expect(treeDigest(s.models)).toEqual(modelsBefore);
    expect(fs.existsSync(path.join(s.base, escapeName)) || fs.existsSync(path.join(os.tmpdir(), escapeName))).toBe(false);
  });
});
