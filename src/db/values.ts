/**
 * Result conversion to plain JS, by the rule in DESIGN: BIGINT as `number` within ±2^53 else
 * `bigint`; DECIMAL as `number`; TIMESTAMP/TIMESTAMPTZ as `Date`. DATE comes back as
 * 'YYYY-MM-DD' (a calendar date has no instant, so a `Date` would shift with the time zone)
 * and TIME as 'HH:MM:SS[.ffffff]'.
 */
import type { DuckDBResultReader, DuckDBValue, DuckDBValueConverter } from '@duckdb/node-api';
import { DuckDBTypeId, JSDuckDBValueConverter } from './duckdb.js';

export type PlainValue = null | boolean | number | bigint | string | Uint8Array | Date | PlainValue[] | { [key: string]: PlainValue };
export type Row = Record<string, PlainValue>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function safeInteger(value: DuckDBValue): number | bigint {
  const big = value as bigint;
  return big <= MAX_SAFE && big >= MIN_SAFE ? Number(big) : big;
}

const asString = (value: DuckDBValue): string => String(value);

const byTypeId: Partial<Record<DuckDBTypeId, DuckDBValueConverter<PlainValue>>> = {
  [DuckDBTypeId.BIGINT]: safeInteger,
  [DuckDBTypeId.UBIGINT]: safeInteger,
  [DuckDBTypeId.HUGEINT]: safeInteger,
  [DuckDBTypeId.UHUGEINT]: safeInteger,
  [DuckDBTypeId.DATE]: asString,
  [DuckDBTypeId.TIME]: asString,
  [DuckDBTypeId.TIME_TZ]: asString,
};

/** Plain converter: ours where DESIGN says so, node-api's JS converter (recursing through ours) for the rest. */
export const plainConverter: DuckDBValueConverter<PlainValue> = (value, type, converter) => {
  if (value === null) return null;
  const own = byTypeId[type.typeId];
  return own ? own(value, type, converter) : (JSDuckDBValueConverter(value, type, converter) as PlainValue);
};

export function readerRows(reader: DuckDBResultReader): Row[] {
  return reader.convertRowObjects(plainConverter) as Row[];
}
