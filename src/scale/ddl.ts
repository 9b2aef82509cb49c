/**
 * The scale-out path: bronze is plain Hive-partitioned Parquet, so bigger engines can read it
 * where it lies. This prints external-table DDL for Spark, Trino (Hive connector) and Athena,
 * one table per bronze dataset, with the columns its live files hold (those bronze recorded
 * in `state/schemas/` when it has none) and the partition keys (and year/month/day) as string
 * partitions; and one unpartitioned table per mart exported to Parquet (`state/exports/`), with
 * the columns as read back from the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral as quoteSql } from '../db/quote.js';
import { readerRows } from '../db/values.js';
import { ConfigError, errorMessage } from '../errors.js';
import { ALL_VISIBLE, readRecordedSchema, scanBronze, type BronzeVisibility } from '../transform/source-relation.js';
import { readExports } from './exports.js';

export type DdlEngine = 'spark' | 'trino' | 'athena';

export interface DdlTable {
  source: string;
  dataset: string;
  location: string;
  columns: { name: string; type: string }[];
  partitionKeys: string[];
  /** The dataset's live files (absolute paths). */
  files?: string[];
  /** Columns whose type differs between files, with the types seen (see `withFileColumns`). */
  retyped?: { name: string; types: string[] }[];
}

/** A table exported with `lake.exportTable(…, { format: 'parquet' })`. */
export interface ExportedTable {
  schema: string;
  name: string;
  /** The Parquet file; the external table's location is its folder. */
  file: string;
  columns: { name: string; type: string }[];
}

/** An identifier (column or struct field name): `"x"` on Trino, `` `x` `` on Spark and Athena (Hive). */
const quoteName = (engine: DdlEngine, name: string): string => (engine === 'trino' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``);

/**
 * A table's name, quoted like its columns: model names may be reserved words (`marts.order`), which
 * Trino and Athena's Hive DDL refuse unquoted.
 */
const tableName = (engine: DdlEngine, schema: string, name: string): string => `${engine === 'trino' ? 'hive.' : ''}${quoteName(engine, schema)}.${quoteName(engine, name)}`;

/**
 * A string literal: Trino follows the SQL standard (`''`); Spark and Hive (Athena's DDL) read
 * backslash escapes and would take `'a''b'` as the adjacent literals `'a' 'b'` (= "ab").
 */
const quoteLiteral = (engine: DdlEngine, value: string): string => (engine === 'trino' ? `'${value.replace(/'/g, "''")}'` : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);

