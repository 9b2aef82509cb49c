/**
 * File sources: CSV (parsed by DuckDB's reader, which is fast and reports malformed and ragged
 * rows with their line numbers) and JSON (an array or NDJSON, parsed line by line so one broken
 * line is quarantined with its number instead of failing the file). Both feed the same
 * validation and bronze writer as every other source.
 *
 * Without a schema, types are inferred (DuckDB's CSV sniffer; JSON values' own types, over every
 * record) and recorded in `<root>/state/schemas/<source>.<dataset>.inferred.json`. Naive CSV
 * timestamps (no offset) stay text in bronze, as the file wrote them: their time zone is the
 * models' call. A column a schema types as an instant reads a naive timestamp in the lake's time
 * zone. Timestamps reach bronze with their microseconds (a JS `Date` would cut them).
 *
 * Inferred field names are kept as the file gives them or refused: a name bronze reserves
 * (`year`, `month`, `day`, `_run_id`, `_extracted_at`) or two names differing only in case
 * (one DuckDB column), or a CSV header naming one field twice, fail the source with an error
 * naming the fields and the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import zlib from 'node:zlib';
import { z } from 'zod';
import type { DuckDBConnection, DuckDBTimestampTZValue, DuckDBValueConverter } from '@duckdb/node-api';
import { DuckDBTypeId } from '../db/duckdb.js';
import { parseOptions } from '../config.js';
import { parseJsonExact } from './json-exact.js';
import { ConfigError } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { floorDiv, plainConverter, readerRows, safeInteger, type PlainValue, type Row } from '../db/values.js';
import { BIGINT_SQL_TYPE, bigintPlanOf, columnSpec, expectsDate, shapeOf, sqlTypeOf, withBigints, type ColumnSpec } from '../bronze/schema-map.js';
import { DATE_KEYS } from '../bronze/partition.js';
import { writeFileAtomic } from '../bronze/commit.js';
import { defineSource, locateRecords, locatorOf, PROTO_FIELD, type AnySource, type ExtractContext, type PartitionBy } from './source.js';
import { limitsOverrideSchema } from '../config.js';
import { listTree } from '../fs-list.js';
import { readRecordedSchema } from '../transform/source-relation.js';
import { processTmpDirName } from '../bronze/recover.js';
import { currentProcess } from '../metrics/process-identity.js';

const BATCH_ROWS = 10_000;

/** Text that becomes a SQL literal of read_csv: a NUL there failed the source without naming the option. */
const csvText = () => z.string().refine((s) => !s.includes('\u0000'), 'must not hold a NUL character');
const csvOptionsSchema = z.strictObject({
  delimiter: csvText().min(1).max(4).optional(),
  header: z.boolean().default(true),
  quote: csvText().max(1).optional(),
  escape: csvText().max(1).optional(),
  nullStr: z.union([csvText(), z.array(csvText())]).optional(),
  skip: z.number().int().nonnegative().optional(),
  /** `windows-1252`: Excel's and most Brazilian ERPs' "ANSI" (DuckDB's latin-1 refuses its “ ” – € bytes); read through a UTF-8 copy. */
  encoding: z.enum(['utf-8', 'utf-16', 'latin-1', 'windows-1252']).optional(),
  /**
   * `','` for Brazilian and European exports (`1.234,56`): a number column's `.` then only groups
   * thousands. DuckDB's `decimal_separator` knows no thousands separator (`1.234,56` was a cast
   * error, `1.500` read as 1.5), so such columns are read as text and converted here.
   */
  decimal: z.enum(['.', ',']).optional(),
}).refine((o) => !(o.decimal === ',' && o.delimiter === ','), { message: 'must not be "," when "delimiter" is "," too (a decimal comma needs another delimiter, usually ";")', path: ['decimal'] });

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
  /** …or a glob (`data/in/*.csv`, `{orders,payments}-*.csv`); a wildcard skips dotfiles (macOS's `._x.csv`) unless the pattern's part starts with `.`. */
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

/**
 * Inferred integer columns whose values may pass ±2^53: DuckDB hands those over as a JS bigint
 * (smaller ones as a number), so they accept both and travel to bronze as text
 * (`exactIntegerColumn`): a BIGINT keeps every digit. UBIGINT and HUGEINT (which DuckDB's sniffer
 * does not infer) become DECIMAL(38,0), as `z.bigint()` fields do.
 */
const EXACT_INTEGER_TYPES: Partial<Record<DuckDBTypeId, 'BIGINT' | typeof BIGINT_SQL_TYPE>> = {
  [DuckDBTypeId.BIGINT]: 'BIGINT',
  [DuckDBTypeId.UBIGINT]: BIGINT_SQL_TYPE,
  [DuckDBTypeId.HUGEINT]: BIGINT_SQL_TYPE,
};

/** zod schema of one inferred column (all nullable: a file says nothing about required). */
function zodForDuckType(typeId: DuckDBTypeId): z.ZodType {
  if (EXACT_INTEGER_TYPES[typeId]) return z.union([z.number().int(), z.bigint()]).nullable();
  switch (typeId) {
    case DuckDBTypeId.BOOLEAN:
      return z.boolean().nullable();
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return z.number().int().nullable();
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      // DuckDB reads `inf` and `nan` into a DOUBLE (z.number() refuses them): stored as read.
      return anyDouble().nullable();
    case DuckDBTypeId.DECIMAL:
      return z.number().nullable();
    case DuckDBTypeId.DATE:
      return z.iso.date().nullable();
    case DuckDBTypeId.TIMESTAMP_TZ:
      return z.iso.datetime({ offset: true }).nullable();
    default:
      return z.string().nullable();
  }
}

/** A number, NaN or ±Infinity included, as a DOUBLE column holds them (see `anyDoubleColumn`). */
const anyDouble = (): z.ZodType<number> => z.union([z.number(), z.nan(), z.literal(Infinity), z.literal(-Infinity)]);

/** The bronze column of an `anyDouble` field (its union alone would be typed JSON). */
function anyDoubleColumn(name: string): ColumnSpec {
  return columnSpec(name, z.number());
}

