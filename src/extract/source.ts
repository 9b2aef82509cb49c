/**
 * A source is a named dataset and an async generator of record batches. Everything else
 * (validation, quarantine, bronze files, metrics, cursors) is the lake's job.
 */
import { z } from 'zod';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Limits } from '../config.js';
import { limitsOverrideSchema, parseOptions } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { checkName, DATE_KEYS } from '../bronze/partition.js';
import { columnsOf, expectsDate, shapeOf, type ColumnSpec } from '../bronze/schema-map.js';
import type { PartitionKey } from '../bronze/writer.js';

export type SourceRecord = Record<string, unknown>;

export interface ExtractContext {
  readonly runId: string;
  readonly source: string;
  readonly dataset: string;
  readonly logger: Logger;
  /** Aborted when the lake closes or the run is cancelled. */
  readonly signal: AbortSignal;
  /** The lake's limits merged with the source's own. */
  readonly limits: Limits;
  /** Absolute lake root. */
  readonly root: string;
  /** How long to wait for another process's lock on a state file (the lake's `lockTimeoutMillis`). */
  readonly lockTimeoutMillis?: number;
  /** The lake's time zone (`day=` partitions of bronze and raw archives). */
  readonly timezone: string;
  /**
   * The cursor committed by the last run that got this far (incremental sources); undefined at
   * first. Reading it takes the cursor's cross-process lock for the rest of this source's run.
   */
  cursor(): Promise<unknown>;
  /**
   * Declares that every record yielded so far is covered by `cursor`. It is saved only after
   * the bronze files holding those records are committed, so a killed run neither skips nor repeats.
   * Declared before a yield, it may also cover the item yielded next: it then counts only once the
   * lake has appended that item, and is dropped when the run stops on it (an abort, a failed append).
   */
  checkpoint(cursor: unknown): void;
  /**
   * `checkpoint` for a cursor read from the records themselves: declared before a yield, `cursorOf`
   * is called once the lake has appended the item yielded next, with that item's records that
   * passed the schema and fit their columns, and its result (undefined: none) is the checkpoint.
   * A quarantined record's value (`'pending'` where a date-time belongs) never becomes the cursor.
   */
  checkpointAccepted(cursorOf: (accepted: unknown[]) => unknown): void;
  /** Sends a raw record the source itself could not read (a ragged CSV row) to quarantine. */
  reject(raw: unknown, reason: string, location?: { line?: number; url?: string; file?: string }): void;
  /**
   * A new connection to the lake's in-memory DuckDB engine, for sources that parse files with
   * DuckDB's readers. Closed by the lake when the source finishes.
   */
  connect(): Promise<DuckDBConnection>;
  /**
   * The committed bronze files of a dataset, as models and `lake.bronze` read them (absolute paths):
   * without files pruned or replaced by compaction, compaction outputs not switched in, or the
   * files of another extract's batch not recorded yet. A source reading bronze (items from the
   * orders) reads these, never a glob. They stay on disk until the source ends, whatever a
   * compaction or prune removes meanwhile.
   */
  bronzeFiles(source: string, dataset: string): Promise<string[]>;
  /** Counters shown in the SourceResult and in `http_stats`. */
  readonly stats: { requests: number; retries: number; pages: number };
  /** Reports HTTP counters per host for the `http_stats` table (called by HTTP sources at the end). */
  reportHttpStats(stats: HttpHostStats[]): void;
  /** Notes a warning that ends up in the run's result (e.g. products the API cannot reach). */
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** HTTP counters of one source against one host, for `http_stats`. */
export interface HttpHostStats {
  host: string;
  requests: number;
  retries: number;
  /** Responses by status code ('ERR' for network errors and timeouts). */
  statuses: Record<string, number>;
  /** Response body bytes as they came over the wire (compressed, before decoding; a redirect hop's by its Content-Length). */
  bytes: number;
  /** Total time spent waiting for responses. */
  latencyMs: number;
  /** Time spent waiting for the rate limiter. */
  throttledMs: number;
  /** How many times the circuit breaker opened. */
  breakerOpens: number;
}

export type PartitionBy = string[] | Record<string, string | number | ((record: SourceRecord) => unknown)>;

export interface SourceDefinition<T extends object = SourceRecord> {
  /** Source name, e.g. `vtex` (`^[a-z][a-z0-9_]*$`). */
  source: string;
  /** Dataset name, e.g. `products`. */
  dataset: string;
  /** A `z.object` describing one record; records failing it go to quarantine. */
  schema: z.ZodType<T>;
  /** Hive partition keys before `year/month/day`: record fields, or `{ key: constant | fn }`. */
  partitionBy?: PartitionBy;
  /** Primary key of a record, documented for the models (dedup happens there). */
  primaryKey?: string[];
  /** Limits of this source (rate, retries, flush size…), over the lake's defaults. */
  limits?: Partial<Limits>;
  /** Yields raw records or batches of raw records; each is validated against `schema`. */
  extract: (ctx: ExtractContext) => AsyncIterable<unknown> | Iterable<unknown>;
}

export interface Source<T extends object = SourceRecord> {
  readonly source: string;
  readonly dataset: string;
  readonly schema: z.ZodType<T>;
  readonly columns: ColumnSpec[];
  readonly partitionKeys: PartitionKey[];
  readonly primaryKey: string[] | undefined;
  readonly limits: Partial<Limits>;
  readonly extract: SourceDefinition<T>['extract'];
  /**
   * For sources whose schema is known only at run time (a CSV without a schema): returns the
   * schema to validate with and the bronze columns. Called once, before `extract`. `guessed`: no
   * record told the types (only files without rows), so the next run's are no schema drift.
   */
  readonly resolve?: (ctx: ExtractContext) => Promise<{ schema: z.ZodType; columns: ColumnSpec[]; guessed?: boolean }>;
  /** Marker so `lake.extract` can tell a source from anything else. */
  readonly [SOURCE]: true;
}

/** A source of any record type, as `lake.extract` takes them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySource = Source<any>;

const SOURCE: unique symbol = Symbol.for('duckhouse.source');

/** Where a record of a batch is in its input: the file, and its line when known. */
export type RecordLocation = { file: string; line?: number };
type RecordLocator = (index: number) => RecordLocation | Promise<RecordLocation>;
const locators = new WeakMap<object, RecordLocator>();

/**
 * Marks a batch a file source yields with where its records come from (`locate(i)`: the `i`th
 * record's file and line), so a record the schema rejects is quarantined with them. Asked only
 * for rejected records: a locator may compute lines lazily.
 */
export function locateRecords<T extends unknown[]>(batch: T, locate: RecordLocator): T {
  locators.set(batch, locate);
  return batch;
}

/** The locator `locateRecords` gave the batch, if any. */
export function locatorOf(batch: unknown): RecordLocator | undefined {
  return typeof batch === 'object' && batch !== null ? locators.get(batch) : undefined;
}

const lazyCursors = new WeakMap<object, () => unknown>();

/**
 * A cursor declared by how to write it rather than written out: `checkpoint` keeps the token, and
 * the lake calls `materialize` only when a commit saves it (a crawl's frontier declared after every
 * page would otherwise be copied whole each time: O(pages × links)). `materialize` must return the
 * state as it was when the token was made, however far the source has gone on since. Internal
 * (htmlSource): a source of `defineSource` declares plain values.
 */
export function lazyCursor(materialize: () => unknown): object {
  const token = {};
  lazyCursors.set(token, materialize);
  return token;
}

/** The value a declared cursor stands for: a `lazyCursor` token written out, anything else as is. */
export function cursorValue(cursor: unknown): unknown {
  const materialize = typeof cursor === 'object' && cursor !== null ? lazyCursors.get(cursor) : undefined;
  return materialize ? materialize() : cursor;
}

export function isSource(value: unknown): value is AnySource {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SOURCE] === true;
}

