/**
 * Render mode: a model's template with real relations, for the execution side to run. Ephemeral
 * refs are inlined as parenthesised subqueries, recursively.
 */
import { ModelError } from '../errors.js';
import { qualified } from '../db/quote.js';
import { lookupEnv, lookupVar, parseRejectIf, parseSource, rejectSql, resolveRef, type RejectMode, type RejectRule } from './builtins.js';
import type { Hooks } from './jinja.js';
import { nodeLabel, type Project, type ProjectNode } from './project.js';

export interface RenderContext {
  /** The relation of a materialized model or seed: `"schema"."name"`. Never called for ephemerals. */
  relation(id: string): string;
  /** What `source(source, dataset[, as_of_run=…])` renders to (a `read_parquet(…)` over bronze). */
  sourceRelation(source: string, dataset: string, opts: { asOfRun?: string }): string;
  /** `is_incremental()`: the model is incremental, its table exists and this is not a full refresh. */
  isIncremental: boolean;
  /** `{{ this }}` */
  thisRelation: string;
  vars: Record<string, unknown>;
  env: Record<string, string | undefined>;
  rejectMode: RejectMode;
}

export interface RenderedModel {
  /** The compiled SQL, trailing whitespace and semicolons removed. */
  sql: string;
  /** The `reject_if` rules this render used, in order (those inside inlined ephemerals excluded). */
  rejectRules: RejectRule[];
}

/**
 * Renders a model or an assertion for execution.
 *
 * @example
 * const { sql } = renderModel(project, project.nodes.get('marts.fct_orders')!, {
 *   relation: (id) => qualified(...id.split('.')), sourceRelation: (s, d) => `read_parquet('…')`,
 *   isIncremental: false, thisRelation: '"marts"."fct_orders"', vars: {}, env: process.env, rejectMode: { kind: 'keep' },
 * });
 */
export function renderModel(project: Project, node: ProjectNode, ctx: RenderContext): RenderedModel {
  return renderNode(project, node, ctx, []);
}

function renderNode(project: Project, node: ProjectNode, ctx: RenderContext, inlining: string[]): RenderedModel {
  const compiled = project.templates.get(node.id);
  if (!compiled) {
    throw new ModelError('MODEL_NOT_RENDERABLE', `${nodeLabel(node)}: a ${node.kind} has no SQL template to render`);
  }
  const label = compiled.label;
  const rejectRules: RejectRule[] = [];
  const hooks: Hooks = {
    ref: (args, kwargs) => {
      const id = resolveRef(project.nodes, label, args, kwargs);
      const target = project.nodes.get(id)!;
      if (!node.refs.includes(id)) {
        // The DAG comes from parse mode (is_incremental() false): a ref seen only now would be built out of order.
        throw new ModelError(
          'REF_NOT_DECLARED',
          `${label}: ref('${target.name}') was not seen in parse mode (is_incremental() false), so the build order does not know it — declare it outside the if: {% set _ = ref('${target.name}') %}`,
        );
      }
      if (target.config.materialized !== 'ephemeral' || target.kind !== 'model') return ctx.relation(id);
      if (inlining.includes(id)) throw new ModelError('CYCLE', `cycle: ${[...inlining, node.id, id].join(' → ')}`);
      // The ephemeral's own reject_if rules filter (keep mode); their rows are not audited.
      const inner = renderNode(
        project,
        target,
        { ...ctx, isIncremental: false, thisRelation: qualified(target.schema, target.name), rejectMode: { kind: 'keep' } },
        [...inlining, node.id],
      );
      return `(${inner.sql}\n)`;
    },
    source: (args, kwargs) => {
      const use = parseSource(label, args, kwargs);
      if (!node.sources.some((s) => s.source === use.source && s.dataset === use.dataset)) {
        throw new ModelError(
          'SOURCE_NOT_DECLARED',
          `${label}: source('${use.source}', '${use.dataset}') was not seen in parse mode (is_incremental() false) — declare it outside the if: {% set _ = source('${use.source}', '${use.dataset}') %}`,
        );
      }
      return ctx.sourceRelation(use.source, use.dataset, use.asOfRun === undefined ? {} : { asOfRun: use.asOfRun });
    },
    config: () => '',
    is_incremental: () => ctx.isIncremental,
    var: (args, kwargs) => lookupVar(label, ctx.vars, args, kwargs),
    env_var: (args, kwargs) => lookupEnv(label, ctx.env, args, kwargs),
    reject_if: (args, kwargs) => rejectSql(parseRejectIf(label, args, kwargs, rejectRules), ctx.rejectMode),
    this: ctx.thisRelation,
  };
  const sql = trimSqlTail(project.engine.render(compiled, hooks));
  return { sql, rejectRules };
}

/**
 * The SQL without what follows its last token: whitespace, `;` and comments. The engine wraps a
 * model (`COPY (…) TO`, `SELECT * FROM (…)`): a trailing `-- note` would comment out the closing
 * parenthesis, and `select 1; -- done` would leave a `;` inside it. Strings, quoted names and
 * comments are skipped as DuckDB reads them, so a `;` or `--` inside a string is kept.
 */
export function trimSqlTail(sql: string): string {
  let end = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i + 2);
      i = nl === -1 ? n : nl + 1;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === "'" || c === '"') {
      // A quoted string or name; the quote doubled inside it is an escape. E'…' also takes \'.
      const backslash = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/[A-Za-z0-9_]/.test(sql[i - 2]!));
      let j = i + 1;
      while (j < n) {
        if (backslash && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j += 1;
      }
      i = Math.min(j + 1, n);
      end = i;
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64))![0];
      const close = sql.indexOf(tag, i + tag.length);
      i = close === -1 ? n : close + tag.length;
      end = i;
    } else {
      i += 1;
      if (c !== ';' && !/\s/.test(c)) end = i;
    }
  }
  return sql.slice(0, end);
}
