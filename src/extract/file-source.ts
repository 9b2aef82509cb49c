/**
 * File sources: CSV (parsed by DuckDB's reader, which is fast and reports malformed and ragged
 * rows with their line numbers) and JSON (an array or NDJSON, parsed line by line so one broken
 * line is quarantined with its number instead of failing the file). Both feed the same
 * validation and bronze writer as every other source.
 *
 * Without a schema, types are inferred (DuckDB's CSV sniffer; JSON values' own types) and
 * recorded in `<root>/state/schemas/<source>.<dataset>.json`. Naive CSV timestamps (no offset)
 * stay text in bronze: their time zone is the models' call.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { z } from 'zod';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBTypeId } from '../db/duckdb.js';
import { parseOptions } from '../config.js';
import { ConfigError } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { plainConverter, readerRows, type PlainValue } from '../db/values.js';
import { columnsOf, expectsDate, shapeOf, sqlTypeOf } from '../bronze/schema-map.js';
import { writeFileAtomic } from '../bronze/commit.js';
import { defineSource, type AnySource, type ExtractContext, type PartitionBy } from './source.js';
import { limitsOverrideSchema } from '../config.js';
import { listTree } from '../fs-list.js';

const BATCH_ROWS = 10_000;

const csvOptionsSchema = z.strictObject({
  delimiter: z.string().min(1).max(4).optional(),
  header: z.boolean().default(true),
  quote: z.string().max(1).optional(),
  escape: z.string().max(1).optional(),
  nullStr: z.union([z.string(), z.array(z.string())]).optional(),
  skip: z.number().int().nonnegative().optional(),
  encoding: z.enum(['utf-8', 'utf-16', 'latin-1']).optional(),
});

const fileSourceSchema = z
  .strictObject({
    source: z.string(),
    dataset: z.string(),
    path: z.string().min(1).optional(),
    glob: z.string().min(1).optional(),
    schema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'must be a zod schema (z.object({...}))').optional(),
    partitionBy: z.unknown().optional(),
    primaryKey: z.array(z.string()).optional(),
    limits: limitsOverrideSchema.optional(),
    csv: csvOptionsSchema.optional(),
  })
  .refine((o) => Boolean(o.path) !== Boolean(o.glob), { message: 'give exactly one of "path" or "glob"', path: ['path'] });

export interface FileSourceOptions {
  source: string;
  dataset: string;
  /** One file… */
  path?: string;
  /** …or a glob (`data/in/*.csv`). */
  glob?: string;
  /** Optional: without it, types are inferred and recorded. */
  schema?: z.ZodType;
  partitionBy?: PartitionBy;
  primaryKey?: string[];
  limits?: z.input<typeof limitsOverrideSchema>;
}

export interface CsvSourceOptions extends FileSourceOptions {
  csv?: z.input<typeof csvOptionsSchema>;
}

/** zod schema of one inferred column (all nullable: a file says nothing about required). */
function zodForDuckType(typeId: DuckDBTypeId): z.ZodType {
  switch (typeId) {
    case DuckDBTypeId.BOOLEAN:
      return z.boolean().nullable();
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return z.number().int().nullable();
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
      return z.number().nullable();
    case DuckDBTypeId.DATE:
      return z.iso.date().nullable();
    case DuckDBTypeId.TIMESTAMP_TZ:
      return z.iso.datetime({ offset: true }).nullable();
    default:
      return z.string().nullable();
  }
}

