/**
 * A reader process, like any DuckDB client: opens analytics.duckdb READ_ONLY in a loop and
 * queries it, counting errors and checking that what it sees is a complete build
 * (marts.totals.n always equals the row count of the table it summarises).
 * Usage: child-reader.ts <analytics file> <millis>
 */
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [file, millisArg] = process.argv.slice(2);
const until = Date.now() + Number(millisArg);
let queries = 0;
let errors = 0;
let inconsistent = 0;
const messages: string[] = [];
while (Date.now() < until) {
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
    } finally {
      c.closeSync();
      db.closeSync();
    }
  } catch (error) {
    errors += 1;
    if (messages.length < 5) messages.push((error as Error).message);
  }
}
process.stdout.write(`${JSON.stringify({ queries, errors, inconsistent, messages })}\n`);
