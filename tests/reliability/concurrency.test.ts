/**
 * Concurrency across real processes: a reader querying analytics.duckdb READ_ONLY in a loop
 * (any DuckDB client) while another process runs builds, and a third extracts; then two
 * extracts and a build started at the same instant. Nobody errors, readers only ever see whole
 * builds, every run is recorded with its counts, and bronze is exactly what was committed.
 * (tests/transform/build/tests-and-readers.test.ts covers a reader during builds of this process.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { spawnHelper, type Child } from '../helpers/child.js';
import { spawnBuild } from '../helpers/child-build.js';
import { expectCommittedBronze, runsOfPid } from '../helpers/lake-checks.js';
import { ITEMS_BUILD_CHECK, isWholeBuild, scaled, toBuildState, writeItemsModels } from '../helpers/reliability.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';

const BUILDS = scaled(2, 10);

function lastJson<T>(child: Child, key: string): T {
  const line = [...child.lines].reverse().find((l) => l.startsWith(`{"${key}"`));
  expect(line, `a ${key} line from the child`).toBeDefined();
  return JSON.parse(line!) as T;
}

async function project(source: string): Promise<{ root: string; models: string }> {
  const base = tempDir('duckhouse-concurrency-');
  const root = path.join(base, 'data');
  const models = path.join(base, 'models');
  writeItemsModels(models, source);
  const lake = await Lakehouse.open({ root, models, log: { console: false } });
  try {
    await lake.extract([syntheticItems({ source, batches: 1, rowsPerBatch: 200 })]);
    expect((await lake.build({ vars: { build_no: 0 } })).status).toBe('success');
  } finally {
    await lake.close();
  }
  return { root, models };
}

describe('readers and writers in separate processes', () => {
  it(`a reader loops on analytics.duckdb through ${BUILDS} builds of another process (and an extract of a third): no error, never a half-built table`, async () => {
    const { root, models } = await project('conc');
    const stop = path.join(root, '..', 'stop-reader');
    // A short pause between queries leaves CPU to the writers on this 2-core machine.
    const reader = spawnHelper('child-reader.ts', [path.join(root, 'analytics.duckdb'), '600000', stop, '10']);
    // Every build extracts more rows first (lake.run), so every build publishes a bigger catalog.
    const builder = spawnBuild({ root, models, builds: BUILDS, firstBuildNo: 1, extract: { source: 'conc', rows: 2_000 } });
    const noise = spawnHelper('child-extract.ts', [root, 'noise', String(scaled(10, 20)), '1000', '50']);
    const [built, extracted] = await Promise.all([builder.exited, noise.exited]);
    fs.writeFileSync(stop, '');
    const read = await reader.exited;
    expect(built.code, built.stderr).toBe(0);
    expect(extracted.code, extracted.stderr).toBe(0);
    expect(read.code, read.stderr).toBe(0);

    const results = builder.lines.filter((l) => l.startsWith('{"built"')).map((l) => JSON.parse(l) as { built: number; status: string; extract: string });
    expect(results).toEqual(Array.from({ length: BUILDS }, (_, i) => expect.objectContaining({ built: i + 1, status: 'success', extract: 'success' })));
    const stats = JSON.parse(reader.lines.at(-1)!) as { queries: number; errors: number; inconsistent: number; messages: string[]; builds: number[] };
    expect(stats.errors, JSON.stringify(stats.messages)).toBe(0);
    expect(stats.inconsistent).toBe(0);
    expect(stats.queries).toBeGreaterThan(5 * BUILDS);
    // It read while the builds were publishing: it saw several of them, in order.
    expect(stats.builds.length).toBeGreaterThanOrEqual(Math.min(3, BUILDS));
    expect(stats.builds.every((b) => b >= 0 && b <= BUILDS)).toBe(true);
    process.stdout.write(`[concurrency] reader: ${stats.queries} queries, builds seen ${stats.builds.join(',')}\n`);

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      const runs = await runsOfPid(lake, builder.process.pid!);
      expect(runs.filter((r) => r.kind === 'build').map((r) => r.status)).toEqual(Array(BUILDS).fill('success'));
      expect(runs.filter((r) => r.kind === 'extract').map((r) => r.status)).toEqual(Array(BUILDS).fill('success'));
      expect(runs.filter((r) => r.kind === 'run').map((r) => r.status)).toEqual(Array(BUILDS).fill('success'));
      expect((await runsOfPid(lake, noise.process.pid!)).map((r) => [r.kind, r.status])).toEqual([['extract', 'success']]);
      expect(await lake.metrics.select(`SELECT run_id FROM runs WHERE status NOT IN ('success')`)).toEqual([]);
      const state = toBuildState((await lake.query(ITEMS_BUILD_CHECK))[0]);
      expect(isWholeBuild(state), JSON.stringify(state)).toBe(true);
      expect(state).toMatchObject({ build: BUILDS, items: 2_000 * BUILDS });
      await expectCommittedBronze(lake);
    } finally {
      await lake.close();
    }
  }, scaled(90_000, 300_000));

  it('two extracts and a build started at once all finish and record their runs', async () => {
    // The models read conc_a, which one of the extracts is writing while the build runs.
    const { root, models } = await project('conc_a');
    const batches = scaled(6, 30);
    const a = spawnHelper('child-extract.ts', [root, 'conc_a', String(batches), '2000', '20']);
    const b = spawnHelper('child-extract.ts', [root, 'conc_b', String(batches), '2000', '20']);
    const builder = spawnBuild({ root, models, builds: 2, firstBuildNo: 1 });
    const exits = await Promise.all([a.exited, b.exited, builder.exited]);
    for (const e of exits) expect(e.code, e.stderr).toBe(0);

    const extracts = [a, b].map((c) => lastJson<{ result: { runId: string; status: string; sources: { rows: number; rejected: number }[] } }>(c, 'result').result);
    for (const r of extracts) expect(r).toMatchObject({ status: 'success', sources: [{ rows: batches * 2_000, rejected: 0 }] });
    const builds = builder.lines.filter((l) => l.startsWith('{"built"')).map((l) => JSON.parse(l) as { status: string });
    expect(builds.map((x) => x.status)).toEqual(['success', 'success']);

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      for (const [child, result] of [[a, extracts[0]!], [b, extracts[1]!]] as const) {
        expect(await runsOfPid(lake, child.process.pid!)).toEqual([{ runId: result.runId, kind: 'extract', status: 'success' }]);
        const [batch] = await lake.metrics.select('SELECT count(*) AS batches, sum(rows) AS rows FROM source_batches WHERE run_id = $1', [result.runId]);
        expect(batch).toEqual({ batches, rows: batches * 2_000 });
        const [record] = await lake.metrics.select('SELECT rows, files FROM runs WHERE run_id = $1', [result.runId]);
        expect(record!.rows).toBe(batches * 2_000);
      }
      expect((await runsOfPid(lake, builder.process.pid!)).map((r) => [r.kind, r.status])).toEqual([
        ['build', 'success'],
        ['build', 'success'],
      ]);
      await expectCommittedBronze(lake);
      for (const source of ['conc_a', 'conc_b']) {
        const [counts] = await lake.query(`SELECT count(*) AS n, count(DISTINCT (_run_id, id)) AS keys FROM read_parquet('${root}/bronze/${source}/items/**/*.parquet')`);
        expect(counts!.n).toBe(counts!.keys);
      }
      // The published build is whole; a build now, with every extract committed, holds every id.
      expect(isWholeBuild(toBuildState((await lake.query(ITEMS_BUILD_CHECK))[0]))).toBe(true);
      expect((await lake.build({ vars: { build_no: 3 } })).status).toBe('success');
      const state = toBuildState((await lake.query(ITEMS_BUILD_CHECK))[0]);
      expect(isWholeBuild(state), JSON.stringify(state)).toBe(true);
      expect(state.items).toBe(batches * 2_000);
    } finally {
      await lake.close();
    }
  }, scaled(90_000, 300_000));
});
