/**
 * Records a few runs in a metrics db, then one more run's start, and stops itself (SIGSTOP) just
 * before the detach that checkpoints that start: the file is then the previous checkpoint and
 * DuckDB's log holds the start. Prints "stopped" first. The parent damages the file as a kill
 * inside that checkpoint does (tests/metrics/torn-checkpoint.test.ts) and kills this process.
 *   tsx child-stop-at-checkpoint.ts <metrics file> <runId>
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';
import { MetricsDb } from '../../src/metrics/metrics-db.js';

const [file, runId] = process.argv.slice(2) as [string, string];
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
await metrics.startRun(runId, 'extract', new Date());
await new Promise(() => undefined);
