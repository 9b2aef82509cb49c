/**
 * The scale-out path: bronze is plain Hive-partitioned Parquet, so bigger engines can read it
 * where it lies. This prints external-table DDL for Spark, Trino (Hive connector) and Athena,
 * one table per bronze dataset, from the columns bronze recorded (`state/schemas/`), with the
 * partition keys (and year/month/day) as string partitions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { readRecordedSchema } from '../transform/source-relation.js';

export type DdlEngine = 'spark' | 'trino' | 'athena';

export interface DdlTable {
  source: string;
  dataset: string;
  location: string;
  columns: { name: string; type: string }[];
  partitionKeys: string[];
}

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
  const struct = /^STRUCT\((.*)\)$/s.exec(t);
  if (struct) {
    const fields = splitTop(struct[1]!).map(fieldOf);
    if (engine === 'trino') return `ROW(${fields.map((f) => `"${f.name}" ${mapType(f.type, engine)}`).join(', ')})`;
    return `STRUCT<${fields.map((f) => `\`${f.name}\`: ${mapType(f.type, engine)}`).join(', ')}>`;
  }
  const upper = t.toUpperCase();
  const table: Record<string, Record<DdlEngine, string>> = {
    VARCHAR: { spark: 'STRING', trino: 'VARCHAR', athena: 'string' },
    JSON: { spark: 'STRING', trino: 'VARCHAR', athena: 'string' },
    BIGINT: { spark: 'BIGINT', trino: 'BIGINT', athena: 'bigint' },
    INTEGER: { spark: 'INT', trino: 'INTEGER', athena: 'int' },
    HUGEINT: { spark: 'DECIMAL(38,0)', trino: 'DECIMAL(38,0)', athena: 'decimal(38,0)' },
    DOUBLE: { spark: 'DOUBLE', trino: 'DOUBLE', athena: 'double' },
    BOOLEAN: { spark: 'BOOLEAN', trino: 'BOOLEAN', athena: 'boolean' },
    DATE: { spark: 'DATE', trino: 'DATE', athena: 'date' },
    TIMESTAMPTZ: { spark: 'TIMESTAMP', trino: 'TIMESTAMP(6) WITH TIME ZONE', athena: 'timestamp' },
    'TIMESTAMP WITH TIME ZONE': { spark: 'TIMESTAMP', trino: 'TIMESTAMP(6) WITH TIME ZONE', athena: 'timestamp' },
    TIMESTAMP: { spark: 'TIMESTAMP_NTZ', trino: 'TIMESTAMP(6)', athena: 'timestamp' },
  };
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(upper);
  if (decimal) return engine === 'athena' ? `decimal(${decimal[1]},${decimal[2]})` : `DECIMAL(${decimal[1]},${decimal[2]})`;
  const mapped = table[upper];
  if (!mapped) throw new ConfigError(`export-ddl: no ${engine} type for DuckDB type ${t}`);
  return mapped[engine];
}

/** Every bronze dataset with recorded columns. */
export function bronzeTables(root: string): DdlTable[] {
  const bronze = path.join(root, 'bronze');
  if (!fs.existsSync(bronze)) return [];
  const tables: DdlTable[] = [];
  for (const source of fs.readdirSync(bronze).sort()) {
    for (const dataset of fs.readdirSync(path.join(bronze, source)).sort()) {
      const recorded = readRecordedSchema(root, source, dataset);
      if (!recorded) continue;
      tables.push({ source, dataset, location: path.join(bronze, source, dataset), columns: recorded.columns, partitionKeys: [...recorded.partitionKeys, 'year', 'month', 'day'] });
    }
  }
  return tables;
}

/** External-table DDL for `tables`, with `locationPrefix` replacing the local root (e.g. `s3://bucket/lake`). */
export function ddlFor(tables: DdlTable[], engine: DdlEngine, options: { root: string; locationPrefix?: string; schema?: string }): string {
  const schema = options.schema ?? 'bronze';
  const where = (t: DdlTable): string => (options.locationPrefix ? `${options.locationPrefix.replace(/\/+$/, '')}/${path.relative(options.root, t.location).split(path.sep).join('/')}` : t.location);
  const out: string[] = [];
  for (const t of tables) {
    const name = `${t.source}_${t.dataset}`;
    const data = [...t.columns, { name: '_run_id', type: 'VARCHAR' }, { name: '_extracted_at', type: 'TIMESTAMPTZ' }];
    if (engine === 'spark') {
      const cols = [...data.map((c) => `  \`${c.name}\` ${mapType(c.type, engine)}`), ...t.partitionKeys.map((k) => `  \`${k}\` STRING`)];
      out.push(`CREATE TABLE IF NOT EXISTS ${schema}.${name} (\n${cols.join(',\n')}\n)\nUSING PARQUET\nPARTITIONED BY (${t.partitionKeys.map((k) => `\`${k}\``).join(', ')})\nLOCATION '${where(t)}';\nMSCK REPAIR TABLE ${schema}.${name};`);
    } else if (engine === 'trino') {
      const cols = [...data.map((c) => `  "${c.name}" ${mapType(c.type, engine)}`), ...t.partitionKeys.map((k) => `  "${k}" VARCHAR`)];
      out.push(
        `CREATE TABLE IF NOT EXISTS hive.${schema}.${name} (\n${cols.join(',\n')}\n)\nWITH (\n  format = 'PARQUET',\n  external_location = '${where(t)}',\n  partitioned_by = ARRAY[${t.partitionKeys.map((k) => `'${k}'`).join(', ')}]\n);\nCALL hive.system.sync_partition_metadata('${schema}', '${name}', 'FULL');`,
      );
    } else {
      const cols = data.map((c) => `  \`${c.name}\` ${mapType(c.type, engine)}`);
      out.push(`CREATE EXTERNAL TABLE IF NOT EXISTS ${schema}.${name} (\n${cols.join(',\n')}\n)\nPARTITIONED BY (${t.partitionKeys.map((k) => `\`${k}\` string`).join(', ')})\nSTORED AS PARQUET\nLOCATION '${where(t)}/';\nMSCK REPAIR TABLE ${schema}.${name};`);
    }
  }
  return `${out.join('\n\n')}\n`;
}
