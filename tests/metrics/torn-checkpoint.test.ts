/**
 * A checkpoint of the metrics database stopped by a kill part way through a block it rewrites in
 * place (DuckDB 1.5; see src/metrics/last-checkpoint.ts) left a file no open could read: every
 * operation of the lake then failed METRICS_CORRUPT. A child process stops itself just before
 * such a checkpoint; this side damages the file as the torn write does, kills it, and opens again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, runHistory } from '../../src/index.js';
import { MetricsDb } from '../../src/metrics/metrics-db.js';
import { spawnHelper } from '../helpers/child.js';
import { readOnlyQuery } from '../helpers/lake-checks.js';
import { registerCleanup, tempDir } from '../helpers/temp-lake.js';

const HEADERS = 3 * 4096;
const BLOCK = 256 * 1024;
const STOPPED_RUN = '20261207T120000000Z-c0ffee';

/** What a SIGKILL inside the checkpoint leaves: each block's later pages not the ones its checksum was computed over. */
function tearBlocks(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    for (let block = HEADERS; block + BLOCK <= size; block += BLOCK) fs.writeSync(fd, Buffer.alloc(12 * 1024, 0xab), 0, 12 * 1024, block + BLOCK - 12 * 1024);
  } finally {
    fs.closeSync(fd);
  }
}

/** A lake root whose metrics file holds three finished runs and, in DuckDB's log only, a fourth run's start, the file torn by that start's checkpoint. */
async function tornLake(files?: number): Promise<{ root: string; file: string }> {
  const root = path.join(tempDir(), 'data');
  const file = path.join(root, 'metrics', 'runs.duckdb');
  const child = spawnHelper('child-stop-at-checkpoint.ts', files === undefined ? [file, STOPPED_RUN] : [file, STOPPED_RUN, String(files)]);
  registerCleanup(() => void child.process.kill('SIGKILL'));
  await child.waitFor((l) => l === 'stopped', 60_000);
  expect(fs.statSync(`${file}.wal`).size).toBeGreaterThan(0);
  // The copy, brought up to date block by block over the child's earlier checkpoints, is the file as it is.
  expect(fs.readFileSync(`${file}.bak`).equals(fs.readFileSync(file))).toBe(true);
  tearBlocks(file);
  child.process.kill('SIGKILL');
  expect((await child.exited).signal).toBe('SIGKILL');
  // The damage is real: DuckDB itself cannot open the file.
  await expect(readOnlyQuery(file, 'SELECT count(*) FROM runs')).rejects.toThrow(/Corrupt database file/);
  return { root, file };
}

describe('a metrics checkpoint torn by a kill', () => {
  it('each write keeps the file as it was before its checkpoint (runs.duckdb.bak)', async () => {
    const file = path.join(tempDir(), 'metrics', 'runs.duckdb');
    const metrics = new MetricsDb(file, 10_000);
    const runId = '20261207T110000000Z-aaaaaa';
    await metrics.startRun(runId, 'build', new Date());
    await metrics.finishRun(runId, { status: 'success', rows: 7 }, {});
    await metrics.close();
    expect(fs.existsSync(`${file}.wal`)).toBe(false);
    expect(await readOnlyQuery(file, `SELECT status FROM runs WHERE run_id = '${runId}'`)).toEqual([{ status: 'success' }]);
    // The copy is the file the finish's checkpoint started from: the start recorded, not the finish.
    expect(await readOnlyQuery(`${file}.bak`, `SELECT status FROM runs WHERE run_id = '${runId}'`)).toEqual([{ status: 'running' }]);
  });

  it('is undone at the next open from that copy and the log: nothing committed is lost, the damaged file is kept', async () => {
    const { root, file } = await tornLake();
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());
    const runs = await lake.runs({ limit: 10 });
    expect(runs.map((r) => [r.runId, r.status, r.rows])).toEqual([
      // The start committed to the log before the kill; its process is dead.
      [STOPPED_RUN, 'abandoned', 0],
      ['20261201T120000002Z-eeeee2', 'success', 30],
      ['20261201T120000001Z-eeeee1', 'success', 20],
      ['20261201T120000000Z-eeeee0', 'success', 10],
    ]);
    expect(fs.existsSync(`${file}.corrupt`)).toBe(true);
    await expect(readOnlyQuery(`${file}.corrupt`, 'SELECT count(*) FROM runs')).rejects.toThrow(/Corrupt database file/);
    const log = fs.readFileSync(path.join(root, 'logs', 'duckhouse.log'), 'utf8');
    expect(log).toContain('was damaged by a checkpoint that did not finish');
    expect(log).toContain(`restored from ${file}.bak`);
    // The lake goes on: a later record lands, and the file opens for any client.
    await lake.close();
    expect((await readOnlyQuery(file, 'SELECT count(*)::INTEGER AS n FROM runs'))[0]).toEqual({ n: 4 });
  });

  it('is undone for a write larger than a row group too (DuckDB would have written it into the file before the commit)', async () => {
    const { root } = await tornLake(300_000);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());
    expect(await lake.metrics.select(`SELECT count(*)::INTEGER AS n, sum(rows)::BIGINT AS total FROM bronze_files WHERE run_id = '${STOPPED_RUN}'`)).toEqual([{ n: 300_000, total: 44_999_850_000 }]);
    expect((await lake.runs()).map((r) => r.status)).toEqual(['success', 'success', 'success']);
  });

  it('is undone by the run history reader too (`duckhouse runs` before any other command), with a warning', async () => {
    const { root, file } = await tornLake();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    registerCleanup(() => void process.off('warning', onWarning));
    const runs = await runHistory({ root, results: false });
    expect(runs.map((r) => r.runId)).toEqual([STOPPED_RUN, '20261201T120000002Z-eeeee2', '20261201T120000001Z-eeeee1', '20261201T120000000Z-eeeee0']);
    expect(runs[0]!.status).toBe('abandoned');
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['DUCKHOUSE_METRICS_RESTORED']);
    expect(warnings[0]!.message).toContain(`restored from ${file}.bak`);
  });

  it('is not "undone" from a copy of another checkpoint: the open fails METRICS_CORRUPT and leaves the files as they are', async () => {
    const { root, file } = await tornLake();
    // A copy the log was not written against (here another metrics file's): putting it back would
    // replay the log over the wrong tables.
    const other = path.join(tempDir(), 'runs.duckdb');
    const metrics = new MetricsDb(other, 10_000);
    await metrics.startRun('20261207T100000000Z-bbbbbb', 'build', new Date());
    await metrics.close();
    fs.copyFileSync(other, `${file}.bak`);
    const torn = fs.readFileSync(file);
    await expect(Lakehouse.open({ root, log: { console: false } })).rejects.toMatchObject({ code: 'METRICS_CORRUPT' });
    expect(fs.readFileSync(file).equals(torn)).toBe(true);
    expect(fs.existsSync(`${file}.corrupt`)).toBe(false);
    expect(fs.statSync(`${file}.wal`).size).toBeGreaterThan(0);
  });
});
