/**
 * node-api has no Arrow export, so `queryArrow` builds an apache-arrow Table from the result's
 * columns. Every column gets an explicit Arrow type derived from its DuckDB type, recursively for
 * LIST/ARRAY/STRUCT/MAP (apache-arrow's type inference cannot handle nested or mixed values), and
 * the DuckDB values are converted straight into what that type's builder takes:
 *
 * - BOOLEAN → Bool; (U)TINYINT/SMALLINT/INTEGER → (U)Int8/16/32; BIGINT/UBIGINT → (U)Int64 (bigint);
 *   FLOAT/DOUBLE → Float32/Float64; DECIMAL → Float64 (a number, like `lake.query`), except one
 *   of scale 0 (an integer, as `lake.query` gives it): Int64 up to DECIMAL(18,0), else Utf8 like HUGEINT;
 *   HUGEINT/UHUGEINT/BIGNUM → Utf8 (decimal text: no JS Arrow type holds 128 bits usably).
 * - VARCHAR/ENUM/UUID → Utf8; BLOB (and GEOMETRY) → Binary.
 * - DATE → Date32<DAY>; TIMESTAMP/_S/_MS/_NS → Timestamp<MILLISECOND>, TIMESTAMPTZ the same in 'UTC'.
 *   DuckDB's infinite values have no Arrow form: an infinite DATE is stored as DuckDB stores it
 *   (±(2^31-1) days, what DuckDB's own Arrow export writes); an infinite timestamp as the JS `Date`
 *   limits ±8.64e15 ms (DuckDB's ±(2^63-1) would make apache-arrow's getters throw "not safe to
 *   convert to a number"), so it still sorts after/before every instant a JS `Date` can hold.
 *   A finite timestamp past those limits (years beyond ±275760) is clamped to them the same way.
 * - LIST → List<item>; ARRAY → FixedSizeList; STRUCT → Struct (same field names and order);
 *   MAP → Map_<entries: Struct<key, value>>; SQLNULL (a bare `NULL`) → Null.
 * - Anything else (TIME, TIME_TZ, INTERVAL, BIT, UNION, VARIANT...) → Utf8 with DuckDB's text form.
 */
import * as arrow from 'apache-arrow';
import type {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBGeometryValue,
  DuckDBListValue,
  DuckDBArrayValue,
  DuckDBMapValue,
  DuckDBResultReader,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBType,
  DuckDBValue,
} from '@duckdb/node-api';
import { DuckDBTypeId } from './duckdb.js';
import { DATE_LIMIT_MS, floorDiv, INFINITE_TS, refuseProtoFields } from './values.js';

const MS_PER_DAY = 86_400_000;
/** Rows per record batch of a `queryArrow` Table. */
const BATCH_ROWS = 65_536;
/** Every DECIMAL(18,0) fits an Int64; a wider one may not. */
const MAX_INT64_DIGITS = 18;

function arrowType(type: DuckDBType): arrow.DataType {
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
      return new arrow.Float64();
    case DuckDBTypeId.DECIMAL:
      // Scale 0 is an integer (lake.query gives it as BIGINT is): a double would round it past 2^53.
      if (type.scale === 0) return type.width <= MAX_INT64_DIGITS ? new arrow.Int64() : new arrow.Utf8();
      return new arrow.Float64();
    case DuckDBTypeId.BLOB:
    case DuckDBTypeId.GEOMETRY:
      return new arrow.Binary();
    case DuckDBTypeId.DATE:
      return new arrow.DateDay();
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return new arrow.TimestampMillisecond();
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new arrow.TimestampMillisecond('UTC');
    case DuckDBTypeId.LIST:
      return new arrow.List(new arrow.Field('item', arrowType(type.valueType), true));
    case DuckDBTypeId.ARRAY:
      return new arrow.FixedSizeList(type.length, new arrow.Field('item', arrowType(type.valueType), true));
    case DuckDBTypeId.STRUCT:
      return new arrow.Struct(type.entryNames.map((name, i) => new arrow.Field(name, arrowType(type.entryTypes[i]!), true)));
    case DuckDBTypeId.MAP: {
      const entry = new arrow.Struct<{ key: arrow.DataType; value: arrow.DataType }>([
        new arrow.Field('key', arrowType(type.keyType), false),
        new arrow.Field('value', arrowType(type.valueType), true),
      ]);
      return new arrow.Map_(new arrow.Field('entries', entry, false));
    }
    case DuckDBTypeId.SQLNULL:
      return new arrow.Null();
    default:
      // VARCHAR, ENUM, UUID, HUGEINT, UHUGEINT, BIGNUM, TIME, TIME_TZ, TIME_NS, INTERVAL, BIT, UNION, VARIANT
      return new arrow.Utf8();
  }
}

