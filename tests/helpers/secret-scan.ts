/**
 * Looks for secret strings in everything a lake wrote, except its token stores. Text files
 * are searched as bytes, gzip files after inflating, and DuckDB and Parquet files through SQL
 * (their string compression would hide a secret from a byte search).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';

export interface SecretHit {
  file: string;
  secret: string;
}

export async function findSecrets(root: string, secrets: string[]): Promise<{ hits: SecretHit[]; files: string[] }> {
  const wanted = secrets.filter((s) => s.length > 0);
  const hits: SecretHit[] = [];
  const files = (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => !f.split(path.sep).join('/').startsWith('state/tokens/'))
    .filter((f) => fs.statSync(path.join(root, f)).isFile());
  const engine = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  const connection = await engine.connect();
  try {
    for (const file of files) {
      const full = path.join(root, file);
      let texts: string[];
      if (file.endsWith('.gz')) texts = [zlib.gunzipSync(fs.readFileSync(full)).toString('utf8')];
      else if (file.endsWith('.parquet')) texts = [await dump(connection, `SELECT * FROM read_parquet('${full.replace(/'/g, "''")}')`)];
      else if (file.endsWith('.duckdb')) texts = await dumpDatabase(connection, full);
      else texts = [fs.readFileSync(full).toString('latin1')];
      texts.push(fs.readFileSync(full).toString('latin1'));
      for (const secret of wanted) if (texts.some((t) => t.includes(secret))) hits.push({ file, secret });
    }
  } finally {
    connection.closeSync();
    engine.closeSync();
  }
  return { hits, files };
}

async function dump(connection: Awaited<ReturnType<DuckDBInstance['connect']>>, sql: string): Promise<string> {
  const reader = await connection.runAndReadAll(sql);
  return JSON.stringify(reader.getRowsJson());
}

async function dumpDatabase(connection: Awaited<ReturnType<DuckDBInstance['connect']>>, file: string): Promise<string[]> {
  await connection.run(`ATTACH '${file.replace(/'/g, "''")}' AS scanned (READ_ONLY)`);
  try {
    // Tables of every schema (the warehouse catalog keeps its state in _duckhouse), and view definitions.
    const tables = (await connection.runAndReadAll(`SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'scanned'`)).getRowObjectsJson();
    const out: string[] = [];
    for (const { schema_name, table_name } of tables) out.push(await dump(connection, `SELECT * FROM scanned."${String(schema_name)}"."${String(table_name)}"`));
    out.push(await dump(connection, `SELECT sql FROM duckdb_views() WHERE database_name = 'scanned'`));
    return out;
  } finally {
    await connection.run('DETACH scanned');
  }
}
