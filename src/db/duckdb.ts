/**
 * The runtime values of `@duckdb/node-api`, loaded with `require`. The package is CommonJS split
 * over ~80 files; importing it as ESM makes Node lex every file for its exports, which cost more
 * than all the rest of a `duckhouse runs` start. Each value is also exported as its type.
 */
import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';

const api = createRequire(import.meta.url)('@duckdb/node-api') as typeof NodeApi;

export const DuckDBInstance = api.DuckDBInstance;
export type DuckDBInstance = NodeApi.DuckDBInstance;
export const DuckDBDataChunk = api.DuckDBDataChunk;
export type DuckDBDataChunk = NodeApi.DuckDBDataChunk;
export const DuckDBTimestampTZValue = api.DuckDBTimestampTZValue;
export type DuckDBTimestampTZValue = NodeApi.DuckDBTimestampTZValue;
export const DuckDBTypeId = api.DuckDBTypeId;
export type DuckDBTypeId = NodeApi.DuckDBTypeId;
export const StatementType = api.StatementType;
export type StatementType = NodeApi.StatementType;
export const JSDuckDBValueConverter = api.JSDuckDBValueConverter;
export const listValue = api.listValue;
export const mapValue = api.mapValue;
export const blobValue = api.blobValue;
export const { BIGINT, BIGNUM, BLOB, BOOLEAN, DOUBLE, HUGEINT, LIST, MAP, SQLNULL, TIMESTAMPTZ, VARCHAR } = api;
/** node-api's own value classes (DuckDBDecimalValue, DuckDBMapValue…), which bind as they are. */
const VALUE_CLASSES = Object.entries(api).filter(([name, v]) => /^DuckDB\w*Value$/.test(name) && typeof v === 'function').map(([, v]) => v as abstract new (...args: never[]) => unknown);
export const isNodeApiValue = (value: unknown): boolean => VALUE_CLASSES.some((c) => value instanceof c);
export type DuckDBType = NodeApi.DuckDBType;