function recordInferred(ctx: ExtractContext, columns: { name: string; type: string }[]): void {
  const file = path.join(ctx.root, 'state', 'schemas', `${ctx.source}.${ctx.dataset}.inferred.json`);
  writeFileAtomic(file, JSON.stringify({ source: ctx.source, dataset: ctx.dataset, runId: ctx.runId, inferredAt: new Date().toISOString(), columns }, null, 2));
  ctx.logger.info(`inferred ${columns.length} columns: ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
}

/**
 * What DuckDB's readers should open: a glob as given; a `path` as exactly that file, its glob
 * characters (`*`, `?`, `[`) escaped as one-character classes (`orders[1].csv` would otherwise
 * read `orders1.csv`).
 */
function filesOf(where: string, o: { path?: string; glob?: string }): string {
  const target = path.resolve(o.path ?? o.glob!);
  if (!o.path) return target;
  if (!fs.existsSync(target)) throw new ConfigError(`${where}: file ${JSON.stringify(o.path)} does not exist`);
  return literalGlob(target);
}

/** A file name as a DuckDB glob matching only itself: `*`, `?` and `[` as one-character classes. */
function literalGlob(file: string): string {
  return file.replace(/[*?[]/g, '[$&]');
}

/** The file (or glob) a source reads, as errors name it. */
function shownFiles(o: { path?: string; glob?: string }): string {
  return path.resolve(o.path ?? o.glob!);
}

/** Names bronze adds to every row or puts in the path (as `defineSource` refuses them in a schema). */
const RESERVED_FIELDS: readonly string[] = ['_run_id', '_extracted_at', ...DATE_KEYS];

/**
 * Refuses inferred field names bronze cannot keep as they are: a reserved name (DuckDB would
 * write `year_1=…` folders) or two names differing only in case (DuckDB would rename one
 * `ID_1`). `fields` maps each name to the file it was read from.
 */
function checkInferredNames(where: string, fields: Map<string, string>): void {
  const byLower = new Map<string, string>();
  for (const [name, file] of fields) {
    if (name === '') throw new ConfigError(`${where}: ${file} has a field named "" (the empty string), which no DuckDB column can be: rename it in the file, or pass a schema (with a transform) without it`);
    if (name === '__proto__') throw new ConfigError(`${where}: ${PROTO_FIELD} (it is in ${file}): rename it in the file, or pass a schema (with a transform) without it`);
    const lower = name.toLowerCase();
    const reserved = RESERVED_FIELDS.find((r) => r === lower);
    if (reserved !== undefined) {
      throw new ConfigError(
        `${where}: field ${JSON.stringify(name)} of ${file} is reserved for bronze (${RESERVED_FIELDS.join(', ')} are added by the lake): rename it in the file, or pass a schema without it`,
      );
    }
    const other = byLower.get(lower);
    if (other !== undefined) {
      const otherFile = fields.get(other)!;
      const inFiles = otherFile === file ? `of ${file}` : `of ${otherFile} and ${file}`;
      throw new ConfigError(
        `${where}: fields ${JSON.stringify(other)} and ${JSON.stringify(name)} ${inFiles} differ only in case, and DuckDB column names do not: rename one in the file, or pass a schema with one of them`,
      );
    }
    byLower.set(lower, name);
  }
}

/**
 * The longest CSV row DuckDB reads, in bytes (its default, 2 MB, failed the whole source over one
 * long product description). A longer row still fails the read: DuckDB's sniffer does not reject it.
 */
const MAX_LINE_BYTES = 32 * 1024 * 1024;

/**
 * read_csv options of the file's dialect (as the user gave them), and the longest row read. The
 * buffer is one row's bound: DuckDB's default grows with max_line_size and cost ~30 ms per
 * read even of a two-line file, and a glob is read file by file, several times each.
 */
function csvDialect(csv: z.output<typeof csvOptionsSchema>): string[] {
  const opts: string[] = [`max_line_size = ${MAX_LINE_BYTES}`, `buffer_size = ${MAX_LINE_BYTES}`];
  if (csv.delimiter) opts.push(`delim = ${quoteLiteral(csv.delimiter)}`);
  if (csv.quote !== undefined) opts.push(`quote = ${quoteLiteral(csv.quote)}`);
  if (csv.escape !== undefined) opts.push(`escape = ${quoteLiteral(csv.escape)}`);
  if (csv.skip !== undefined) opts.push(`skip = ${csv.skip}`);
  if (csv.encoding) opts.push(`encoding = ${quoteLiteral(csv.encoding)}`);
  if (csv.nullStr !== undefined) {
    const list = Array.isArray(csv.nullStr) ? csv.nullStr : [csv.nullStr];
    opts.push(`nullstr = [${list.map(quoteLiteral).join(', ')}]`);
  }
  return opts;
}

function csvReadSql(files: string, csv: z.output<typeof csvOptionsSchema>, types: Record<string, string> | undefined, rejects: string, extra: string[] = []): string {
  const opts = [
    `header = ${csv.header}`,
    `store_rejects = true`,
    `rejects_table = ${quoteLiteral(`${rejects}_errors`)}`,
    `rejects_scan = ${quoteLiteral(`${rejects}_scans`)}`,
    `filename = false`,
    ...csvDialect(csv),
    ...extra,
  ];
  if (types && Object.keys(types).length > 0) {
    opts.push(`types = {${Object.entries(types).map(([k, v]) => `${quoteLiteral(k)}: ${quoteLiteral(v)}`).join(', ')}}`);
  }
  return `SELECT * FROM read_csv(${quoteLiteral(files)}, ${opts.join(', ')})`;
}

/**
 * The CSV column names as the header spells them. DuckDB renames a header name equal to an
 * earlier one but for case (`id,ID` → `id`, `ID_1`) and names an empty one `column<i>`, so the
 * names it reports may not be the file's: when one looks renamed, the header row is read as data
 * to tell (an empty name is then `""`, refused by `checkInferredNames`). `file` names the file
 * in errors.
 */
async function csvHeaderNames(where: string, file: string, c: DuckDBConnection, files: string, csv: z.output<typeof csvOptionsSchema>, names: string[]): Promise<string[]> {
  const lower = new Set(names.map((n) => n.toLowerCase()));
  const renamed = names.some((n) => {
    if (/^column\d+$/.test(n)) return true;
    const base = /^(.*)_\d+$/.exec(n)?.[1];
    return base !== undefined && lower.has(base.toLowerCase());
  });
  if (!csv.header || !renamed) return names;
  // Without the user's nullstr: an empty header cell is then the one read as NULL.
  const opts = ['header = false', 'all_varchar = true', 'ignore_errors = true', 'filename = false', ...csvDialect({ ...csv, nullStr: undefined })];
  const reader = await c.runAndReadAll(`SELECT * FROM read_csv(${quoteLiteral(files)}, ${opts.join(', ')}) LIMIT 1`);
  const header = reader.getRows()[0];
  if (!header || header.length !== names.length) return names;
  // Exact duplicates (`a,a`) are refused: DuckDB would call the second `a_1`, which may be the
  // name of another column of the file (`a,a,a_1`), or of another file's.
  const seen = new Set<string>();
  return header.map((v, i) => {
    if (v === null) return '';
    if (typeof v !== 'string') return names[i]!;
    if (seen.has(v)) throw new ConfigError(`${where}: field ${JSON.stringify(v)} appears twice in the header of ${file}: rename one in the file`);
    seen.add(v);
    return v;
  });
}

/**
 * Of the DOUBLE columns DuckDB sniffed, those whose every value is an integer literal, with their
 * longest value's digit count. The sniffer types an integer past BIGINT (a 20-digit id, a 44-digit
 * NF-e key) as DOUBLE, which rounds it: up to 38 digits it is read as HUGEINT (DECIMAL(38,0) in
 * bronze, as `z.bigint()` fields), longer as text. A check for `scanText`.
 */
function integralDoubles(doubles: string[]): TextCheck<Map<string, number>> {
  return {
    exprs: doubles.flatMap((name, i) => {
      const v = quoteIdent(name);
      return [`bool_and(regexp_full_match(${v}, '[+-]?[0-9]+')) AS i${i}`, `max(length(ltrim(${v}, '+-'))) AS d${i}`];
    }),
    read(row) {
      const out = new Map<string, number>();
      doubles.forEach((name, i) => {
        if (row?.[`i${i}`] === true) out.set(name, Number(row[`d${i}`]));
      });
      return out;
    },
  };
}

/**
 * Aggregates over one file read as text, each answering one question about its columns: their
 * `exprs` (aliases unique across the checks) go into one SELECT, so the file is scanned once for all.
 */
interface TextCheck<T> {
  exprs: string[];
  read(row: Row | undefined): T;
}

/** Runs `checks` (those given) in one scan of `sql` (the file read as text, `all_varchar`): the row of their aliases. */
async function scanText(c: DuckDBConnection, sql: string, checks: (Pick<TextCheck<unknown>, 'exprs'> | undefined)[]): Promise<Row | undefined> {
  const exprs = checks.flatMap((k) => k?.exprs ?? []);
  if (exprs.length === 0) return undefined;
  return readerRows(await c.runAndReadAll(`SELECT ${exprs.join(', ')} FROM (${sql})`))[0];
}

/** A number written with a decimal comma, its `.` grouping thousands: `1.234,56`, `-10,5`, `1.500`, `7`. */
const COMMA_NUMBER = '[+-]?([0-9]{1,3}([.][0-9]{3})+|[0-9]+)(,[0-9]+)?';
const commaNumber = new RegExp(`^${COMMA_NUMBER}$`);

/**
 * The number a decimal-comma text holds (`1.234,56` → 1234.56); any other value as it was, so
 * the schema quarantines it with its text (`1,234.56` is no number here).
 */
function fromCommaNumber(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  return commaNumber.test(text) ? Number(text.replace(/\./g, '').replace(',', '.')) : value;
}

/** A number as DuckDB's CSV reader writes one: `2.7`, `-3`, `1e3`, `.5`. */
const numberText = /^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$/;

/**
 * The value of a schema's integer field, from its text: DuckDB's cast to BIGINT rounds (`2.7` was
 * stored as 3, past `.int()`), so it is read as text and the schema judges the number (2.7 is
 * quarantined). An integer keeps every digit (a bigint past 2^53); text that is no number stays
 * text, quarantined as written.
 */
function fromIntegerText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (/^[+-]?[0-9]+$/.test(text)) {
    if (text.length <= 15) return Number(text);
    return safeInteger(BigInt(text));
  }
  return numberText.test(text) ? Number(text) : value;
}

/**
 * `fromCommaNumber` for a schema's integer field: `1.500` → 1500 (DuckDB cast the text to a BIGINT
 * as 1.5, rounded to 2), every digit kept (a bigint past 2^53); a fraction (`1,5`) stays its text
 * for the quarantine.
 */
function fromCommaInteger(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (!commaNumber.test(text)) return value;
  const [whole, fraction] = text.replace(/\./g, '').split(',');
  if (fraction !== undefined && !/^0+$/.test(fraction)) return value;
  return safeInteger(BigInt(whole!));
}

/**
 * Of a file's DOUBLE and VARCHAR columns, those whose every value is a decimal-comma number
 * (`csv: { decimal: ',' }`; a text column needs one with a comma): DuckDB reads `1.500` as 1.5
 * and `1.234,56` as text. A check for `scanText`.
 */
function commaNumberColumns(doubles: string[], texts: string[]): TextCheck<Set<string>> {
  const candidates = [...doubles, ...texts];
  return {
    exprs: candidates.map((name, i) => {
      const v = `trim(${quoteIdent(name)})`;
      // A text column needs a comma too: codes of digits (`01310`, a CEP prefix) stay text.
      const comma = i >= doubles.length ? ` AND bool_or(contains(${v}, ','))` : '';
      return `(bool_and(regexp_full_match(${v}, '${COMMA_NUMBER}'))${comma}) AS c${i}`;
    }),
    read: (row) => new Set(candidates.filter((_, i) => row?.[`c${i}`] === true)),
  };
}

/**
 * Of the DOUBLE columns DuckDB sniffed, those whose every value is an integer or `1.500`-like
 * (1 to 3 digits, not starting with 0, then groups of three): a decimal-comma export's thousands,
 * which DuckDB reads as 1.5. A check for `scanText`.
 */
function thousandsLike(doubles: string[]): TextCheck<string[]> {
  const grouped = '[+-]?[1-9][0-9]{0,2}([.][0-9]{3})+';
  return {
    exprs: doubles.map((name, i) => {
      const v = `trim(${quoteIdent(name)})`;
      return `(bool_and(regexp_full_match(${v}, '${grouped}|[+-]?[0-9]+')) AND bool_or(regexp_full_match(${v}, '${grouped}'))) AS g${i}`;
    }),
    read: (row) => doubles.filter((_, i) => row?.[`g${i}`] === true),
  };
}

/** Types DuckDB should parse a CSV column as, from the zod schema (scalars only). */
function csvTypes(schema: z.ZodType): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, field] of Object.entries(shapeOf(schema))) {
    const t = sqlTypeOf(field);
    if (['VARCHAR', 'DOUBLE', 'BIGINT', 'BOOLEAN', 'DATE', 'TIMESTAMPTZ'].includes(t)) out[name] = t === 'TIMESTAMPTZ' ? 'TIMESTAMP WITH TIME ZONE' : t;
    else if (t === BIGINT_SQL_TYPE) out[name] = 'HUGEINT'; // read exactly; zod gets a bigint
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
  const parsed = csvOptionsSchema.parse(o.csv ?? {});
  // DuckDB reads a UTF-8 copy of a Windows-1252 file (one character per byte: same lines).
  const windows1252 = parsed.encoding === 'windows-1252';
  const csv = windows1252 ? { ...parsed, encoding: undefined } : parsed;
  const given = options.schema;
  const dateFields = new Set(given ? Object.entries(shapeOf(given)).filter(([, f]) => expectsDate(f)).map(([k]) => k) : []);
  // z.bigint() fields: DuckDB hands values within ±2^53 over as JS numbers, zod wants a bigint.
  const bigints = bigintPlanOf(given);
  const rejectsName = `rej_${o.source}_${o.dataset}`;
  // The schema's integer fields, and with a decimal comma its number fields, are read as text and
  // converted (fromIntegerText, fromCommaNumber, fromCommaInteger).
  const schemaTypes = given ? csvTypes(given) : undefined;
  const schemaFromText = new Map<string, (value: unknown) => unknown>();
  for (const [name, type] of Object.entries(schemaTypes ?? {})) {
    const integer = type === 'BIGINT' || type === 'HUGEINT';
    if (csv.decimal === ',' && type === 'DOUBLE') schemaFromText.set(name, fromCommaNumber);
    else if (integer) schemaFromText.set(name, csv.decimal === ',' ? fromCommaInteger : fromIntegerText);
  }
  for (const name of schemaFromText.keys()) schemaTypes![name] = 'VARCHAR';
  // A file without a header has its columns named by the schema, in order (DuckDB would call them column0…).
  const schemaNames = given && !csv.header ? [`names = [${Object.keys(shapeOf(given)).map(quoteLiteral).join(', ')}]`] : [];

  /**
   * A glob's files are read one by one, each with its own header: DuckDB reads a glob with the
   * first file's columns, so a column a later export gained (`email` since February) was cut,
   * and one it lost failed the read. Without a schema, the columns are the union over the files,
   * a column typed differently in two files read as text in all (`inferredTypes`, per run).
   */
  const inferredTypes = new Map<string, { types: Record<string, string>; commaNumbers: Set<string>; names: Map<string, string[]> }>();
  /** Each file to read: as DuckDB reads it (`read`, its glob characters literal) and as errors name it. */
  const filesToRead = async (ctx: ExtractContext): Promise<{ read: string; shown: string }[]> => {
    if (o.path) return [{ read: filesOf(where, o), shown: shownFiles(o) }];
    const files = await listFiles(where, o);
    ctx.logger.debug(`${files.length} file(s) match ${shownFiles(o)}`);
    return files.map((f) => ({ read: literalGlob(f), shown: f }));
  };

  /**
   * `types` for the columns a file has (`names`, as DuckDB names them): DuckDB refuses a type for
   * a column the file lacks (an optional field, a column of other files), or, storing rejects,
   * ignores it or gives it to another column.
   */
  const typesOf = (types: Record<string, string> | undefined, names: Iterable<string>): Record<string, string> | undefined => {
    if (!types || Object.keys(types).length === 0) return types;
    const has = new Set(names);
    return Object.fromEntries(Object.entries(types).filter(([name]) => has.has(name)));
  };

  /** `types` for the columns `files` has, read from the file (one statement). */
  const typesIn = async (c: DuckDBConnection, files: string, types: Record<string, string> | undefined): Promise<Record<string, string> | undefined> => {
    if (!types || Object.keys(types).length === 0) return types;
    return typesOf(types, (await c.runAndReadAll(`${csvReadSql(files, csv, undefined, `${rejectsName}_names`, schemaNames)} LIMIT 0`)).deduplicatedColumnNames());
  };

  async function* extract(ctx: ExtractContext): AsyncGenerator<Record<string, unknown>[]> {
    try {
      yield* read(ctx);
    } catch (error) {
      throw shortCsvError(error);
    }
  }

  async function* read(ctx: ExtractContext): AsyncGenerator<Record<string, unknown>[]> {
    // The lake's engine reads naive timestamps of a column typed TIMESTAMPTZ in the lake's time zone (its session TimeZone).
    const c = await ctx.connect();
    const inferred = inferredTypes.get(ctx.runId);
    inferredTypes.delete(ctx.runId);
    const types = given ? schemaTypes : inferred?.types;
    const fromText = given ? schemaFromText : new Map([...(inferred?.commaNumbers ?? [])].map((name) => [name, fromCommaNumber]));
    // The columns each file is expected to have: those the inference read in it, else those of
    // the file before (a glob's exports mostly share a header), else every typed field.
    const expected: { names?: string[] } = {};
    for (const file of await filesToRead(ctx)) {
      const copy = windows1252 ? await utf8Copy(ctx, file.shown) : undefined;
      try {
        expected.names = inferred?.names.get(file.shown) ?? expected.names;
        yield* readFile(ctx, c, copy ? { read: literalGlob(copy), shown: file.shown, text: copy } : { ...file, text: file.shown }, types, fromText, expected);
      } catch (error) {
        throw encodingError(error, file.shown);
      } finally {
        if (copy) fs.rmSync(copy, { force: true });
      }
    }
  }

  /** One file's records; `text` is the file whose lines the quarantine counts (a UTF-8 copy's, a Windows-1252 file's). */
  async function* readFile(
    ctx: ExtractContext,
    c: DuckDBConnection,
    { read: files, shown, text }: { read: string; shown: string; text: string },
    types: Record<string, string> | undefined,
    fromText: Map<string, (value: unknown) => unknown>,
    expected: { names?: string[] },
  ): AsyncGenerator<Record<string, unknown>[]> {
    // DuckDB's reader gives NULL, not a cast error, for text a TIMESTAMPTZ column cannot parse
    // (`25/12/2024 14:30`): such columns are read as text and cast here, the text kept beside
    // them, so a value that is no instant reaches the schema (and the quarantine) as written.
    const start = async (fileTypes: Record<string, string> | undefined) => {
      const rejects = `${rejectsName}_${Math.random().toString(36).slice(2, 8)}`;
      const instants = Object.keys(fileTypes ?? {}).filter((k) => fileTypes![k] === 'TIMESTAMP WITH TIME ZONE');
      const readTypes = instants.length > 0 ? { ...fileTypes, ...Object.fromEntries(instants.map((k) => [k, 'VARCHAR'])) } : fileTypes;
      const read = csvReadSql(files, csv, readTypes, rejects, schemaNames);
      const result = await c.stream(
        instants.length === 0
          ? read
          : `SELECT * REPLACE (${instants.map((k) => `TRY_CAST(${quoteIdent(k)} AS TIMESTAMPTZ) AS ${quoteIdent(k)}`).join(', ')}), ${instants.map((k, i) => `${quoteIdent(k)} AS duckhouse_text_${i}`).join(', ')} FROM (${read})`,
      );
      return { fileTypes, rejects, instants, result, names: result.deduplicatedColumnNames().slice(0, result.columnCount - instants.length) };
    };
    // The read starts typed for the columns the file is expected to have (`expected`, or every
    // typed field), not after a statement reading its names: DuckDB names a file's columns alike
    // whatever their types. Typed otherwise than its columns (a file without an optional field,
    // or changed since the inference), it starts again typed for those it read; one that does not
    // start (a TIMESTAMPTZ field the file lacks, in the REPLACE: a Binder Error) after reading them.
    const retyped = async (error: unknown) => {
      if (!(error instanceof Error) || !error.message.startsWith('Binder Error')) throw error;
      return start(await typesIn(c, files, types));
    };
    let started = await start(typesOf(types, expected.names ?? Object.keys(types ?? {}))).catch(retyped);
    const actual = typesOf(types, started.names);
    if (!sameTypes(actual, started.fileTypes)) started = await start(actual);
    const { fileTypes, rejects, instants, result, names } = started;
    expected.names = names;
    // The line of each row, counted only once a record of the file is rejected by the schema.
    let rowLines: Promise<number[] | undefined> | undefined;
    const lineOf = async (row: number): Promise<{ file: string; line?: number }> => {
      rowLines ??= csvRowLines(ctx, text, csv, (name) => csvReadSql(files, csv, fileTypes, name, schemaNames)).catch(() => undefined);
      const line = (await rowLines)?.[row];
      return line === undefined ? { file: shown } : { file: shown, line };
    };
    let rowsBefore = 0;
    const converters = result.columnTypes().map((t, i) => csvConverter(t.typeId, dateFields.has(names[i]!)));
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const columns = converters.map((converter, i) => {
        const values = chunk.convertColumnValues(i, converter);
        const convert = fromText.get(names[i]!);
        return convert ? values.map(convert) : values;
      });
      const records: Record<string, unknown>[] = [];
      for (let r = 0; r < chunk.rowCount; r++) {
        const record: Record<string, unknown> = {};
        names.forEach((name, i) => {
          record[name] = columns[i]![r];
        });
        instants.forEach((name, i) => {
          if (record[name] === null) record[name] = columns[names.length + i]![r];
        });
        records.push(bigints ? withBigints(record, bigints) : record);
      }
      const first = rowsBefore;
      rowsBefore += records.length;
      yield locateRecords(records, (i) => lineOf(first + i));
      ctx.stats.pages += 1;
    }
    await sendRejects(ctx, c, rejects, csv.encoding, copyOf(text, shown));
  }

  /** One file's columns and types (`read` as DuckDB reads it, `shown` as errors name it); `headers` gathers each header name's first file. */
  async function inferFile(ctx: ExtractContext, c: DuckDBConnection, read: string, shown: string, headers: Map<string, string>): Promise<InferredFile> {
    // Every row votes (DuckDB samples 20,480 by default): a late `02000` or `SEM-REF` would
    // otherwise lose its zero or be quarantined as a bad integer.
    // Its first row, if any, tells the file has one (a row read typed is one read as text too).
    const probe = await c.runAndReadAll(`${csvReadSql(read, csv, undefined, `${rejectsName}_probe`, ['sample_size = -1'])} LIMIT 1`);
    const probeTypes = probe.columnTypes();
    const names = probe.deduplicatedColumnNames();
    for (const header of await csvHeaderNames(where, shown, c, read, csv, names)) if (!headers.has(header)) headers.set(header, shown);
    const doubles = names.filter((_, i) => probeTypes[i]!.typeId === DuckDBTypeId.DOUBLE);
    const intChecks = integralDoubles(doubles);
    const commaChecks = csv.decimal === ',' ? commaNumberColumns(doubles, names.filter((_, i) => probeTypes[i]!.typeId === DuckDBTypeId.VARCHAR)) : undefined;
    const groupChecks = csv.decimal === undefined ? thousandsLike(doubles) : undefined;
    const row = await scanText(
      c,
      csvReadSql(read, csv, undefined, `${rejectsName}_text`, ['all_varchar = true']),
      [intChecks, commaChecks, groupChecks],
    );
    const integral = intChecks.read(row);
    const commas = commaChecks?.read(row) ?? new Set<string>();
    for (const name of groupChecks?.read(row) ?? []) {
      if (integral.has(name)) continue;
      ctx.warn(
        `column "${name}" of ${shown}: every value is an integer or looks like a thousands-grouped one (1.500), read as a decimal point (1.5): if the file writes 1.500 for 1500, pass csv: { decimal: ',' }`,
      );
    }
    // Without a typed row, the text read tells (a row of values no type reads still has a say).
    const hasRows =
      probe.currentRowCount > 0 ||
      (await c.runAndReadAll(`SELECT 1 FROM (${csvReadSql(read, csv, undefined, `${rejectsName}_rows`, ['all_varchar = true'])}) LIMIT 1`)).currentRowCount > 0;
    return {
      hasRows,
      columns: names.map((name, i) => {
        if (commas.has(name)) return { name, type: 'DOUBLE', typeId: DuckDBTypeId.DOUBLE, comma: true };
        const digits = integral.get(name);
        if (digits !== undefined) return digits <= 38 ? { name, type: 'HUGEINT', typeId: DuckDBTypeId.HUGEINT } : { name, type: 'VARCHAR', typeId: DuckDBTypeId.VARCHAR };
        return { name, type: probeTypes[i]!.toString(), typeId: probeTypes[i]!.typeId };
      }),
    };
  }

  const infer = (ctx: ExtractContext): Promise<Inferred> => inferTypes(ctx).catch((error: unknown) => Promise.reject(shortCsvError(error)));
  return fileSource(where, o, options.partitionBy, given, extract, infer);

  async function inferTypes(ctx: ExtractContext): Promise<Inferred> {
    const c = await ctx.connect();
    /** Column → DuckDB type (as DuckDB names it) and type id, in first-seen order over the files. */
    const columns = new Map<string, { type: string; typeId: DuckDBTypeId; comma?: boolean }>();
    const mixed = new Set<string>();
    /** Each header name as the files spell it → the first file holding it: checked once for all files. */
    const headers = new Map<string, string>();
    /** Each file's columns, and whether it has a data row: only those that do vote on the types. */
    const files: InferredFile[] = [];
    /** Each file's columns as the inference read them: the extraction's first guess of the file's columns. */
    const names = new Map<string, string[]>();
    for (const file of await filesToRead(ctx)) {
      const { shown } = file;
      if (fs.statSync(shown).size === 0) {
        ctx.logger.warn(`${shown} is empty (0 bytes): it has no header, no rows, and no say in the columns`);
        continue;
      }
      const copy = windows1252 ? await utf8Copy(ctx, shown) : undefined;
      try {
        const inferredFile = await inferFile(ctx, c, copy ? literalGlob(copy) : file.read, shown, headers);
        files.push(inferredFile);
        names.set(shown, inferredFile.columns.map((col) => col.name));
      } catch (error) {
        throw encodingError(error, shown);
      } finally {
        if (copy) fs.rmSync(copy, { force: true });
      }
    }
    checkInferredNames(where, headers);
    // A header-only export (a day without orders) reads every column as text: it would retype the
    // others' columns, or all of them. It votes only when no file has a row (and no schema was recorded).
    const voting = files.some((f) => f.hasRows) ? files.filter((f) => f.hasRows) : files;
    for (const { name, type, typeId, comma } of voting.flatMap((f) => f.columns)) {
      const seen = columns.get(name);
      if (!seen) columns.set(name, { type, typeId, comma });
      else if (seen.typeId !== typeId || seen.comma !== comma) mixed.add(name);
    }
    const shape: Record<string, z.ZodType> = {};
    const exactIntegers = new Map<string, 'BIGINT' | typeof BIGINT_SQL_TYPE>();
    // Optional: a column of some files only is absent from the others' records (NULL in bronze).
    for (const [name, { typeId }] of columns) {
      if (mixed.has(name)) {
        shape[name] = z.string().nullable().optional();
        continue;
      }
      shape[name] = zodForDuckType(typeId).optional();
      const exact = EXACT_INTEGER_TYPES[typeId];
      if (exact) exactIntegers.set(name, exact);
    }
    // Read as text in every file: a column typed differently in two files, and naive timestamps,
    // which stay the text the file wrote (their zone is the models' call; DuckDB's reading would
    // reformat them).
    const asText = new Set([...columns].filter(([name, c]) => mixed.has(name) || c.typeId === DuckDBTypeId.TIMESTAMP).map(([name]) => name));
    // The extraction reads every column as typed here: its own sniffing samples, and would type a
    // column by the file's first rows again.
    // Decimal-comma columns are read as text too, and converted as read (fromCommaNumber).
    const commaNumbers = new Set([...columns].filter(([name, c]) => c.comma && !mixed.has(name)).map(([name]) => name));
    inferredTypes.set(ctx.runId, {
      types: Object.fromEntries([...columns].map(([name, c]) => [name, asText.has(name) || commaNumbers.has(name) ? 'VARCHAR' : c.type])),
      commaNumbers,
      names,
    });
    return {
      schema: z.object(shape),
      exactIntegers,
      doubles: new Set([...columns].filter(([name, c]) => !mixed.has(name) && (c.typeId === DuckDBTypeId.DOUBLE || c.typeId === DuckDBTypeId.FLOAT)).map(([name]) => name)),
      columns: [...columns].map(([name, c]) => ({ name, type: asText.has(name) ? 'VARCHAR' : c.type })),
      rowless: !files.some((f) => f.hasRows),
    };
  }
}

/** Windows-1252's characters at bytes 0x80–0x9F (where Latin-1 has C1 controls; its 5 unassigned bytes stay those). */
const WINDOWS_1252_C1 = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

/** Windows-1252 bytes as text (Node 20's TextDecoder reads 'windows-1252' as Latin-1). */
function fromWindows1252(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[\u0080-\u009f]/g, (ch) => WINDOWS_1252_C1[ch.charCodeAt(0) - 0x80]!);
}

/**
 * A UTF-8 copy of a Windows-1252 file (a `.gz` one decompressed) under the lake's `.tmp/`, for
 * DuckDB to read: one character per byte, so its lines are the file's. The caller removes it.
 */
async function utf8Copy(ctx: ExtractContext, file: string): Promise<string> {
  const me = currentProcess();
  const dir = path.join(ctx.root, '.tmp', processTmpDirName(me.pid, me.procStart), 'csv');
  fs.mkdirSync(dir, { recursive: true });
  const copy = path.join(dir, `${ctx.source}.${ctx.dataset}.${Math.random().toString(36).slice(2, 10)}.csv`);
  try {
    await pipelineAsync(
      Readable.from((async function* () {
        for await (const chunk of fileBytes(file)) yield fromWindows1252(chunk);
      })()),
      fs.createWriteStream(copy),
    );
  } catch (error) {
    fs.rmSync(copy, { force: true });
    throw error;
  }
  return copy;
}

/** `{ from, to }` when the file DuckDB read (`text`) is a copy of `shown`, for the quarantine to name the user's file. */
function copyOf(text: string, shown: string): { from: string; to: string } | undefined {
  return text === shown ? undefined : { from: text, to: shown };
}

/** Whether two `types` options are the same (undefined and `{}` alike: no type given). */
function sameTypes(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const x = Object.entries(a ?? {});
  return x.length === Object.keys(b ?? {}).length && x.every(([k, v]) => b?.[k] === v);
}

/** DuckDB's "File is not latin-1 encoded" names no file, nor the way out (a Windows-1252 export: “ ” – €). */
function encodingError(error: unknown, file: string): unknown {
  if (!(error instanceof Error) || !/is not latin-1 encoded/i.test(error.message)) return error;
  return new ConfigError(`${file} is not Latin-1 text: bytes 0x80–0x9F (Windows-1252's “ ” – € …) are not Latin-1 characters: pass csv: { encoding: 'windows-1252' } (Excel's and most ERPs' "ANSI")`, { cause: error });
}

/**
 * DuckDB's CSV errors quote the offending line whole ("Original Line: …"): a row past
 * `max_line_size` would put megabytes in the source's error, the run's result and the logs.
 */
function shortCsvError(error: unknown): unknown {
  if (error instanceof Error && error.message.length > 2_000) {
    error.message = error.message
      .split('\n')
      .map((line) => (line.length > 1_000 ? `${line.slice(0, 1_000)}… (${line.length - 1_000} more characters)` : line))
      .join('\n');
  }
  return error;
}

/** A CSV file's columns as inferred, and whether it has a data row (only those vote on the types). */
interface InferredFile {
  columns: { name: string; type: string; typeId: DuckDBTypeId; comma?: boolean }[];
  hasRows: boolean;
}

/** What a schema-less file source infers at run time. */
interface Inferred {
  schema: z.ZodType;
  /** Integer columns stored exactly, by their bronze type (values past ±2^53 arrive as bigint). */
  exactIntegers?: Map<string, 'BIGINT' | typeof BIGINT_SQL_TYPE>;
  /** Columns of `anyDouble` fields (CSV DOUBLE columns). */
  doubles?: Set<string>;
  /** The columns as recorded in `<dataset>.inferred.json`. */
  columns: { name: string; type: string }[];
  /** No file had a record: the types are a guess (text), or nothing. */
  rowless: boolean;
}

/**
 * The source of a file reader: with a schema, a plain source; without one, `resolve` infers the
 * schema at run time and defines the source again with it, so `defineSource`'s checks (reserved
 * names, partition fields) apply to inferred fields as to given ones, and its bronze columns
 * (partition fields moved to the path) are the ones written.
 */
function fileSource(
  where: string,
  o: { source: string; dataset: string; path?: string; glob?: string; primaryKey?: string[]; limits?: z.output<typeof limitsOverrideSchema> },
  partitionBy: PartitionBy | undefined,
  given: z.ZodType | undefined,
  extract: (ctx: ExtractContext) => AsyncGenerator<unknown[]>,
  infer: (ctx: ExtractContext) => Promise<Inferred>,
): AnySource {
  const definition = {
    source: o.source,
    dataset: o.dataset,
    ...(partitionBy ? { partitionBy } : {}),
    ...(o.primaryKey ? { primaryKey: o.primaryKey } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    extract,
  };
  // Without a schema, a placeholder until `resolve` runs (holding the fields partitionBy names,
  // checked against the inferred ones then); replaced before any record is validated.
  const placeholder = z.object(Object.fromEntries((Array.isArray(partitionBy) ? partitionBy : []).map((k) => [k, z.unknown()])));
  const source = defineSource({ ...definition, schema: (given ?? placeholder) as z.ZodType<Record<string, unknown>> });
  if (given) return source;
  return {
    ...source,
    async resolve(ctx: ExtractContext) {
      const inferred = await infer(ctx);
      // An export without rows (header only, empty) says nothing about types: the lake keeps the
      // columns it recorded instead of recording every one retyped to text or removed (drift alerts).
      const recorded = inferred.rowless ? readRecordedSchema(ctx.root, o.source, o.dataset) : undefined;
      if (recorded) {
        ctx.logger.info(`no records in ${shownFiles(o)}: the recorded columns are kept`);
        return { ...recordedSource(recorded.columns), ...(recorded.guessed ? { guessed: true } : {}) };
      }
      recordInferred(ctx, inferred.columns);
      const { schema, exactIntegers } = inferred;
      let typed: AnySource;
      try {
        typed = defineSource({ ...definition, schema: schema as z.ZodType<Record<string, unknown>> });
      } catch (error) {
        if (error instanceof ConfigError) {
          throw new ConfigError(`${where}: ${error.message.replace(/^defineSource\([^)]*\): /, '')} (schema inferred from ${shownFiles(o)})`, { cause: error });
        }
        throw error;
      }
      const columns = typed.columns.map((c) => {
        const exact = exactIntegers?.get(c.name);
        if (exact) return exactIntegerColumn(c.name, exact);
        return inferred.doubles?.has(c.name) ? anyDoubleColumn(c.name) : c;
      });
      // Nothing recorded and no row read: text columns from a header, a guess the next run replaces.
      return { schema, columns, ...(inferred.rowless ? { guessed: true } : {}) };
    },
  };
}

/**
 * The schema and columns of a run whose files have no record, as recorded by the last run. The
 * object is strict: a record after all (a file written since the inference) goes to quarantine
 * naming its fields instead of being stored in columns typed for other values.
 */
function recordedSource(recorded: { name: string; type: string }[]): { schema: z.ZodType; columns: ColumnSpec[] } {
  return {
    schema: z.strictObject({}),
    columns: recorded.map((c) => ({ ...columnSpec(c.name, z.string()), sqlType: c.type, castSql: (w: string) => `CAST(${w} AS ${c.type})` })),
  };
}

/** An integer column written through text so a value past ±2^53 (a JS bigint) keeps every digit. */
function exactIntegerColumn(name: string, sqlType: 'BIGINT' | typeof BIGINT_SQL_TYPE): ColumnSpec {
  return { ...columnSpec(name, z.bigint()), sqlType, castSql: (c) => `CAST(${c} AS ${sqlType})` };
}

/**
 * How a CSV column's values become JS. Timestamps become text with every digit DuckDB read (a JS
 * `Date` keeps milliseconds: `.123456` and `.123999` were one value, for dedup keys too), except
 * for `z.date()` fields, which want a `Date`.
 */
function csvConverter(typeId: DuckDBTypeId, wantsDate: boolean): DuckDBValueConverter<PlainValue> {
  if (wantsDate) return plainConverter;
  if (typeId === DuckDBTypeId.TIMESTAMP_TZ) return instantText;
  if (typeId === DuckDBTypeId.TIMESTAMP) return naiveText;
  return plainConverter;
}

/** A TIMESTAMPTZ as ISO text in UTC with its microseconds; 'infinity' and instants no `Date` holds as `plainConverter` gives them. */
const instantText: DuckDBValueConverter<PlainValue> = (value, type, converter) => {
  const plain = plainConverter(value, type, converter);
  if (!(plain instanceof Date)) return plain;
  const micros = (value as DuckDBTimestampTZValue).micros;
  const sub = micros - floorDiv(micros, 1000n) * 1000n;
  const iso = plain.toISOString();
  return sub === 0n ? iso : `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`;
};

/**
 * A naive TIMESTAMP as DuckDB's text for it (`2026-01-10 10:00:00.123456`). Only columns a schema
 * leaves untyped (`z.unknown()`) are read so: schema-less ones are read as text.
 */
const naiveText: DuckDBValueConverter<PlainValue> = (value, type, converter) => {
  const plain = plainConverter(value, type, converter);
  return plain instanceof Date ? String(value) : plain;
};

/**
 * Quarantines the rows DuckDB rejected, with the line the file has them on. DuckDB's `line` counts
 * records (a quoted field spanning three lines is one), so the line is counted from the row's byte
 * position instead, in one pass over the file (only a file with rejects). Its byte positions are
 * the file's own (a `.gz` file's once decompressed) in UTF-8 only: another `encoding`, or a `.zst` file,
 * keeps DuckDB's number.
 */
async function sendRejects(ctx: ExtractContext, c: DuckDBConnection, rejects: string, encoding: string | undefined, copy?: { from: string; to: string }): Promise<void> {
  // Most files have no reject: a look for one costs half the query joining them to their files.
  if ((await c.runAndReadAll(`SELECT 1 FROM ${quoteIdent(`${rejects}_errors`)} LIMIT 1`)).currentRowCount === 0) return;
  // A row's reasons in the order of its columns: DuckDB's sort keeps no order between equal keys
  // (a file past one read buffer is read in parallel), so a row rejected for several had them in any order.
  const rows = readerRows(
    await c.runAndReadAll(
      `SELECT e.line, e.line_byte_position, e.column_name, e.error_type, e.csv_line, e.error_message, s.file_path
       FROM ${quoteIdent(`${rejects}_errors`)} e LEFT JOIN ${quoteIdent(`${rejects}_scans`)} s USING (scan_id, file_id)
       ORDER BY s.file_path, e.line, e.byte_position, e.column_idx, e.error_type, e.error_message`,
    ),
  );
  const linesOf = new Map<string, Map<number, number>>();
  if (rows.length > 0 && (encoding === undefined || encoding === 'utf-8')) {
    for (const file of new Set(rows.map((r) => String(r.file_path)))) {
      if (UNCOUNTABLE.test(file)) continue;
      const positions = rows.filter((r) => String(r.file_path) === file && r.line_byte_position !== null).map((r) => Number(r.line_byte_position));
      linesOf.set(file, await rowLinesAt(file, positions).catch(() => new Map<number, number>()));
    }
  }
  // One row can have several errors; quarantine it once with every reason.
  const byLine = new Map<string, { line: number; file: string; raw: PlainValue; reasons: string[] }>();
  for (const r of rows) {
    const key = `${r.file_path}:${r.line}`;
    const line = linesOf.get(String(r.file_path))?.get(Number(r.line_byte_position)) ?? Number(r.line);
    // DuckDB's csv_line starts with the previous line's end in a CRLF file, and the blank lines before it.
    const text = typeof r.csv_line === 'string' ? r.csv_line.replace(/^[\r\n]+/, '') : (r.csv_line ?? null);
    const raw = typeof text === 'string' && text.length > 10_000 ? `${text.slice(0, 10_000)}…` : text;
    const entry = byLine.get(key) ?? { line, file: String(r.file_path), raw, reasons: [] };
    entry.reasons.push(`${r.error_type}${r.column_name ? ` in column "${r.column_name}"` : ''}: ${r.error_message}`);
    byLine.set(key, entry);
  }
  for (const e of byLine.values()) ctx.reject(e.raw, e.reasons.join('; '), { line: e.line, file: copy && e.file === copy.from ? copy.to : e.file });
}

/**
 * The line each row DuckDB reads from a CSV file starts on (DuckDB tells no row's line): the
 * file's records, split at newlines outside quotes (a quoted field spans lines), without the
 * skipped lines, the header, blank lines and the rows DuckDB rejects (found by reading the file
 * again, every column parsed, into rejects tables of their own). Undefined when the count
 * disagrees with DuckDB's, or the file is not UTF-8 (its byte positions are not the file's).
 */
async function csvRowLines(ctx: ExtractContext, file: string, csv: z.output<typeof csvOptionsSchema>, readSql: (rejects: string) => string): Promise<number[] | undefined> {
  if ((csv.encoding !== undefined && csv.encoding !== 'utf-8') || UNCOUNTABLE.test(file)) return undefined;
  const quote = Buffer.from(csv.quote ?? '"');
  const escape = Buffer.from(csv.escape ?? csv.quote ?? '"');
  if (quote.length > 1 || escape.length > 1) return undefined;
  const c = await ctx.connect();
  const rejects = `loc_${Math.random().toString(36).slice(2, 10)}`;
  const [counted] = readerRows(await c.runAndReadAll(`SELECT count(*) AS n FROM (${readSql(rejects)}) AS duckhouse_row WHERE hash(duckhouse_row) IS NOT NULL`));
  const positions = readerRows(await c.runAndReadAll(`SELECT DISTINCT line_byte_position AS p FROM ${quoteIdent(`${rejects}_errors`)} WHERE line_byte_position IS NOT NULL`)).map((r) => Number(r.p));
  const rejected = new Set((await rowLinesAt(file, positions)).values());
  const lines: number[] = [];
  let line = 1;
  let recordLine = 1;
  let recordBytes = 0;
  let quoted = false;
  let escaped = false;
  let headerSeen = !csv.header;
  const endRecord = (): void => {
    if (recordLine > (csv.skip ?? 0) && recordBytes > 0) {
      if (!headerSeen) headerSeen = true;
      else if (!rejected.has(recordLine)) lines.push(recordLine);
    }
    recordBytes = 0;
  };
  // A line ends at '\n', '\r\n' or a lone '\r' (Excel for Mac's CSV), as DuckDB's records do.
  let afterCr = false;
  for await (const chunk of fileBytes(file)) {
    for (const b of chunk) {
      if (b === 0x0a && afterCr) {
        afterCr = false;
        continue;
      }
      afterCr = b === 0x0d;
      if (b === 0x0a || b === 0x0d) {
        line += 1;
        if (!quoted) {
          endRecord();
          recordLine = line;
          continue;
        }
      } else recordBytes += 1;
      if (escaped) escaped = false;
      else if (quoted && b === escape[0] && escape[0] !== quote[0]) escaped = true;
      else if (b === quote[0]) quoted = !quoted;
    }
  }
  endRecord();
  return lines.length === Number(counted?.n) ? lines : undefined;
}

/**
 * The line of the row DuckDB reports at each byte position of the file's text (uncompressed).
 * DuckDB's position is two past the first byte of the line end before the row: the row's second
 * byte in an LF file (its line end, for a one-byte row such as a truncated `4`), the '\n' before
 * it in a CRLF file. So the row is the first byte past line ends from the byte before the position
 * (blank lines before the row skipped). One pass over the file, counting its '\n' bytes.
 */
async function rowLinesAt(file: string, positions: number[]): Promise<Map<number, number>> {
  const byStart = await rowLinesFrom(file, positions.map((p) => Math.max(p - 1, 0)));
  return new Map(positions.map((p) => [p, byStart.get(Math.max(p - 1, 0))]).filter((e): e is [number, number] => e[1] !== undefined));
}

/**
 * The line of the first byte that is not a line end at or past each byte offset of `file`. A line
 * ends at '\n', '\r\n' or a lone '\r' (Excel for Mac's CSV), as DuckDB's records do.
 */
async function rowLinesFrom(file: string, positions: number[]): Promise<Map<number, number>> {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  const lines = new Map<number, number>();
  /** The byte before the chunk (the last of the one before), for a '\r\n' cut between two chunks. */
  let before = -1;
  const crlfAt = (chunk: Buffer, i: number): boolean => (i > 0 ? chunk[i - 1] : before) === 0x0d;
  const newlinesIn = (chunk: Buffer, from: number, to: number): number => {
    let n = 0;
    for (let i = chunk.indexOf(10, from); i !== -1 && i < to; i = chunk.indexOf(10, i + 1)) if (!crlfAt(chunk, i)) n += 1;
    for (let i = chunk.indexOf(13, from); i !== -1 && i < to; i = chunk.indexOf(13, i + 1)) n += 1;
    return n;
  };
  let newlines = 0;
  let offset = 0;
  let next = 0;
  /** Positions reached whose row has not started yet (a run of line ends follows them). */
  let waiting: number[] = [];
  for await (const chunk of fileBytes(file)) {
    let i = 0;
    while (i < chunk.length) {
      while (next < sorted.length && sorted[next] === offset + i) waiting.push(sorted[next++]!);
      if (waiting.length > 0) {
        const b = chunk[i]!;
        if (b === 0x0a || b === 0x0d) {
          if (b === 0x0d || !crlfAt(chunk, i)) newlines += 1;
          i += 1;
          continue;
        }
        for (const p of waiting) lines.set(p, newlines + 1);
        waiting = [];
      }
      if (next === sorted.length) break;
      const to = Math.min(sorted[next]! - offset, chunk.length);
      newlines += newlinesIn(chunk, i, to);
      i = to;
    }
    if (next === sorted.length && waiting.length === 0) return lines;
    offset += chunk.length;
    if (chunk.length > 0) before = chunk[chunk.length - 1]!;
  }
  // Positions at the end of the file.
  for (const p of waiting) lines.set(p, newlines + 1);
  for (; next < sorted.length && sorted[next]! <= offset; next++) lines.set(sorted[next]!, newlines + 1);
  return lines;
}

/** Compressed files DuckDB's CSV reader opens by their extension (`compression = 'auto'`) that Node 20 cannot decompress: their lines are not counted. */
const UNCOUNTABLE = /\.zst$/i;

/** A gzip-compressed file, by its name, as DuckDB's readers tell it. */
function isGzip(file: string): boolean {
  return /\.gz$/i.test(file);
}

/** A file's bytes as DuckDB reads them: a `.gz` file decompressed (a broken one is an error naming it). */
async function* fileBytes(file: string): AsyncGenerator<Buffer> {
  if (!isGzip(file)) return yield* fs.createReadStream(file) as AsyncIterable<Buffer>;
  try {
    yield* pipeline(fs.createReadStream(file), zlib.createGunzip(), () => {}) as AsyncIterable<Buffer>;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('Z_') && code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
    throw new ConfigError(`${file} is not a whole gzip file (${(error as Error).message}): was it cut short while copied?`, { cause: error });
  }
}

/**
 * A JSON file — an array of records, NDJSON (one record per line) or one object spread over lines — as a source. A line that is
 * not valid JSON goes to quarantine with its number.
 * @example
 * jsonSource({ source: 'shop', dataset: 'customers', glob: 'exports/customers-*.ndjson' })
 */
export function jsonSource(options: FileSourceOptions): AnySource {
  const where = `jsonSource(${JSON.stringify(String(options?.source))}/${JSON.stringify(String(options?.dataset))})`;
  const o = parseOptions(fileSourceSchema, options, where);
  if (o.csv) throw new ConfigError(`${where}: unknown option "csv" (this is a JSON source)`);
  const given = options.schema;
  // z.bigint() fields, nested ones too: integers within ±2^53 parse as JS numbers (past it, as bigints), zod wants a bigint.
  const bigints = bigintPlanOf(given);

  async function* extract(ctx: ExtractContext): AsyncGenerator<unknown[]> {
    for (const file of await listFiles(where, o)) {
      for await (const batch of readJsonFile(file, ctx)) {
        ctx.stats.pages += 1;
        yield bigints ? locateRecords(batch.map((record) => withBigints(record, bigints)), locatorOf(batch)!) : batch;
      }
    }
  }

  return fileSource(where, o, options.partitionBy, given, extract, async (ctx) => {
    // JSON carries its own types: inferred over every record, so a field first seen late is a
    // column too (a second pass, as cheap as JSON.parse; the extraction's validation and bronze
    // writes cost far more). Nested values stay JSON. The object is strict: a field the pass did
    // not see (a file changed since) goes to quarantine naming it instead of being dropped.
    const kinds = new Map<string, string>();
    const origins = new Map<string, string>();
    /** Integer fields holding a value past BIGINT's range: stored as DECIMAL(38,0). */
    const huge = new Set<string>();
    let records = 0;
    for (const file of await listFiles(where, o)) {
      for await (const batch of readJsonFile(file, undefined)) {
        for (const record of batch) {
          if (!record || typeof record !== 'object' || Array.isArray(record)) continue;
          records += 1;
          for (const [k, v] of Object.entries(record)) {
            const kind = kindOf(v);
            if (typeof v === 'bigint' && (v > INT64_MAX || v < -INT64_MAX - 1n)) huge.add(k);
            const was = kinds.get(k);
            if (was === undefined) origins.set(k, file);
            if (was !== kind) kinds.set(k, mergeKind(was, kind));
          }
        }
      }
    }
    checkInferredNames(where, origins);
    const shape = Object.fromEntries([...kinds].map(([k, kind]) => [k, zodForKind(kind)]));
    const columns = [...kinds].map(([name, kind]) => ({ name, type: sqlTypeOf(shape[name]) + (kind === 'null' ? ' (only nulls seen)' : '') }));
    // Integers past ±2^53 (parsed exactly, as bigints) keep every digit: BIGINT, or DECIMAL(38,0) past it.
    const exactIntegers = new Map<string, 'BIGINT' | typeof BIGINT_SQL_TYPE>([...kinds].filter(([, kind]) => kind === 'bigint').map(([k]) => [k, huge.has(k) ? BIGINT_SQL_TYPE : 'BIGINT']));
    return { schema: z.strictObject(shape), exactIntegers, columns, rowless: records === 0 };
  });
}

const INT64_MAX = 2n ** 63n - 1n;

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return 'bigint';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'json';
}

function mergeKind(a: string | undefined, b: string): string {
  if (!a || a === 'null') return b;
  if (b === 'null' || a === b) return a;
  if ((a === 'int' && b === 'number') || (a === 'number' && b === 'int')) return 'number';
  if ((a === 'int' && b === 'bigint') || (a === 'bigint' && b === 'int')) return 'bigint';
  return 'json';
}

function zodForKind(kind: string): z.ZodType {
  switch (kind) {
    case 'int':
      return z.number().int().nullable().optional();
    case 'bigint':
      return z.union([z.number().int(), z.bigint()]).nullable().optional();
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

/** The most alternatives a glob's braces may list (`{0,1,…,9}` three times over is 1,000). */
const MAX_BRACE_ALTERNATIVES = 1_000;

async function listFiles(where: string, o: { path?: string; glob?: string }): Promise<string[]> {
  if (o.path) {
    filesOf(where, o); // throws when it does not exist
    return [path.resolve(o.path)];
  }
  const pattern = path.resolve(o.glob!);
  const files: string[] = [];
  // Node 20 has no fs.glob: walk from the folder before the first wildcard of the glob as written.
  // The working folder a relative glob is resolved against is a path, not a pattern (a project
  // under `Clients [BR]/` or `{old,new} exports/`); a `..` past a wildcard leaves it to the pattern.
  const wildcard = o.glob!.search(/[*?[{]/);
  const written = path.resolve((wildcard === -1 ? o.glob! : o.glob!.slice(0, wildcard)).replace(/[^/]*$/, '') || '.');
  const own = written.endsWith('/') ? written : `${written}/`;
  const base = pattern.startsWith(own) ? own : pattern.slice(0, pattern.search(/[*?[{]/)).replace(/[^/]*$/, '') || '/';
  // Every brace alternative starts past `base` (it ends before the first '{'): one walk for all, each file once.
  const alternatives = expandBraces(pattern.slice(base.length), MAX_BRACE_ALTERNATIVES);
  if (alternatives.length > MAX_BRACE_ALTERNATIVES) {
    throw new ConfigError(`${where}: glob ${JSON.stringify(pattern)} has braces for more than ${MAX_BRACE_ALTERNATIVES.toLocaleString('en-US')} alternatives (each is a pattern of its own): use fewer, or a wildcard`);
  }
  const res = alternatives.map(globRegex);
  // A folder named `.x` only matches a pattern's folder part that starts with '.' (`globRegex`): without
  // one, dot folders are not walked (a Mac volume's .Spotlight-V100 no one may list, a .git's objects).
  const dotFolders = alternatives.some((a) => a.split('/').slice(0, -1).some((part) => part.startsWith('.')));
  if (fs.existsSync(base)) {
    for (const rel of listTree(base, dotFolders ? undefined : (name) => !name.startsWith('.'))) {
      if (res.some((re) => re.test(rel)) && fs.statSync(path.join(base, rel)).isFile()) files.push(path.join(base, rel));
    }
  }
  // An export that has not landed is a failed source (alerts say so), not an empty success that
  // records every column as removed and looks fresh.
  if (files.length === 0) throw new ConfigError(`${where}: no file matches ${JSON.stringify(pattern)}`);
  return files.sort();
}

/**
 * A glob's brace alternatives as globs of their own, as bash and fast-glob expand them (dlt's and
 * fsspec's configs write them): `{orders,payments}-*.csv` is `orders-*.csv` and `payments-*.csv`;
 * an alternative may hold wildcards, folders and braces. A brace without a comma (`{x}`) or
 * without its closing one is literal, as in bash. Stops past `max` alternatives (the caller
 * refuses them): twenty `{a,b}` would be a million patterns, built before any file is read.
 */
function expandBraces(glob: string, max: number): string[] {
  for (let open = glob.indexOf('{'); open !== -1; open = glob.indexOf('{', open + 1)) {
    const cuts = [open];
    let depth = 0;
    for (let i = open; i < glob.length; i++) {
      if (glob[i] === '{') depth += 1;
      else if (glob[i] === ',' && depth === 1) cuts.push(i);
      else if (glob[i] === '}' && --depth === 0) {
        if (cuts.length === 1) break;
        cuts.push(i);
        const out: string[] = [];
        for (let k = 0; k + 1 < cuts.length && out.length <= max; k++) {
          out.push(...expandBraces(glob.slice(0, open) + glob.slice(cuts[k]! + 1, cuts[k + 1]) + glob.slice(i + 1), max - out.length));
        }
        return out;
      }
    }
  }
  return [glob];
}

/**
 * A glob relative to the folder walked, as a regex over `listTree`'s paths. A wildcard (`*`, `?`,
 * `**`, a `[…]` class) never matches a name's leading `.`, unless the pattern's own segment starts
 * with one (`.*.csv`), as in bash, fast-glob and Python: macOS writes an AppleDouble `._orders.csv`
 * (binary) beside every file on a USB stick or SMB share, office suites `.~lock.orders.csv#`.
 */
function globRegex(glob: string): RegExp {
  const segments = glob.split('/');
  const body = segments.map((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**' && !last) return '(?:(?!\\.)[^/]+/)*';
    // `exports/**`: every file below, at any depth, as fast-glob reads it (not only the first level).
    if (segment === '**') return '(?!\\.)[^/]+(?:/(?!\\.)[^/]+)*';
    let re = '';
    for (let j = 0; j < segment.length; j++) {
      const ch = segment[j]!;
      const cls = ch === '[' ? globClass(segment, j) : undefined;
      if (cls) {
        re += cls.re;
        j = cls.end;
      } else if (ch === '*') re += '[^/]*';
      else if (ch === '?') re += '[^/]';
      else re += ch.replace(/[.+^${}()|[\]\\]/, '\\$&'); // a '[' no ']' closes is literal, as in bash
    }
    return `${segment.startsWith('.') ? '' : '(?!\\.)'}${re}${last ? '' : '/'}`;
  });
  return new RegExp(`^${body.join('')}$`);
}

/**
 * The `[…]` class starting at `start` of a glob's segment, as a regex class, and where its `]`
 * is. `[!abc]` and `[^abc]` are any one character but those, as in bash, fast-glob and Python's
 * fnmatch (a regex would read `[!abc]` as matching `!`); a `]` first is a member (`[]x]`, `[!]]`).
 * A class never matches '/' (a name's character, not a folder's end), nor a name's leading '.'
 * (`globRegex`'s segments refuse it).
 */
function globClass(segment: string, start: number): { re: string; end: number } | undefined {
  let j = start + 1;
  const negated = segment[j] === '!' || segment[j] === '^';
  if (negated) j += 1;
  const first = j;
  const members: string[] = [];
  for (; j < segment.length; j++) {
    const ch = segment[j]!;
    if (ch === ']' && j > first) break;
    if (segment[j + 1] === '-' && j + 2 < segment.length && segment[j + 2] !== ']') {
      // A reversed range (`[z-a]`) matches nothing, as in bash (a regex refuses it: SyntaxError).
      if (ch <= segment[j + 2]!) members.push(`${classMember(ch)}-${classMember(segment[j + 2]!)}`);
      j += 2;
    } else members.push(classMember(ch));
  }
  if (j >= segment.length) return undefined;
  return { re: negated ? `[^/${members.join('')}]` : members.length > 0 ? `[${members.join('')}]` : '(?!)', end: j };
}

/** A character as a member of a regex class: `\`, `]`, `[`, `^` and `-` escaped. */
function classMember(ch: string): string {
  return ch.replace(/[\\\]\[^-]/, '\\$&');
}

/** A text without the UTF-8 byte order mark some editors and exporters put first (JSON.parse refuses it). */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Decodes UTF-8 or throws: a Latin-1 export read as UTF-8 would store U+FFFD in place of every
 * accent, silently. A BOM is left to `withoutBom`.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A file's lines as bytes, without their line end, so each can be decoded (and refused) alone. A
 * line ends at '\n', '\r\n' or a lone '\r' (classic Mac OS exports), as csvSource's lines do: JSON
 * text holds a raw '\r' only as whitespace between tokens.
 */
async function* byteLines(file: string): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  const line = (): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    return all;
  };
  /** The chunk before ended in '\r': a '\n' starting this one ends no line of its own. */
  let afterCr = false;
  for await (const chunk of fileBytes(file)) {
    if (chunk.length === 0) continue;
    let start = afterCr && chunk[0] === 10 ? 1 : 0;
    let lf = chunk.indexOf(10, start);
    let cr = chunk.indexOf(13, start);
    while (lf !== -1 || cr !== -1) {
      const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
      pending.push(chunk.subarray(start, end));
      yield line();
      start = end === cr && chunk[end + 1] === 10 ? end + 2 : end + 1;
      if (lf !== -1 && lf < start) lf = chunk.indexOf(10, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(13, start);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
    afterCr = chunk[chunk.length - 1] === 13;
  }
  if (pending.length > 0) yield line();
}

/**
 * The elements of a JSON array file, each as its bytes, read in chunks: the whole file as one
 * string would cap it at V8's longest string (512 MB) and hold it all in memory at once. Only
 * the top level is split (outside strings, at depth 0); each element is parsed on its own.
 */
async function* arrayElements(file: string): AsyncGenerator<{ bytes: Buffer; line: number }> {
  const invalid = (why: string): ConfigError => new ConfigError(`jsonSource: ${file} is not valid JSON: ${why}`);
  // before: up to '['; between: before an element; inside: in one; after: past the closing ']'.
  let state = 'before' as 'before' | 'between' | 'inside' | 'after';
  let depth = 0;
  let quoted = false;
  let escaped = false;
  let elements = 0;
  let parts: Buffer[] = [];
  let offset = 0;
  // Lines before the byte read, and the line the element being read starts on.
  let newlines = 0;
  let line = 1;
  // The byte's column, in characters (a UTF-8 continuation byte is part of the one before), and
  // where the comma after the last element read is: a trailing one is named by it.
  let column = 0;
  let comma = { line: 0, column: 0 };
  // A line ends at '\n', '\r\n' or a lone '\r' (classic Mac OS), as NDJSON's and CSV's lines do:
  // the byte before, for a '\n' after a '\r' (in this chunk or the one before) that ends no line.
  let previous = -1;
  for await (const chunk of fileBytes(file)) {
    let start = 0;
    for (let i = offset === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0x0d || (b === 0x0a && previous !== 0x0d)) {
        newlines += 1;
        column = 0;
      } else if (b !== 0x0a && (b & 0xc0) !== 0x80) column += 1;
      previous = b;
      if (state === 'inside') {
        if (quoted) {
          if (escaped) escaped = false;
          else if (b === 0x5c) escaped = true;
          else if (b === 0x22) quoted = false;
        } else if (b === 0x22) quoted = true;
        else if (b === 0x7b || b === 0x5b) depth += 1;
        else if ((b === 0x7d || b === 0x5d) && depth > 0) depth -= 1;
        else if (depth === 0 && (b === 0x2c || b === 0x5d)) {
          parts.push(chunk.subarray(start, i));
          yield { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), line };
          parts = [];
          elements += 1;
          state = b === 0x2c ? 'between' : 'after';
          comma = { line: newlines + 1, column };
        }
        continue;
      }
      if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
      if (state === 'before' && b === 0x5b) state = 'between';
      else if (state === 'between' && b === 0x5d && elements === 0) state = 'after';
      else if (state === 'between' && b === 0x5d) {
        // `[{"a":1},]`, as a hand-edited export has it (JSON.parse says no more than `unexpected "]"`).
        throw invalid(`a trailing comma after the last element of the array, at line ${comma.line}, column ${comma.column}: JSON allows none there, remove it`);
      }
      else if (state === 'between' && b !== 0x2c && b !== 0x5d) {
        state = 'inside';
        start = i;
        line = newlines + 1;
        i -= 1; // read the element's first byte as part of it (a '{' or '[' opens a level)
        if ((b & 0xc0) !== 0x80) column -= 1; // and count it once
      } else throw invalid(`unexpected ${JSON.stringify(String.fromCharCode(b))} at line ${newlines + 1}, column ${column} (byte offset ${offset + i})`);
    }
    if (state === 'inside') parts.push(chunk.subarray(start));
    offset += chunk.length;
  }
  if (state !== 'after') throw invalid('unexpected end of the file (the array is not closed)');
}

/**
 * The file's first byte past a BOM and JSON whitespace (however much: an array after 70 blank
 * lines is still an array), or undefined for a blank file. A `.gz` file's once decompressed.
 */
async function firstByte(file: string): Promise<number | undefined> {
  let position = 0;
  for await (const block of fileBytes(file)) {
    const skipBom = position === 0 && block[0] === 0xef && block[1] === 0xbb && block[2] === 0xbf ? 3 : 0;
    for (let i = skipBom; i < block.length; i++) if (![0x20, 0x09, 0x0a, 0x0d].includes(block[i]!)) return block[i];
    position += block.length;
  }
  return undefined;
}

/** The longest file read as one JSON document (a pretty-printed object): past it, lines are records. */
const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

/**
 * The one object of a file that is a single JSON object spread over lines (a pretty-printed
 * export, as `JSON.stringify(o, null, 2)` writes it), with the line it starts on; undefined when
 * the file's first line is a whole JSON value (NDJSON), or the whole file is not one object.
 */
async function oneDocument(file: string): Promise<{ value: unknown; line: number } | undefined> {
  let line = 0;
  for await (const bytes of byteLines(file)) {
    line += 1;
    const text = (line === 1 ? withoutBom(bytes.toString('utf8')) : bytes.toString('utf8')).trim();
    if (text === '') continue;
    try {
      JSON.parse(text);
      return undefined;
    } catch {
      break;
    }
  }
  if (fs.statSync(file).size > MAX_DOCUMENT_BYTES) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of fileBytes(file)) parts.push(chunk);
  try {
    const value = parseJsonExact(withoutBom(utf8.decode(Buffer.concat(parts))));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? { value, line } : undefined;
  } catch {
    return undefined;
  }
}

/** Yields batches of records; a broken NDJSON line is quarantined (when ctx is given) with its number. */
async function* readJsonFile(file: string, ctx: ExtractContext | undefined): AsyncGenerator<unknown[]> {
  // Each record's line, for the quarantine (an array element: the line it starts on).
  let lines: number[] = [];
  const located = (batch: unknown[]): unknown[] => {
    const at = lines;
    lines = [];
    return locateRecords(batch, (i) => ({ file, line: at[i]! }));
  };
  if (UNCOUNTABLE.test(file)) throw new ConfigError(`jsonSource: ${file} is zstd-compressed, which Node cannot read: decompress it, or compress it with gzip (.gz)`);
  const first = await firstByte(file);
  if (first === 0x7b) {
    const document = await oneDocument(file);
    if (document) {
      yield locateRecords([document.value], () => ({ file, line: document.line }));
      return;
    }
  }
  if (first === 0x5b) {
    let batch: unknown[] = [];
    let n = 0;
    for await (const { bytes, line } of arrayElements(file)) {
      n += 1;
      let text: string;
      try {
        text = utf8.decode(bytes);
      } catch {
        throw new ConfigError(`jsonSource: ${file} is not UTF-8 text (a Latin-1 export?): convert it to UTF-8`);
      }
      try {
        batch.push(parseJsonExact(text));
      } catch (error) {
        throw new ConfigError(`jsonSource: ${file} is not valid JSON: element ${n} of the array: ${(error as Error).message}`);
      }
      lines.push(line);
      if (batch.length >= BATCH_ROWS) {
        yield located(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield located(batch);
    return;
  }
  let batch: unknown[] = [];
  let lineNo = 0;
  for await (const bytes of byteLines(file)) {
    lineNo += 1;
    let read: string;
    try {
      read = utf8.decode(bytes);
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_STRING_TOO_LONG') {
        // Past V8's longest string no text can hold the line, not even a lossy one: keep its start.
        const start = bytes.subarray(0, 10_000).toString('utf8');
        ctx?.reject(`${start}…`, `line too long: ${bytes.length} bytes, past the longest string JavaScript holds (512 MB)`, { line: lineNo, file });
        continue;
      }
      const lossy = bytes.toString('utf8');
      ctx?.reject(lossy.length > 10_000 ? `${lossy.slice(0, 10_000)}…` : lossy, 'invalid UTF-8: the line is not UTF-8 text (a Latin-1 export?)', { line: lineNo, file });
      continue;
    }
    const line = lineNo === 1 ? withoutBom(read) : read;
    if (line.trim() === '') continue;
    try {
      batch.push(parseJsonExact(line));
    } catch (error) {
      ctx?.reject(line.length > 10_000 ? `${line.slice(0, 10_000)}…` : line, `invalid JSON: ${(error as Error).message}`, { line: lineNo, file });
      continue;
    }
    lines.push(lineNo);
    if (batch.length >= BATCH_ROWS) {
      yield located(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield located(batch);
}
