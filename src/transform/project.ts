/**
 * Discovery: walks `models/`, reads the YAML properties, compiles every template, renders each
 * model once in parse mode to learn its refs, sources, config and reject rules, and checks the graph.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelError } from '../errors.js';
import { qualified } from '../db/quote.js';
import { parseConfigCall, parseRejectIf, parseSource, lookupEnv, lookupVar, rejectSql, resolveRef } from './builtins.js';
import type { RejectRule, SourceUse } from './builtins.js';
import { assertAcyclic } from './graph.js';
import { TemplateEngine, TemplateRelation, type CompiledTemplate, type Kwargs } from './jinja.js';
import { READ_BY, ignoredConfigKeys, resolveConfig, type ConfigLayer, type ModelConfig, type NodeKind, type ReadByKey } from './model-config.js';
import { parseProperties, type PropertyEntry, type RawTest } from './properties.js';
import { didYouMean } from './suggest.js';
import { collectTests, type QualityDefaults, type TestDef } from './tests-def.js';

export { topoOrder } from './graph.js';
export type { RejectRule, SourceUse, RejectMode } from './builtins.js';
export type { ModelConfig, NodeKind, Materialization, IncrementalStrategy, OnSchemaChange } from './model-config.js';
export type { RawTest } from './properties.js';

export interface ColumnDef {
  name: string;
  description?: string;
  /** From YAML `quote: true`: tests quote the column name. */
  quote: boolean;
  tests: RawTest[];
}

export interface ProjectNode {
  /** `schema.name` */
  id: string;
  schema: string;
  name: string;
  kind: NodeKind;
  /** Absolute path of the .sql (or the seed's .csv). */
  file: string;
  /** Relative to the models folder, posix: `marts/orders.sql`. */
  relFile: string;
  /** How messages name the file: `models/marts/orders.sql` (the models folder's own name first). */
  displayPath: string;
  /** The template as written ('' for seeds). */
  rawSql: string;
  /** Merged: built-in defaults < YAML `config:` < `{{ config(...) }}` in the SQL. */
  config: ModelConfig;
  description?: string;
  columns: ColumnDef[];
  /** Model-level tests from YAML, as written. */
  tests: RawTest[];
  /** The yml file that describes this node, if any (display form). */
  propertiesFile?: string;
  /** Ids of the nodes this one refs, sorted, unique. */
  refs: string[];
  /** Sources read directly, in order of appearance, unique. */
  sources: SourceUse[];
  /** Ids this node must wait for (= refs). */
  dependsOn: string[];
  /** `reject_if` rules seen in parse mode (is_incremental() false), in order. */
  rejectRules: RejectRule[];
  /** Config keys set for a model that its materialization does not read, each with the file that set it (see `ignoredConfigWarnings`). */
  ignoredConfig?: { key: ReadByKey; file: string }[];
}

export interface Project {
  /** Absolute path of the models folder. */
  modelsDir: string;
  /** Every model, seed and assertion by id, sorted by id. Disabled ones included (`config.enabled`). */
  nodes: Map<string, ProjectNode>;
  /** Display paths of the macro files, sorted. */
  macroFiles: string[];
  /** Display paths of the YAML property files, sorted. */
  propertyFiles: string[];
  /** The vars of parse mode. */
  vars: Record<string, unknown>;
  /** Every data test of enabled nodes (YAML tests and assertions). */
  tests: TestDef[];
  /** @internal The project's template engine (one nunjucks Environment per project). */
  readonly engine: TemplateEngine;
  /** @internal Compiled templates of models and assertions, by id. */
  readonly templates: ReadonlyMap<string, CompiledTemplate>;
}

export interface DiscoverOptions {
  /** `var('k')` values during parse mode. */
  vars?: Record<string, unknown>;
  /** `env_var('K')` values during parse mode (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Default thresholds and severity of the quality-gate tests (DESIGN's defaults otherwise). */
  quality?: Partial<QualityDefaults>;
}

const NAME = /^[a-z_][a-z0-9_]*$/;
/**
 * The longest schema or model name: a build names files `<schema>.<model>.<runId>-<n>.parquet`,
 * which must fit a file name (255 bytes). Source and dataset names have the same bound.
 */
const MAX_NAME = 64;
const RESERVED_FOLDERS = new Set(['seeds', 'macros', 'assertions']);

