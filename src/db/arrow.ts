/**
 * node-api has no Arrow export, so `queryArrow` builds an apache-arrow Table from the result's
 * columns, with Arrow types chosen from the DuckDB column types (nested types are inferred).
 */
import * as arrow from 'apache-arrow';
import type { DuckDBResultReader, DuckDBType } from '@duckdb/node-api';
import { DuckDBTypeId } from './duckdb.js';
import { plainConverter, type PlainValue } from './values.js';

function arrowType(type: DuckDBType): arrow.DataType | undefined {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new arrow.Bool();
    case DuckDBTypeId.TINYINT:
      return new arrow.Int8();
    case DuckDBTypeId.SMALLINT:
      return new arrow.Int16();
    case DuckDBTypeId.INTEGER:
      return new arrow.Int32();
    case DuckDBTypeId.UTINYINT:
      return new arrow.Uint8();
    case DuckDBTypeId.USMALLINT:
      return new arrow.Uint16();
    case DuckDBTypeId.UINTEGER:
      return new arrow.Uint32();
    case DuckDBTypeId.BIGINT:
      return new arrow.Int64();
    case DuckDBTypeId.UBIGINT:
      return new arrow.Uint64();
    case DuckDBTypeId.FLOAT:
      return new arrow.Float32();
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return new arrow.Float64();
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.HUGEINT:
      return new arrow.Utf8();
    case DuckDBTypeId.DATE:
      return new arrow.DateDay();
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return new arrow.TimestampMillisecond();
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new arrow.TimestampMillisecond('UTC');
    default:
      return undefined; // nested and exotic types: let arrow infer from the JS values
  }
}

function arrowValue(value: PlainValue, type: DuckDBType): unknown {
  if (value === null) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
      return typeof value === 'bigint' ? value : BigInt(value as number);
    case DuckDBTypeId.HUGEINT:
      return String(value);
    case DuckDBTypeId.DATE:
      return new Date(`${String(value)}T00:00:00Z`);
    default:
      return value;
  }
}

export function readerToArrow(reader: DuckDBResultReader): arrow.Table {
  const names = reader.deduplicatedColumnNames();
  const types = reader.columnTypes();
  const columns = reader.convertColumns(plainConverter);
  const vectors: Record<string, arrow.Vector> = {};
  names.forEach((name, i) => {
    const type = types[i]!;
    const values = (columns[i] ?? []).map((v) => arrowValue(v as PlainValue, type));
    const target = arrowType(type);
    vectors[name] = target ? arrow.vectorFromArray(values, target) : arrow.vectorFromArray(values as unknown[]);
  });
  return new arrow.Table(vectors);
}