/** Epoch milliseconds (bigint) for an Int64 millisecond column; ±infinity → the JS `Date` limits. */
function timestampMillis(raw: bigint, perMilli: bigint | null, milliPer = 1n): bigint {
  if (raw === INFINITE_TS) return DATE_LIMIT_MS;
  if (raw === -INFINITE_TS) return -DATE_LIMIT_MS;
  const ms = perMilli === null ? raw * milliPer : floorDiv(raw, perMilli);
  // A finite instant past what a JS Date holds (years beyond ±275760) would make the getters throw too.
  return ms > DATE_LIMIT_MS ? DATE_LIMIT_MS : ms < -DATE_LIMIT_MS ? -DATE_LIMIT_MS : ms;
}

/**
 * The value apache-arrow's builder for `arrowType(type)` takes: numbers, bigints, strings, bytes,
 * epoch ms for DATE (the builder stores whole days), bigint epoch ms for timestamps, arrays for
 * lists and structs (structs positionally, in field order), a JS `Map` for maps.
 */
function arrowValue(value: DuckDBValue, type: DuckDBType): unknown {
  if (value === null) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return Boolean(value);
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return Number(value);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
      return typeof value === 'bigint' ? value : BigInt(value as number);
    case DuckDBTypeId.DECIMAL: {
      const d = value as DuckDBDecimalValue;
      if (type.scale !== 0) return d.toDouble();
      return type.width <= MAX_INT64_DIGITS ? d.value : String(d.value);
    }
    case DuckDBTypeId.BLOB:
      return (value as DuckDBBlobValue).bytes;
    case DuckDBTypeId.GEOMETRY:
      return (value as DuckDBGeometryValue).bytes;
    case DuckDBTypeId.DATE:
      // Days × ms/day is exact for every DuckDB date, including ±infinity (±(2^31-1) days).
      return (value as DuckDBDateValue).days * MS_PER_DAY;
    case DuckDBTypeId.TIMESTAMP:
      return timestampMillis((value as DuckDBTimestampValue).micros, 1000n);
    case DuckDBTypeId.TIMESTAMP_TZ:
      return timestampMillis((value as DuckDBTimestampTZValue).micros, 1000n);
    case DuckDBTypeId.TIMESTAMP_S:
      return timestampMillis((value as DuckDBTimestampSecondsValue).seconds, null, 1000n);
    case DuckDBTypeId.TIMESTAMP_MS:
      return timestampMillis((value as DuckDBTimestampMillisecondsValue).millis, null);
    case DuckDBTypeId.TIMESTAMP_NS:
      return timestampMillis((value as DuckDBTimestampNanosecondsValue).nanos, 1_000_000n);
    case DuckDBTypeId.LIST:
      return (value as DuckDBListValue).items.map((item) => arrowValue(item, type.valueType));
    case DuckDBTypeId.ARRAY:
      return (value as DuckDBArrayValue).items.map((item) => arrowValue(item, type.valueType));
    case DuckDBTypeId.STRUCT: {
      const entries = (value as DuckDBStructValue).entries;
      return type.entryNames.map((name, i) => arrowValue(entries[name] ?? null, type.entryTypes[i]!));
    }
    case DuckDBTypeId.MAP:
      return new Map((value as DuckDBMapValue).entries.map((e) => [arrowValue(e.key, type.keyType), arrowValue(e.value, type.valueType)]));
    case DuckDBTypeId.SQLNULL:
      return null;
    default:
      return String(value);
  }
}

export function readerToArrow(reader: DuckDBResultReader): arrow.Table {
  refuseProtoFields(reader);
  const names = reader.deduplicatedColumnNames();
  const types = reader.columnTypes();
  const rows = reader.currentRowCount;
  // fromEntries, not `vectors[name] = …`: that set the prototype for a column named `__proto__`, which was then missing.
  const vectors: Record<string, arrow.Vector> = Object.fromEntries(
    names.map((name, i) => {
      const type = types[i]!;
      // One value at a time into the column's builder, flushed every BATCH_ROWS: every column's
      // DuckDB values and their converted copies, held at once, needed a heap of over 300 MB for
      // a million rows of three columns (under 200 MB so). Every column flushes at the same rows,
      // so the Table's record batches line up.
      const builder = arrow.makeBuilder({ type: arrowType(type), nullValues: [null, undefined] });
      const data: arrow.Data[] = [];
      for (let row = 0; row < rows; row++) {
        builder.append(arrowValue(reader.value(i, row), type));
        if ((row + 1) % BATCH_ROWS === 0) data.push(builder.flush());
      }
      const last = builder.finish().flush();
      if (last.length > 0 || data.length === 0) data.push(last);
      return [name, new arrow.Vector(data)];
    }),
  );
  return new arrow.Table(vectors);
}
