/**
 * Model configuration: the strict schema of `{{ config(...) }}` and YAML `config:`, and how the
 * layers merge (built-in defaults < YAML < SQL).
 */
import { z } from 'zod';
import { ModelError } from '../errors.js';
import { zodProblems } from './zod-problems.js';

export const MATERIALIZATIONS = ['view', 'table', 'ephemeral', 'incremental'] as const;
export const INCREMENTAL_STRATEGIES = ['append', 'merge', 'delete+insert'] as const;
export const ON_SCHEMA_CHANGE = ['append_new_columns', 'ignore', 'fail', 'sync_all_columns'] as const;

export type Materialization = (typeof MATERIALIZATIONS)[number];
export type IncrementalStrategy = (typeof INCREMENTAL_STRATEGIES)[number];
export type OnSchemaChange = (typeof ON_SCHEMA_CHANGE)[number];
export type NodeKind = 'model' | 'seed' | 'assertion';

/** A node's resolved configuration. */
export interface ModelConfig {
  /** Seeds are `table`; assertions are `ephemeral` (never built, inlined into their test query). */
  materialized: Materialization;
  /** Normalised to a list: `unique_key: 'id'` becomes `['id']`. */
  unique_key?: string[];
  /** Default `merge` when `unique_key` is set, else `append`. */
  incremental_strategy: IncrementalStrategy;
  on_schema_change: OnSchemaChange;
  /** Union of the YAML and SQL tags, in order of appearance. */
  tags: string[];
  enabled: boolean;
  description?: string;
  /**
   * Table and incremental models: store the model's files split by these columns (Hive layout),
   * so an incremental merge rewrites only the partitions its new rows touch.
   */
  partition_by?: string[];
  /** Seeds only: DuckDB types by column name, the rest auto-detected. */
  column_types?: Record<string, string>;
  /** Assertions only: severity of the singular test (default `error`). */
  severity?: 'warn' | 'error';
  /** Assertions only: dbt's `error_if` / `warn_if` conditions on the failures (default `!=0`). */
  error_if?: string;
  warn_if?: string;
}

const tags = z.union([z.string().min(1), z.array(z.string().min(1))]);
const common = {
  tags: tags.optional(),
  enabled: z.boolean().optional(),
  description: z.string().optional(),
  // dbt's documentation configs (dbt 1.10 moves `meta` under `config:`): accepted, and nothing a
  // build does reads them. Configs that would change what a build does (alias, schema, hooks,
  // contract, grants…) stay errors rather than being ignored.
  meta: z.record(z.string(), z.unknown()).optional(),
  docs: z.record(z.string(), z.unknown()).optional(),
};

const layerSchemas = {
  model: z.strictObject({
    ...common,
    materialized: z.enum(MATERIALIZATIONS).optional(),
    unique_key: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    incremental_strategy: z.enum(INCREMENTAL_STRATEGIES).optional(),
    on_schema_change: z.enum(ON_SCHEMA_CHANGE).optional(),
    partition_by: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  }),
  seed: z.strictObject({
    ...common,
    column_types: z.record(z.string().min(1), z.string().min(1)).optional(),
  }),
  assertion: z.strictObject({
    ...common,
    // dbt reads a severity in any case (`WARN`), as a YAML test's severity is read here.
    severity: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['warn', 'error']))
      .optional(),
    error_if: z.string().min(1).optional(),
    warn_if: z.string().min(1).optional(),
  }),
} as const;

type LayerValues = z.output<(typeof layerSchemas)['model']> &
  z.output<(typeof layerSchemas)['seed']> &
  z.output<(typeof layerSchemas)['assertion']>;

/** One source of configuration and where it came from, for messages. */
export interface ConfigLayer {
  values: Record<string, unknown>;
  /** e.g. `model marts.orders (models/marts/orders.sql)` */
  where: string;
  /** The file it is in, when not the node's own (a YAML properties file). */
  file?: string;
}

