/** Argument checking and SQL of the Jinja built-ins, shared by parse mode and render mode. */
import { ModelError } from '../errors.js';
import { isSecretName, registerSecret } from '../redact.js';
import type { Kwargs } from './jinja.js';
import type { NodeKind } from './model-config.js';
import { didYouMean } from './suggest.js';
import { trimSqlTail } from './sql-text.js';

/** A source read by a model: `source('vtex', 'products', as_of_run='…')`. */
export interface SourceUse {
  source: string;
  dataset: string;
  asOfRun?: string;
}

/** One `reject_if(condition, rule)` of a model, in order of appearance. */
export interface RejectRule {
  condition: string;
  rule: string;
}

/**
 * How `reject_if` renders: keep the good rows, or select the rows rejected by one rule. In audit
 * mode for rule R, R renders as its condition, or as FALSE with `ruleAs: 'false'` (the build
 * subtracts that second render from the first, see `rejectSql`).
 */
export type RejectMode = { kind: 'keep' } | { kind: 'audit'; rule: string; earlier: string[]; ruleAs?: 'condition' | 'false' };

/** The part of a node that ref resolution looks at. */
export interface RefTarget {
  id: string;
  schema: string;
  name: string;
  kind: NodeKind;
}

const SOURCE_NAME = /^[a-z][a-z0-9_]*$/;
const RULE_NAME = /^[a-z][a-z0-9_]*$/;

function isText(value: unknown): value is string | String {
  return typeof value === 'string' || value instanceof String;
}

function noKwargs(label: string, fn: string, kwargs: Kwargs, allowed: readonly string[] = []): void {
  const extra = Object.keys(kwargs).filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    throw new ModelError('JINJA_ERROR', `${label}: ${fn}() does not take ${extra.map((k) => `${k}=`).join(', ')}`);
  }
}

/** `ref('name')` or `ref('schema', 'name')` → the id of a model or seed; `self` (the referencing node) is never suggested. */
export function resolveRef(nodes: ReadonlyMap<string, RefTarget>, label: string, args: unknown[], kwargs: Kwargs, self?: string): string {
  noKwargs(label, 'ref', kwargs);
  if (args.length < 1 || args.length > 2 || !args.every(isText)) {
    throw new ModelError('REF_INVALID', `${label}: ref() takes 'name' or 'schema', 'name' as strings (got ${args.length} arguments)`);
  }
  const parts = args.map(String);
  const text = `ref(${parts.map((p) => `'${p}'`).join(', ')})`;
  const refable = [...nodes.values()].filter((n) => n.kind !== 'assertion');
  const others = refable.filter((n) => n.id !== self);
  if (parts.length === 2) {
    const id = `${parts[0]}.${parts[1]}`;
    const hit = refable.find((n) => n.id === id);
    if (hit) return hit.id;
    throw new ModelError('REF_UNKNOWN', `${label}: ${text} not found${didYouMean(id, others.map((n) => n.id))}`);
  }
  const hit = refable.find((n) => n.name === parts[0]);
  if (hit) return hit.id;
  throw new ModelError('REF_UNKNOWN', `${label}: ${text} not found${didYouMean(parts[0]!, others.map((n) => n.name))}`);
}

/** `source('vtex', 'products')`, `source('vtex', 'products', as_of_run='…')`. */
export function parseSource(label: string, args: unknown[], kwargs: Kwargs): SourceUse {
  noKwargs(label, 'source', kwargs, ['as_of_run']);
  if (args.length !== 2 || !args.every(isText)) {
    throw new ModelError('SOURCE_INVALID', `${label}: source() takes 'source', 'dataset' as strings (got ${args.length} arguments)`);
  }
  const [source, dataset] = args.map(String) as [string, string];
  for (const [what, value] of [['source', source], ['dataset', dataset]] as const) {
    if (!SOURCE_NAME.test(value)) {
      throw new ModelError('SOURCE_INVALID', `${label}: source('${source}', '${dataset}'): the ${what} name must match ${SOURCE_NAME}`);
    }
  }
  const use: SourceUse = { source, dataset };
  const asOfRun = kwargs.as_of_run;
  if (asOfRun !== undefined && asOfRun !== null && asOfRun !== '') {
    if (!isText(asOfRun)) throw new ModelError('SOURCE_INVALID', `${label}: source('${source}', '${dataset}'): as_of_run must be a run id string`);
    use.asOfRun = String(asOfRun);
  }
  return use;
}

/** `config(materialized='table', …)` or `config({'materialized': 'table'})` → the options. */
export function parseConfigCall(label: string, args: unknown[], kwargs: Kwargs): Kwargs {
  if (args.length === 0) return kwargs;
  const [first] = args;
  if (args.length === 1 && first !== null && typeof first === 'object' && !Array.isArray(first)) return { ...(first as Kwargs), ...kwargs };
  throw new ModelError('MODEL_CONFIG_INVALID', `${label}: config() takes keyword arguments, e.g. config(materialized='table')`);
}

