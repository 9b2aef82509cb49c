/**
 * What `source('vtex', 'products')` compiles to: a `read_parquet` over the dataset's bronze
 * files with Hive partitions (typed VARCHAR), `union_by_name` for schema evolution. An empty
 * source compiles to an empty relation with the columns bronze last recorded, and a warning.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { quoteIdent, quoteLiteral } from '../db/quote.js';

export interface BronzeDataset {
  dir: string;
  /** Absolute paths, sorted. */
  files: string[];
  partitionKeys: string[];
  /** Changes whenever a file is added, removed or rewritten. */
  fingerprint: string;
}

export interface RecordedSchema {
  columns: { name: string; type: string }[];
  partitionKeys: string[];
}

export function schemaFile(root: string, source: string, dataset: string): string {
  return path.join(root, 'state', 'schemas', `${source}.${dataset}.json`);
}

export function scanBronze(root: string, source: string, dataset: string): BronzeDataset {
  const dir = path.join(root, 'bronze', source, dataset);
  const files = fs.existsSync(dir)
    ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort().map((f) => path.join(dir, f))
    : [];
  const hash = crypto.createHash('sha256');
  for (const f of files) {
    const st = fs.statSync(f);
    hash.update(`${path.relative(dir, f)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  const first = files[0] ? path.relative(dir, files[0]).split(path.sep).slice(0, -1) : [];
  return { dir, files, partitionKeys: first.map((seg) => seg.slice(0, seg.indexOf('='))), fingerprint: hash.digest('hex') };
}

/** Files committed by runs up to and including `asOfRun` (run ids sort by start time). */
export function filesAsOf(dataset: BronzeDataset, asOfRun: string): string[] {
  return dataset.files.filter((f) => {
    const base = path.basename(f);
    const runId = base.slice(0, base.lastIndexOf('-'));
    return runId <= asOfRun;
  });
}

export function readParquetSql(files: string[] | string, partitionKeys: string[]): string {
  const target = Array.isArray(files) ? `[${files.map(quoteLiteral).join(', ')}]` : quoteLiteral(files);
  const types = partitionKeys.map((k) => `${quoteLiteral(k)}: 'VARCHAR'`).join(', ');
  return `read_parquet(${target}, hive_partitioning = true, union_by_name = true${types ? `, hive_types = {${types}}` : ''})`;
}

/** An empty relation with the recorded columns (or only the bookkeeping ones). */
export function emptyRelationSql(recorded: RecordedSchema | undefined): string {
  const cols = [
    ...(recorded?.columns ?? []).map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`),
    `CAST(NULL AS VARCHAR) AS _run_id`,
    `CAST(NULL AS TIMESTAMPTZ) AS _extracted_at`,
    ...[...(recorded?.partitionKeys ?? []), 'year', 'month', 'day'].map((k) => `CAST(NULL AS VARCHAR) AS ${quoteIdent(k)}`),
  ];
  return `(SELECT ${cols.join(', ')} WHERE false)`;
}

export function readRecordedSchema(root: string, source: string, dataset: string): RecordedSchema | undefined {
  try {
    return JSON.parse(fs.readFileSync(schemaFile(root, source, dataset), 'utf8')) as RecordedSchema;
  } catch {
    return undefined;
  }
}
