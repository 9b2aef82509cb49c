/**
 * zod → DuckDB column mapping for bronze.
 *
 * Values travel from JS into DuckDB through three "wire" vector types only (VARCHAR, DOUBLE,
 * BOOLEAN), which node-api fills fastest from plain JS values; the COPY that writes Parquet
 * casts each wire column to its target type in SQL, where casting is vectorised:
 * ISO strings → TIMESTAMPTZ/DATE, doubles → BIGINT, JSON text → STRUCT/LIST/JSON.
 *
 * | zod                                   | DuckDB          |
 * |---------------------------------------|-----------------|
 * | string, enum, literal string, uuid…   | VARCHAR         |
 * | number                                | DOUBLE          |
 * | number().int(), literal integer       | BIGINT          |
 * | bigint                                | DECIMAL(38,0)   |
 * | boolean                               | BOOLEAN         |
 * | date(), iso.datetime(), string().datetime() | TIMESTAMPTZ |
 * | iso.date(), string().date()           | DATE            |
 * | object({...})                         | STRUCT(...)     |
 * | array(T)                              | T[]             |
 * | any, unknown, union, record, tuple…   | JSON            |
 * | optional / nullable / default / catch | the inner type, nullable |
 */
import type { z } from 'zod';
import { ConfigError, DuckhouseError } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { stringifyJsonExact } from '../extract/json-exact.js';

export type WireType = 'VARCHAR' | 'DOUBLE' | 'BOOLEAN';

/** The bronze type of `z.bigint()`: exact in Parquet up to 38 digits. */
export const BIGINT_SQL_TYPE = 'DECIMAL(38,0)';
const DECIMAL_38_MAX = 10n ** 38n - 1n;

export interface ColumnSpec {
  name: string;
  /**
   * Why a value valid for zod cannot be stored in this column (out of range, a transform's output
   * of another type), or undefined. Only columns that need it have one; the writer sends such a
   * record to quarantine instead of failing its batch.
   */
  check?: (value: unknown) => string | undefined;
  /** DuckDB type of the column in bronze, e.g. `TIMESTAMPTZ` or `STRUCT("a" BIGINT)[]`. */
  sqlType: string;
  wire: WireType;
  /** JS value → wire value (string | number | boolean | null). */
  encode: (value: unknown) => string | number | boolean | null;
  /** SQL expression turning the wire column into `sqlType`. */
  castSql: (wireColumn: string) => string;
}

type AnyDef = { type: string; [key: string]: unknown };
type ZodLike = { _zod: { def: AnyDef } };

function def(schema: unknown): AnyDef {
  return (schema as ZodLike)._zod.def;
}

function checkFormats(d: AnyDef): string[] {
  const checks = (d.checks as ZodLike[] | undefined) ?? [];
  const formats = checks.map((c) => (c._zod.def as AnyDef).format as string | undefined).filter((f): f is string => !!f);
  if (typeof d.format === 'string') formats.push(d.format);
  return formats;
}

/** zod wrappers that do not change the stored type (their `innerType` does). */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional', 'success']);

