/**
 * Result conversion to plain JS, by the rule in DESIGN: BIGINT as `number` within ±2^53 else
 * `bigint`; DECIMAL as `number` (of scale 0, as BIGINT); TIMESTAMP/TIMESTAMPTZ as `Date`. DATE comes back as
 * 'YYYY-MM-DD' (a calendar date has no instant, so a `Date` would shift with the time zone)
 * and TIME (and TIME_NS) as 'HH:MM:SS[.ffffff]', BIT as its bits ('0101'), as queryArrow gives them;
 * INTERVAL as { months, days, micros }, micros as BIGINT is.
 *
 * Timestamps are floored to the millisecond (as queryArrow does). Special cases: timestamps past
 * a JS `Date`'s range come back as DuckDB's text for them, and
 * DuckDB's infinite DATE and TIMESTAMP values ('infinity' / '-infinity') come back
 * as the strings 'infinity' and '-infinity', at any depth (inside lists, structs, maps). A JS
 * `Date` cannot hold them, and DuckDB's own text for an infinite DATE is a made-up calendar date
 * ('5881580-07-11'), which a caller would take for a real one.
 */
import type {
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBIntervalValue,
  DuckDBResultReader,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBType,
  DuckDBValue,
  DuckDBValueConverter,
} from '@duckdb/node-api';
import { ConfigError } from '../errors.js';
import { DuckDBTypeId, JSDuckDBValueConverter } from './duckdb.js';

export type PlainValue = null | boolean | number | bigint | string | Uint8Array | Date | PlainValue[] | { [key: string]: PlainValue };
export type Row = Record<string, PlainValue>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** An integer as a `number` within ±2^53, else as the exact `bigint` (a double would round it). */
export function safeInteger(value: DuckDBValue): number | bigint {
  const big = value as bigint;
  return big <= MAX_SAFE && big >= MIN_SAFE ? Number(big) : big;
}

const asString = (value: DuckDBValue): string => String(value);

/**
 * A DECIMAL as `number`; one of scale 0 (an integer: a z.bigint() field's DECIMAL(38,0), a HUGEINT
 * cast to keep its digits) as the integer types are, a `bigint` past ±2^53, which a double rounds.
 */
function decimal(value: DuckDBValue): number | bigint {
  const d = value as DuckDBDecimalValue;
  return d.scale === 0 ? safeInteger(d.value) : d.toDouble();
}

/** DuckDB's ±infinity DATE is ±(2^31-1) days; its ±infinity timestamps are ±(2^63-1) of the unit. */
const INFINITE_DATE = 2 ** 31 - 1;
export const INFINITE_TS = 2n ** 63n - 1n;

function infinity(raw: number | bigint, inf: number | bigint): 'infinity' | '-infinity' | undefined {
  if (raw === inf) return 'infinity';
  if (raw === -inf) return '-infinity';
  return undefined;
}

/** 'YYYY-MM-DD', or 'infinity' / '-infinity' (not DuckDB's made-up text for them). */
const dateString = (value: DuckDBValue): string => infinity((value as DuckDBDateValue).days, INFINITE_DATE) ?? String(value);

/** Floor division (BigInt `/` truncates toward zero, which would round pre-1970 instants up). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** The largest epoch milliseconds a JS `Date` holds (years ±275760). */
export const DATE_LIMIT_MS = 8_640_000_000_000_000n;

/**
 * A timestamp as `Date`, floored to the millisecond (node-api truncates toward zero, so a
 * pre-1970 instant with sub-millisecond digits came out a millisecond late — 1969-12-31
 * 23:59:59.9995 as 1970-01-01 — and disagreed with queryArrow); 'infinity' / '-infinity', and
 * DuckDB's own text for a finite instant past a `Date`'s range, which no `Date` can hold.
 * `toMillis` gives the raw value's epoch milliseconds from its unit.
 */
function timestamp(raw: (value: DuckDBValue) => bigint, toMillis: (raw: bigint) => bigint): DuckDBValueConverter<PlainValue> {
  return (value) => {
    const units = raw(value);
    const inf = infinity(units, INFINITE_TS);
    if (inf) return inf;
    const ms = toMillis(units);
    return ms > DATE_LIMIT_MS || ms < -DATE_LIMIT_MS ? String(value) : new Date(Number(ms));
  };
}
const fromMicros = (u: bigint): bigint => floorDiv(u, 1000n);

