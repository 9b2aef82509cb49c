/**
 * What `lake.exportTable(…, { format: 'parquet' })` wrote, so `export-ddl` can declare it.
 * One small JSON file per table in `state/exports/<schema>.<name>.json` (next to the columns
 * bronze records in `state/schemas/`), written tmp-then-rename: the latest export of a table
 * wins, and two processes exporting different tables never touch the same file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../bronze/commit.js';
import { ConfigError } from '../errors.js';

export interface ExportRecord {
  /** `schema.name` in analytics.duckdb. */
  table: string;
  format: 'parquet';
  /** Absolute path of the Parquet file. */
  file: string;
  rows: number;
  bytes: number;
  /** The columns as DuckDB reads them back from the file (`DESCRIBE`), in file order. */
  columns: { name: string; type: string }[];
  exportedAt: string;
}

export function exportRecordFile(root: string, table: string): string {
  return path.join(root, 'state', 'exports', `${table}.json`);
}

export function recordExport(root: string, record: ExportRecord): void {
  writeFileAtomic(exportRecordFile(root, record.table), `${JSON.stringify(record, null, 2)}\n`);
}

/** Every recorded Parquet export, by table name. */
export function readExports(root: string): ExportRecord[] {
  const dir = path.join(root, 'state', 'exports');
  if (!fs.existsSync(dir)) return [];
  const records: ExportRecord[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.json')) continue; // skips writeFileAtomic's `.tmp` leftovers
    const full = path.join(dir, file);
    try {
      records.push(JSON.parse(fs.readFileSync(full, 'utf8')) as ExportRecord);
    } catch (error) {
      throw new ConfigError(`export-ddl: ${full} is not a valid export record (export the table again, or delete the file)`, { cause: error });
    }
  }
  return records;
}