/** Strips wrappers that do not change the stored type. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 20; i++) {
    const d = def(current);
    if (WRAPPERS.has(d.type)) {
      current = d.innerType;
    } else if (d.type === 'pipe') {
      // A transform's output type is unknown to us: the pipe's output schema decides when it has one.
      const out = def(d.out);
      current = out.type === 'transform' ? d.in : d.out;
    } else if (d.type === 'lazy') {
      current = (d.getter as () => unknown)();
    } else {
      return current;
    }
  }
  return current;
}

/** The DuckDB SQL type of a zod schema (see the table above). */
export function sqlTypeOf(schema: unknown, depth = 0): string {
  if (depth > 32) return 'JSON';
  const inner = unwrap(schema);
  const d = def(inner);
  switch (d.type) {
    case 'string': {
      const formats = checkFormats(d);
      if (formats.includes('datetime')) return 'TIMESTAMPTZ';
      if (formats.includes('date')) return 'DATE';
      return 'VARCHAR';
    }
    case 'number': {
      const formats = checkFormats(d);
      return formats.some((f) => f === 'safeint' || f === 'int32' || f === 'uint32' || f === 'int64') ? 'BIGINT' : 'DOUBLE';
    }
    case 'int':
      return 'BIGINT';
    case 'bigint':
      // Not HUGEINT: DuckDB writes HUGEINT to Parquet as DOUBLE, which loses digits past 2^53.
      return BIGINT_SQL_TYPE;
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return 'TIMESTAMPTZ';
    case 'enum':
      return 'VARCHAR';
    case 'literal': {
      const values = d.values as unknown[];
      if (values.every((v) => typeof v === 'string')) return 'VARCHAR';
      if (values.every((v) => typeof v === 'boolean')) return 'BOOLEAN';
      if (values.every((v) => typeof v === 'number')) return values.every((v) => Number.isInteger(v)) ? 'BIGINT' : 'DOUBLE';
      return 'JSON';
    }
    case 'object': {
      const shape = d.shape as Record<string, unknown>;
      const fields = Object.entries(shape);
      if (fields.length === 0) return 'JSON';
      return `STRUCT(${fields.map(([k, v]) => `${quoteIdent(k)} ${sqlTypeOf(v, depth + 1)}`).join(', ')})`;
    }
    case 'array':
      return `${sqlTypeOf(d.element, depth + 1)}[]`;
    default:
      return 'JSON';
  }
}

/**
 * The `json_transform` structure of a zod schema: `{"a":"BIGINT","b":[{"at":"VARCHAR"}]}`.
 * Unlike a CAST, json_transform fills keys a record left out with NULL, as zod allowed it to.
 * Instants stay text here: json_transform reads a date-time without an offset as UTC, while the
 * CAST to the column type that follows reads it in the session's zone (the lake's), as it does
 * for a top-level field.
 */
export function jsonStructureOf(schema: unknown, depth = 0): unknown {
  if (depth > 32) return 'JSON';
  const d = def(unwrap(schema));
  if (d.type === 'object') {
    const fields = Object.entries(d.shape as Record<string, unknown>);
    if (fields.length === 0) return 'JSON';
    return Object.fromEntries(fields.map(([k, v]) => [k, jsonStructureOf(v, depth + 1)]));
  }
  if (d.type === 'array') return [jsonStructureOf(d.element, depth + 1)];
  const sqlType = sqlTypeOf(schema, depth);
  return sqlType === 'TIMESTAMPTZ' ? 'VARCHAR' : sqlType;
}

function wireOf(sqlType: string): WireType {
  if (sqlType === 'DOUBLE' || sqlType === 'BIGINT') return 'DOUBLE';
  if (sqlType === 'BOOLEAN') return 'BOOLEAN';
  return 'VARCHAR';
}

function toIso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : isoForDuckDb(value);
  return String(value);
}

/**
 * A Date as ISO text DuckDB casts: past year 9999 JavaScript writes `+055835-…`, which DuckDB
 * refuses (it reads `55835-…`); before year 0 it writes `-001000-…`, which DuckDB reads as 1001 BC, as meant.
 */
function isoForDuckDb(d: Date): string {
  const iso = d.toISOString();
  return iso.startsWith('+') ? iso.slice(1).replace(/^0+(?=\d{5})/, '') : iso;
}

/** VARCHAR text of a non-string value (a transform's output): Dates as ISO, objects as JSON, never "[object Object]". */
function textOf(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : isoForDuckDb(value);
  if (typeof value === 'object') return toJson(value, '') ?? 'null';
  return String(value);
}

/**
 * Serialises nested values for a JSON→STRUCT cast: Dates as ISO, bigints as the numbers they are
 * (every digit: a JSON column keeps a number a number, and the cast reads a BIGINT or DECIMAL
 * field from its literal exactly).
 */