/** Splits `a BIGINT, "b c" STRUCT(x INT, y VARCHAR)[]` at top-level commas. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '(') depth++;
    else if (!quoted && ch === ')') depth--;
    else if (!quoted && ch === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (text.slice(start).trim()) parts.push(text.slice(start).trim());
  return parts;
}

function fieldOf(part: string): { name: string; type: string } {
  const m = /^"((?:[^"]|"")*)"\s+(.*)$/s.exec(part) ?? /^(\S+)\s+(.*)$/s.exec(part);
  if (!m) throw new ConfigError(`export-ddl: cannot read struct field ${JSON.stringify(part)}`);
  return { name: m[1]!.replace(/""/g, '"'), type: m[2]! };
}

/** A DuckDB type (as bronze records it) in the target engine's spelling. */
export function mapType(duck: string, engine: DdlEngine): string {
  const t = duck.trim();
  if (t.endsWith('[]')) {
    const inner = mapType(t.slice(0, -2), engine);
    return engine === 'trino' ? `ARRAY(${inner})` : `ARRAY<${inner}>`;
  }
  const map = /^MAP\((.*)\)$/s.exec(t);
  if (map) {
    const kv = splitTop(map[1]!);
    if (kv.length !== 2) throw new ConfigError(`export-ddl: cannot read map type ${t}`);
    const [k, v] = kv.map((x) => mapType(x, engine)) as [string, string];
    return engine === 'trino' ? `MAP(${k}, ${v})` : `MAP<${k}, ${v}>`;
  }
  const struct = /^STRUCT\((.*)\)$/s.exec(t);
  if (struct) {
    const fields = splitTop(struct[1]!).map(fieldOf);
    return engine === 'trino'
      ? `ROW(${fields.map((f) => `${quoteName(engine, f.name)} ${mapType(f.type, engine)}`).join(', ')})`
      : `STRUCT<${fields.map((f) => `${quoteName(engine, f.name)}: ${mapType(f.type, engine)}`).join(', ')}>`;
  }
  const upper = t.toUpperCase();
  const table: Record<string, Record<DdlEngine, string>> = {
    VARCHAR: { spark: 'STRING', trino: 'VARCHAR', athena: 'string' },
    JSON: { spark: 'STRING', trino: 'VARCHAR', athena: 'string' },
    BIGINT: { spark: 'BIGINT', trino: 'BIGINT', athena: 'bigint' },
    INTEGER: { spark: 'INT', trino: 'INTEGER', athena: 'int' },
    SMALLINT: { spark: 'SMALLINT', trino: 'SMALLINT', athena: 'smallint' },
    TINYINT: { spark: 'TINYINT', trino: 'TINYINT', athena: 'tinyint' },
    FLOAT: { spark: 'FLOAT', trino: 'REAL', athena: 'float' },
    BLOB: { spark: 'BINARY', trino: 'VARBINARY', athena: 'binary' },
    HUGEINT: { spark: 'DECIMAL(38,0)', trino: 'DECIMAL(38,0)', athena: 'decimal(38,0)' },
    DOUBLE: { spark: 'DOUBLE', trino: 'DOUBLE', athena: 'double' },
    BOOLEAN: { spark: 'BOOLEAN', trino: 'BOOLEAN', athena: 'boolean' },
    DATE: { spark: 'DATE', trino: 'DATE', athena: 'date' },
    // Trino's Hive connector cannot declare `timestamp with time zone` ("Unsupported Hive type"):
    // instants are a TIMESTAMP(6) holding UTC there.
    TIMESTAMPTZ: { spark: 'TIMESTAMP', trino: 'TIMESTAMP(6)', athena: 'timestamp' },
    'TIMESTAMP WITH TIME ZONE': { spark: 'TIMESTAMP', trino: 'TIMESTAMP(6)', athena: 'timestamp' },
    TIMESTAMP: { spark: 'TIMESTAMP_NTZ', trino: 'TIMESTAMP(6)', athena: 'timestamp' },
  };
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(upper);
  if (decimal) return engine === 'athena' ? `decimal(${decimal[1]},${decimal[2]})` : `DECIMAL(${decimal[1]},${decimal[2]})`;
  const mapped = table[upper];
  if (!mapped) throw new ConfigError(`export-ddl: no ${engine} type for DuckDB type ${t}`);
  return mapped[engine];
}

/** Every bronze dataset with recorded columns or live files (as `visibility` says: removed and uncommitted files are not). */
export function bronzeTables(root: string, visibility: BronzeVisibility = ALL_VISIBLE): DdlTable[] {
  const bronze = path.join(root, 'bronze');
  if (!fs.existsSync(bronze)) return [];
  const tables: DdlTable[] = [];
  // Only folders: a stray file (`.DS_Store`, a note) under bronze or a source is no dataset, as for compact.
  const isDir = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
  for (const source of fs.readdirSync(bronze).sort()) {
    if (!isDir(path.join(bronze, source))) continue;
    for (const dataset of fs.readdirSync(path.join(bronze, source)).sort()) {
      if (!isDir(path.join(bronze, source, dataset))) continue;
      const recorded = readRecordedSchema(root, source, dataset);
      const scanned = scanBronze(root, source, dataset, visibility);
      if (!recorded && scanned.files.length === 0) continue;
      // Without a recorded schema (bronze restored without state/), the folders name the keys.
      const partitionKeys = recorded ? [...recorded.partitionKeys, 'year', 'month', 'day'] : scanned.partitionKeys;
      tables.push({ source, dataset, location: path.join(bronze, source, dataset), columns: recorded?.columns ?? [], partitionKeys, files: scanned.files });
    }
  }
  return tables;
}

