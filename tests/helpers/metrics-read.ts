/** Rows of `runs.duckdb`, read READ_ONLY with node-api (bigints as numbers). */
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export async function metricsRows(root: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(path.join(root, 'metrics', 'runs.duckdb'), { access_mode: 'READ_ONLY' });
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