function toJson(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  try {
    return stringifyJsonExact(value, undefined, function (this: unknown, k: string, v: unknown) {
      const original = (this as Record<string, unknown>)[k];
      if (original instanceof Date && !Number.isNaN(original.getTime())) return isoForDuckDb(original);
      // Text cut inside an emoji (a lone surrogate, from APIs that truncate by UTF-16 unit) would
      // be written as "\ud83d", which DuckDB's JSON reader refuses for the whole batch: U+FFFD
      // stands in, as it does for a top-level string.
      return typeof v === 'string' ? (v as string & { toWellFormed(): string }).toWellFormed() : v; // ES2024, in Node 20's V8
    });
  } catch (error) {
    // A value nested thousands of levels deep overflows the stack: say which field, not just that.
    if (error instanceof RangeError) throw new DuckhouseError('VALUE_TOO_DEEP', `field "${field}" is nested too deep to store as JSON (${error.message})`);
    throw error;
  }
}

/** Whether a schema's type comes from a transform's input (its output type is unknown to us). */
function transformed(schema: unknown): boolean {
  let current = schema;
  for (let i = 0; i < 20; i++) {
    const d = def(current);
    if (d.type === 'pipe') {
      if (def(d.out).type === 'transform') return true;
      current = d.out;
    } else if (WRAPPERS.has(d.type)) {
      current = d.innerType;
    } else {
      return false;
    }
  }
  return false;
}

const KIND_OF: Record<string, (v: unknown) => boolean> = {
  DOUBLE: (v) => typeof v === 'number' || typeof v === 'bigint',
  BIGINT: (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint',
  BOOLEAN: (v) => typeof v === 'boolean',
  TIMESTAMPTZ: (v) => v instanceof Date || typeof v === 'string',
  DATE: (v) => v instanceof Date || typeof v === 'string',
  [BIGINT_SQL_TYPE]: (v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)),
};

export function columnSpec(name: string, schema: unknown): ColumnSpec {
  const sqlType = sqlTypeOf(schema);
  const check = checkFor(sqlType, transformed(schema));
  const spec = columnSpecOfType(name, schema, sqlType);
  return check ? { ...spec, check } : spec;
}

function checkFor(sqlType: string, fromTransform: boolean): ColumnSpec['check'] {
  const kind = KIND_OF[sqlType];
  const fits = fromTransform && kind ? kind : undefined;
  if (sqlType === BIGINT_SQL_TYPE) {
    return (v) => {
      if (v === null || v === undefined) return undefined;
      if (fits && !fits(v)) return `a ${typeof v} does not fit ${sqlType} (the transform's output)`;
      const n = typeof v === 'bigint' ? v : BigInt(v as number);
      return n > DECIMAL_38_MAX || n < -DECIMAL_38_MAX ? `${n} has more than 38 digits (${sqlType})` : undefined;
    };
  }
  if (!fits) return undefined;
  return (v) => (v === null || v === undefined || fits(v) ? undefined : `a ${v instanceof Date ? 'Date' : typeof v} does not fit ${sqlType} (the transform's output)`);
}

function columnSpecOfType(name: string, schema: unknown, sqlType: string): ColumnSpec {
  const wire = wireOf(sqlType);
  const cast = (c: string): string => {
    if (sqlType === 'VARCHAR' || sqlType === 'DOUBLE' || sqlType === 'BOOLEAN') return c;
    if (sqlType === 'JSON') return `CAST(${c} AS JSON)`;
    if (sqlType.startsWith('STRUCT') || sqlType.endsWith('[]')) {
      return `CAST(json_transform(CAST(${c} AS JSON), ${quoteLiteral(JSON.stringify(jsonStructureOf(schema)))}) AS ${sqlType})`;
    }
    return `CAST(${c} AS ${sqlType})`;
  };
  let encode: ColumnSpec['encode'];
  if (sqlType === 'TIMESTAMPTZ' || sqlType === 'DATE') encode = toIso;
  else if (sqlType === BIGINT_SQL_TYPE) encode = (v) => (v === null || v === undefined ? null : String(v));
  else if (sqlType === 'DOUBLE' || sqlType === 'BIGINT')
    encode = (v) => (v === null || v === undefined ? null : typeof v === 'number' ? v : Number(v));
  else if (sqlType === 'BOOLEAN') encode = (v) => (v === null || v === undefined ? null : Boolean(v));
  else if (sqlType === 'VARCHAR') encode = (v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : textOf(v));
  else encode = (v) => toJson(v, name);
  return { name, sqlType, wire, encode, castSql: cast };
}

