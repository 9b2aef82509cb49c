/**
 * Data tests: definitions from YAML (`tests:` / `data_tests:` on models, columns and seeds) and
 * from `models/assertions/` (singular tests), and the one SQL query that runs each.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ModelError } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { parseSource, resolveRef } from './builtins.js';
import type { Project, ProjectNode } from './project.js';
import type { RawTest } from './properties.js';
import { trimSqlTail } from './sql-text.js';
import { didYouMean } from './suggest.js';
import { zodProblems } from './zod-problems.js';

export type TestKind =
  | 'not_null'
  | 'unique'
  | 'accepted_values'
  | 'relationships'
  | 'expression'
  | 'row_count'
  | 'max_null_share'
  | 'max_duplicate_share'
  | 'min_quality_score'
  | 'singular'
  /** A project's own generic test: a `{% test name(model, column_name, …) %}` block in models/macros/. */
  | 'generic';
export type Severity = 'warn' | 'error';

export const TEST_KINDS: readonly TestKind[] = [
  'not_null',
  'unique',
  'accepted_values',
  'relationships',
  'expression',
  'row_count',
  'max_null_share',
  'max_duplicate_share',
  'min_quality_score',
];

/** Defaults of the quality gates (DESIGN "Defaults"); `Lakehouse.open({ quality })` overrides them. */
export interface QualityDefaults {
  maxNullShare: number;
  maxDuplicateShare: number;
  minQualityScore: number;
  gateSeverity: Severity;
}
export const DEFAULT_QUALITY: QualityDefaults = { maxNullShare: 0.2, maxDuplicateShare: 0.05, minQualityScore: 0.8, gateSeverity: 'warn' };

interface TestBase {
  /** Stable and dbt-like: `not_null_tru_product_sku_id`, `unique_tru_order_order_id`. Unique in the project. */
  name: string;
  /** Id of the node the test is attached to (the assertion's own id for singular tests). */
  model: string;
  /** The column name as written in YAML (or `column_name`). */
  column?: string;
  severity: Severity;
  /** Every node id the test's SQL reads (the model, the `to` of relationships, an assertion's refs). */
  dependsOn: string[];
  /** Where it was defined, for messages: `models/marts/_marts.yml` or the assertion's .sql. */
  file: string;
  /** dbt's `config: { where }`: the model's rows are filtered first. */
  where?: string;
  /** dbt's `error_if` / `warn_if` on the failures (`>10`, `!=0`, `between 5 and 10`); both `!=0` when not given. */
  errorIf?: string;
  warnIf?: string;
}

/** Column expressions in `args` are SQL as written (or quoted when the column says `quote: true`). */
export type TestDef = TestBase &
  (
    | { kind: 'not_null'; args: { column: string } }
    | { kind: 'unique'; args: { columns: string[] } }
    | { kind: 'accepted_values'; args: { column: string; values: (string | number | boolean)[]; quote: boolean } }
    /** `to`: the parent's node id, or `source:<source>.<dataset>` (see `sourceTarget`). */
    | { kind: 'relationships'; args: { column: string; to: string; field: string } }
    | { kind: 'expression'; args: { expression: string } }
    | { kind: 'row_count'; args: { min?: number; max?: number } }
    | { kind: 'max_null_share'; args: { column: string; max: number } }
    | { kind: 'max_duplicate_share'; args: { columns: string[]; max: number } }
    | { kind: 'min_quality_score'; args: { column: string; min: number } }
    | { kind: 'singular'; args: Record<string, never> }
    /** `sql`: the test macro's rendered query of failing rows, `TESTED_RELATION` where it read `model`. */
    | { kind: 'generic'; args: { test: string; sql: string } }
  );

/** Stands for the tested relation in a generic test's rendered SQL until the test runs (its `where` applied then). */
export const TESTED_RELATION = '__duckhouse_tested_relation__';

/**
 * Renders the project's generic test `test_<name>` (its macro) with these keyword arguments
 * (`model` is `TESTED_RELATION`), as dbt renders a generic test; `label` prefixes any error.
 */
export interface GenericTests {
  /** Names usable in YAML: `positive` for a `{% test positive(…) %}` block. */
  names: ReadonlySet<string>;
  render: (name: string, kwargs: Record<string, unknown>, node: ProjectNode, label: string) => string;
}

