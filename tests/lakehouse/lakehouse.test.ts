import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClosedError, ConfigError, Lakehouse, defineSource, z } from '../../src/index.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

describe('Lakehouse.open options', () => {
  it.each([
    [{ roots: 'x' }, /unknown option "roots"/],
    [{ timezone: 'Mars/Olympus' }, /option "timezone" must be an IANA time zone.*got "Mars\/Olympus"/],
    [{ limits: { flushRows: -5 } }, /option "limits.flushRows".*got -5/],
    [{ limits: { retrys: 3 } }, /unknown option "limits.retrys"/],
    [{ log: { level: 'loud' } }, /option "log.level".*got "loud"/],
    [{ quality: { maxNullShare: 2 } }, /option "quality.maxNullShare".*got 2/],
    [{ onRunFinished: 'mail me' }, /option "onRunFinished" must be a function/],
  ])('refuses %j naming the field and the value', async (options, message) => {
    const root = path.join(tempDir(), 'data');
    await expect(Lakehouse.open({ root, ...(options as object) })).rejects.toThrow(ConfigError);
    await expect(Lakehouse.open({ root, ...(options as object) })).rejects.toThrow(message);
    expect(fs.existsSync(root)).toBe(false);
  });

  it('creates the layout of DESIGN under root', async () => {
    const lake = await tempLake();
    for (const dir of ['bronze', '.tmp', 'state', 'metrics']) expect(fs.existsSync(path.join(lake.paths.root, dir))).toBe(true);
    expect(fs.existsSync(lake.paths.metrics)).toBe(true);
    expect(lake.paths.metrics.endsWith(path.join('metrics', 'runs.duckdb'))).toBe(true);
    expect(lake.options.timezone).toBe('America/Sao_Paulo');
    expect(lake.options.limits).toMatchObject({ requestTimeoutMillis: 30_000, retries: 5, requestsPerSecond: 5, burst: 5, inFlight: 4, flushRows: 100_000 });
  });

  it('close() is idempotent, works with Symbol.asyncDispose, and later use says the lake is closed', async () => {
    const lake = await Lakehouse.open({ root: path.join(tempDir(), 'data'), log: { console: false } });
    await lake.close();
    await lake.close();
    await lake[Symbol.asyncDispose]();
    await expect(lake.query('select 1')).rejects.toThrow(ClosedError);
    await expect(lake.query('select 1')).rejects.toThrow('lake.query(): the lakehouse is closed');
    await expect(lake.extract([])).rejects.toThrow(ClosedError);
    await expect(lake.runs()).rejects.toThrow(ClosedError);
  });
});

describe('lake.query', () => {
  it('returns plain objects with the BIGINT / DECIMAL / TIMESTAMP rule', async () => {
    const lake = await tempLake();
    const [row] = await lake.query(`SELECT 42::BIGINT AS small, 9007199254740993::BIGINT AS big, 12.34::DECIMAL(18,2) AS money,
      TIMESTAMP '2026-01-02 03:04:05' AS ts, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS tstz, DATE '2026-02-03' AS d, [1::BIGINT, 2] AS l, {'a': 1::BIGINT} AS s`);
    expect(row).toEqual({
      small: 42,
      big: 9007199254740993n,
      money: 12.34,
      ts: new Date('2026-01-02T03:04:05Z'),
      tstz: new Date('2026-01-02T03:04:05Z'),
      d: '2026-02-03',
      l: [1, 2],
      s: { a: 1 },
    });
  });

  it('binds positional and named parameters, including dates', async () => {
    const lake = await tempLake();
    expect(await lake.query('SELECT $1::INTEGER + 1 AS n, $2 AS s', [41, 'x'])).toEqual([{ n: 42, s: 'x' }]);
    expect(await lake.query('SELECT $when AS w', { when: new Date('2026-01-01T00:00:00Z') })).toEqual([{ w: new Date('2026-01-01T00:00:00Z') }]);
  });

  it('is read-only and takes one statement', async () => {
    const lake = await tempLake();
    await expect(lake.query('CREATE TABLE t (a INT)')).rejects.toThrow(/read-only: CREATE statements are not allowed/);
    await expect(lake.query(`COPY (SELECT 1) TO '${lake.paths.root}/x.csv'`)).rejects.toThrow(/read-only/);
    await expect(lake.query('SELECT 1; SELECT 2')).rejects.toThrow(/one SQL statement, got 2/);
    await expect(lake.query('SELEC 1')).rejects.toThrow(/syntax error/i);
    expect(fs.existsSync(path.join(lake.paths.root, 'x.csv'))).toBe(false);
  });

  it('refuses EXPORT DATABASE without creating its folder', async () => {
    // Observed: the refusal came after DuckDB had bound the statement, which creates the folder.
    const lake = await tempLake();
    const target = path.join(tempDir(), 'exported');
    await expect(lake.query(`/* dump */ EXPORT DATABASE '${target}' (FORMAT parquet)`)).rejects.toThrow(/read-only: EXPORT statements are not allowed/);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('queryArrow returns an apache-arrow Table with typed columns', async () => {
    const lake = await tempLake();
    const table = await lake.queryArrow(`SELECT range AS id, range * 1.5 AS price, 'p' || range AS name, DATE '2026-01-01' + range::INTEGER AS day FROM range(3)`);
    expect(table.numRows).toBe(3);
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['id:Int64', 'price:Float64', 'name:Utf8', 'day:Date32<DAY>']);
    expect(table.toArray().map((r) => r.toJSON())).toEqual([
      { id: 0n, price: 0, name: 'p0', day: Date.UTC(2026, 0, 1) },
      { id: 1n, price: 1.5, name: 'p1', day: Date.UTC(2026, 0, 2) },
      { id: 2n, price: 3, name: 'p2', day: Date.UTC(2026, 0, 3) },
    ]);
  });

  it('lake.runs lists runs newest first with their status and counts', async () => {
    const lake = await tempLake();
    const source = defineSource({ source: 'r', dataset: 'd', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }, { id: 2 }]] });
    const first = await lake.extract([source]);
    const second = await lake.extract([source]);
    const runs = await lake.runs({ limit: 5 });
    expect(runs.map((r) => r.runId)).toEqual([second.runId, first.runId]);
    expect(runs[0]).toMatchObject({ kind: 'extract', status: 'success', rows: 2, files: 1 });
    expect(runs[0]!.finishedAt!.getTime()).toBeGreaterThanOrEqual(runs[0]!.startedAt.getTime());
    await expect(lake.runs({ limit: 0 })).rejects.toThrow(/option "limit" must be a positive integer/);
  });
});

describe('source limits', () => {
  it('a source overriding one limit keeps the lake values of the others', async () => {
    const lake = await tempLake({ limits: { requestsPerSecond: 123, flushRows: 7 } });
    let seen: Record<string, unknown> = {};
    const source = defineSource({
      source: 'lim',
      dataset: 'd',
      schema: z.object({ id: z.number() }),
      limits: { retries: 1 },
      extract(ctx) {
        seen = { ...ctx.limits };
        return [[{ id: 1 }]];
      },
    });
    await lake.extract([source]);
    expect(seen).toMatchObject({ requestsPerSecond: 123, flushRows: 7, retries: 1, burst: 5 });
  });
});
