/** duckhouse: the public surface. Every export is named here. */
export { Lakehouse } from './lakehouse.js';
export type { LakePaths, QueryParams, ExtractOptions } from './lakehouse.js';
export type { OpenOptions, ResolvedOptions, Limits, QualityOptions } from './config.js';
export { defineSource } from './extract/source.js';
export { csvSource, jsonSource } from './extract/file-source.js';
export type { FileSourceOptions, CsvSourceOptions } from './extract/file-source.js';
export type { Source, AnySource, SourceDefinition, SourceRecord, ExtractContext, PartitionBy } from './extract/source.js';
export type { ExtractResult, SourceResult, RunOutcome, BuildResult, ModelResult, ModelStatus, TestResult, TestStatus } from './results.js';
export type { BuildOptions } from './transform/build.js';
export type { Lineage, LineageNode, LineageEdge } from './transform/lineage.js';
export type { RunRecord, RunStatus, RunKind } from './metrics/metrics-db.js';
export type { Row, PlainValue } from './db/values.js';
export type { Logger, LogLevel } from './log.js';
export { DuckhouseError, ConfigError, ClosedError, PartitionError, LockError, SourceError, ModelError } from './errors.js';
export { sqlTypeOf } from './bronze/schema-map.js';
export { z } from 'zod';