/** `view` in staging, `table` elsewhere (DESIGN "Models"). */
export function defaultMaterialization(schema: string): Materialization {
  return schema === 'staging' ? 'view' : 'table';
}

/** Checks each layer strictly (errors name the layer's file and the field), then merges them in order. */
export function resolveConfig(kind: NodeKind, schema: string, layers: ConfigLayer[]): ModelConfig {
  const schemaOfKind = layerSchemas[kind];
  const known = Object.keys(schemaOfKind.shape);
  const merged: Partial<LayerValues> = {};
  const allTags: string[] = [];
  for (const layer of layers) {
    const parsed = schemaOfKind.safeParse(layer.values);
    if (!parsed.success) {
      throw new ModelError('MODEL_CONFIG_INVALID', `${layer.where}: ${zodProblems(parsed.error, layer.values, 'config', known)}`, {
        cause: parsed.error,
      });
    }
    const values = parsed.data as Partial<LayerValues>;
    for (const [key, value] of Object.entries(values)) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
    if (values.tags !== undefined) allTags.push(...(typeof values.tags === 'string' ? [values.tags] : values.tags));
  }

  const uniqueKey = merged.unique_key === undefined ? undefined : typeof merged.unique_key === 'string' ? [merged.unique_key] : merged.unique_key;
  const strategy = merged.incremental_strategy ?? (uniqueKey ? 'merge' : 'append');
  const materialized = kind === 'seed' ? 'table' : kind === 'assertion' ? 'ephemeral' : (merged.materialized ?? defaultMaterialization(schema));
  // Only an incremental model merges: elsewhere the strategy is ignored, as dbt does (see ignoredConfigKeys).
  if (materialized === 'incremental' && strategy !== 'append' && !uniqueKey) {
    const where = layers.at(-1)?.where ?? schema;
    throw new ModelError('MODEL_CONFIG_INVALID', `${where}: incremental_strategy '${strategy}' needs a unique_key (one column or a list)`);
  }
  const partitionBy = merged.partition_by === undefined ? undefined : typeof merged.partition_by === 'string' ? [merged.partition_by] : merged.partition_by;
  const config: ModelConfig = {
    ...(partitionBy ? { partition_by: partitionBy } : {}),
    materialized,
    incremental_strategy: strategy,
    on_schema_change: merged.on_schema_change ?? 'append_new_columns',
    tags: [...new Set(allTags)],
    enabled: merged.enabled ?? true,
  };
  if (uniqueKey) config.unique_key = uniqueKey;
  if (merged.description !== undefined) config.description = merged.description;
  if (merged.column_types !== undefined) config.column_types = merged.column_types;
  if (merged.severity !== undefined) config.severity = merged.severity;
  if (merged.error_if !== undefined) config.error_if = merged.error_if;
  if (merged.warn_if !== undefined) config.warn_if = merged.warn_if;
  return config;
}

export type ReadByKey = 'partition_by' | 'unique_key' | 'incremental_strategy' | 'on_schema_change';

/**
 * The model config keys only some materializations read, and which. dbt accepts each of them on
 * any model and ignores it where it does nothing, so a project written for dbt still builds; a
 * build says so in its warnings (`partition_by` on a view leaves nothing partitioned).
 */
export const READ_BY: Readonly<Record<ReadByKey, readonly Materialization[]>> = {
  partition_by: ['table', 'incremental'],
  unique_key: ['incremental'],
  incremental_strategy: ['incremental'],
  on_schema_change: ['incremental'],
};

/** Of the keys a model's config layers set (`set`), those its materialization never reads, in `READ_BY` order. */
export function ignoredConfigKeys(materialized: Materialization, set: ReadonlySet<string>): ReadByKey[] {
  return (Object.keys(READ_BY) as ReadByKey[]).filter((key) => set.has(key) && !READ_BY[key].includes(materialized));
}
