#!/usr/bin/env node
/**
 * `npx duckhouse …`: the command line, on the public API only.
 * Sources and options come from `duckhouse.config.{ts,mts,mjs,js}` (`export default { sources, ...options }`).
 * Exit codes: 0 success; 1 failed or partial run, or a failing error-severity test; 2 usage or config error.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { sourceLabel, type SourceResult } from './results.js';
import { bronzeDatasets, noBronzeDataset } from './bronze/datasets.js';
import type { Lakehouse, OpenOptions, AnySource, Row, RunResult } from './index.js';
import type { PlainValue } from './db/values.js';
import type { TypeNode } from './db/type-string.js';
import { quoteIdent } from './db/quote.js';
import { splitStatements } from './db/statements.js';
import { writeConsole } from './progress.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

/** The signals that stop a command, and its exit code for each: 128 + the signal's number, as a shell reports a process it ended. */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** The signal that stopped the command (Ctrl-C, kill, a scheduler's stop), once one came, and when. */
let stoppedBy: StopSignal | undefined;
let stoppedAt = 0;

/**
 * A signal this soon after the first is the same request sent twice, not a user's second Ctrl-C:
 * `timeout` (and a supervisor stopping a process group) sends its signal to the command, then to
 * the whole group, the command again.
 */
const REPEATED_SIGNAL_MILLIS = 500;

/** How long a command stopped by a signal has, once the lake is closed, to print what it did. */
const SETTLE_MILLIS = 1_000;

/**
 * Ctrl-C or SIGTERM while a lake is open: said on stderr, then the lake closed, as a dbt or
 * Crawlee user expects: what runs stops at its next step (a DuckDB statement at once) and records
 * its run, partial files go. `closed` rejects a moment after close() returned: the command ends
 * then, even if its work is stuck (a source that does not heed the lake's signal, `sql` reading stdin). A
 * second signal ends the process at once, as without this handler; the next open recovers.
 */
function stopOnSignals(lake: Lakehouse): { closed: Promise<never>; dispose(): void } {
  let fail!: (error: Error) => void;
  const closed = new Promise<never>((_, reject) => (fail = reject));
  closed.catch(() => undefined);
  const dispose = (): void => {
    for (const s of Object.keys(STOP_SIGNALS)) process.removeListener(s, onSignal);
  };
  // Listened to before any progress bar's handler (bars come with the work): that one then finds
  // this one and restores the terminal without ending the process.
  function onSignal(signal: StopSignal): void {
    if (stoppedBy) {
      if (performance.now() - stoppedAt < REPEATED_SIGNAL_MILLIS) return;
      // Without a listener the signal's default action is back: the process ends by it.
      dispose();
      process.kill(process.pid, signal);
      return;
    }
    stoppedBy = signal;
    stoppedAt = performance.now();
    // Above the progress bars, if shown (their own handler removes them next).
    writeConsole(`duckhouse: ${signal} received: stopping and recording the run (Ctrl-C again to quit at once)\n`);
    lake.close({ reason: `interrupted by ${signal}` }).then(() => {
      // What it stopped has ended (close() waited for it) and has what it did left to print: a
      // moment for that, then the command ends if its work is stuck.
      setTimeout(() => fail(new Error(`interrupted by ${signal}`)), SETTLE_MILLIS).unref();
    }, fail);
  }
  for (const s of Object.keys(STOP_SIGNALS)) process.on(s, onSignal);
  return { closed, dispose };
}

interface CliConfig extends OpenOptions {
  sources?: AnySource[];
}

const CONFIG_NAMES = ['duckhouse.config.ts', 'duckhouse.config.mts', 'duckhouse.config.mjs', 'duckhouse.config.js'];

async function loadConfig(explicit: string | undefined): Promise<{ config: CliConfig; file?: string }> {
  const file = explicit ? path.resolve(explicit) : CONFIG_NAMES.map((n) => path.resolve(n)).find((f) => fs.existsSync(f));
  if (!file) {
    // A duckhouse.config.cjs or .json would otherwise be passed over without a word, and the
    // command run on the default root with no sources (a .ts.bak is a copy: left alone).
    const other = fs.readdirSync('.').find((n) => /^duckhouse\.config\.(cjs|cts|json5?|ya?ml|toml)$/.test(n));
    if (other) throw new UsageError(`${other} is not a config file duckhouse reads: name it duckhouse.config.{ts,mts,mjs,js}`);
    return { config: {} };
  }
  if (!fs.existsSync(file)) throw new UsageError(`config file ${file} does not exist`);
  let mod: { default?: unknown };
  try {
    if (/\.[mc]?ts$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as { default?: unknown };
    } else {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    }
  } catch (error) {
    const message = (error as Error).message;
    // tsx compiles a .ts file outside an ESM package ("type": "module") as CommonJS, where
    // top-level await does not exist; a .mts file is always a module.
    const hint = /top-level await/i.test(message) && file.endsWith('.ts') ? ' (a config using top-level await must be a module: name it duckhouse.config.mts, or add "type": "module" to package.json)' : '';
    throw new UsageError(`${path.relative(process.cwd(), file)}: ${message}${hint}`);
  }
  const where = path.relative(process.cwd(), file) || file;
  let config = ('default' in mod ? mod.default : mod) as CliConfig & { default?: CliConfig };
  // A .ts config outside an ESM package comes back as CommonJS: `default` sits one level down,
  // next to the file's named exports (`export const prices = …`), which are not options.
  if (config && typeof config === 'object' && 'default' in config) config = config.default as typeof config;
  // A config may compute its options: `export default loadSecrets().then(…)`. Awaited, or its
  // options (an object with no keys of its own) would be dropped without a word.
  if (config && typeof (config as { then?: unknown }).then === 'function') {
    try {
      config = await config;
    } catch (error) {
      throw new UsageError(`${where}: its default export (a promise) failed: ${(error as Error).message}`);
    }
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new UsageError(`${where}: the default export must be an object, export default { sources, ...options } (got ${config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config})`);
  }
  // `sources: prices` (not `[prices]`) would extract nothing, silently: a config error, naming the entry.
  if (config.sources !== undefined && config.sources !== null) {
    if (!Array.isArray(config.sources)) throw new UsageError(`${where}: option "sources" must be a list of sources ([defineSource(…), …]), got ${typeof config.sources}`);
    const { isSource } = await import('./extract/source.js');
    config.sources.forEach((s, i) => {
      if (!isSource(s)) throw new UsageError(`${where}: sources[${i}] is not a source (build it with defineSource, httpSource, csvSource…), got ${s === null ? 'null' : typeof s}`);
    });
  }
  return { config: relativeToConfig(config, path.dirname(file)), file };
}

/**
 * The config's `root`, `models` and `log.file`, relative or left at their defaults (`data`,
 * `models`), resolved against the config's folder: `duckhouse -c /srv/prices/duckhouse.config.mjs run`
 * from cron's working directory must use the lake and models beside the config, not start a new
 * lake wherever it was started. A value that is not a path is left for `Lakehouse.open` to refuse.
 */
function relativeToConfig(config: CliConfig, dir: string): CliConfig {
  const resolve = (p: unknown, fallback: string): unknown => (p === undefined ? path.join(dir, fallback) : typeof p === 'string' && p !== '' ? path.resolve(dir, p) : p);
  const out: CliConfig = { ...config, root: resolve(config.root, 'data') as string, models: resolve(config.models, 'models') as string };
  const log = config.log as { file?: unknown } | undefined;
  if (log && typeof log === 'object' && typeof log.file === 'string' && log.file !== '') out.log = { ...config.log, file: path.resolve(dir, log.file) };
  return out;
}

interface Globals {
  root?: string;
  models?: string;
  config?: string;
}

/**
 * A command that reads a lake (all but extract, build and run) does not create one: on a root
 * folder that does not exist (a typo in --root) it is a usage error naming the folder, with
 * nothing left behind, where `Lakehouse.open` would create the lake's folders and metrics db.
 */
function requireLakeRoot(root: unknown): void {
  if (typeof root !== 'string' || root === '' || fs.existsSync(root)) return;
  throw new UsageError(`no lake at ${root}: the folder does not exist (check --root or the config's "root"; extract, build and run create a lake)`);
}

async function withLake<T>(globals: Globals, fn: (lake: Lakehouse, config: CliConfig) => Promise<T>, mode: 'create' | 'read' = 'read'): Promise<T> {
  const { config } = await loadConfig(globals.config);
  const { sources: _sources, ...options } = config;
  if (mode === 'read') requireLakeRoot(globals.root ?? options.root ?? 'data');
  const { Lakehouse } = await import('./lakehouse.js');
  const lake = await Lakehouse.open({ ...options, ...(globals.root ? { root: globals.root } : {}), ...(globals.models ? { models: globals.models } : {}) });
  const signals = stopOnSignals(lake);
  try {
    return await Promise.race([fn(lake, config), signals.closed]);
  } finally {
    // Listened to until the lake is closed (a repeated signal while it closes is not a second
    // one), then no more: a command that finished leaves no listener behind.
    try {
      await lake.close();
    } finally {
      signals.dispose();
    }
  }
}

function pickSources(config: CliConfig, names: string[]): AnySource[] {
  const all = config.sources ?? [];
  if (all.length === 0) throw new UsageError('no sources: add `sources: [...]` to duckhouse.config.{ts,mts,mjs,js}');
  if (names.length === 0) return all;
  const picked = all.filter((s) => names.some((n) => n === s.source || n === `${s.source}/${s.dataset}`));
  const unknown = names.filter((n) => !all.some((s) => n === s.source || n === `${s.source}/${s.dataset}`));
  if (unknown.length > 0) {
    throw new UsageError(`unknown source ${unknown.map((u) => JSON.stringify(u)).join(', ')}; known: ${[...new Set(all.map((s) => `${s.source}/${s.dataset}`))].join(', ')}`);
  }
  return picked;
}

function parseVars(pairs: string[] | undefined): Record<string, unknown> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var ${JSON.stringify(p)} must be key=value`);
    const raw = p.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    // A 20-digit id or EAN would come back rounded as a double: it stays the text typed.
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) value = raw;
    out[p.slice(0, eq)] = value;
  }
  return out;
}

/** A flag's whole number above 0: commander's error names the flag (`option '-n, --limit <n>' argument 'abc' is invalid`), not the API option behind it. */
function positiveInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number.');
  return n;
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);

/** The bronze datasets named (`source` or `source/dataset`), or every one when none is named and `all` allows it. */
function pickDatasets(lake: Lakehouse, names: string[], all: boolean): [string, string][] {
  const existing = bronzeDatasets(lake.paths.root);
  if (names.length === 0) {
    if (!all) throw new UsageError('name the datasets: source or source/dataset');
    return existing;
  }
  const picked = existing.filter(([s, d]) => names.some((n) => n === s || n === `${s}/${d}`));
  const unknown = names.filter((n) => !existing.some(([s, d]) => n === s || n === `${s}/${d}`));
  if (unknown.length > 0) throw new UsageError(noBronzeDataset(unknown, existing));
  return picked;
}

/** One line for a table cell: line breaks shown as ⏎, tabs as a space, other control characters escaped. */
function oneLine(s: string): string {
  return s.replace(/\r\n|[\n\r\u2028\u2029]/g, '⏎').replace(/\t/g, ' ').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** DuckDB's text for a BLOB, `\xAA\x00a` (as `export --format csv` writes it): printable ASCII as is, but for \ ' ", other bytes as \xNN. */
function blobText(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += b >= 0x20 && b <= 0x7e && b !== 0x5c && b !== 0x22 && b !== 0x27 ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return text;
}

/**
 * A JSON.stringify replacer's view of a value: a BLOB as its text; NaN and ±Infinity as the
 * strings "NaN", "Infinity", "-Infinity" (JSON.stringify makes them null, a NULL's JSON). The
 * replacer sees a Buffer after its toJSON ({"type":"Buffer","data":[…]}), so the raw value is read
 * from the holder.
 */
function jsonReplacer(bigint: (v: bigint) => unknown): (this: unknown, key: string, value: unknown) => unknown {
  return function (key, value) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof Uint8Array) return blobText(raw);
    if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
    return typeof value === 'bigint' ? bigint(value) : value;
  };
}

const cellText = (v: unknown): string =>
  v === null || v === undefined ? 'NULL' : v instanceof Date ? v.toISOString() : v instanceof Uint8Array ? blobText(v) : typeof v === 'object' ? JSON.stringify(v, jsonReplacer(String)) : String(v);

/**
 * Aligned text table (one line per row: multi-line values show their line breaks as ⏎).
 * `names`: the query's column names, as headers, when the rows' keys differ (node-api renames a
 * second `a` to `a:1`).
 */
export function formatTable(rows: Row[], names?: string[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]!);
  const header = headerOf(cols, names).map(oneLine);
  const cells = rows.map((r) => cols.map((c) => oneLine(cellText(r[c]))));
  // A loop, not Math.max(...): one argument per row overflows the stack on large results.
  const widths = header.map((h) => h.length);
  for (const r of cells) for (let i = 0; i < widths.length; i++) if (r[i]!.length > widths[i]!) widths[i] = r[i]!.length;
  for (let i = 0; i < widths.length; i++) widths[i] = Math.min(60, widths[i]!);
  const line = (vals: string[]) => vals.map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!))).join(' │ ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('─┼─'), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n');
}

/**
 * The table output of a result: an EXPLAIN's plan (columns explain_key, explain_value) as DuckDB
 * draws it, each plan on its own lines after its key, not one cell cut at 60 characters.
 */
function formatResult(rows: Row[], names?: string[]): string {
  const cols = rows.length > 0 ? Object.keys(rows[0]!) : [];
  if (cols.length === 2 && cols[0] === 'explain_key' && cols[1] === 'explain_value') {
    return rows.map((r) => `${cellText(r.explain_key)}\n${String(r.explain_value ?? '').replace(/\n+$/, '')}`).join('\n');
  }
  return formatTable(rows, names);
}

/** The query's own column names for the row keys `cols`, when they are as many; else the keys. */
const headerOf = (cols: string[], names: string[] | undefined): string[] => (names && names.length === cols.length ? names : cols);

/** CSV with a header line; `columns`: the query's column names (the header, also with no rows to take them from). */
function toCsv(rows: Row[], columns?: string[]): string {
  const cols = rows.length > 0 ? Object.keys(rows[0]!) : (columns ?? []);
  if (cols.length === 0) return '';
  const header = headerOf(cols, columns);
  const field = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const esc = (v: unknown): string => (v === null || v === undefined ? '' : field(cellText(v)));
  return `${[header.map(field).join(','), ...rows.map((r) => cols.map((c) => esc(r[c])).join(','))].join('\n')}\n`;
}

/**
 * The column names of a query (for a result with no rows, which has no row objects to name them):
 * DESCRIBE binds the query without running it. `undefined` when it cannot be described.
 */
async function queryColumns(lake: Lakehouse, query: string): Promise<string[] | undefined> {
  const described = await describeQuery(lake, query);
  if (described) return described.map((d) => String(d.column_name));
  try {
    return (await lake.queryArrow(trimmedQuery(query))).schema.fields.map((f) => f.name);
  } catch {
    return undefined;
  }
}

const trimmedQuery = (query: string): string => query.trim().replace(/;+\s*$/, '');

/** DESCRIBE of a query (binds it without running it): its columns and types; `undefined` for one that cannot be described (PRAGMA, EXPLAIN…). */
async function describeQuery(lake: Lakehouse, query: string): Promise<Row[] | undefined> {
  try {
    return await lake.query(`DESCRIBE ${trimmedQuery(query)}`);
  } catch {
    return undefined;
  }
}

/** Whether a column of this type prints as DuckDB's text: it holds a MAP or an INTERVAL, or is a DECIMAL. */
function printsAsText(type: TypeNode, top = true): boolean {
  switch (type.kind) {
    case 'scalar':
      return type.name === 'INTERVAL' || (top && type.name === 'DECIMAL');
    case 'map':
      return true;
    case 'list':
      return printsAsText(type.item, false);
    default:
      return type.fields.some(([, t]) => printsAsText(t, false));
  }
}

/**
 * Rows of the query for the table and CSV output: columns holding a MAP or an INTERVAL, or a
 * DECIMAL, come back as DuckDB's text for them (`{a=1, b=NULL}`, `1 year 2 months`, `1.50`), as
 * `export --format csv` writes them, not as the JSON of their JS values
 * (`[{"key":"a","value":1}]`, `{"months":14,…}`, `1.5`). A query that cannot be described (or
 * wrapped) runs as it is.
 */
async function textRows(lake: Lakehouse, query: string): Promise<{ rows: Row[]; names?: string[] }> {
  const described = await describeQuery(lake, query);
  const names = described?.map((d) => String(d.column_name)) ?? [];
  if (!described) return { rows: await lake.query(query) };
  if (new Set(names).size !== names.length) return { rows: await lake.query(query), names };
  const { parseTypeString } = await import('./db/type-string.js');
  const text = described.filter((d) => {
    try {
      return printsAsText(parseTypeString(String(d.column_type)));
    } catch {
      return false;
    }
  });
  if (text.length === 0) return { rows: await lake.query(query), names };
  const casts = text.map((d) => `CAST(${quoteIdent(String(d.column_name))} AS VARCHAR) AS ${quoteIdent(String(d.column_name))}`).join(', ');
  try {
    return { rows: await lake.query(`SELECT * REPLACE (${casts}) FROM (${trimmedQuery(query)}\n) AS _duckhouse_q`), names };
  } catch {
    return { rows: await lake.query(query), names };
  }
}

/**
 * A TIMESTAMP without a zone (the models' `*_sp` São Paulo wall-clock columns) comes back from
 * `lake.query` as a Date whose UTC fields are the wall clock: printed as an ISO instant it would
 * claim that time in UTC. Such values, top-level or inside lists, structs, maps and unions, are
 * shown as `YYYY-MM-DD HH:MM:SS[.mmm]`, as DuckDB and `export --format csv` write them;
 * TIMESTAMPTZ stays an ISO instant.
 */
async function showNaiveTimestamps(lake: Lakehouse, query: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const described = await describeQuery(lake, query);
  if (!described) return;
  // Loaded here, not at start-up: `duckhouse runs` is timed from a cold process.
  const { parseTypeString } = await import('./db/type-string.js');
  const naive: [string, TypeNode][] = [];
  for (const d of described) {
    try {
      const type = parseTypeString(String(d.column_type));
      if (hasNaiveTimestamp(type)) naive.push([String(d.column_name), type]);
    } catch {
      // A type this parser cannot read keeps node-api's values.
    }
  }
  for (const row of rows) for (const [column, type] of naive) row[column] = wallClocks(row[column]!, type);
}

const NAIVE_TIMESTAMP = /^TIMESTAMP(_S|_MS|_NS)?$/;

function hasNaiveTimestamp(type: TypeNode): boolean {
  switch (type.kind) {
    case 'scalar':
      return NAIVE_TIMESTAMP.test(type.name);
    case 'list':
      return hasNaiveTimestamp(type.item);
    case 'map':
      return hasNaiveTimestamp(type.key) || hasNaiveTimestamp(type.value);
    default:
      return type.fields.some(([, t]) => hasNaiveTimestamp(t));
  }
}

/** `value` of DuckDB type `type` (as node-api gives it: a MAP as [{ key, value }], a UNION as { tag, value }) with its naive timestamps as wall-clock text. */
function wallClocks(value: PlainValue, type: TypeNode): PlainValue {
  if (value === null) return null;
  switch (type.kind) {
    case 'scalar':
      return NAIVE_TIMESTAMP.test(type.name) && value instanceof Date ? value.toISOString().replace('T', ' ').replace(/(\.000)?Z$/, '') : value;
    case 'list':
      return Array.isArray(value) ? value.map((v) => wallClocks(v, type.item)) : value;
    case 'map':
      return Array.isArray(value) ? value.map((e) => (isRecord(e) ? { key: wallClocks(e.key ?? null, type.key), value: wallClocks(e.value ?? null, type.value) } : e)) : value;
    case 'struct':
      if (!isRecord(value)) return value;
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => {
          const field = type.fields.find(([f]) => f === k);
          return [k, field ? wallClocks(v, field[1]) : v];
        }),
      );
    case 'union': {
      const member = isRecord(value) ? type.fields.find(([f]) => f === value.tag) : undefined;
      return member && isRecord(value) ? { ...value, value: wallClocks(value.value ?? null, member[1]) } : value;
    }
  }
}

const isRecord = (v: PlainValue): v is { [key: string]: PlainValue } => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);

function toJson(rows: Row[]): string {
  return `${JSON.stringify(rows, jsonReplacer((v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString())))}\n`;
}

/**
 * The `sql` shell. Returns how many statements or commands failed: with statements piped in, the
 * command exits 1 when any did and prints their errors on stderr (as DuckDB's and sqlite's shells
 * do without -bail), so `duckhouse sql < checks.sql` in a script or cron job fails visibly.
 */
async function interactiveSql(lake: Lakehouse): Promise<number> {
  const historyFile = path.join(lake.paths.root, '.sql_history');
  // A query may quote a token (a URL read with read_json): the history file is under data/ too.
  const { redactString } = await import('./redact.js');
  const history = fs.existsSync(historyFile) ? fs.readFileSync(historyFile, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500) : [];
  // Statements piped in (`duckhouse sql < queries.sql > out.txt`): only the results, as DuckDB's
  // and sqlite's shells print without a terminal; no banner, prompts or timings among them.
  const interactive = Boolean(process.stdin.isTTY);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: 'duckhouse> ', history, historySize: 500, terminal: interactive });
  const prompt = (text: string): void => {
    if (!interactive) return;
    rl.setPrompt(text);
    rl.prompt();
  };
  if (interactive) console.log(`analytics.duckdb (read-only). End statements with ';'. Commands: .tables  .schema <table>  .quit`);
  let buffer = '';
  let quit = false;
  let failed = 0;
  const fail = (error: unknown): void => {
    failed += 1;
    const text = `error: ${redactString((error as Error).message)}`;
    if (interactive) console.log(text);
    else console.error(text);
  };
  prompt('duckhouse> ');
  for await (const line of rl) {
    const trimmed = line.trim();
    if (buffer === '' && trimmed.startsWith('.')) {
      const [cmd, arg] = trimmed.split(/\s+/, 2);
      try {
        if (cmd === '.quit' || cmd === '.exit') {
          quit = true;
          break;
        }
        else if (cmd === '.tables') console.log(formatTable(await lake.query(`SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('_duckhouse', 'information_schema', 'pg_catalog') ORDER BY 1, 2`)));
        else if (cmd === '.schema' && arg) {
          const [schema, name] = arg.includes('.') ? arg.split('.') : [undefined, arg];
          console.log(formatTable(await lake.query(`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1 ${schema ? 'AND table_schema = $2' : ''} ORDER BY ordinal_position`, schema ? [name, schema] : [name])));
        } else fail(new Error(`unknown command ${cmd}; try .tables, .schema <table>, .quit`));
      } catch (error) {
        fail(error);
      }
      fs.appendFileSync(historyFile, `${redactString(trimmed)}\n`);
      prompt('duckhouse> ');
      continue;
    }
    // A statement ends at a ';' outside quotes and comments, as in DuckDB's shell (not at a line
    // ending in one): two on a line, one then a comment, a literal holding ';' or a line break.
    const { statements, rest } = splitStatements(`${buffer}${line}\n`);
    buffer = rest;
    for (const sql of statements) await runStatement(sql);
    prompt(buffer === '' ? 'duckhouse> ' : '      ...> ');
  }
  rl.close();
  // The input ended (not .quit) inside a statement without its ';': run it, as DuckDB's shell does.
  if (!quit && buffer.trim() !== '') await runStatement(buffer.trim());
  return failed;

  async function runStatement(sql: string): Promise<void> {
    fs.appendFileSync(historyFile, `${redactString(sql.replace(/\n/g, ' '))}\n`);
    try {
      const t0 = performance.now();
      const { rows, names } = await textRows(lake, sql);
      await showNaiveTimestamps(lake, sql, rows);
      console.log(formatResult(rows, names));
      if (interactive) console.log(`${Math.round(performance.now() - t0)} ms`);
    } catch (error) {
      // DuckDB's message quotes the statement (a URL with its token), as `sql <query>`'s error is redacted.
      fail(error);
    }
  }
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('duckhouse')
    .description('A local-first analytics lakehouse: extract to bronze Parquet, build SQL models in DuckDB, record every run.')
    .option('--root <dir>', 'lake root (default: data, or the config)')
    .option('--models <dir>', 'models folder (default: models, or the config)')
    .option('-c, --config <file>', 'config file (default: duckhouse.config.{ts,mts,mjs,js})')
    .showHelpAfterError()
    .exitOverride();
  const globals = (): Globals => program.opts<Globals>();

  program
    .command('extract')
    .description('extract sources from the config into bronze (all, or those named: source or source/dataset)')
    .argument('[names...]', 'sources to extract')
    .action(async (names: string[]) => {
      await withLake(globals(), async (lake, config) => {
        const result = await lake.extract(pickSources(config, names));
        for (const s of result.sources) {
          console.log(`${sourceLabel(s.source, s.dataset, s.scope)}: ${s.status}, ${s.rows} rows, ${s.rejected} rejected, ${s.files} files${s.error ? ` — ${s.error}` : ''}`);
        }
        // Said here, as `run` says them, not only in the log: under cron there is no console log.
        reportSourceWarnings(result.sources);
        for (const a of result.alerts ?? []) console.log(`alert   [${a.severity}] ${a.kind} ${a.subject}: ${a.message}`);
        console.log(`run ${result.runId}: ${result.status}`);
        setExit(result.status === 'success' ? EXIT_OK : EXIT_FAILED);
      }, 'create');
    });

  const addBuildOptions = (cmd: Command): Command =>
    cmd
      .option('-s, --select <selectors...>', 'models to build: name, schema.name, stg_*, +x, x+, 1+x, x+1, @x, layer:marts, source:vtex, tag:x, path:models/marts, config.materialized:table; a,b intersects')
      .option('--exclude <selectors...>', 'models left out of the selection (same selectors)')
      .option('--full-refresh', 'rebuild incremental models from scratch')
      .option('--var <key=value...>', 'model variables');

  addBuildOptions(program.command('build').description('build the models (and run their tests) into analytics.duckdb')).action(async (opts: { select?: string[]; exclude?: string[]; fullRefresh?: boolean; var?: string[] }) => {
    await withLake(globals(), async (lake) => {
      const vars = parseVars(opts.var);
      const result = await lake.build({ ...(opts.select ? { select: opts.select } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}), ...(opts.fullRefresh ? { fullRefresh: true } : {}), ...(vars ? { vars } : {}) });
      for (const m of result.models) console.log(`${m.status.padEnd(10)} ${m.name}${m.rows === null ? '' : ` (${m.rows} rows)`} ${m.durationMs} ms${m.error ? `\n           ${m.error}` : ''}${m.skippedBecause ? ` — ${m.skippedBecause}` : ''}`);
      reportTests(result.tests);
      for (const w of result.warnings) console.log(`warning: ${w}`);
      console.log(`run ${result.runId}: ${result.status}`);
      setExit(result.status === 'success' && !result.tests.some(failing) ? EXIT_OK : EXIT_FAILED);
    }, 'create');
  });

  program
    .command('test')
    .description('run the data tests against the published build')
    .option('-s, --select <selectors...>', 'models whose tests to run, or tests by name')
    .option('--exclude <selectors...>', 'models or tests left out')
    .option('--var <key=value...>', 'model variables (as the build that published the tables had them)')
    .action(async (opts: { select?: string[]; exclude?: string[]; var?: string[] }) => {
      await withLake(globals(), async (lake) => {
        const vars = parseVars(opts.var);
        const { tests, notRun } = await lake.testWithWarnings({ ...(opts.select ? { select: opts.select } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}), ...(vars ? { vars } : {}) });
        // Said here, as `build` says them, not only in the log: under cron there is no console log.
        for (const w of notRun) console.log(`warning: ${w}`);
        reportTests(tests, notRun.length);
        setExit(tests.some(failing) ? EXIT_FAILED : EXIT_OK);
      });
    });

  addBuildOptions(program.command('run').description('the pipeline: extract every source of the config, build, test, notify')).action(async (opts: { select?: string[]; exclude?: string[]; fullRefresh?: boolean; var?: string[] }) => {
    await withLake(globals(), async (lake, config) => {
      const vars = parseVars(opts.var);
      let failure: (Error & { result?: RunResult }) | undefined;
      const run = await lake.run({ sources: config.sources ?? [], ...(opts.select ? { select: opts.select } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}), ...(opts.fullRefresh ? { fullRefresh: true } : {}), ...(vars ? { vars } : {}) }).catch((error: Error & { result?: RunResult }) => {
        // Thrown before the run started (a bad option, an unknown selector): a usage error. Thrown
        // after it (a model that does not compile, after the extract ran): the partial or failed
        // run it recorded, said like any other, and exit 1.
        if (!error?.result) throw error;
        failure = error;
        return error.result;
      });
      for (const s of run.extract?.sources ?? []) console.log(`extract ${sourceLabel(s.source, s.dataset, s.scope)}: ${s.status}, ${s.rows} rows, ${s.rejected} rejected${s.error ? ` — ${s.error}` : ''}`);
      reportSourceWarnings(run.extract?.sources ?? []);
      for (const m of run.build?.models ?? []) if (m.status !== 'up-to-date') console.log(`build   ${m.name}: ${m.status}${m.error ? ` — ${m.error}` : ''}${m.skippedBecause ? ` — ${m.skippedBecause}` : ''}`);
      if (run.build) reportTests(run.build.tests);
      // Said here as `build` says them (a test not run, a model left out of the catalog), not only
      // in the log: under cron there is no console log.
      for (const w of run.build?.warnings ?? []) console.log(`warning: ${w}`);
      for (const a of run.alerts) console.log(`alert   [${a.severity}] ${a.kind} ${a.subject}: ${a.message}`);
      for (const w of run.warnings ?? []) console.log(`warning: ${w}`);
      console.log(`run ${run.runId}: ${run.status} in ${run.durationMs} ms`);
      if (failure) console.error(`duckhouse: ${(await import('./redact.js')).redactString(failure.message)}`);
      setExit(run.status === 'success' && !failure && !(run.build?.tests ?? []).some(failing) ? EXIT_OK : EXIT_FAILED);
    }, 'create');
  });

  program
    .command('runs')
    .description('the latest runs, newest first')
    .option('-n, --limit <n>', 'how many', positiveInteger, 20)
    .option('--json', 'as JSON')
    .action(async (opts: { limit: number; json?: boolean }) => {
      // Read-only and light: the run history needs neither the lakehouse nor @duckdb/node-api.
      // A config file is still checked as `Lakehouse.open` checks it (loading it costs more than the rest).
      const g = globals();
      const { config, file } = await loadConfig(g.config);
      let root = g.root ?? 'data';
      let lockTimeoutMillis: number | undefined;
      let otherHostAbandonHours: number | undefined;
      if (file) {
        const { sources: _sources, ...options } = config;
        const { parseOptions, openOptionsSchema } = await import('./config.js');
        const resolved = parseOptions(openOptionsSchema, { ...options, ...(g.root ? { root: g.root } : {}) }, 'Lakehouse.open');
        root = resolved.root;
        lockTimeoutMillis = resolved.lockTimeoutMillis;
        otherHostAbandonHours = resolved.otherHostAbandonHours;
      }
      // As Lakehouse.open refuses it for every other command (a file there is no history to show).
      requireLakeRoot(root);
      if (fs.existsSync(root) && !fs.statSync(root).isDirectory()) throw new UsageError(`option "root" ${JSON.stringify(root)} is a file, not a folder`);
      const { runHistory } = await import('./metrics/run-history.js');
      const runs = await runHistory({ root, limit: opts.limit, results: false, ...(lockTimeoutMillis ? { lockTimeoutMillis } : {}), ...(otherHostAbandonHours ? { otherHostAbandonHours } : {}) });
      const rows = runs.map((r) => ({ run_id: r.runId, kind: r.kind, status: r.status, started_at: r.startedAt, duration_ms: r.durationMs, rows: r.rows, rejected: r.rejected, error: r.error }));
      console.log(opts.json ? toJson(rows as unknown as Row[]).trimEnd() : formatTable(rows as unknown as Row[]));
    });

  program
    .command('sql')
    .description('query analytics.duckdb (read-only); interactive without a query')
    .argument('[query]', 'one SQL statement')
    .addOption(new Option('--csv', 'CSV output').conflicts('json'))
    .option('--json', 'JSON output')
    .action(async (query: string | undefined, opts: { csv?: boolean; json?: boolean }) => {
      await withLake(globals(), async (lake) => {
        if (!query) {
          if ((await interactiveSql(lake)) > 0 && !process.stdin.isTTY) setExit(EXIT_FAILED);
          return;
        }
        // A statement that does not parse, bind, is not read-only or reads the lake's own database as a file is the user's to fix: exit 2.
        const { rows, names } = await (opts.json ? lake.query(query).then((rows) => ({ rows, names: undefined })) : textRows(lake, query)).catch((error: unknown) => {
          const e = error as Error & { code?: string };
          if (e.code === 'QUERY_NOT_READ_ONLY' || e.code === 'QUERY_READS_LAKE_DATABASE' || /(^|: )(Parser|Binder|Catalog) Error/.test(e.message)) throw new UsageError(e.message);
          throw error;
        });
        // The DESCRIBE textRows made names the columns, with no rows too (not a second DESCRIBE).
        const columns = opts.csv ? (names ?? (rows.length === 0 ? await queryColumns(lake, query) : undefined)) : undefined;
        await showNaiveTimestamps(lake, query, rows);
        process.stdout.write(opts.csv ? toCsv(rows, columns) : opts.json ? toJson(rows) : `${formatResult(rows, names)}\n`);
      });
    });

  program
    .command('lineage')
    .description('the model graph (Mermaid, or --json)')
    .option('--json', 'nodes and edges as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withLake(globals(), async (lake) => {
        const { mermaid, ...graph } = await lake.lineage();
        console.log(opts.json ? JSON.stringify(graph, null, 2) : mermaid);
      });
    });

  program
    .command('export-ddl')
    .description('external-table DDL for every bronze dataset and Parquet export (Spark, Trino, Athena)')
    .addOption(new Option('--engine <engine>', 'target engine').choices(['spark', 'trino', 'athena']).makeOptionMandatory())
    .option('--location-prefix <uri>', 'replace the local data folder with this (e.g. s3://bucket/lake)')
    .option('--schema <name>', "the bronze tables' schema (default: bronze)")
    .action(async (opts: { engine: 'spark' | 'trino' | 'athena'; locationPrefix?: string; schema?: string }) => {
      await withLake(globals(), async (lake) => {
        const ddl = await lake.exportDdl({ engine: opts.engine, ...(opts.locationPrefix ? { locationPrefix: opts.locationPrefix } : {}), ...(opts.schema !== undefined ? { schema: opts.schema } : {}) });
        // Said on stderr: `export-ddl > tables.sql` gets an empty file, and the user a reason.
        if (ddl === '') console.error(`export-ddl: nothing to declare: no bronze dataset and no Parquet export under ${lake.paths.root}`);
        process.stdout.write(ddl);
      });
    });

  program
    .command('compact')
    .description('merge small bronze files into large ones, per partition (old files kept until no reader needs them)')
    .argument('[datasets...]', 'source or source/dataset (default: every bronze dataset)')
    .option('--partition <path...>', 'only partitions under these paths, e.g. store=bistek/region=default/year=2026')
    .option('--target-mb <mb>', 'target file size in MB (default: the compactionTargetMb limit, 128)', (v) => Number(v))
    .action(async (names: string[], opts: { partition?: string[]; targetMb?: number }) => {
      // Checked before any dataset: with an empty bronze, `--target-mb abc` would otherwise pass.
      if (opts.targetMb !== undefined && !(Number.isFinite(opts.targetMb) && opts.targetMb > 0)) throw new UsageError(`--target-mb must be a positive number of MB`);
      await withLake(globals(), async (lake) => {
        const datasets = pickDatasets(lake, names, true);
        for (const [source, dataset] of datasets) {
          const r = await lake.compact({ source, dataset, ...(opts.partition ? { partitions: opts.partition } : {}), ...(opts.targetMb !== undefined ? { targetFileMb: opts.targetMb } : {}) });
          console.log(
            `compact ${source}/${dataset}: ${r.filesIn} files → ${r.filesOut} in ${r.partitions} partitions, ${r.rows} rows, ${mb(r.bytesIn)} → ${mb(r.bytesOut)} MB in ${r.durationMs} ms${r.deleted > 0 ? `; ${r.deleted} old files deleted` : ''}`,
          );
          // A --partition typo matches nothing: said here, not only in the log (no console log under cron).
          for (const w of r.warnings ?? []) console.log(`warning: ${w}`);
        }
      });
    });

  program
    .command('prune')
    .description('retention: remove bronze partitions dated before --older-than')
    .argument('<datasets...>', 'source or source/dataset')
    .requiredOption('--older-than <when>', "a date (YYYY-MM-DD) or an age like 365d")
    .option('--dry-run', 'only report what would be removed')
    .action(async (names: string[], opts: { olderThan: string; dryRun?: boolean }) => {
      await withLake(globals(), async (lake) => {
        for (const [source, dataset] of pickDatasets(lake, names, false)) {
          const r = await lake.prune({ source, dataset, olderThan: opts.olderThan, dryRun: opts.dryRun === true });
          console.log(`${r.dryRun ? 'would prune' : 'pruned'} ${source}/${dataset} before ${r.cutoff}: ${r.files} files, ${r.rows} rows, ${mb(r.bytes)} MB in ${r.partitions.length} partitions${r.deleted > 0 ? `; ${r.deleted} files deleted` : ''}`);
          for (const p of r.partitions) console.log(`  ${p}`);
        }
      });
    });

  program
    .command('retire')
    .description('retire a source dropped from the config: its alerts are resolved and freshness no longer judges it, until it extracts again (bronze and history are kept)')
    .argument('<source>', 'source, source.dataset or source/dataset, as in the run history')
    .option('--scope <scope>', 'only this scope of it (its constant partition values as alerts name them, e.g. store=bistek.region=default)')
    .action(async (name: string, opts: { scope?: string }) => {
      const parts = name.split(/[./]/);
      if (parts.length > 2 || parts.some((p) => p === '')) throw new UsageError(`retire ${JSON.stringify(name)}: name a source, source.dataset or source/dataset`);
      const [source, dataset] = parts as [string, string | undefined];
      await withLake(globals(), async (lake) => {
        const r = await lake.retireSource({ source, ...(dataset === undefined ? {} : { dataset }), ...(opts.scope === undefined ? {} : { scope: opts.scope }) });
        for (const s of r.sources) console.log(`retired ${s.subject} (last successful extract: ${s.lastSuccessAt ? s.lastSuccessAt.toISOString() : 'never'})`);
        console.log(`${r.resolvedAlerts} open alert(s) resolved; a successful extract of it brings it back`);
      });
    });

  program
    .command('report')
    .description('write data/report.html: runs, data, prices, orders, customers, quality, alerts, tests, lineage')
    .option('--to <file>', 'target file (default: data/report.html)')
    .option('--title <title>', 'page title')
    .action(async (opts: { to?: string; title?: string }) => {
      await withLake(globals(), async (lake) => {
        // An empty value (an unset shell variable) reaches the option checks, not the default.
        const out = await lake.report({ ...(opts.to !== undefined ? { to: opts.to } : {}), ...(opts.title !== undefined ? { title: opts.title } : {}) });
        console.log(`report → ${out.path} (${out.charts} charts, ${out.sections.length} sections)`);
      });
    });

  program
    .command('export')
    .description('write a built table to CSV or Parquet')
    .argument('<table>', 'schema.name, e.g. marts.fct_prices_daily')
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'parquet']).makeOptionMandatory())
    .option('--to <file>', 'target file (default: data/exports/<table>.csv, or data/exports/<table>/<table>.parquet)')
    .action(async (table: string, opts: { format: 'csv' | 'parquet'; to?: string }) => {
      await withLake(globals(), async (lake) => {
        const out = await lake.exportTable(table, { format: opts.format, ...(opts.to !== undefined ? { to: opts.to } : {}) });
        console.log(`${out.rows} rows → ${out.path} (${out.bytes} bytes)`);
      });
    });

  return program;
}

function failing(t: { status: string; severity: string }): boolean {
  return t.status === 'error' || (t.status === 'fail' && t.severity === 'error');
}

/** `warning: shop/prices (store=a): …`, once named: HTTP and HTML sources' warnings start with `shop/prices: ` already. */
function reportSourceWarnings(sources: SourceResult[]): void {
  for (const s of sources) {
    const named = `${s.source}/${s.dataset}: `;
    for (const w of s.warnings ?? []) console.log(`warning: ${sourceLabel(s.source, s.dataset, s.scope)}: ${w.startsWith(named) ? w.slice(named.length) : w}`);
  }
}

/** The tests that did not pass, and `tests: 3/4 passed[, 1 not run]` (`notRun`: tests left out, said in warnings). */
function reportTests(tests: { name: string; status: string; failures: number; error?: string }[], notRun = 0): void {
  const passed = tests.filter((t) => t.status === 'pass').length;
  for (const t of tests.filter((t) => t.status !== 'pass')) console.log(`test ${t.status.padEnd(5)} ${t.name} (${t.failures} failing)${t.error ? ` — ${t.error}` : ''}`);
  if (tests.length > 0 || notRun > 0) console.log(`tests: ${passed}/${tests.length} passed${notRun > 0 ? `, ${notRun} not run` : ''}`);
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => (code = c));
  // A command stopped by a signal exits with its code, whatever the work it stopped reported.
  const stopped = (code: number): number => (stoppedBy ? STOP_SIGNALS[stoppedBy] : code);
  try {
    await program.parseAsync(argv);
    return stopped(code);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; every other commander error is a usage error.
      // (`duckhouse` with no command shows the help and exits 1: a usage error, not a success.)
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
    }
    const e = error as Error & { code?: string };
    const { redactString } = await import('./redact.js');
    console.error(`duckhouse: ${redactString(e.message)}`);
    if (error instanceof UsageError || e.code === 'CONFIG_INVALID' || e.name === 'ModelError' || e.name === 'PartitionError') return stopped(EXIT_USAGE);
    return stopped(EXIT_FAILED);
  }
}

const invokedDirectly = process.argv[1] && /(?:^|[\\/])(?:cli\.(?:js|ts)|duckhouse)$/.test(fs.realpathSync(process.argv[1]));
if (invokedDirectly) {
  // `duckhouse sql … --csv | head -1`: the reader went away; what is left unwritten is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw error;
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
    // Stopped by a signal, the lake is closed: work it gave up waiting for (a source's pending
    // timer, stdin of `sql`) must not keep the process alive.
    if (stoppedBy) process.exit(code);
  });
}