const byTypeId: Partial<Record<DuckDBTypeId, DuckDBValueConverter<PlainValue>>> = {
  [DuckDBTypeId.BIGINT]: safeInteger,
  [DuckDBTypeId.UBIGINT]: safeInteger,
  [DuckDBTypeId.HUGEINT]: safeInteger,
  [DuckDBTypeId.UHUGEINT]: safeInteger,
  [DuckDBTypeId.BIGNUM]: safeInteger,
  [DuckDBTypeId.DECIMAL]: decimal,
  [DuckDBTypeId.DATE]: dateString,
  [DuckDBTypeId.TIMESTAMP]: timestamp((v) => (v as DuckDBTimestampValue).micros, fromMicros),
  [DuckDBTypeId.TIMESTAMP_TZ]: timestamp((v) => (v as DuckDBTimestampTZValue).micros, fromMicros),
  [DuckDBTypeId.TIMESTAMP_S]: timestamp((v) => (v as DuckDBTimestampSecondsValue).seconds, (s) => s * 1000n),
  [DuckDBTypeId.TIMESTAMP_MS]: timestamp((v) => (v as DuckDBTimestampMillisecondsValue).millis, (ms) => ms),
  [DuckDBTypeId.TIMESTAMP_NS]: timestamp((v) => (v as DuckDBTimestampNanosecondsValue).nanos, (ns) => floorDiv(ns, 1_000_000n)),
  [DuckDBTypeId.TIME]: asString,
  [DuckDBTypeId.TIME_TZ]: asString,
  // node-api's JS value for a TIME_NS is a bigint of nanoseconds: as text, as TIME is.
  [DuckDBTypeId.TIME_NS]: asString,
  // node-api's JS value for a BIT is its storage (a padding byte, then the bits padded with ones).
  [DuckDBTypeId.BIT]: asString,
  // node-api gives { months, days, micros } with micros always a bigint (0n), which JSON.stringify refuses.
  [DuckDBTypeId.INTERVAL]: (value) => {
    const { months, days, micros } = value as DuckDBIntervalValue;
    return { months, days, micros: safeInteger(micros) };
  },
};

/** Plain converter: ours where DESIGN says so, node-api's JS converter (recursing through ours) for the rest. */
export const plainConverter: DuckDBValueConverter<PlainValue> = (value, type, converter) => {
  if (value === null) return null;
  const own = byTypeId[type.typeId];
  return own ? own(value, type, converter) : (JSDuckDBValueConverter(value, type, converter) as PlainValue);
};

/** Whether `type` holds a STRUCT with a field named `__proto__`, at any depth. */
function hasProtoField(type: DuckDBType): boolean {
  switch (type.typeId) {
    case DuckDBTypeId.STRUCT:
      return type.entryNames.includes('__proto__') || type.entryTypes.some(hasProtoField);
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return hasProtoField(type.valueType);
    case DuckDBTypeId.MAP:
      return hasProtoField(type.keyType) || hasProtoField(type.valueType);
    case DuckDBTypeId.UNION:
      return type.memberTypes.some(hasProtoField);
    default:
      return false;
  }
}

/**
 * node-api builds a struct value's fields by assignment, and `entries.__proto__ = value` sets the
 * prototype instead (a number or string is dropped): such a field came back missing, or made the
 * conversion throw "Cannot read properties of undefined (reading 'typeId')". It cannot be read, so
 * the query fails naming the column.
 */
export function refuseProtoFields(reader: DuckDBResultReader): void {
  const names = reader.deduplicatedColumnNames();
  const at = reader.columnTypes().findIndex(hasProtoField);
  if (at >= 0) {
    throw new ConfigError(`lake.query: column ${JSON.stringify(names[at])} holds a STRUCT field named "__proto__", which a JS object cannot hold as a field: rename the field in the SQL`);
  }
}

export function readerRows(reader: DuckDBResultReader): Row[] {
  refuseProtoFields(reader);
  const names = reader.deduplicatedColumnNames();
  // node-api assigns `row[name] = value`: for a column named `__proto__` that sets the row's
  // prototype instead, and the column was missing from the row. fromEntries defines a field.
  if (!names.includes('__proto__')) return reader.convertRowObjects(plainConverter) as Row[];
  return reader.convertRows(plainConverter).map((values) => Object.fromEntries(names.map((name, i) => [name, values[i]])) as Row);
}
