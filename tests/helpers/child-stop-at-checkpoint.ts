/**
 * Records a few runs in a metrics db, then one more run's start, and stops itself (SIGSTOP) just
 * before the detach that checkpoints that start: the file is then the previous checkpoint and
 * DuckDB's log holds the start. Prints "stopped" first. The parent damages the file as a kill
 * inside that checkpoint does (tests/metrics/torn-checkpoint.test.ts) and kills this process.
 * With <files>, that start's transaction also records that many bronze files (past DuckDB's
 * row group, which it would write into the file before the commit if let).
 *   tsx child-stop-at-checkpoint.ts <metrics file> <runId> [<files>]
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';
import { MetricsDb } from '../../src/metrics/metrics-db.js';

const [file, runId, files] = process.argv.slice(2) as [string, string, string?];
const metrics = new MetricsDb(file, 10_000);
for (let i = 0; i < 3; i += 1) {
  const earlier = `20261201T12000000${i}Z-eeeee${i}`;
  await metrics.startRun(earlier, 'extract', new Date());
  await metrics.finishRun(earlier, { status: 'success', rows: 10 * (i + 1) }, {});
}
// The same module instance as src/db/duckdb.ts's (CommonJS, loaded with require).
const { DuckDBConnection } = createRequire(import.meta.url)('@duckdb/node-api') as typeof NodeApi;
const run = DuckDBConnection.prototype.run;
DuckDBConnection.prototype.run = function (this: NodeApi.DuckDBConnection, sql: string, ...rest: unknown[]) {
  if (/^DETACH /.test(sql) && fs.existsSync(`${file}.wal`)) {
    fs.writeSync(1, 'stopped\n');
    process.kill(process.pid, 'SIGSTOP');
  }
  return (run as (...a: unknown[]) => ReturnType<typeof run>).call(this, sql, ...rest);
} as typeof run;
if (files === undefined) await metrics.startRun(runId, 'extract', new Date());
else {
  void metrics.transaction(async (c) => {
    await c.run(
      `INSERT INTO bronze_files (path, run_id, source, dataset, batch_no, rows, bytes, committed_at)
       SELECT 'bronze/s/d/day=' || (i % 30) || '/' || i || '.parquet', '${runId}', 's', 'd', 1, i, i * 10, now() FROM range(${Number(files)}) AS r(i)`,
    );
  });
}
await new Promise(() => undefined);
