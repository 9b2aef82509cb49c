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
 * | bigint                                | HUGEINT         |
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

export type WireType = 'VARCHAR' | 'DOUBLE' | 'BOOLEAN';

export interface ColumnSpec {
  name: string;
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

/** Strips wrappers that do not change the stored type. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 20; i++) {
    const d = def(current);
    if (['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional', 'success'].includes(d.type)) {
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
      return 'HUGEINT';
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
 * The `json_transform` structure of a zod schema: `{"a":"BIGINT","b":[{"c":"VARCHAR"}]}`.
 * Unlike a CAST, json_transform fills keys a record left out with NULL, as zod allowed it to.
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
  return sqlTypeOf(schema, depth);
}

function wireOf(sqlType: string): WireType {
  if (sqlType === 'DOUBLE' || sqlType === 'BIGINT') return 'DOUBLE';
  if (sqlType === 'BOOLEAN') return 'BOOLEAN';
  return 'VARCHAR';
}

function toIso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  return String(value);
}

/** Serialises nested values for a JSON→STRUCT cast: Dates as ISO, bigints as numbers. */
function toJson(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (error) {
    // A value nested thousands of levels deep overflows the stack: say which field, not just that.
    if (error instanceof RangeError) throw new DuckhouseError('VALUE_TOO_DEEP', `field "${field}" is nested too deep to store as JSON (${error.message})`);
    throw error;
  }
}

export function columnSpec(name: string, schema: unknown): ColumnSpec {
  const sqlType = sqlTypeOf(schema);
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
  else if (sqlType === 'HUGEINT') encode = (v) => (v === null || v === undefined ? null : String(v));
  else if (sqlType === 'DOUBLE' || sqlType === 'BIGINT')
    encode = (v) => (v === null || v === undefined ? null : typeof v === 'number' ? v : Number(v));
  else if (sqlType === 'BOOLEAN') encode = (v) => (v === null || v === undefined ? null : Boolean(v));
  else if (sqlType === 'VARCHAR') encode = (v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v));
  else encode = (v) => toJson(v, name);
  return { name, sqlType, wire, encode, castSql: cast };
}

/** Column specs of a record schema; it must be a `z.object`. */
export function columnsOf(schema: z.ZodType, where: string): ColumnSpec[] {
  const d = def(unwrap(schema));
  if (d.type !== 'object') throw new ConfigError(`${where}: option "schema" must be a z.object(...) describing one record (got z.${d.type})`);
  return Object.entries(d.shape as Record<string, unknown>).map(([name, field]) => columnSpec(name, field));
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