const definitionSchema = z.strictObject({
  source: z.string(),
  dataset: z.string(),
  schema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'must be a zod schema (z.object({...}))'),
  partitionBy: z
    .union([
      z.array(z.string()),
      z.record(z.string(), z.union([z.string(), z.number(), z.custom<(r: SourceRecord) => unknown>((v) => typeof v === 'function')])),
    ])
    .optional(),
  primaryKey: z.array(z.string().min(1)).optional(),
  limits: limitsOverrideSchema.optional(),
  extract: z.custom<SourceDefinition['extract']>((v) => typeof v === 'function', 'must be a function returning records or batches'),
});

/**
 * Why a field named `__proto__` is refused: a record's `record[name] = value` sets its prototype
 * instead of a field, so the values were dropped from bronze without a word.
 */
export const PROTO_FIELD = 'field "__proto__" cannot be stored: JavaScript objects take that name as their prototype, and its values would be lost';

/**
 * Defines a source.
 * @example
 * const prices = defineSource({
 *   source: 'shop', dataset: 'prices', partitionBy: ['store'],
 *   schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }),
 *   async *extract() { yield [{ store: 'a', sku: '1', price: 9.9 }]; },
 * });
 */
export function defineSource<T extends object>(definition: SourceDefinition<T>): Source<T> {
  const where = `defineSource(${JSON.stringify(String((definition as { source?: unknown })?.source))}/${JSON.stringify(String((definition as { dataset?: unknown })?.dataset))})`;
  const d = parseOptions(definitionSchema, definition, where);
  checkName('source', d.source, where);
  checkName('dataset', d.dataset, where);
  const columns = columnsOf(d.schema, where);
  const columnNames = new Set(columns.map((c) => c.name));
  for (const reserved of ['_run_id', '_extracted_at', ...DATE_KEYS]) {
    if (columnNames.has(reserved)) {
      throw new ConfigError(`${where}: field "${reserved}" is reserved for bronze (rename it in the schema)`);
    }
  }
  if (columnNames.has('__proto__')) throw new ConfigError(`${where}: ${PROTO_FIELD} (rename it in the schema, and in the records your extract yields)`);
  const checkKey = (name: string): void => {
    checkName('partition key', name, where);
    if ((DATE_KEYS as readonly string[]).includes(name)) throw new ConfigError(`${where}: partition key "${name}" is reserved (year/month/day are added from the extraction date)`);
  };
  let partitionKeys: PartitionKey[] = [];
  if (Array.isArray(d.partitionBy)) {
    partitionKeys = d.partitionBy.map((field) => {
      checkKey(field);
      if (!columnNames.has(field)) throw new ConfigError(`${where}: partitionBy field "${field}" is not in the schema`);
      // The field moves to the path, where a Date is a calendar date: its instant would be lost.
      if (expectsDate(shapeOf(d.schema)[field])) {
        throw new ConfigError(
          `${where}: partitionBy field "${field}" is a date-time (z.date()): in the path it would keep only a date and lose its instant; partition by a function of it instead ({ ${field.replace(/_at$/, '')}_day: (r) => r.${field} }, a date in the lake's time zone) and keep the field in the files`,
        );
      }
      return { name: field, get: (r: SourceRecord) => r[field] };
    });
    // A record field used as a partition key lives in the path, not in the file.
    const moved = new Set(d.partitionBy);
    columns.splice(0, columns.length, ...columns.filter((c) => !moved.has(c.name)));
  } else if (d.partitionBy) {
    partitionKeys = Object.entries(d.partitionBy).map(([name, spec]) => {
      checkKey(name);
      if (columnNames.has(name)) {
        throw new ConfigError(`${where}: partition key "${name}" is also a field of the schema: list it in partitionBy as ["${name}"] instead`);
      }
      if (typeof spec === 'function') return { name, get: spec as (r: SourceRecord) => unknown };
      return { name, get: () => spec, constant: spec };
    });
  }
  return {
    source: d.source,
    dataset: d.dataset,
    schema: definition.schema,
    columns,
    partitionKeys,
    primaryKey: d.primaryKey,
    limits: d.limits ?? {},
    extract: definition.extract,
    [SOURCE]: true,
  };
}