/** Column specs of a record schema; it must be a `z.object`. */
export function columnsOf(schema: z.ZodType, where: string): ColumnSpec[] {
  const d = def(unwrap(schema));
  if (d.type !== 'object') throw new ConfigError(`${where}: option "schema" must be a z.object(...) describing one record (got z.${d.type})`);
  checkCase(schema, '', where, 0);
  return Object.entries(d.shape as Record<string, unknown>).map(([name, field]) => columnSpec(name, field));
}

/**
 * DuckDB column and STRUCT field names ignore case: `id` and `ID` in one object would be renamed
 * (`ID_1`) or fail every batch. Refused when the source is defined, naming both; so is a field
 * named by the empty string (the batch's Parquet write would fail after the whole read).
 */
function checkCase(schema: unknown, at: string, where: string, depth: number): void {
  if (depth > 32) return;
  const d = def(unwrap(schema));
  if (d.type === 'array') return checkCase(d.element, `${at}[]`, where, depth + 1);
  if (d.type !== 'object') return;
  const seen = new Map<string, string>();
  const named = (key: string): string => (at ? `${at}.${key}` : key);
  for (const [key, field] of Object.entries(d.shape as Record<string, unknown>)) {
    if (key === '') {
      throw new ConfigError(`${where}: ${at ? `"${at}" has a field` : 'a field is'} named "" (the empty string), which no DuckDB column or struct field can be; rename it with a transform on the object`);
    }
    const other = seen.get(key.toLowerCase());
    if (other !== undefined) {
      throw new ConfigError(`${where}: fields "${named(other)}" and "${named(key)}" differ only in case, and DuckDB names ignore case; keep one (or rename it with a transform on the object)`);
    }
    seen.set(key.toLowerCase(), key);
    checkCase(field, named(key), where, depth + 1);
  }
}

/** Whether a field's zod schema wants a JS `Date` (z.date()) rather than an ISO string. */
export function expectsDate(schema: unknown): boolean {
  return def(unwrap(schema)).type === 'date';
}

/** The fields of a `z.object` schema. */
export function shapeOf(schema: unknown): Record<string, unknown> {
  const d = def(unwrap(schema));
  return d.type === 'object' ? (d.shape as Record<string, unknown>) : {};
}

/**
 * Where a schema wants a bigint: `true` for the value itself, else the plans of its fields or of its
 * items. Values arrive as JS numbers within ±2^53 (JSON, CSV, an API's body), and zod wants a
 * bigint at any depth (`ref: z.object({ nsu: z.bigint() })`, `ids: z.array(z.bigint())`).
 */
export type BigintPlan = true | { fields: Map<string, BigintPlan> } | { items: BigintPlan };

/** The bigint plan of a schema, or undefined when it has no z.bigint() anywhere. */
export function bigintPlanOf(schema: unknown, depth = 0): BigintPlan | undefined {
  if (!schema || depth > 32) return undefined;
  const d = def(unwrap(schema));
  if (d.type === 'bigint') return true;
  if (d.type === 'array') {
    const items = bigintPlanOf(d.element, depth + 1);
    return items && { items };
  }
  if (d.type !== 'object') return undefined;
  const fields = new Map<string, BigintPlan>();
  for (const [k, field] of Object.entries(d.shape as Record<string, unknown>)) {
    const plan = bigintPlanOf(field, depth + 1);
    if (plan) fields.set(k, plan);
  }
  return fields.size > 0 ? { fields } : undefined;
}

/** The value with the integer numbers its plan marks as bigints (objects and arrays in place; anything else as it is). */
export function withBigints<T>(value: T, plan: BigintPlan): T {
  if (plan === true) return (typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : value) as T;
  if (!value || typeof value !== 'object') return value;
  if ('items' in plan) {
    if (Array.isArray(value)) for (let i = 0; i < value.length; i++) value[i] = withBigints(value[i], plan.items);
    return value;
  }
  if (Array.isArray(value)) return value;
  const r = value as Record<string, unknown>;
  for (const [k, p] of plan.fields) if (r[k] !== undefined && r[k] !== null) r[k] = withBigints(r[k], p);
  return value;
}
