/**
 * Render mode: a model's template with real relations, for the execution side to run. Ephemeral
 * refs are inlined as parenthesised subqueries, recursively.
 */
import { ModelError } from '../errors.js';
import { qualified } from '../db/quote.js';
import { lookupEnv, lookupVar, parseRejectIf, parseSource, rejectSql, resolveRef, type RejectMode, type RejectRule } from './builtins.js';
import { TemplateRelation, type Hooks } from './jinja.js';
import { nodeLabel, type Project, type ProjectNode } from './project.js';
import { trimSqlTail } from './sql-text.js';

export { trimSqlTail };

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
  /** Where `{{ log('msg', info=True) }}` sends its message (dropped when absent). */
  log?: (message: string, info: boolean) => void;
  /** dbt's `run_started_at`: when the build started. */
  runStartedAt?: Date;
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
      const id = resolveRef(project.nodes, label, args, kwargs, node.id);
      const target = project.nodes.get(id)!;
      if (!node.refs.includes(id)) {
        // The DAG comes from parse mode (is_incremental() false): a ref seen only now would be built out of order.
        throw new ModelError(
          'REF_NOT_DECLARED',
          `${label}: ref('${target.name}') was not seen in parse mode (is_incremental() false), so the build order does not know it — declare it outside the if: {% set _ = ref('${target.name}') %}`,
        );
      }
      if (target.config.materialized !== 'ephemeral' || target.kind !== 'model') return new TemplateRelation(ctx.relation(id), target.schema, target.name);
      if (inlining.includes(id)) throw new ModelError('CYCLE', `cycle: ${[...inlining, node.id, id].join(' → ')}`);
      // The ephemeral's own reject_if rules filter (keep mode); their rows are not audited.
      const inner = renderNode(
        project,
        target,
        { ...ctx, isIncremental: false, thisRelation: qualified(target.schema, target.name), rejectMode: { kind: 'keep' } },
        [...inlining, node.id],
      );
      return new TemplateRelation(`(${inner.sql}\n)`, target.schema, target.name);
    },
    source: (args, kwargs) => {
      const use = parseSource(label, args, kwargs);
      if (!node.sources.some((s) => s.source === use.source && s.dataset === use.dataset)) {
        throw new ModelError(
          'SOURCE_NOT_DECLARED',
          `${label}: source('${use.source}', '${use.dataset}') was not seen in parse mode (is_incremental() false) — declare it outside the if: {% set _ = source('${use.source}', '${use.dataset}') %}`,
        );
      }
      return new TemplateRelation(ctx.sourceRelation(use.source, use.dataset, use.asOfRun === undefined ? {} : { asOfRun: use.asOfRun }), use.source, use.dataset);
    },
    config: () => '',
    is_incremental: () => ctx.isIncremental,
    var: (args, kwargs) => lookupVar(label, ctx.vars, args, kwargs),
    env_var: (args, kwargs) => lookupEnv(label, ctx.env, args, kwargs),
    reject_if: (args, kwargs) => rejectSql(parseRejectIf(label, args, kwargs, rejectRules), ctx.rejectMode),
    this: new TemplateRelation(ctx.thisRelation, node.schema, node.name),
    ...(ctx.log ? { log: ctx.log } : {}),
    ...(ctx.runStartedAt ? { runStartedAt: ctx.runStartedAt } : {}),
  };
  const sql = trimSqlTail(project.engine.render(compiled, hooks));
  return { sql, rejectRules };
}
