/**
 * A reader process, like any DuckDB client: opens analytics.duckdb READ_ONLY in a loop and
 * queries it, counting errors and checking that what it sees is a complete build
 * (marts.totals.n always equals the row count of the table it summarises).
 * Usage: child-reader.ts <analytics file> <millis> [stop file] [pause millis]
 * Stops after <millis>, or earlier once [stop file] exists; waits [pause millis] between
 * queries (default 0: as fast as it can). Prints one JSON line: queries,
 * errors, inconsistent reads, the first error messages and the build markers it saw.
 */
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [file, millisArg, stopFile, pauseArg] = process.argv.slice(2);
const pauseMillis = Number(pauseArg ?? 0);
const until = Date.now() + Number(millisArg);
let queries = 0;
let errors = 0;
let inconsistent = 0;
const messages: string[] = [];
const builds = new Set<number>();
while (Date.now() < until && !(stopFile && fs.existsSync(stopFile))) {
  if (!fs.existsSync(file!)) {
    await new Promise((r) => setTimeout(r, 20));
    continue;
  }
  try {
    const db = await DuckDBInstance.create(file!, { access_mode: 'READ_ONLY' });
    const c = await db.connect();
    try {
      const reader = await c.runAndReadAll(`SELECT t.n AS summarised, (SELECT count(*) FROM trusted.items) AS actual, t.build FROM marts.totals t`);
      const [row] = reader.getRowObjectsJS();
      queries += 1;
      if (!row || Number(row.summarised) !== Number(row.actual)) inconsistent += 1;
      if (row) builds.add(Number(row.build));
    } finally {
      c.closeSync();
      db.closeSync();
    }
  } catch (error) {
    errors += 1;
    if (messages.length < 5) messages.push((error as Error).message);
  }
  if (pauseMillis > 0) await new Promise((r) => setTimeout(r, pauseMillis));
}
process.stdout.write(`${JSON.stringify({ queries, errors, inconsistent, messages, builds: [...builds].sort((a, b) => a - b) })}\n`);