/**
 * A seed's first record must name its columns, each once: DuckDB would make an empty file a
 * one-column `column0` table, and rename a repeated name (`a`, `a_1`) or an empty one (`column1`)
 * without a word. Names are compared as DuckDB does, ignoring case. Returns '' (a seed's rawSql).
 */
function checkSeedHeader(text: string, where: string): string {
  const names: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') (names.push(field), (field = ''));
    else if (ch === '\n' || ch === '\r') break;
    else field += ch;
  }
  names.push(field);
  if (names.length === 1 && names[0]!.trim() === '') {
    throw new ModelError('SEED_HEADER', `${where}: the seed has no header: its first line must name the columns`);
  }
  const unnamed = names.findIndex((n) => n.trim() === '');
  if (unnamed >= 0) throw new ModelError('SEED_HEADER', `${where}: column ${unnamed + 1} of the header has no name`);
  const seen = new Map<string, string>();
  for (const name of names) {
    const other = seen.get(name.toLowerCase());
    if (other !== undefined) {
      throw new ModelError('SEED_HEADER', `${where}: the header names column ${JSON.stringify(name)} twice${other === name ? '' : ` (as ${JSON.stringify(other)}; DuckDB ignores case)`}`);
    }
    seen.set(name.toLowerCase(), name);
  }
  return '';
}
/**
 * Folder names that cannot be schemas, and why: schemas duckhouse or DuckDB write to, and names
 * of catalogs a reader has attached (`analytics`, the published catalog, and DuckDB's own), which
 * would make `<name>.<model>` an "Ambiguous reference to catalog or schema" in every view.
 */
const RESERVED_SCHEMAS = new Map<string, string>([
  ['audit', 'duckhouse writes the reject_if audit tables to it'],
  ['_duckhouse', 'duckhouse keeps the build state in it'],
  ['main', "it is DuckDB's default schema"],
  ['information_schema', "it is DuckDB's catalog schema"],
  ['pg_catalog', "it is DuckDB's catalog schema"],
  ['analytics', 'it is the name readers attach analytics.duckdb as, so analytics.<model> would be ambiguous'],
  ['temp', "it is the name of one of DuckDB's own catalogs, so temp.<model> would be ambiguous"],
  ['memory', "it is the name of one of DuckDB's own catalogs, so memory.<model> would be ambiguous"],
  ['system', "it is the name of one of DuckDB's own catalogs, so system.<model> would be ambiguous"],
]);

/** "model marts.orders (models/marts/orders.sql)" — how every message names a node. */
export function nodeLabel(node: Pick<ProjectNode, 'kind' | 'id' | 'displayPath'>): string {
  return `${node.kind} ${node.id} (${node.displayPath})`;
}

/**
 * One warning per enabled model of `ids` whose config sets keys its materialization does not
 * read (dbt ignores them too, so they are no error), naming its file, the keys (and the YAML file
 * that set one) and the materialization:
 * `model staging.v (models/staging/v.sql): config partition_by ignored: materialized='view' does not read it (it is read by table and incremental models)`.
 */
export function ignoredConfigWarnings(project: Project, ids: Iterable<string>): string[] {
  const out: string[] = [];
  for (const id of [...new Set(ids)].sort()) {
    const node = project.nodes.get(id);
    if (!node?.ignoredConfig || !node.config.enabled) continue;
    const keys = node.ignoredConfig.map(({ key, file }) => (file === node.displayPath ? key : `${key} (set in ${file})`));
    const several = keys.length > 1;
    // The keys grouped by the materializations that read them, in READ_BY order.
    const byReaders = new Map<string, string[]>();
    for (const { key } of node.ignoredConfig) {
      const readers = READ_BY[key].join(' and ');
      byReaders.set(readers, [...(byReaders.get(readers) ?? []), key]);
    }
    const readBy =
      byReaders.size === 1
        ? `${several ? 'they are' : 'it is'} read by ${[...byReaders.keys()][0]} models`
        : [...byReaders].map(([readers, group], i) => `${group.join(', ')}${i === 0 ? (group.length > 1 ? ' are read' : ' is read') : ''} by ${readers} models`).join('; ');
    out.push(`${nodeLabel(node)}: config ${keys.join(', ')} ignored: materialized='${node.config.materialized}' does not read ${several ? 'them' : 'it'} (${readBy})`);
  }
  return out;
}

/**
 * Reads a models folder into a Project. Throws a ModelError on the first problem (duplicate names,
 * bad YAML, Jinja errors, unknown refs, cycles, invalid config). A missing folder is an empty project.
 *
 * @example
 * const project = await discoverProject('models', { vars: { as_of: '2026-03-01' } });
 * for (const id of topoOrder(project)) console.log(id, project.nodes.get(id)!.config.materialized);
 */
