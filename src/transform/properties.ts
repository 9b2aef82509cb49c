/**
 * `models/**\/*.yml` in dbt's property format (`version: 2`, `models:`, `seeds:`): descriptions,
 * `config:`, column and model tests. Errors name the file and the line.
 */
import type { Document, LineCounter } from 'yaml';
import { z } from 'zod';
import { ModelError } from '../errors.js';
import { zodProblems } from './zod-problems.js';

/** A test entry exactly as written in YAML (`not_null`, `{ accepted_values: {...} }`), with its place. */
export interface RawTest {
  spec: unknown;
  /** The yml file for messages, e.g. `models/marts/_marts.yml`. */
  file: string;
  line: number;
}

export interface PropertyColumn {
  name: string;
  description?: string;
  /** `quote: true`: tests refer to the column as a quoted identifier. */
  quote: boolean;
  tests: RawTest[];
}

export interface PropertyEntry {
  section: 'models' | 'seeds';
  name: string;
  description?: string;
  config: Record<string, unknown>;
  columns: PropertyColumn[];
  tests: RawTest[];
  file: string;
  line: number;
}

const testList = z.array(z.union([z.string().min(1), z.record(z.string(), z.unknown())])).nullish();
const columnSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().nullish(),
  data_type: z.string().nullish(),
  quote: z.boolean().nullish(),
  meta: z.record(z.string(), z.unknown()).nullish(),
  tags: z.array(z.string()).nullish(),
  // dbt 1.10 moves a column's meta and tags under config: (documentation here, as beside it).
  config: z.strictObject({ meta: z.record(z.string(), z.unknown()).nullish(), tags: z.union([z.string(), z.array(z.string())]).nullish() }).nullish(),
  tests: testList,
  data_tests: testList,
});
const entrySchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().nullish(),
  config: z.record(z.string(), z.unknown()).nullish(),
  meta: z.record(z.string(), z.unknown()).nullish(),
  docs: z.record(z.string(), z.unknown()).nullish(),
  columns: z.array(columnSchema).nullish(),
  tests: testList,
  data_tests: testList,
});
const fileSchema = z.strictObject({
  version: z.literal(2).nullish(),
  models: z.array(entrySchema).nullish(),
  seeds: z.array(entrySchema).nullish(),
  /** dbt macro properties: accepted, not used. */
  macros: z.array(z.unknown()).nullish(),
  /** dbt exposures (the dashboards and apps downstream): documentation, accepted, not used. */
  exposures: z.array(z.unknown()).nullish(),
});

/** Property files parsed in this process, by name and text (parsing the shipped ones takes ~100 ms). */
const parsedFiles = new Map<string, PropertyEntry[]>();
const PARSED_FILES_KEPT = 256;

/**
 * The YAML parser, loaded with the first property file: loading it takes ~35 ms, which a
 * project without property files (or a process that parsed its files before) does not pay.
 */
let yamlModule: Promise<typeof import('yaml')> | undefined;

/**
 * Parses one property file. `file` is how messages name it. A file whose name and text this
 * process parsed before is not parsed again (a copy of the entries is returned): repeated
 * builds of one process (`lake.run` on a schedule, a notebook) skip the YAML parser.
 */
export async function parseProperties(text: string, file: string): Promise<PropertyEntry[]> {
  const key = `${file}\0${text}`;
  let entries = parsedFiles.get(key);
  if (!entries) {
    entries = parse(await (yamlModule ??= import('yaml')), text, file);
    if (parsedFiles.size >= PARSED_FILES_KEPT) parsedFiles.delete(parsedFiles.keys().next().value!);
    parsedFiles.set(key, entries);
  }
  return structuredClone(entries);
}

function parse(yaml: typeof import('yaml'), text: string, file: string): PropertyEntry[] {
  const lineCounter = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0].line;
    const what = (yamlError.message.split('\n')[0] ?? yamlError.message).replace(/ at line \d+, column \d+:?$/, '');
    throw new ModelError('YAML_INVALID', `${file}${line ? ` line ${line}` : ''}: ${what}`, { cause: yamlError });
  }
  const data: unknown = doc.toJS() ?? {};
  if (data !== null && typeof data === 'object' && 'sources' in data) {
    throw new ModelError(
      'YAML_INVALID',
      `${file} line ${lineOf(yaml, doc, lineCounter, ['sources'])}: unknown key "sources" — duckhouse sources are defined in code (defineSource, connectors) and read with source('name', 'dataset'); remove the block`,
    );
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path ?? [];
    const line = lineOf(yaml, doc, lineCounter, path);
    throw new ModelError('YAML_INVALID', `${file} line ${line}: ${zodProblems(parsed.error, data, 'key')}`, { cause: parsed.error });
  }

  const entries: PropertyEntry[] = [];
  for (const section of ['models', 'seeds'] as const) {
    (parsed.data[section] ?? []).forEach((entry, i) => {
      const at = (...rest: PropertyKey[]) => lineOf(yaml, doc, lineCounter, [section, i, ...rest]);
      const tests = (list: (string | Record<string, unknown>)[] | null | undefined, key: string, base: PropertyKey[]): RawTest[] =>
        (list ?? []).map((spec, j) => ({ spec, file, line: at(...base, key, j) }));
      const out: PropertyEntry = {
        section,
        name: entry.name,
        config: entry.config ?? {},
        columns: (entry.columns ?? []).map((column, c) => {
          const col: PropertyColumn = {
            name: column.name,
            quote: column.quote ?? false,
            tests: [...tests(column.tests, 'tests', ['columns', c]), ...tests(column.data_tests, 'data_tests', ['columns', c])],
          };
          if (column.description) col.description = column.description;
          return col;
        }),
        tests: [...tests(entry.tests, 'tests', []), ...tests(entry.data_tests, 'data_tests', [])],
        file,
        line: at(),
      };
      if (entry.description) out.description = entry.description;
      entries.push(out);
    });
  }
  return entries;
}

/** 1-based line of the deepest existing node on `path` (the document start if none). */
function lineOf(yaml: typeof import('yaml'), doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (yaml.isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}
