/**
 * Node selection, dbt style: `name`, `schema.name`, globs (`stg_*`, `marts.*`), `+x` (with
 * ancestors), `x+` (with descendants), `+x+`, depth-limited `2+x` / `x+1`, `@x` (x, its descendants
 * and their ancestors), methods `layer:marts`, `source:vtex`, `source:vtex.products`, `tag:daily`,
 * `path:models/marts`, `config.materialized:incremental`; several words at once are the union, and
 * a word `a,b` the intersection of its parts.
 */
import { ConfigError } from '../errors.js';
import type { Project, ProjectNode } from './project.js';
import { didYouMean } from './suggest.js';

const METHODS = ['layer', 'source', 'tag', 'path', 'config.<key>'] as const;

/**
 * Ids of the enabled models and seeds to build. No selector (or an empty list) selects them all.
 * Assertions are never selected (they run as tests). A selector that matches nothing is a
 * ConfigError naming it and the closest name.
 *
 * @example
 * selectNodes(project, ['+fct_prices_daily', 'layer:staging', 'source:vtex.products+', 'tag:daily,layer:marts'])
 */
export function selectNodes(project: Pick<Project, 'nodes'>, selectors: string[] | undefined, exclude?: string[]): Set<string> {
  const selected = pickNodes(project, selectors);
  const excludeWords = wordsOf(exclude);
  if (excludeWords.length === 0) return selected;
  // dbt's --exclude: the same grammar, taken out of the selection; leaving nothing is a usage error.
  for (const id of pickNodes(project, excludeWords)) selected.delete(id);
  if (selected.size === 0) {
    throw new ConfigError(`${selectionLessExclusion(selectors, exclude)} leaves no model or seed`);
  }
  return selected;
}

/** `select "a" "b" less exclude "c"`, for the error of a selection its exclusion empties. */
function selectionLessExclusion(selectors: string[] | undefined, exclude: string[] | undefined): string {
  const quoted = (words: string[]) => words.map((w) => `"${w}"`).join(' ');
  const words = wordsOf(selectors);
  return `select ${words.length > 0 ? quoted(words) : '(everything)'} less exclude ${quoted(wordsOf(exclude))}`;
}

function wordsOf(selectors: string[] | undefined): string[] {
  return (selectors ?? []).flatMap((s) => s.split(/\s+/)).filter((s) => s.length > 0);
}

function pickNodes(project: Pick<Project, 'nodes'>, selectors: string[] | undefined): Set<string> {
  const pool = [...project.nodes.values()].filter((n) => n.kind !== 'assertion' && n.config.enabled);
  const words = wordsOf(selectors);
  if (words.length === 0) return new Set(pool.map((n) => n.id));

  const byId = new Map(pool.map((n) => [n.id, n]));
  const dependents = new Map<string, string[]>();
  for (const node of pool) for (const dep of node.dependsOn) dependents.set(dep, [...(dependents.get(dep) ?? []), node.id]);
  /** What `start` reaches through `next`, at most `depth` steps away (every step when undefined). */
  const walk = (start: string[], next: (id: string) => readonly string[], depth?: number): string[] => {
    const seen = new Set<string>();
    let frontier = [...start];
    for (let step = 0; frontier.length > 0 && (depth === undefined || step < depth); step += 1) {
      const following: string[] = [];
      for (const from of frontier) {
        for (const id of next(from)) {
          if (!seen.has(id) && byId.has(id)) {
            seen.add(id);
            following.push(id);
          }
        }
      }
      frontier = following;
    }
    return [...seen];
  };
  const ancestors = (ids: string[], depth?: number) => walk(ids, (id) => byId.get(id)?.dependsOn ?? [], depth);
  const descendants = (ids: string[], depth?: number) => walk(ids, (id) => dependents.get(id) ?? [], depth);

  const selectPart = (part: string, word: string): Set<string> => {
    // `@x`, `+x`, `2+x`, `x+`, `x+1`: a method's value may hold a `+` of its own (`config.incremental_strategy:delete+insert`).
    const m = /^(@)?(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/.exec(part);
    const core = m?.[3];
    if (!m || !core) throw new ConfigError(`selector "${word}": "${part}" names no model`);
    const [, at, up, , down] = m;
    if (at && (up !== undefined || down !== undefined)) throw new ConfigError(`selector "${word}": @ does not combine with + (as in dbt)`);
    const matched = match(core, word, pool);
    const out = new Set(matched);
    if (at) {
      const below = [...matched, ...descendants(matched)];
      for (const id of [...below, ...ancestors(below)]) out.add(id);
      return out;
    }
    if (up !== undefined) for (const id of ancestors(matched, up === '' ? undefined : Number(up))) out.add(id);
    if (down !== undefined) for (const id of descendants(matched, down === '' ? undefined : Number(down))) out.add(id);
    return out;
  };

  const selected = new Set<string>();
  for (const word of words) {
    const parts = word.split(',');
    let hit = selectPart(parts[0]!, word);
    for (const part of parts.slice(1)) {
      const other = selectPart(part, word);
      hit = new Set([...hit].filter((id) => other.has(id)));
    }
    if (hit.size === 0) throw new ConfigError(`selector "${word}": the intersection of ${parts.map((p) => `"${p}"`).join(' and ')} is empty`);
    for (const id of hit) selected.add(id);
  }
  return selected;
}

/**
 * `lake.test`'s selection, as `dbt test --select`: a word that names a test (`not_null_t_v`) or a
 * singular test (`no_big_k`, `assertions.no_big_k`), and no model or seed, picks that test; the
 * other words select nodes as `selectNodes` does (`nodes` is undefined when every word named a test).
 * `exclude` reads the same words: the tests it names, and those defined on the nodes it selects, are
 * in `excludedTests`, and those nodes are out of `nodes`.
 */
export function selectForTest(
  project: Pick<Project, 'nodes' | 'tests'>,
  selectors: string[] | undefined,
  exclude?: string[],
): { nodes: Set<string> | undefined; tests: Set<string>; excludedTests: Set<string> } {
  const picked = pickForTest(project, selectors);
  const excludedTests = new Set<string>();
  if (wordsOf(exclude).length === 0) return { ...picked, excludedTests };
  const out = pickForTest(project, exclude);
  const outNodes = out.nodes ?? new Set<string>();
  for (const t of project.tests) if (out.tests.has(t.name) || outNodes.has(t.model)) excludedTests.add(t.name);
  const nodes = picked.nodes && new Set([...picked.nodes].filter((id) => !outNodes.has(id)));
  const tests = new Set([...picked.tests].filter((name) => !excludedTests.has(name)));
  if ((nodes === undefined || nodes.size === 0) && tests.size === 0) {
    throw new ConfigError(`${selectionLessExclusion(selectors, exclude)} leaves no model, seed or test`);
  }
  return { nodes, tests, excludedTests };
}

function pickForTest(project: Pick<Project, 'nodes' | 'tests'>, selectors: string[] | undefined): { nodes: Set<string> | undefined; tests: Set<string> } {
  const words = wordsOf(selectors);
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
    return { nodes: pickNodes(project, rest), tests };
  } catch (error) {
    // A word that is no node may be a misspelt test: the message offers the closest of both.
    const word = rest.find((w) => !/[:+]/.test(w) && !nodeNames.has(w));
    if (!(error instanceof ConfigError) || word === undefined || !error.message.startsWith(`selector "${word}" `)) throw error;
    throw new ConfigError(`selector "${word}" matches no enabled model, seed or test${didYouMean(word, [...nodeNames, ...testOf.keys()])}`);
  }
}