/**
 * Replaces each table's columns with those its files hold as DuckDB reads them together
 * (`union_by_name`, as `lake.bronze` and models do): the recorded schema is the latest run's, so a
 * column only earlier runs stored would be missing, and a retyped one declared in a type older
 * files do not hold. Columns whose type differs between files are listed in `retyped`: DuckDB
 * reads them in a common type, Spark, Trino and Athena may not convert a file's Parquet type.
 * Footers are read once; DESCRIBE runs once per distinct file schema.
 */
export async function withFileColumns(connection: DuckDBConnection, tables: DdlTable[]): Promise<DdlTable[]> {
  const describe = async (files: string[]): Promise<{ name: string; type: string }[]> =>
    readerRows(await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet([${files.map(quoteSql).join(', ')}], union_by_name = true, hive_partitioning = false)`)).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const out: DdlTable[] = [];
  for (const t of tables) {
    if (!t.files?.length) {
      out.push(t);
      continue;
    }
    const shapes = readerRows(
      await connection.runAndReadAll(
        `SELECT min(f) AS f FROM (
           SELECT file_name AS f, string_agg(concat_ws(':', name, type, converted_type, CAST(logical_type AS VARCHAR), repetition_type, num_children), ',' ORDER BY name, type, converted_type, CAST(logical_type AS VARCHAR), repetition_type, num_children) AS s
           FROM parquet_schema([${t.files.map(quoteSql).join(', ')}]) GROUP BY file_name)
         GROUP BY s ORDER BY f`,
      ),
    ).map((r) => String(r.f));
    const seen = new Map<string, Set<string>>();
    for (const f of shapes) for (const c of await describe([f])) seen.set(c.name, (seen.get(c.name) ?? new Set()).add(c.type));
    const bookkeeping = new Set(['_run_id', '_extracted_at']);
    const columns = (await describe(shapes)).filter((c) => !bookkeeping.has(c.name));
    // A struct that gained fields is no change to warn of: every engine reads a missing field as NULL.
    const retyped = columns.filter((c) => [...seen.get(c.name)!].some((type) => !nestsIn(type, c.type))).map((c) => ({ name: c.name, types: [...seen.get(c.name)!] }));
    out.push({ ...t, columns, ...(retyped.length ? { retyped } : {}) });
  }
  return out;
}

/** Whether a file's column of type `from` reads as `to` by name: the same type, or structs (and lists of them) with fields added. */
function nestsIn(from: string, to: string): boolean {
  if (from === to) return true;
  if (from.endsWith('[]') && to.endsWith('[]')) return nestsIn(from.slice(0, -2), to.slice(0, -2));
  const inner = (t: string): { name: string; type: string }[] | undefined => {
    const m = /^STRUCT\((.*)\)$/s.exec(t);
    return m ? splitTop(m[1]!).map(fieldOf) : undefined;
  };
  const [a, b] = [inner(from), inner(to)];
  return !!a && !!b && a.every((f) => b.some((g) => g.name === f.name && nestsIn(f.type, g.type)));
}

/**
 * A partition value per key whose folder name holds percent-encoded bytes past ASCII: DuckDB encodes
 * `São` as `S%C3%A3o`, and Hive's unescaping (Spark, Trino's Hive connector, Athena) turns each
 * `%XX` into one character, so those engines read `SÃ£o`.
 */
function garbledPartitions(t: DdlTable): { key: string; value: string; read: string }[] {
  const found = new Map<string, { key: string; value: string; read: string }>();
  for (const dir of new Set((t.files ?? []).map((f) => path.relative(t.location, path.dirname(f))))) {
    for (const seg of dir.split(path.sep)) {
      const eq = seg.indexOf('=');
      const [key, raw] = [seg.slice(0, eq), seg.slice(eq + 1)];
      if (eq < 0 || found.has(key) || !/%[89a-fA-F][0-9a-fA-F]/.test(raw)) continue;
      let value: string;
      try {
        value = decodeURIComponent(raw);
      } catch {
        continue;
      }
      found.set(key, { key, value, read: raw.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))) });
    }
  }
  return [...found.values()];
}

/** Every table exported to Parquet with `lake.exportTable`, as recorded in `state/exports/`. */
export function exportedTables(root: string): ExportedTable[] {
  return readExports(root).map((r) => {
    const [schema, name] = r.table.split('.') as [string, string];
    return { schema, name, file: r.file, columns: r.columns };
  });
}

/** One CREATE statement; a partitioned table also gets the statement that discovers its partitions. */
function createTable(engine: DdlEngine, table: { schema: string; name: string; columns: { name: string; type: string }[]; partitionKeys: string[]; location: string }): string {
  const { schema, name, partitionKeys } = table;
  const columns = table.columns.map((c) => {
    try {
      return `  ${quoteName(engine, c.name)} ${mapType(c.type, engine)}`;
    } catch (error) {
      throw new ConfigError(`export-ddl: ${schema}.${name} column ${JSON.stringify(c.name)}: ${errorMessage(error).replace(/^export-ddl: /, '')}`, { cause: error });
    }
  });
  const keys = partitionKeys.map((k) => quoteName(engine, k));
  const qualified = tableName(engine, schema, name);
  if (engine === 'spark') {
    const cols = [...columns, ...keys.map((k) => `  ${k} STRING`)];
    const partitioned = keys.length ? `PARTITIONED BY (${keys.join(', ')})\n` : '';
    const repair = keys.length ? `\nMSCK REPAIR TABLE ${qualified};` : '';
    return `CREATE TABLE IF NOT EXISTS ${qualified} (\n${cols.join(',\n')}\n)\nUSING PARQUET\n${partitioned}LOCATION ${quoteLiteral(engine, table.location)};${repair}`;
  }
  if (engine === 'trino') {
    const cols = [...columns, ...keys.map((k) => `  ${k} VARCHAR`)];
    const partitioned = partitionKeys.length ? `,\n  partitioned_by = ARRAY[${partitionKeys.map((k) => quoteLiteral(engine, k)).join(', ')}]` : '';
    const sync = partitionKeys.length ? `\nCALL hive.system.sync_partition_metadata(${quoteLiteral(engine, schema)}, ${quoteLiteral(engine, name)}, 'FULL');` : '';
    return `CREATE TABLE IF NOT EXISTS ${qualified} (\n${cols.join(',\n')}\n)\nWITH (\n  format = 'PARQUET',\n  external_location = ${quoteLiteral(engine, table.location)}${partitioned}\n);${sync}`;
  }
  // Athena wants the location as a folder with a trailing slash.
  const partitioned = keys.length ? `PARTITIONED BY (${keys.map((k) => `${k} string`).join(', ')})\n` : '';
  const repair = keys.length ? `\nMSCK REPAIR TABLE ${qualified};` : '';
  return `CREATE EXTERNAL TABLE IF NOT EXISTS ${qualified} (\n${columns.join(',\n')}\n)\n${partitioned}STORED AS PARQUET\nLOCATION ${quoteLiteral(engine, `${table.location}/`)};${repair}`;
}

/**
 * External-table DDL for the bronze `tables` (in `options.schema`, default `bronze`) and the
 * Parquet `options.exports` (in their own schema, e.g. `marts`), with `locationPrefix`
 * replacing the local root (e.g. `s3://bucket/lake`).
 */
/**
 * A file or folder name as a `--` line shows it: a newline in it would end the comment, and the
 * rest of the name would be a statement of the DDL (run when the output is piped to the engine).
 */
const inComment = (text: string): string => text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));