function nameArg(label: string, fn: string, args: unknown[], kwargs: Kwargs): { name: string; hasDefault: boolean; fallback: unknown } {
  noKwargs(label, fn, kwargs, ['default']);
  const [name] = args;
  if (!isText(name) || args.length > 2) throw new ModelError('JINJA_ERROR', `${label}: ${fn}() takes a name and an optional default`);
  const hasDefault = args.length === 2 || 'default' in kwargs;
  return { name: String(name), hasDefault, fallback: args.length === 2 ? args[1] : kwargs.default };
}

/** `var('k')`, `var('k', default)`: a missing var without default is an error naming it. */
export function lookupVar(label: string, vars: Record<string, unknown>, args: unknown[], kwargs: Kwargs): unknown {
  const { name, hasDefault, fallback } = nameArg(label, 'var', args, kwargs);
  if (Object.hasOwn(vars, name) && vars[name] !== undefined) return vars[name];
  if (hasDefault) return fallback;
  throw new ModelError('VAR_UNDEFINED', `${label}: var('${name}') is not set and has no default — pass it in vars or write var('${name}', default)`);
}

/** `env_var('K')`, `env_var('K', default)`: a missing variable without default is an error naming it. */
export function lookupEnv(label: string, env: Record<string, string | undefined>, args: unknown[], kwargs: Kwargs): unknown {
  const { name, hasDefault, fallback } = nameArg(label, 'env_var', args, kwargs);
  // Own variables only: `constructor` or `toString` is every object's, not the environment's.
  const value = Object.hasOwn(env, name) ? env[name] : undefined;
  // A credential read the dbt way (`env_var('SHOP_EXPORT_TOKEN')`) lands in the compiled SQL and in
  // error messages: registered, it is scrubbed from them as the auth layer's secrets are.
  if (value !== undefined && isSecretName(name)) registerSecret(value);
  if (value !== undefined) return value;
  if (hasDefault) return fallback;
  throw new ModelError('ENV_VAR_UNDEFINED', `${label}: env_var('${name}') is not set in the environment and has no default`);
}

/** Checks `reject_if(condition, rule)` and records it; a rule name used twice in one model is an error. */
export function parseRejectIf(label: string, args: unknown[], kwargs: Kwargs, seen: RejectRule[]): RejectRule {
  noKwargs(label, 'reject_if', kwargs);
  const [raw, rule] = args;
  // Pasted into `coalesce((…), false)`: a trailing `-- note` would comment out the closing parentheses.
  const condition = isText(raw) ? trimSqlTail(String(raw)) : raw;
  if (args.length !== 2 || !isText(condition) || !isText(rule) || String(condition).trim() === '') {
    throw new ModelError('REJECT_RULE_INVALID', `${label}: reject_if() takes a SQL condition and a rule name, e.g. reject_if('price <= 0', 'non_positive_price')`);
  }
  const name = String(rule);
  if (!RULE_NAME.test(name)) {
    throw new ModelError('REJECT_RULE_INVALID', `${label}: reject_if rule '${name}' must match ${RULE_NAME}`);
  }
  if (seen.some((r) => r.rule === name)) {
    throw new ModelError('REJECT_RULE_DUPLICATE', `${label}: reject_if rule '${name}' is used twice; give each condition its own rule name`);
  }
  const out = { condition: String(condition), rule: name };
  seen.push(out);
  return out;
}

/**
 * The WHERE fragment of one rule. keep: rows the rule does not reject. audit for rule R: rows R
 * rejects and no earlier rule did (first matching rule wins); later rules do not filter.
 *
 * That is exact when every rule filters the same rows (one WHERE, or nested queries), not when
 * they sit in different branches (`… where reject_if(a) union all … where reject_if(b)`): there
 * the branch without R returns its kept rows (earlier rules negated) or all its rows (later rules
 * TRUE). So the build audits R as Q_R(condition) EXCEPT ALL Q_R(FALSE) (`ruleAs: 'false'`): rows of
 * branches without R come out of both sides alike and cancel (multisets), leaving the rows R rejects.
 */
export function rejectSql(rule: RejectRule, mode: RejectMode): string {
  const hit = `coalesce((${rule.condition}), false)`;
  if (mode.kind === 'keep') return `(NOT ${hit})`;
  if (mode.rule === rule.rule) return mode.ruleAs === 'false' ? 'FALSE' : hit;
  if (mode.earlier.includes(rule.rule)) return `(NOT ${hit})`;
  return 'TRUE';
}