/** Names that dbt projects use for the same tests, accepted so models port as they are. */
const ALIASES: Record<string, Exclude<TestKind, 'singular' | 'generic'>> = {
  expression_is_true: 'expression',
  'dbt_utils.expression_is_true': 'expression',
  'dbt_utils.unique_combination_of_columns': 'unique',
  accepted_range: 'expression',
  'dbt_utils.accepted_range': 'expression',
};

/**
 * dbt_utils' tests select the failing rows with `where not (…)`, so a row whose expression is NULL
 * passes; duckhouse's own `expression` counts it as failing. Ported under their dbt_utils names they
 * keep dbt_utils' meaning.
 */
const NULL_PASSES = new Set(['expression_is_true', 'dbt_utils.expression_is_true', 'accepted_range', 'dbt_utils.accepted_range']);
const RANGE_TESTS = new Set(['accepted_range', 'dbt_utils.accepted_range']);
/** dbt_utils' `min_value` / `max_value`: a number, or SQL pasted as written (`"'2020-01-01'"`, `"current_date"`). */
const rangeBound = z.union([z.number(), z.string().min(1)]);

const severity = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['warn', 'error']));
const share = z.number().min(0).max(1);
const condition = z.string().min(1);
const columnList = z.array(z.string().min(1)).min(1);
const common = {
  name: z.string().min(1).optional(),
  severity: severity.optional(),
  where: z.string().min(1).optional(),
  column_name: z.string().min(1).optional(),
  error_if: condition.optional(),
  warn_if: condition.optional(),
  // dbt's documentation properties of a test: kept out of the test (they change nothing it runs).
  description: z.string().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  config: z
    .strictObject({
      severity: severity.optional(),
      where: z.string().min(1).optional(),
      enabled: z.boolean().optional(),
      tags: z.array(z.string()).optional(),
      error_if: condition.optional(),
      warn_if: condition.optional(),
      meta: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
};
const argSchemas = {
  not_null: z.strictObject({ ...common }),
  unique: z.strictObject({ ...common, columns: columnList.optional(), combination_of_columns: columnList.optional() }),
  accepted_values: z.strictObject({ ...common, values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1), quote: z.boolean().optional() }),
  relationships: z.strictObject({ ...common, to: z.string().min(1), field: z.string().min(1) }),
  expression: z.strictObject({ ...common, expression: z.string().min(1) }),
  row_count: z.strictObject({ ...common, min: z.number().int().nonnegative().optional(), max: z.number().int().nonnegative().optional() }),
  max_null_share: z.strictObject({ ...common, max: share.optional() }),
  max_duplicate_share: z.strictObject({ ...common, max: share.optional(), columns: columnList.optional() }),
  min_quality_score: z.strictObject({ ...common, min: share.optional() }),
} satisfies Record<Exclude<TestKind, 'singular' | 'generic'>, z.ZodType>;

const rangeSchema = z.strictObject({ ...common, min_value: rangeBound.optional(), max_value: rangeBound.optional(), inclusive: z.boolean().optional() });

const GATES = new Set<TestKind>(['max_null_share', 'max_duplicate_share', 'min_quality_score']);

/**
 * Renders a test's `where` as dbt does (its Jinja sees `var()` and `env_var()`); `label` prefixes
 * any error (`models/marts/p.yml line 5: model marts.m column a: test not_null: where`).
 */
export type WhereRenderer = (text: string, node: ProjectNode, label: string) => string;

/**
 * Every test of the project's enabled nodes, in a stable order (by node id, model-level tests,
 * then columns in YAML order), and each assertion as a `singular` test.
 */
export function collectTests(project: Pick<Project, 'nodes'>, quality: Partial<QualityDefaults> = {}, renderWhere?: WhereRenderer, generic?: GenericTests): TestDef[] {
  const q = { ...DEFAULT_QUALITY, ...quality };
  const tests: TestDef[] = [];
  const names = new Map<string, TestDef>();
  const add = (test: TestDef, custom: boolean) => {
    let name = test.name;
    if (names.has(name)) {
      if (custom) throw new ModelError('TEST_DUPLICATE', `${test.file}: test name "${name}" is used twice (also in ${names.get(name)!.file})`);
      const hash = createHash('sha1').update(JSON.stringify([test.model, test.kind, test.column, test.args, test.where])).digest('hex');
      for (let n = 8; names.has(name); n += 4) name = `${test.name}_${hash.slice(0, n)}`;
    }
    test.name = name;
    names.set(name, test);
    tests.push(test);
  };
  for (const node of project.nodes.values()) {
    if (!node.config.enabled) continue;
    if (node.kind === 'assertion') {
      const test: TestDef = { name: node.name, model: node.id, kind: 'singular', args: {}, severity: node.config.severity ?? 'error', dependsOn: [...node.refs], file: node.displayPath };
      if (node.config.error_if !== undefined) test.errorIf = checkCondition(node.config.error_if, `${node.displayPath}: config error_if`);
      if (node.config.warn_if !== undefined) test.warnIf = checkCondition(node.config.warn_if, `${node.displayPath}: config warn_if`);
      add(test, false);
      continue;
    }
    for (const raw of node.tests) {
      const made = makeTest(project, node, undefined, raw, q, renderWhere, generic);
      if (made) add(made.test, made.custom);
    }
    for (const column of node.columns) {
      for (const raw of column.tests) {
        const made = makeTest(project, node, column, raw, q, renderWhere, generic);
        if (made) add(made.test, made.custom);
      }
    }
  }
  return tests;
}

function makeTest(
  project: Pick<Project, 'nodes'>,
  node: ProjectNode,
  column: { name: string; quote: boolean } | undefined,
  raw: RawTest,
  q: QualityDefaults,
  renderWhere: WhereRenderer | undefined,
  generic?: GenericTests,
): { test: TestDef; custom: boolean } | undefined {
  const on = `${node.kind} ${node.id}${column ? ` column ${column.name}` : ''}`;
  const where = `${raw.file} line ${raw.line}: ${on}`;
  let written: string;
  let params: unknown;
  if (typeof raw.spec === 'string') {
    written = raw.spec;
    params = {};
  } else {
    const entries = Object.entries(raw.spec as Record<string, unknown>);
    if (entries.length !== 1) {
      throw new ModelError('TEST_INVALID', `${where}: a test is a name (- not_null) or a one-key map (- accepted_values: {values: [...]}); got keys ${entries.map(([k]) => k).join(', ') || '(none)'}`);
    }
    [written, params] = entries[0]!;
    params ??= {};
  }
  const kind = (TEST_KINDS as readonly string[]).includes(written) ? (written as Exclude<TestKind, 'singular' | 'generic'>) : ALIASES[written];
  // A generic test of the project's own (`{% test positive(model, column_name) %}`): the common
  // arguments as for any test, the others the macro's.
  const own = !kind && generic?.names.has(written) ? generic : undefined;
  if (!kind && !own) {
    const known = [...TEST_KINDS, ...(generic?.names ?? [])];
    throw new ModelError('TEST_UNKNOWN', `${where}: unknown test "${written}"${didYouMean(written, known)} (known: ${known.join(', ')}; a generic test of your own is a {% test ${written}(model, column_name) %} block in models/macros/)`);
  }
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new ModelError('TEST_INVALID', `${where}: test ${written} takes a map of arguments (got ${JSON.stringify(params)})`);
  }
  // dbt 1.10 nests the arguments under `arguments:`.
  const { arguments: nested, ...flat } = params as Record<string, unknown>;
  let input: Record<string, unknown> = nested && typeof nested === 'object' ? { ...flat, ...(nested as Record<string, unknown>) } : flat;
  if (RANGE_TESTS.has(written)) input = rangeAsExpression(input, column, `${where}: test ${written}`);
  const schema = kind ? argSchemas[kind] : z.looseObject(common);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ModelError('TEST_INVALID', `${where}: test ${written}: ${zodProblems(parsed.error, input, 'argument', Object.keys(schema.shape))}`, { cause: parsed.error });
  }
  // One view over the per-kind schemas: each kind's own fields were checked above.
  const args = parsed.data as Partial<{
    name: string;
    severity: Severity;
    where: string;
    column_name: string;
    error_if: string;
    warn_if: string;
    config: { severity?: Severity; where?: string; enabled?: boolean; error_if?: string; warn_if?: string };
    columns: string[];
    combination_of_columns: string[];
    values: (string | number | boolean)[];
    quote: boolean;
    to: string;
    field: string;
    expression: string;
    min: number;
    max: number;
  }>;
  if (args.config?.enabled === false) return undefined;

  const columnName = column?.name ?? args.column_name;
  const columnSql = column ? (column.quote ? quoteIdent(column.name) : column.name) : args.column_name;
  const needColumn = (): string => {
    if (columnSql === undefined) throw new ModelError('TEST_INVALID', `${where}: test ${written} needs a column: put it under columns: or give column_name`);
    return columnSql;
  };
  const base: Omit<TestBase, 'name'> = {
    model: node.id,
    severity: args.config?.severity ?? args.severity ?? (kind && GATES.has(kind) ? q.gateSeverity : 'error'),
    dependsOn: [node.id],
    file: raw.file,
  };
  const extra: { column?: string; where?: string; errorIf?: string; warnIf?: string } = {};
  if (columnName !== undefined) extra.column = columnName;
  const filter = args.config?.where ?? args.where;
  // dbt renders a test's configs as Jinja: `where: "day > '{{ var('start') }}'"`.
  if (filter !== undefined) extra.where = renderWhere && /\{[{%#]/.test(filter) ? renderWhere(filter, node, `${where}: test ${written}: where`) : filter;
  const errorIf = args.config?.error_if ?? args.error_if;
  if (errorIf !== undefined) extra.errorIf = checkCondition(errorIf, `${where}: test ${written}: error_if`);
  const warnIf = args.config?.warn_if ?? args.warn_if;
  if (warnIf !== undefined) extra.warnIf = checkCondition(warnIf, `${where}: test ${written}: warn_if`);

  if (!kind) {
    const kwargs = Object.fromEntries(Object.entries(input).filter(([k]) => !(k in common)));
    const sql = own!.render(written, { model: TESTED_RELATION, ...(columnSql !== undefined ? { column_name: columnSql } : {}), ...kwargs }, node, `${where}: test ${written}`);
    const test: TestDef = { ...base, ...extra, name: '', kind: 'generic', args: { test: written, sql } };
    test.name = args.name ?? testName(written, node.name, columnName, Object.values(kwargs).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))));
    return { test, custom: args.name !== undefined };
  }
  let test: TestDef;
  let suffix: string[] = [];
  switch (kind) {
    case 'not_null':
      test = { ...base, ...extra, name: '', kind, args: { column: needColumn() } };
      break;
    case 'unique': {
      const list = args.columns ?? args.combination_of_columns;
      if (list && columnSql !== undefined && column) {
        throw new ModelError('TEST_INVALID', `${where}: test unique: give either a column or columns, not both`);
      }
      const columns = list ?? [needColumn()];
      test = { ...base, ...extra, name: '', kind, args: { columns } };
      if (list) suffix = list;
      break;
    }
    case 'accepted_values':
      test = { ...base, ...extra, name: '', kind, args: { column: needColumn(), values: args.values!, quote: args.quote ?? true } };
      suffix = args.values!.map(String);
      break;
    case 'relationships': {
      const source = sourceArgs(args.to!, `${where}: test relationships`);
      if (source) {
        // As in dbt: the parent may be a source, read as the model's own source() reads it.
        test = { ...base, ...extra, name: '', kind, args: { column: needColumn(), to: `${SOURCE_TARGET}${source.source}.${source.dataset}`, field: args.field! } };
        suffix = [args.field!, source.dataset];
        break;
      }
      const to = resolveRef(project.nodes, `${where}: test relationships`, ...refArgs(args.to!));
      if (!project.nodes.get(to)!.config.enabled) {
        throw new ModelError('REF_DISABLED', `${where}: test relationships: ${args.to} points to ${to}, which is disabled (enabled: false)`);
      }
      test = { ...base, ...extra, name: '', kind, dependsOn: [...new Set([node.id, to])], args: { column: needColumn(), to, field: args.field! } };
      suffix = [args.field!, project.nodes.get(to)!.name];
      break;
    }
    case 'expression': {
      // On a column, the expression follows the column's name, as in dbt_utils (`expression: '>= 0'`);
      // an accepted_range's names its column itself.
      const text = columnSql !== undefined && column && !RANGE_TESTS.has(written) ? `${columnSql} ${args.expression!}` : args.expression!;
      const expression = NULL_PASSES.has(written) ? `coalesce((${trimSqlTail(text)}), true)` : text;
      test = { ...base, ...extra, name: '', kind, args: { expression } };
      suffix = [args.expression!];
      break;
    }
    case 'row_count': {
      if (args.min === undefined && args.max === undefined) throw new ModelError('TEST_INVALID', `${where}: test row_count needs min, max or both`);
      if (args.min !== undefined && args.max !== undefined && args.min > args.max) throw new ModelError('TEST_INVALID', `${where}: test row_count: min ${args.min} is above max ${args.max}`);
      const range: { min?: number; max?: number } = {};
      if (args.min !== undefined) range.min = args.min;
      if (args.max !== undefined) range.max = args.max;
      test = { ...base, ...extra, name: '', kind, args: range };
      break;
    }
    case 'max_null_share':
      test = { ...base, ...extra, name: '', kind, args: { column: needColumn(), max: args.max ?? q.maxNullShare } };
      break;
    case 'max_duplicate_share': {
      const columns = args.columns ?? [needColumn()];
      test = { ...base, ...extra, name: '', kind, args: { columns, max: args.max ?? q.maxDuplicateShare } };
      if (args.columns) suffix = args.columns;
      break;
    }
    case 'min_quality_score':
      test = { ...base, ...extra, name: '', kind, args: { column: needColumn(), min: args.min ?? q.minQualityScore } };
      break;
  }
  test.name = args.name ?? testName(kind, node.name, columnName, suffix);
  return { test, custom: args.name !== undefined };
}