export function ddlFor(tables: DdlTable[], engine: DdlEngine, options: { root: string; locationPrefix?: string; schema?: string; exports?: ExportedTable[] }): string {
  const schema = options.schema ?? 'bronze';
  const inRoot = (dir: string): boolean => {
    const rel = path.relative(options.root, dir);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  const where = (dir: string): string => (options.locationPrefix && inRoot(dir) ? `${options.locationPrefix.replace(/\/+$/, '')}/${path.relative(options.root, dir).split(path.sep).join('/')}` : dir);
  const out: string[] = [];
  // A table per dataset, `<source>_<dataset>`; names may hold `_` themselves, so two datasets can
  // meet in one name (mercado_livre/orders, mercado/livre_orders): those take `<source>__<dataset>`.
  const plain = (t: DdlTable): string => `${t.source}_${t.dataset}`;
  const taken = new Map<string, number>();
  for (const t of tables) taken.set(plain(t), (taken.get(plain(t)) ?? 0) + 1);
  for (const t of tables) {
    const data = [...t.columns, { name: '_run_id', type: 'VARCHAR' }, { name: '_extracted_at', type: 'TIMESTAMPTZ' }];
    const name = taken.get(plain(t))! > 1 ? `${t.source}__${t.dataset}` : plain(t);
    const notes: string[] = (t.retyped ?? []).map((c) => {
      const declared = data.find((d) => d.name === c.name)!.type;
      return `-- warning: ${schema}.${name} column ${JSON.stringify(c.name)} is ${inComment(c.types.slice(0, -1).join(', '))} in some files and ${inComment(c.types.at(-1)!)} in others (its source changed between runs); declared as ${inComment(declared)}, as DuckDB reads them together, but ${engine} may fail on the files of another type`;
    });
    const garbled = garbledPartitions(t);
    if (garbled.length) {
      const shown = garbled.map((g) => `${g.key} ${JSON.stringify(g.value)} reads as ${JSON.stringify(g.read)}`).join(', ');
      const undo = engine === 'spark' ? `; decode(encode(${garbled[0]!.key}, 'ISO-8859-1'), 'UTF-8') gives the text back` : '';
      notes.push(`-- warning: ${schema}.${name} partition folders percent-encode values outside ASCII byte by byte (UTF-8), and ${engine} decodes each byte as one character: ${shown}${undo}`);
    }
    out.push([...notes, createTable(engine, { schema, name, columns: data, partitionKeys: t.partitionKeys, location: where(t.location) })].join('\n'));
  }
  for (const e of options.exports ?? []) {
    const table = `${e.schema}.${e.name}`;
    if (!fs.existsSync(e.file)) {
      out.push(`-- skipped ${table}: its Parquet export ${inComment(e.file)} no longer exists (export it again)`);
      continue;
    }
    const dir = path.dirname(e.file);
    const notes: string[] = [];
    // Every engine reads all files under a table's location except hidden ones (`.x`, `_x`).
    const others = fs.readdirSync(dir).filter((f) => f !== path.basename(e.file) && !f.startsWith('.') && !f.startsWith('_'));
    if (others.length) {
      const shown = others.slice(0, 3).map(inComment).join(', ') + (others.length > 3 ? `, … (${others.length} in all)` : '');
      notes.push(`-- warning: ${inComment(dir)} also holds ${shown}; ${table} would read those too: export it into a folder of its own`);
    }
    if (options.locationPrefix && !inRoot(dir)) notes.push(`-- note: ${inComment(e.file)} is outside the lake root, so its location keeps the local path`);
    out.push([...notes, createTable(engine, { schema: e.schema, name: e.name, columns: e.columns, partitionKeys: [], location: where(dir) })].join('\n'));
  }
  if (engine === 'trino' && out.some((s) => s.includes('TIMESTAMP(6)'))) {
    out.unshift('-- Trino (Hive connector): DuckDB writes microsecond timestamps, so the hive catalog needs\n-- hive.timestamp-precision=MICROSECONDS; TIMESTAMPTZ columns read as TIMESTAMP(6) in UTC.');
  }
  // Nothing to declare: no DDL at all, not a lone line break.
  return out.length === 0 ? '' : `${out.join('\n\n')}\n`;
}