/** A glob of dbt's (`stg_*`, `marts.*`, `?`) as a RegExp over the whole text. */
function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function match(core: string, word: string, pool: ProjectNode[]): string[] {
  const colon = core.indexOf(':');
  if (colon === -1) {
    const glob = /[*?]/.test(core) ? globRegExp(core) : undefined;
    const hit = pool.filter((n) => (glob ? glob.test(n.name) || glob.test(n.id) : n.name === core || n.id === core)).map((n) => n.id);
    if (hit.length > 0) return hit;
    const candidates = core.includes('.') ? pool.map((n) => n.id) : pool.map((n) => n.name);
    throw new ConfigError(`selector "${word}" matches no enabled model or seed${didYouMean(core, candidates)}`);
  }
  const method = core.slice(0, colon);
  const value = core.slice(colon + 1);
  let hit: ProjectNode[];
  let candidates: string[];
  if (method.startsWith('config.')) {
    // dbt's config.<key>:<value>: a list config (tags, unique_key, partition_by) matches any of its values.
    const key = method.slice('config.'.length);
    const known = [...new Set(pool.flatMap((n) => Object.keys(n.config)))];
    if (!known.includes(key)) throw new ConfigError(`selector "${word}": no model has config "${key}"${didYouMean(key, known)}`);
    const values = (n: ProjectNode): string[] => {
      const v = (n.config as unknown as Record<string, unknown>)[key];
      return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
    };
    hit = pool.filter((n) => values(n).includes(value));
    candidates = pool.flatMap((n) => values(n).map((v) => `${method}:${v}`));
  } else {
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
      case 'path': {
        // dbt's path: a folder or file as written from the project (models/marts, models/marts/fct_x.sql), or a glob.
        const wanted = value.replace(/\/+$/, '');
        const glob = /[*?]/.test(wanted) ? globRegExp(wanted) : undefined;
        hit = pool.filter((n) => (glob ? glob.test(n.displayPath) : n.displayPath === wanted || n.displayPath.startsWith(`${wanted}/`)));
        candidates = [...new Set(pool.flatMap((n) => [`path:${n.displayPath}`, `path:${n.displayPath.slice(0, n.displayPath.lastIndexOf('/'))}`]))];
        break;
      }
      default:
        throw new ConfigError(`selector "${word}": unknown method "${method}:" — use a name, schema.name, ${METHODS.map((x) => `${x}:`).join(', ')} with optional + before or after`);
    }
  }
  if (hit.length === 0) throw new ConfigError(`selector "${word}" matches no enabled model or seed${didYouMean(core, candidates)}`);
  return hit.map((n) => n.id);
}