export async function discoverProject(modelsDir: string, options: DiscoverOptions = {}): Promise<Project> {
  const root = path.resolve(modelsDir);
  const display = (rel: string) => `${path.basename(root)}/${rel}`;
  const files = await walk(root);
  const vars = options.vars ?? {};
  const env = options.env ?? process.env;

  const nodes = new Map<string, ProjectNode>();
  const byName = new Map<string, ProjectNode>();
  const macroFiles: string[] = [];
  const propertyFiles: string[] = [];
  for (const rel of files) {
    const parts = rel.split('/');
    const ext = path.extname(rel).toLowerCase();
    if (ext === '.yml' || ext === '.yaml') {
      propertyFiles.push(rel);
      continue;
    }
    const top = parts[0]!;
    if (parts.length === 1) {
      if (ext === '.sql') {
        throw new ModelError('MODEL_OUTSIDE_SCHEMA', `${display(rel)}: a model must sit in a schema folder, e.g. ${display(`staging/${rel}`)}`);
      }
      continue;
    }
    let kind: NodeKind;
    let schema: string;
    if (top === 'macros') {
      if (ext === '.sql') macroFiles.push(rel);
      continue;
    } else if (top === 'seeds') {
      if (ext !== '.csv') continue;
      kind = 'seed';
      schema = 'seeds';
    } else if (top === 'assertions') {
      if (ext !== '.sql') continue;
      kind = 'assertion';
      schema = 'assertions';
    } else {
      if (ext !== '.sql') continue;
      kind = 'model';
      schema = top;
      if (!NAME.test(schema) || schema.length > MAX_NAME) {
        throw new ModelError('MODEL_NAME_INVALID', `${display(rel)}: schema folder "${schema}" must match ${NAME} (lowercase letters, digits, _), at most ${MAX_NAME} characters`);
      }
      const reserved = RESERVED_SCHEMAS.get(schema);
      if (reserved) {
        throw new ModelError('MODEL_NAME_INVALID', `${display(rel)}: schema "${schema}" is reserved (${reserved}); use another folder name`);
      }
    }
    const name = path.basename(rel, path.extname(rel));
    if (!NAME.test(name) || name.length > MAX_NAME) {
      throw new ModelError('MODEL_NAME_INVALID', `${display(rel)}: ${kind} name "${name}" must match ${NAME} (lowercase letters, digits, _), at most ${MAX_NAME} characters`);
    }
    const other = byName.get(name);
    if (other) {
      throw new ModelError('MODEL_DUPLICATE', `${kind} name "${name}" is used twice: ${other.displayPath} and ${display(rel)} — names are unique across the project`);
    }
    const file = path.join(root, ...parts);
    const node: ProjectNode = {
      id: `${schema}.${name}`,
      schema,
      name,
      kind,
      file,
      relFile: rel,
      displayPath: display(rel),
      rawSql: kind === 'seed' ? checkSeedHeader(await readFile(file, 'utf8'), display(rel)) : await readFile(file, 'utf8'),
      config: undefined as unknown as ModelConfig, // resolved below, once YAML and SQL are read
      columns: [],
      tests: [],
      refs: [],
      sources: [],
      dependsOn: [],
      rejectRules: [],
    };
    byName.set(name, node);
    nodes.set(node.id, node);
  }

  const engine = new TemplateEngine(root);
  for (const rel of macroFiles.sort()) {
    const compiled = engine.compile(genericTestBlocks(await readFile(path.join(root, rel), 'utf8')), rel, `macro file ${display(rel)}`);
    engine.loadMacros(compiled, display(rel));
  }

  const properties = new Map<string, PropertyEntry>();
  for (const rel of propertyFiles.sort()) {
    for (const entry of await parseProperties(await readFile(path.join(root, rel), 'utf8'), display(rel))) {
      const wanted = entry.section === 'seeds' ? 'seed' : 'model';
      const node = byName.get(entry.name);
      if (!node || node.kind !== wanted) {
        const candidates = [...nodes.values()].filter((n) => n.kind === wanted).map((n) => n.name);
        throw new ModelError(
          'YAML_UNKNOWN_MODEL',
          `${entry.file} line ${entry.line}: ${entry.section}: ${wanted} "${entry.name}" does not exist${didYouMean(entry.name, candidates)}`,
        );
      }
      const seen = properties.get(node.id);
      if (seen) {
        throw new ModelError('YAML_DUPLICATE', `${wanted} ${node.id} is described twice: ${seen.file} line ${seen.line} and ${entry.file} line ${entry.line}`);
      }
      properties.set(node.id, entry);
    }
  }

  const sorted = new Map([...nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const templates = new Map<string, CompiledTemplate>();
  for (const node of sorted.values()) {
    const label = nodeLabel(node);
    const props = properties.get(node.id);
    const layers: ConfigLayer[] = [];
    if (props) {
      layers.push({ values: props.config, where: `${node.kind} ${node.id} (${props.file})`, file: props.file });
      if (props.description) node.description = props.description;
      node.columns = props.columns.map((c) => ({ ...c }));
      node.tests = props.tests;
      node.propertiesFile = props.file;
    }
    if (node.kind !== 'seed') {
      const compiled = engine.compile(node.rawSql, node.relFile, label);
      templates.set(node.id, compiled);
      const parsed = parseRender(engine, compiled, node, sorted, vars, env);
      layers.push({ values: parsed.config, where: label });
      node.refs = [...new Set(parsed.refs)].sort();
      node.dependsOn = [...node.refs];
      node.sources = parsed.sources;
      node.rejectRules = parsed.rejectRules;
    }
    node.config = resolveConfig(node.kind, node.schema, layers);
    node.description ??= node.config.description;
    if (node.kind === 'model') {
      // The file that set each key last, as the layers merge (YAML, then the SQL's config()).
      const setIn = new Map<string, string>();
      for (const layer of layers) {
        const file = layer.file ?? node.displayPath;
        for (const [k, v] of Object.entries(layer.values)) if (v !== undefined) setIn.set(k, file);
      }
      const ignored = ignoredConfigKeys(node.config.materialized, new Set(setIn.keys()));
      if (ignored.length > 0) node.ignoredConfig = ignored.map((key) => ({ key, file: setIn.get(key)! }));
    }
  }

  for (const node of sorted.values()) {
    if (!node.config.enabled) continue;
    for (const ref of node.refs) {
      const target = sorted.get(ref)!;
      if (!target.config.enabled) {
        throw new ModelError('REF_DISABLED', `${nodeLabel(node)}: ref('${target.name}') points to ${target.kind} ${target.id}, which is disabled (enabled: false)`);
      }
    }
  }
  assertAcyclic(sorted);

  const project: Project = {
    modelsDir: root,
    nodes: sorted,
    macroFiles: macroFiles.map(display),
    propertyFiles: propertyFiles.map(display),
    vars,
    tests: [],
    engine,
    templates,
  };
  // dbt's generic tests: a `{% test positive(model, column_name) %}` block (or a macro named test_positive).
  const generic = {
    names: new Set([...engine.macros.keys()].filter((n) => n.startsWith('test_') && n.length > 5).map((n) => n.slice(5))),
    render: (name: string, kwargs: Record<string, unknown>, node: ProjectNode, label: string) => renderGenericTest(engine, name, kwargs, node, label, vars, env),
  };
  project.tests = collectTests(project, options.quality, (text, node, label) => renderWhere(engine, text, node, label, vars, env), generic);
  return project;
}

/**
 * dbt's `{% test name(args) %}…{% endtest %}` blocks of a macro file as the macros they are,
 * `test_name` (as dbt itself names them), on the same lines.
 */
function genericTestBlocks(text: string): string {
  return text.replace(/\{%(-?)(\s*)test(\s+)([A-Za-z_]\w*)(\s*\()/g, '{%$1$2macro$3test_$4$5').replace(/\{%(-?)(\s*)endtest(\s*-?%\})/g, '{%$1$2endmacro$3');
}

/**
 * A generic test's query: its macro called with `model`, `column_name` and the YAML's arguments,
 * rendered as a `where` is (`ymlHooks`).
 */
function renderGenericTest(
  engine: TemplateEngine,
  name: string,
  kwargs: Record<string, unknown>,
  node: ProjectNode,
  label: string,
  vars: Record<string, unknown>,
  env: Record<string, string | undefined>,
): string {
  const bad = Object.keys(kwargs).find((k) => !/^[A-Za-z_]\w*$/.test(k));
  if (bad !== undefined) throw new ModelError('TEST_INVALID', `${label}: argument "${bad}" is not a name a macro can take`);
  const call = `{{ test_${name}(${Object.keys(kwargs).map((k) => `${k}=__duckhouse_test_args[${JSON.stringify(k)}]`).join(', ')}) }}`;
  const compiled = engine.compile(call, `${node.relFile}#${name}`, label);
  const hooks = ymlHooks(node, label, vars, env, 'a generic test (its arguments come from the .yml; model is the tested relation)');
  return engine.render(compiled, hooks, { __duckhouse_test_args: kwargs });
}

/** A test's `where` rendered as dbt renders the configs of a .yml file (`ymlHooks`). */
function renderWhere(
  engine: TemplateEngine,
  text: string,
  node: ProjectNode,
  label: string,
  vars: Record<string, unknown>,
  env: Record<string, string | undefined>,
): string {
  const compiled = engine.compile(text, `${node.relFile}#where`, label);
  return engine.render(compiled, ymlHooks(node, label, vars, env, "a test's where (as in dbt, it reads var() and env_var())"));
}

/**
 * The built-ins of Jinja written for a .yml's test (its `where`, a generic test's call): `var()` and
 * `env_var()` answer; `ref()`, `source()` and the other model built-ins are errors naming the test
 * and saying where they are not available (`inWhat`).
 */
function ymlHooks(node: ProjectNode, label: string, vars: Record<string, unknown>, env: Record<string, string | undefined>, inWhat: string): Parameters<TemplateEngine['render']>[1] {
  const refuse = (name: string) => (): never => {
    throw new ModelError('JINJA_ERROR', `${label}: ${name}() is not available in ${inWhat}`);
  };
  return {
    ref: refuse('ref'),
    source: refuse('source'),
    config: refuse('config'),
    is_incremental: refuse('is_incremental'),
    reject_if: refuse('reject_if'),
    var: (args, kwargs) => lookupVar(label, vars, args, kwargs),
    env_var: (args, kwargs) => lookupEnv(label, env, args, kwargs),
    this: new TemplateRelation(qualified(node.schema, node.name), node.schema, node.name),
  };
}

interface ParseResult {
  config: Kwargs;
  refs: string[];
  sources: SourceUse[];
  rejectRules: RejectRule[];
}

/** Parse mode: ref/source record and return placeholders, is_incremental() is false, config() records. */
function parseRender(
  engine: TemplateEngine,
  compiled: CompiledTemplate,
  node: ProjectNode,
  nodes: ReadonlyMap<string, ProjectNode>,
  vars: Record<string, unknown>,
  env: Record<string, string | undefined>,
): ParseResult {
  const label = compiled.label;
  const out: ParseResult = { config: {}, refs: [], sources: [], rejectRules: [] };
  engine.render(compiled, {
    ref: (args, kwargs) => {
      const id = resolveRef(nodes, label, args, kwargs, node.id);
      out.refs.push(id);
      const target = nodes.get(id)!;
      return new TemplateRelation(qualified(target.schema, target.name), target.schema, target.name);
    },
    source: (args, kwargs) => {
      const use = parseSource(label, args, kwargs);
      if (!out.sources.some((s) => s.source === use.source && s.dataset === use.dataset && s.asOfRun === use.asOfRun)) out.sources.push(use);
      return new TemplateRelation(qualified(use.source, use.dataset), use.source, use.dataset);
    },
    config: (args, kwargs) => {
      Object.assign(out.config, parseConfigCall(label, args, kwargs));
      return '';
    },
    is_incremental: () => false,
    var: (args, kwargs) => lookupVar(label, vars, args, kwargs),
    env_var: (args, kwargs) => lookupEnv(label, env, args, kwargs),
    reject_if: (args, kwargs) => rejectSql(parseRejectIf(label, args, kwargs, out.rejectRules), { kind: 'keep' }),
    this: new TemplateRelation(qualified(node.schema, node.name), node.schema, node.name),
  });
  return out;
}

/** Every file under `root`, relative posix paths, sorted; hidden files and folders skipped. */
async function walk(root: string): Promise<string[]> {
  try {
    if (!(await stat(root)).isDirectory()) throw new ModelError('MODELS_DIR_INVALID', `${root}: the models path is not a folder`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: string[] = [];
  const visit = async (dir: string, rel: string[]): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) await visit(path.join(dir, entry.name), [...rel, entry.name]);
      else if (entry.isFile()) out.push([...rel, entry.name].join('/'));
    }
  };
  await visit(root, []);
  return out;
}