const CONDITION = /^\s*(>=|<=|!=|<>|==|=|>|<)\s*(\d+(?:\.\d+)?)\s*$/;
const BETWEEN = /^\s*(not\s+)?between\s+(\d+(?:\.\d+)?)\s+and\s+(\d+(?:\.\d+)?)\s*$/i;

/** An `error_if` / `warn_if` condition as dbt writes them (`>10`, `!= 0`, `between 5 and 10`), or an error naming where it was written. */
function checkCondition(text: string, label: string): string {
  if (CONDITION.test(text) || BETWEEN.test(text)) return text.trim();
  throw new ModelError('TEST_INVALID', `${label}: "${text}" is not a condition on the number of failures (write e.g. ">10", "!=0", ">=1" or "between 5 and 10")`);
}

function conditionHolds(condition: string, failures: number): boolean {
  const between = BETWEEN.exec(condition);
  if (between) {
    const inside = failures >= Number(between[2]) && failures <= Number(between[3]);
    return between[1] ? !inside : inside;
  }
  const m = CONDITION.exec(condition)!;
  const n = Number(m[2]);
  switch (m[1]) {
    case '>':
      return failures > n;
    case '>=':
      return failures >= n;
    case '<':
      return failures < n;
    case '<=':
      return failures <= n;
    case '=':
    case '==':
      return failures === n;
    default:
      return failures !== n;
  }
}

