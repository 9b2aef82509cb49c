/**
 * The run history of a pipeline run (`lake.run`). README, Run metrics: "Each run's full result
 * (the ExtractResult, BuildResult… it returned, redacted) is a JSON file … lake.runs() and
 * runHistory return it as result"; `runs` holds `rows`, `rejected`, `error` per run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, runHistory, z } from '../../src/index.js';
import { projectLake, prices } from '../helpers/models.js';

const files = { 'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}` };

describe('the record of a pipeline run', () => {
  it('lake.runs() returns as `result` the RunResult lake.run() returned', async () => {
    const { lake, root } = await projectLake(files);
    const run = await lake.run({ sources: [prices([['bistek', 'a', 1], ['bistek', 'b', 2]])] });
    expect(run.status).toBe('success');
    const record = (await lake.runs({ limit: 10 })).find((r) => r.runId === run.runId);
    expect(record?.kind).toBe('run');
    // What lake.run() returned: runId, status, durationMs, alerts, and its extract and build.
    expect(record!.result).toMatchObject({ runId: run.runId, status: 'success', alerts: [] });
    expect(record!.result).toHaveProperty('durationMs');
    const [fromHistory] = (await runHistory({ root, limit: 10 })).filter((r) => r.runId === run.runId);
    expect(fromHistory!.result).toMatchObject({ runId: run.runId, status: 'success' });
  });

  it('a partial pipeline run records the rows it extracted and the error that made it partial', async () => {
    const { lake } = await projectLake(files);
    const broken = defineSource({
      source: 'shop',
      dataset: 'stock',
      schema: z.object({ sku: z.string() }),
      async *extract() {
        yield [{ sku: 'a' }];
        throw new Error('stock API answered 500 after 5 retries');
      },
    });
    const run = await lake.run({ sources: [prices([['bistek', 'a', 1], ['bistek', 'b', 2]]), broken] });
    expect(run.status).toBe('partial');
    expect(run.extract!.sources.reduce((s, r) => s + r.rows, 0)).toBe(3);
    const records = await lake.runs({ limit: 10 });
    const extract = records.find((r) => r.runId === run.extract!.runId)!;
    expect(extract).toMatchObject({ kind: 'extract', status: 'partial', rows: 3 });
    expect(extract.error).toMatch(/stock API answered 500/);
    // `duckhouse runs` (and the README's `select run_id, status, rows, rejected from runs`) shows
    // the pipeline run as partial: it should say what it extracted and why it is partial.
    const pipeline = records.find((r) => r.runId === run.runId)!;
    expect(pipeline).toMatchObject({ kind: 'run', status: 'partial', rows: 3 });
    expect(pipeline.error).toMatch(/stock API answered 500/);
  });
});

describe('the rows a build run records', () => {
  it('are the rows of the models it built: a build that found every model up to date wrote none', async () => {
    const { lake } = await projectLake({ ...files, 'marts/fct_prices.sql': `select * from {{ ref('stg_prices') }}` });
    await lake.extract([prices([['bistek', 'a', 1], ['bistek', 'b', 2], ['bistek', 'c', 3]])]);
    const first = await lake.build();
    expect(first.models.map((m) => [m.name, m.status])).toEqual([['staging.stg_prices', 'success'], ['marts.fct_prices', 'success']]);
    const again = await lake.build();
    expect(again.models.every((m) => m.status === 'up-to-date')).toBe(true);
    const records = await lake.runs({ limit: 10 });
    expect(records.find((r) => r.runId === first.runId)).toMatchObject({ kind: 'build', rows: 3 });
    // Observed: 3, the size of the table it left as it was (README: "a build with no new rows writes nothing").
    expect(records.find((r) => r.runId === again.runId)).toMatchObject({ kind: 'build', rows: 0 });
  });
});

describe('the rows a test run records', () => {
  it('are none: a test run writes no rows (its tests are in test_results)', async () => {
    const { lake, models } = await projectLake(files);
    fs.writeFileSync(path.join(models, 'staging', 'stg_prices.yml'), 'models:\n  - name: stg_prices\n    columns:\n      - name: sku\n        tests: [not_null, unique]\n');
    await lake.extract([prices([['bistek', 'a', 1], ['bistek', 'b', 2]])]);
    await lake.build();
    const tests = await lake.test();
    expect(tests.length).toBeGreaterThanOrEqual(2);
    const [record] = await lake.runs({ limit: 1 });
    // Observed: rows = the number of tests run, shown by `duckhouse runs` as rows.
    expect(record).toMatchObject({ kind: 'test', status: 'success', rows: 0 });
  });
});

describe('usage errors are not runs', () => {
  it('a build or test whose selector matches nothing, or whose options are misspelt, throws a ConfigError and records no run; a broken project is still a failed build', async () => {
    const { lake, models } = await projectLake({ 'staging/s.sql': 'select 1 as x' });
    await expect(lake.build({ select: ['sss'] })).rejects.toThrow(/selector "sss" matches no enabled model/);
    await expect(lake.build({ selct: ['s'] } as never)).rejects.toThrow(/selct/);
    await expect(lake.test({ select: ['sss'] })).rejects.toThrow(/selector "sss" matches no enabled model/);
    expect(await lake.runs()).toEqual([]);
    fs.writeFileSync(path.join(models, 'staging', 'broken.sql'), "select {{ ref('nope') }}");
    await expect(lake.build()).rejects.toThrow(/nope/);
    await expect(lake.test()).rejects.toThrow(/nope/);
    expect((await lake.runs()).map((r) => [r.kind, r.status])).toEqual([['test', 'failed'], ['build', 'failed']]);
  });
});