function recordInferred(ctx: ExtractContext, columns: { name: string; type: string }[]): void {
  const file = path.join(ctx.root, 'state', 'schemas', `${ctx.source}.${ctx.dataset}.inferred.json`);
  writeFileAtomic(file, JSON.stringify({ source: ctx.source, dataset: ctx.dataset, runId: ctx.runId, inferredAt: new Date().toISOString(), columns }, null, 2));
  ctx.logger.info(`inferred ${columns.length} columns: ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
}

function filesOf(where: string, o: { path?: string; glob?: string }): string {
  const target = path.resolve(o.path ?? o.glob!);
  if (o.path && !fs.existsSync(target)) throw new ConfigError(`${where}: file ${JSON.stringify(o.path)} does not exist`);
  return target;
}

function csvReadSql(files: string, csv: z.output<typeof csvOptionsSchema>, types: Record<string, string> | undefined, rejects: string): string {
  const opts = [
    `header = ${csv.header}`,
    `store_rejects = true`,
    `rejects_table = ${quoteLiteral(`${rejects}_errors`)}`,
    `rejects_scan = ${quoteLiteral(`${rejects}_scans`)}`,
    `filename = false`,
  ];
  if (csv.delimiter) opts.push(`delim = ${quoteLiteral(csv.delimiter)}`);
  if (csv.quote !== undefined) opts.push(`quote = ${quoteLiteral(csv.quote)}`);
  if (csv.escape !== undefined) opts.push(`escape = ${quoteLiteral(csv.escape)}`);
  if (csv.skip !== undefined) opts.push(`skip = ${csv.skip}`);
  if (csv.encoding) opts.push(`encoding = ${quoteLiteral(csv.encoding)}`);
  if (csv.nullStr !== undefined) {
    const list = Array.isArray(csv.nullStr) ? csv.nullStr : [csv.nullStr];
    opts.push(`nullstr = [${list.map(quoteLiteral).join(', ')}]`);
  }
  if (types && Object.keys(types).length > 0) {
    opts.push(`types = {${Object.entries(types).map(([k, v]) => `${quoteLiteral(k)}: ${quoteLiteral(v)}`).join(', ')}}`);
  }
  return `SELECT * FROM read_csv(${quoteLiteral(files)}, ${opts.join(', ')})`;
}

/** Types DuckDB should parse a CSV column as, from the zod schema (scalars only). */
function csvTypes(schema: z.ZodType): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, field] of Object.entries(shapeOf(schema))) {
    const t = sqlTypeOf(field);
    if (['VARCHAR', 'DOUBLE', 'BIGINT', 'BOOLEAN', 'DATE', 'TIMESTAMPTZ', 'HUGEINT'].includes(t)) out[name] = t === 'TIMESTAMPTZ' ? 'TIMESTAMP WITH TIME ZONE' : t;
  }
  return out;
}

/**
 * A CSV file (or a glob of them) as a source. Malformed and ragged rows go to quarantine with
 * their line number and DuckDB's reason.
 * @example
 * csvSource({ source: 'shop', dataset: 'orders', path: 'exports/orders.csv' })
 */
export function csvSource(options: CsvSourceOptions): AnySource {
  const where = `csvSource(${JSON.stringify(String(options?.source))}/${JSON.stringify(String(options?.dataset))})`;
  const o = parseOptions(fileSourceSchema, options, where);
  const csv = csvOptionsSchema.parse(o.csv ?? {});
  const given = options.schema;
  const dateFields = new Set(given ? Object.entries(shapeOf(given)).filter(([, f]) => expectsDate(f)).map(([k]) => k) : []);
  const rejectsName = `rej_${o.source}_${o.dataset}`;

  async function* extract(ctx: ExtractContext): AsyncGenerator<Record<string, unknown>[]> {
    const files = filesOf(where, o);
    const c = await ctx.connect();
    const rejects = `${rejectsName}_${Math.random().toString(36).slice(2, 8)}`;
    const result = await c.stream(csvReadSql(files, csv, given ? csvTypes(given) : undefined, rejects));
    const names = result.deduplicatedColumnNames();
    const types = result.columnTypes();
    const tz = new Set(names.filter((_, i) => types[i]!.typeId === DuckDBTypeId.TIMESTAMP_TZ && !dateFields.has(names[i]!)));
    const naive = new Set(names.filter((_, i) => types[i]!.typeId === DuckDBTypeId.TIMESTAMP));
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const rows = chunk.convertRows(plainConverter);
      yield rows.map((row) => {
        const record: Record<string, unknown> = {};
        row.forEach((value, i) => {
          const name = names[i]!;
          record[name] = tz.has(name) && value instanceof Date ? value.toISOString() : naive.has(name) && value instanceof Date ? naiveText(value) : value;
        });
        return record;
      });
      ctx.stats.pages += 1;
    }
    await sendRejects(ctx, c, rejects);
  }

  return fileSource(o, options.partitionBy, given, extract, async (ctx) => {
    const c = await ctx.connect();
    const files = filesOf(where, o);
    const reader = await c.runAndReadAll(`DESCRIBE ${csvReadSql(files, csv, undefined, `${rejectsName}_sniff`)}`);
    const described = readerRows(reader);
    const probe = await c.runAndReadAll(`${csvReadSql(files, csv, undefined, `${rejectsName}_probe`)} LIMIT 0`);
    const probeTypes = probe.columnTypes();
    const shape: Record<string, z.ZodType> = {};
    probe.deduplicatedColumnNames().forEach((name, i) => (shape[name] = zodForDuckType(probeTypes[i]!.typeId)));
    recordInferred(ctx, described.map((r) => ({ name: String(r.column_name), type: String(r.column_type) })));
    return z.object(shape);
  });
}

/**
 * The source of a file reader: with a schema, a plain source; without one, `resolve` infers the
 * schema at run time (and the bronze columns, partition fields moved to the path).
 */
function fileSource(
  o: { source: string; dataset: string; primaryKey?: string[]; limits?: z.output<typeof limitsOverrideSchema> },
  partitionBy: PartitionBy | undefined,
  given: z.ZodType | undefined,
  extract: (ctx: ExtractContext) => AsyncGenerator<unknown[]>,
  infer: (ctx: ExtractContext) => Promise<z.ZodType>,
): AnySource {
  const source = defineSource({
    source: o.source,
    dataset: o.dataset,
    // Without a schema, a placeholder until `resolve` runs; replaced before any record is validated.
    schema: (given ?? z.object({})) as z.ZodType<Record<string, unknown>>,
    ...(partitionBy ? { partitionBy } : {}),
    ...(o.primaryKey ? { primaryKey: o.primaryKey } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    extract,
  });
  if (given) return source;
  const where = `${o.source}/${o.dataset}`;
  return {
    ...source,
    async resolve(ctx: ExtractContext) {
      const schema = await infer(ctx);
      return { schema, columns: columnsWithoutPartitions(schema, source, where) };
    },
  };
}

function columnsWithoutPartitions(schema: z.ZodType, source: AnySource, where: string) {
  const keys = new Set(source.partitionKeys.map((k) => k.name));
  return columnsOf(schema, where).filter((c) => !keys.has(c.name));
}

function naiveText(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, '');
}

async function sendRejects(ctx: ExtractContext, c: DuckDBConnection, rejects: string): Promise<void> {
  const rows = readerRows(
    await c.runAndReadAll(
      `SELECT e.line, e.column_name, e.error_type, e.csv_line, e.error_message, s.file_path
       FROM ${quoteIdent(`${rejects}_errors`)} e LEFT JOIN ${quoteIdent(`${rejects}_scans`)} s USING (scan_id, file_id)
       ORDER BY s.file_path, e.line`,
    ),
  );
  // One row can have several errors; quarantine it once with every reason.
  const byLine = new Map<string, { line: number; file: string; raw: PlainValue; reasons: string[] }>();
  for (const r of rows) {
    const key = `${r.file_path}:${r.line}`;
    const entry = byLine.get(key) ?? { line: Number(r.line), file: String(r.file_path), raw: r.csv_line ?? null, reasons: [] };
    entry.reasons.push(`${r.error_type}${r.column_name ? ` in column "${r.column_name}"` : ''}: ${r.error_message}`);
    byLine.set(key, entry);
  }
  for (const e of byLine.values()) ctx.reject(e.raw, e.reasons.join('; '), { line: e.line, file: e.file });
}

/**
 * A JSON file — an array of records or NDJSON (one record per line) — as a source. A line that is
 * not valid JSON goes to quarantine with its number.
 * @example
 * jsonSource({ source: 'shop', dataset: 'customers', glob: 'exports/customers-*.ndjson' })
 */
export function jsonSource(options: FileSourceOptions): AnySource {
  const where = `jsonSource(${JSON.stringify(String(options?.source))}/${JSON.stringify(String(options?.dataset))})`;
  const o = parseOptions(fileSourceSchema, options, where);
  if (o.csv) throw new ConfigError(`${where}: unknown option "csv" (this is a JSON source)`);
  const given = options.schema;

  async function* extract(ctx: ExtractContext): AsyncGenerator<unknown[]> {
    for (const file of await listFiles(where, o)) {
      for await (const batch of readJsonFile(file, ctx)) {
        ctx.stats.pages += 1;
        yield batch;
      }
    }
  }

  return fileSource(o, options.partitionBy, given, extract, async (ctx) => {
    // Infer from the first records: JSON carries its own types. Nested values stay JSON.
    const shape: Record<string, z.ZodType> = {};
    const seen: Record<string, string> = {};
    let n = 0;
    outer: for (const file of await listFiles(where, o)) {
      for await (const batch of readJsonFile(file, undefined)) {
        for (const record of batch) {
          if (record && typeof record === 'object' && !Array.isArray(record)) {
            for (const [k, v] of Object.entries(record)) seen[k] = mergeKind(seen[k], kindOf(v));
          }
          if (++n >= 1000) break outer;
        }
      }
    }
    for (const [k, kind] of Object.entries(seen)) shape[k] = zodForKind(kind);
    recordInferred(ctx, Object.entries(seen).map(([name, kind]) => ({ name, type: sqlTypeOf(shape[name]) + (kind === 'null' ? ' (only nulls seen)' : '') })));
    return z.object(shape);
  });
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'json';
}

function mergeKind(a: string | undefined, b: string): string {
  if (!a || a === 'null') return b;
  if (b === 'null' || a === b) return a;
  if ((a === 'int' && b === 'number') || (a === 'number' && b === 'int')) return 'number';
  return 'json';
}

function zodForKind(kind: string): z.ZodType {
  switch (kind) {
    case 'int':
      return z.number().int().nullable().optional();
    case 'number':
      return z.number().nullable().optional();
    case 'boolean':
      return z.boolean().nullable().optional();
    case 'string':
      return z.string().nullable().optional();
    default:
      return z.unknown().optional();
  }
}

async function listFiles(where: string, o: { path?: string; glob?: string }): Promise<string[]> {
  if (o.path) return [filesOf(where, o)];
  const pattern = path.resolve(o.glob!);
  const files: string[] = [];
  // Node 20 has no fs.glob: walk from the folder before the first wildcard.
  const base = pattern.slice(0, pattern.search(/[*?[{]/)).replace(/[^/]*$/, '') || '/';
  const re = new RegExp(
    `^${pattern
      .slice(base.length)
      .split('**/')
      .map((part) => part.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
      .join('(?:.*/)?')}$`,
  );
  if (!fs.existsSync(base)) return [];
  for (const rel of listTree(base)) {
    if (re.test(rel) && fs.statSync(path.join(base, rel)).isFile()) files.push(path.join(base, rel));
  }
  return files.sort();
}

/** Yields batches of records; a broken NDJSON line is quarantined (when ctx is given) with its number. */
async function* readJsonFile(file: string, ctx: ExtractContext | undefined): AsyncGenerator<unknown[]> {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(64);
  const n = fs.readSync(fd, head, 0, 64, 0);
  fs.closeSync(fd);
  const first = head.subarray(0, n).toString('utf8').trimStart()[0];
  if (first === '[') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`jsonSource: ${file} is not valid JSON: ${(error as Error).message}`);
    }
    const all = parsed as unknown[];
    for (let i = 0; i < all.length; i += BATCH_ROWS) yield all.slice(i, i + BATCH_ROWS);
    return;
  }
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let batch: unknown[] = [];
  let lineNo = 0;
  for await (const line of lines) {
    lineNo += 1;
    if (line.trim() === '') continue;
    try {
      batch.push(JSON.parse(line));
    } catch (error) {
      ctx?.reject(line.length > 10_000 ? `${line.slice(0, 10_000)}…` : line, `invalid JSON: ${(error as Error).message}`, { line: lineNo, file });
      continue;
    }
    if (batch.length >= BATCH_ROWS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