/**
 * A test's status from its failures, as dbt decides it: `severity: error` checks `error_if` first
 * (→ `fail`), then `warn_if` (→ `warn`); `severity: warn` checks only `warn_if`. Both default to `!=0`.
 */
export function testStatus(test: Pick<TestDef, 'severity' | 'errorIf' | 'warnIf'>, failures: number): 'pass' | 'warn' | 'fail' {
  if (test.severity === 'error' && conditionHolds(test.errorIf ?? '!=0', failures)) return 'fail';
  return conditionHolds(test.warnIf ?? '!=0', failures) ? 'warn' : 'pass';
}

/** How a relationships test names a source parent in `args.to` (node ids never hold a colon). */
const SOURCE_TARGET = 'source:';

/** The source and dataset of a relationships `to` written `source('vtex', 'products')`. */
function sourceArgs(to: string, label: string): { source: string; dataset: string } | undefined {
  const m = /^\s*source\(\s*(['"])([^'"]*)\1\s*,\s*(['"])([^'"]*)\3\s*\)\s*$/.exec(to);
  if (!m) return undefined;
  const use = parseSource(label, [m[2]!, m[4]!], {});
  return { source: use.source, dataset: use.dataset };
}

/** The source a relationships test's `to` names, or undefined when it names a model or seed. */
export function sourceTarget(to: string): { source: string; dataset: string } | undefined {
  if (!to.startsWith(SOURCE_TARGET)) return undefined;
  const [source, dataset] = to.slice(SOURCE_TARGET.length).split('.') as [string, string];
  return { source, dataset };
}

/** `ref('x')`, `ref("s", "x")`, `x` or `s.x` → the arguments of ref(). */
function refArgs(to: string): [string[], Record<string, never>] {
  const m = /^\s*ref\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])([^'"]+)\3\s*)?\)\s*$/.exec(to);
  if (m) return [m[4] === undefined ? [m[2]!] : [m[2]!, m[4]], {}];
  const parts = to.trim().split('.');
  return [parts.length === 2 ? parts : [to.trim()], {}];
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
}

/** dbt-like: `<kind>_<model>[_<column>][__<extra>…]`, long names cut and suffixed with a hash. */
/**
 * dbt_utils' `accepted_range` as the `expression` it checks on its column: `>= min_value`, `<= max_value`
 * (`>` and `<` with `inclusive: false`), a NULL value passing as in dbt_utils.
 */
function rangeAsExpression(input: Record<string, unknown>, column: { name: string; quote: boolean } | undefined, label: string): Record<string, unknown> {
  const parsed = rangeSchema.safeParse(input);
  if (!parsed.success) {
    throw new ModelError('TEST_INVALID', `${label}: ${zodProblems(parsed.error, input, 'argument', Object.keys(rangeSchema.shape))}`, { cause: parsed.error });
  }
  const { min_value: min, max_value: max, inclusive, ...rest } = parsed.data;
  if (!column) throw new ModelError('TEST_INVALID', `${label} checks a column: put it under columns:`);
  if (min === undefined && max === undefined) throw new ModelError('TEST_INVALID', `${label} needs min_value, max_value or both`);
  const col = column.quote ? quoteIdent(column.name) : column.name;
  const eq = inclusive === false ? '' : '=';
  const parts: string[] = [];
  if (min !== undefined) parts.push(`${col} >${eq} ${String(min)}`);
  if (max !== undefined) parts.push(`${col} <${eq} ${String(max)}`);
  return { ...rest, expression: parts.join(' and ') };
}

function testName(kind: string, model: string, column: string | undefined, extra: string[]): string {
  const parts = [slug(`${kind}_${model}${column ? `_${column}` : ''}`), ...extra.map(slug).filter(Boolean)];
  const full = parts.join('__');
  if (full.length <= 100) return full;
  return `${full.slice(0, 80)}_${createHash('sha1').update(full).digest('hex').slice(0, 10)}`;
}

function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  return String(value);
}

/**
 * ONE query returning a single row `{ failures: BIGINT, measured: DOUBLE }`. `failures` follows
 * dbt (null rows, duplicated values, unexpected values, orphan rows, rows failing the expression);
 * for row_count and the quality gates it is 1 when the measured value is out of bounds, else 0,
 * and `measured` is the count or share. `measured` is NULL for the other kinds.
 * A singular test needs its rendered SQL (`renderModel(project, assertion, ctx).sql`).
 *
 * @example
 * testSql(test, (id) => qualified(...id.split('.') as [string, string]))
 * // select count(*)::BIGINT as failures, NULL::DOUBLE as measured from "trusted"."tru_product" where sku_id is null
 */
/** The rows a test looks at: its model's relation, filtered by its `where`. */
function testedRelation(test: TestDef, relationOf: (id: string) => string): string {
  // Fragments from YAML are pasted into one-line SQL: a trailing `-- note` or `;` would cut it.
  return test.where === undefined ? relationOf(test.model) : `(select * from ${relationOf(test.model)} where ${trimSqlTail(test.where)})`;
}

/** `accepted_values`' list, quoted unless `quote: false`. */
function acceptedValuesSql(args: { values: unknown[]; quote?: boolean }): string {
  return args.values.map((v) => (args.quote ? quoteLiteral(String(v)) : String(v))).join(', ');
}

/**
 * For the quality score: how many ROWS a `unique` or `accepted_values` test finds at fault (the
 * extra copies of each duplicated key; the rows holding a value not accepted), where `failures`
 * counts keys and values as dbt does. Undefined for the other kinds, whose failures are rows.
 */
export function failingRowsSql(test: TestDef, relationOf: (id: string) => string): string | undefined {
  const rel = testedRelation(test, relationOf);
  if (test.kind === 'unique') {
    const cols = test.args.columns;
    const notNull = cols.length === 1 ? ` where (${cols[0]}) is not null` : '';
    return `select coalesce(sum(n - 1), 0)::BIGINT as rows from (select count(*) as n from ${rel} as t${notNull} group by ${cols.map((c) => `(${c})`).join(', ')} having count(*) > 1) as d`;
  }
  if (test.kind === 'accepted_values') {
    const values = acceptedValuesSql(test.args);
    return `select count(*)::BIGINT as rows from ${rel} as t where (${test.args.column}) not in (${values})`;
  }
  return undefined;
}

/** For the quality score: how many rows a test with a `where` looks at (undefined without one: all the model's rows). */
export function checkedRowsSql(test: TestDef, relationOf: (id: string) => string): string | undefined {
  return test.where === undefined ? undefined : `select count(*)::BIGINT as rows from ${testedRelation(test, relationOf)} as t`;
}

export function testSql(test: TestDef, relationOf: (id: string) => string, compiledSql?: string): string {
  const rel = testedRelation(test, relationOf);
  const counted = (from: string) => `select count(*)::BIGINT as failures, NULL::DOUBLE as measured from ${from}`;
  switch (test.kind) {
    case 'not_null':
      return counted(`${rel} as t where (${test.args.column}) is null`);
    case 'unique': {
      const cols = test.args.columns;
      if (cols.length === 1) {
        return counted(`(select (${cols[0]}) as k from ${rel} as t where (${cols[0]}) is not null group by 1 having count(*) > 1) as d`);
      }
      return counted(`(select 1 from ${rel} as t group by ${cols.map((c) => `(${c})`).join(', ')} having count(*) > 1) as d`);
    }
    case 'accepted_values': {
      const values = acceptedValuesSql(test.args);
      return counted(`(select (${test.args.column}) as v from ${rel} as t where (${test.args.column}) not in (${values}) group by 1) as d`);
    }
    case 'relationships':
      return counted(
        `(select (${test.args.column}) as v from ${rel} as t where (${test.args.column}) is not null) as c ` +
          `left join (select (${test.args.field}) as v from ${relationOf(test.args.to)} as t) as p on c.v = p.v where p.v is null`,
      );
    case 'expression':
      return counted(`${rel} as t where not coalesce((${trimSqlTail(test.args.expression)}), false)`);
    case 'row_count': {
      const out = [
        test.args.min === undefined ? undefined : `n < ${num(test.args.min)}`,
        test.args.max === undefined ? undefined : `n > ${num(test.args.max)}`,
      ].filter(Boolean);
      return `select (case when ${out.join(' or ')} then 1 else 0 end)::BIGINT as failures, n::DOUBLE as measured from (select count(*) as n from ${rel} as t) as c`;
    }
    case 'max_null_share':
      return (
        `select (case when m > ${num(test.args.max)} then 1 else 0 end)::BIGINT as failures, m::DOUBLE as measured from ` +
        `(select coalesce(count(*) filter (where (${test.args.column}) is null)::DOUBLE / nullif(count(*), 0), 0) as m from ${rel} as t) as s`
      );
    case 'max_duplicate_share': {
      // As `unique` and the uniqueness score count them: rows whose one key column is NULL are not
      // copies of each other (they stay among the rows); a key of several columns is grouped as is.
      const cols = test.args.columns;
      const one = cols.length === 1;
      return (
        `select (case when m > ${num(test.args.max)} then 1 else 0 end)::BIGINT as failures, m::DOUBLE as measured from ` +
        `(select coalesce(sum(n - 1)${one ? ' filter (where k is not null)' : ''}::DOUBLE / nullif(sum(n), 0), 0) as m from ` +
        `(select count(*) as n${one ? `, (${cols[0]}) as k` : ''} from ${rel} as t group by ${cols.map((c) => `(${c})`).join(', ')}) as g) as s`
      );
    }
    case 'min_quality_score':
      return (
        `select (case when m < ${num(test.args.min)} then 1 else 0 end)::BIGINT as failures, m::DOUBLE as measured from ` +
        `(select min(${test.args.column})::DOUBLE as m from ${rel} as t) as s`
      );
    case 'generic':
      return counted(`(${test.args.sql.replace(/[\s;]+$/, '').replaceAll(TESTED_RELATION, rel)}\n) as t`);
    case 'singular':
      if (compiledSql === undefined) {
        throw new ModelError('TEST_SQL_MISSING', `test ${test.name} (${test.file}): a singular test needs its rendered SQL (renderModel of the assertion)`);
      }
      return counted(`(${compiledSql.replace(/[\s;]+$/, '')}\n) as t`);
  }
}
