/**
 * Node selection, dbt style: `name`, `schema.name`, `+x` (with ancestors), `x+` (with descendants),
 * `+x+`, `layer:marts`, `source:vtex`, `source:vtex.products`, `tag:daily`; several at once is the union.
 */
import { ConfigError } from '../errors.js';
import type { Project, ProjectNode } from './project.js';
import { didYouMean } from './suggest.js';

const METHODS = ['layer', 'source', 'tag'] as const;

/**
 * Ids of the enabled models and seeds to build. No selector (or an empty list) selects them all.
 * Assertions are never selected (they run as tests). A selector that matches nothing is a
 * ConfigError naming it and the closest name.
 *
 * @example
 * selectNodes(project, ['+fct_prices_daily', 'layer:staging', 'source:vtex.products+'])
 */
export function selectNodes(project: Pick<Project, 'nodes'>, selectors: string[] | undefined): Set<string> {
  const pool = [...project.nodes.values()].filter((n) => n.kind !== 'assertion' && n.config.enabled);
  const words = (selectors ?? []).flatMap((s) => s.split(/\s+/)).filter((s) => s.length > 0);
  if (words.length === 0) return new Set(pool.map((n) => n.id));

  const byId = new Map(pool.map((n) => [n.id, n]));
  const dependents = new Map<string, string[]>();
  for (const node of pool) for (const dep of node.dependsOn) dependents.set(dep, [...(dependents.get(dep) ?? []), node.id]);
  const walk = (start: string[], next: (id: string) => readonly string[]): string[] => {
    const seen = new Set<string>();
    const todo = [...start];
    while (todo.length > 0) {
      for (const id of next(todo.pop()!)) {
        if (!seen.has(id) && byId.has(id)) {
          seen.add(id);
          todo.push(id);
        }
      }
    }
    return [...seen];
  };

  const selected = new Set<string>();
  for (const word of words) {
    const m = /^(\+?)(.*?)(\+?)$/.exec(word)!;
    const core = m[2]!;
    const matched = match(core, word, pool);
    const out = [...matched];
    if (m[1]) out.push(...walk(matched, (id) => byId.get(id)?.dependsOn ?? []));
    if (m[3]) out.push(...walk(matched, (id) => dependents.get(id) ?? []));
    for (const id of out) selected.add(id);
  }
  return selected;
}

/**
 * `lake.test`'s selection, as `dbt test --select`: a word that names a test (`not_null_t_v`) or a
 * singular test (`no_big_k`, `assertions.no_big_k`), and no model or seed, picks that test; the
 * other words select nodes as `selectNodes` does (`nodes` is undefined when every word named a test).
 */
export function selectForTest(project: Pick<Project, 'nodes' | 'tests'>, selectors: string[] | undefined): { nodes: Set<string> | undefined; tests: Set<string> } {
  const words = (selectors ?? []).flatMap((s) => s.split(/\s+/)).filter((s) => s.length > 0);
  const nodeNames = new Set([...project.nodes.values()].filter((n) => n.kind !== 'assertion' && n.config.enabled).flatMap((n) => [n.name, n.id]));
  const testOf = new Map<string, string>();
  for (const t of project.tests) {
    testOf.set(t.name, t.name);
    if (t.kind === 'singular') testOf.set(t.model, t.name);
  }
  const tests = new Set<string>();
  const rest: string[] = [];
  for (const word of words) {
    const test = nodeNames.has(word) ? undefined : testOf.get(word);
    if (test !== undefined) tests.add(test);
    else rest.push(word);
  }
  if (words.length > 0 && rest.length === 0) return { nodes: undefined, tests };
  try {
    return { nodes: selectNodes(project, rest), tests };
  } catch (error) {
    // A word that is no node may be a misspelt test: the message offers the closest of both.
    const word = rest.find((w) => !/[:+]/.test(w) && !nodeNames.has(w));
    if (!(error instanceof ConfigError) || word === undefined || !error.message.startsWith(`selector "${word}" `)) throw error;
    throw new ConfigError(`selector "${word}" matches no enabled model, seed or test${didYouMean(word, [...nodeNames, ...testOf.keys()])}`);
  }
}

function match(core: string, word: string, pool: ProjectNode[]): string[] {
  const colon = core.indexOf(':');
  if (colon === -1) {
    const hit = pool.filter((n) => n.name === core || n.id === core).map((n) => n.id);
    if (hit.length > 0) return hit;
    const candidates = core.includes('.') ? pool.map((n) => n.id) : pool.map((n) => n.name);
    throw new ConfigError(`selector "${word}" matches no enabled model or seed${didYouMean(core, candidates)}`);
  }
  const method = core.slice(0, colon);
  const value = core.slice(colon + 1);
  let hit: ProjectNode[];
  let candidates: string[];
  switch (method) {
    case 'layer':
      hit = pool.filter((n) => n.schema === value);
      candidates = pool.map((n) => `layer:${n.schema}`);
      break;
    case 'source':
      hit = pool.filter((n) => n.sources.some((s) => s.source === value || `${s.source}.${s.dataset}` === value));
      candidates = pool.flatMap((n) => n.sources.flatMap((s) => [`source:${s.source}`, `source:${s.source}.${s.dataset}`]));
      break;
    case 'tag':
      hit = pool.filter((n) => n.config.tags.includes(value));
      candidates = pool.flatMap((n) => n.config.tags.map((t) => `tag:${t}`));
      break;
    default:
      throw new ConfigError(`selector "${word}": unknown method "${method}:" — use a name, schema.name, ${METHODS.map((x) => `${x}:`).join(', ')} with optional + before or after`);
  }
  if (hit.length === 0) throw new ConfigError(`selector "${word}" matches no enabled model or seed${didYouMean(core, candidates)}`);
  return hit.map((n) => n.id);
}
