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
  /**
   * The Parquet file: absolute as read back; stored relative to the lake root when inside it, so
   * a lake moved to another folder (or machine) still finds it.
   */
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
  const rel = path.relative(root, record.file);
  const inRoot = !rel.startsWith('..') && !path.isAbsolute(rel);
  const stored = { ...record, file: inRoot ? rel.split(path.sep).join('/') : record.file };
  writeFileAtomic(exportRecordFile(root, record.table), `${JSON.stringify(stored, null, 2)}\n`);
}

/** Every recorded Parquet export, by table name. */
export function readExports(root: string): ExportRecord[] {
  const dir = path.join(root, 'state', 'exports');
  if (!fs.existsSync(dir)) return [];
  const records: ExportRecord[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.json')) continue; // skips writeFileAtomic's `.tmp` leftovers
    const full = path.join(dir, file);
    let record: ExportRecord;
    try {
      record = JSON.parse(fs.readFileSync(full, 'utf8')) as ExportRecord;
    } catch (error) {
      throw new ConfigError(`export-ddl: ${full} is not a valid export record (export the table again, or delete the file)`, { cause: error });
    }
    // Valid JSON of another shape (hand-edited, truncated by a tool) would fail later as a bare TypeError.
    const field = !record || typeof record !== 'object' ? 'the record' : typeof record.table !== 'string' || !record.table.includes('.') ? '"table"' : typeof record.file !== 'string' ? '"file"' : !Array.isArray(record.columns) ? '"columns"' : undefined;
    if (field) throw new ConfigError(`export-ddl: ${full} is not a valid export record: ${field} is missing or wrong (export the table again, or delete the file)`);
    // Records written before exports were stored relative to the root hold absolute paths: resolve keeps those.
    records.push({ ...record, file: path.resolve(root, record.file) });
  }
  return records;
}
