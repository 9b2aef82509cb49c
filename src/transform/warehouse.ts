/**
 * The warehouse: where built models live and how a build is published.
 *
 * DuckDB lets one process hold a database file read-write and blocks every other process while
 * it does, readers included. So `analytics.duckdb` is a small *catalog*: schemas and views only.
 * Table and incremental models are Parquet files under `data/warehouse/<schema>/<model>/`,
 * written once and never changed; their catalog entry is a view over `read_parquet([...])`.
 * A build writes a complete new catalog in a temp file and renames it over `analytics.duckdb`:
 * readers (any DuckDB client, READ_ONLY) see the old catalog or the new one, never a mix, and
 * are never blocked. Publishing writes one view per model — no data is copied, so it costs no
 * time in proportion to the tables that did not change.
 *
 * The catalog carries its own state (`_duckhouse.models`: files, hashes, row counts, what each
 * model's quality score was computed with) so the next build knows what exists and what is up to
 * date, and `_duckhouse.garbage`: superseded files, deleted once no reader can still be using them
 * (and the bronze files the catalogs it replaced named, kept as long for their readers).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { qualified, quoteIdent, quoteLiteral } from '../db/quote.js';
import { readerRows } from '../db/values.js';
import { listTree } from '../fs-list.js';
import { rebasedPath, writeFileAtomic } from '../bronze/commit.js';

export type StoredKind = 'view' | 'table';

export interface ModelState {
  id: string;
  schema: string;
  name: string;
  kind: StoredKind;
  materialized: string;
  /** For views: the compiled SELECT. */
  sql: string | null;
  /** For tables: absolute Parquet files. */
  files: string[];
  /** What the model was built from (compiled SQL, config, inputs); equal hash = up to date. */
  hash: string;
  rows: number | null;
  runId: string;
  builtAt: string;
  /**
   * What the model's latest quality score was computed with (its tests' definitions, the
   * weights): another value means the score is stale though the model is up to date. Absent when
   * it was not scored since it was last built (or by a catalog that did not record it).
   */
  scoredWith?: string;
  /**
   * For views: what the view says besides the bronze files its `source()` lists (its SQL with the
   * sources as names, config, zone). Equal to the model's now while its SQL differs: only the
   * bronze changed since it was built.
   */
  definition?: string;
}

export interface GarbageFile {
  path: string;
  supersededAt: string;
}

export const META_SCHEMA = '_duckhouse';

/**
 * A lake moved to another folder (`mv data /srv/lake/data`, or a copy) still has a catalog naming
 * the old one: its tables' files, its views' bronze lists and its garbage ledger are absolute
 * paths. Every path under `from` (by default the old root read from a table file's path, see
 * `publishedRoot`) is rebased on `root`, so that a build finds the tables it keeps (rather than
 * sweeping their files as never published, an incremental model's history with them) and the
 * views it carries read the bronze under `root`. Nothing changes when the lake has not moved.
 */
export function rebaseState(state: { models: Map<string, ModelState>; garbage: GarbageFile[] }, root: string, from = publishedRoot(state.models)): { models: Map<string, ModelState>; garbage: GarbageFile[] } {
  if (from === undefined || from === root) return state;
  const rebase = (p: string): string => rebasedPath(p, from, root);
  const models = new Map<string, ModelState>();
  for (const [id, m] of state.models) models.set(id, { ...m, files: m.files.map(rebase), sql: m.sql === null ? null : rebaseLiterals(m.sql, from, root) });
  return { models, garbage: state.garbage.map((g) => ({ ...g, path: rebase(g.path) })) };
}

/** `sql` with its string literals naming a path under `from` moved under `root`; nothing else changes. */
export function rebaseLiterals(sql: string, from: string, root: string): string {
  return sql.split(quoteLiteral(from + path.sep).slice(0, -1)).join(quoteLiteral(root + path.sep).slice(0, -1));
}

/** The lake root a catalog's tables were written under (`<root>/warehouse/<schema>/<model>/…`), if it has a table. */
export function publishedRoot(models: Map<string, ModelState>): string | undefined {
  for (const m of models.values()) {
    if (m.kind !== 'table') continue;
    const marker = `${path.sep}warehouse${path.sep}${m.schema}${path.sep}${m.name}${path.sep}`;
    const file = m.files.find((f) => f.lastIndexOf(marker) > 0);
    if (file !== undefined) return file.slice(0, file.lastIndexOf(marker));
  }
  // A catalog of views only: a bronze file is `<root>/bronze/<source>/<dataset>/<k>=<v>/…/<file>`,
  // and no partition folder is named `bronze` (each has an `=`).
  const bronze = `${path.sep}bronze${path.sep}`;
  for (const m of models.values()) {
    for (const literal of m.kind === 'view' && m.sql ? m.sql.matchAll(LITERAL) : []) {
      const text = literal[1]!.replaceAll("''", "'");
      if (path.isAbsolute(text) && text.endsWith('.parquet') && text.lastIndexOf(bronze) > 0) return text.slice(0, text.lastIndexOf(bronze));
    }
  }
  return undefined;
}

/**
 * `<analytics.duckdb>.root`: the lake root the published catalog's paths are under, written
 * beside it by every publish, so that an open sees a moved or copied lake with one file read and
 * no DuckDB work (see `Lakehouse.open`).
 */
export function catalogRootFile(analyticsFile: string): string {
  return `${analyticsFile}.root`;
}

/** The root recorded beside the catalog, or undefined (none recorded: a catalog of an earlier version, or no catalog). */
export function recordedCatalogRoot(analyticsFile: string): string | undefined {
  try {
    return fs.readFileSync(catalogRootFile(analyticsFile), 'utf8');
  } catch {
    return undefined;
  }
}

/** Records `root` as the published catalog's (tmp + rename), unless it already is. */
export function recordCatalogRoot(analyticsFile: string, root: string): void {
  if (recordedCatalogRoot(analyticsFile) === root) return;
  writeFileAtomic(catalogRootFile(analyticsFile), root);
}

/** The SELECT a table entry's view runs. */
export function tableViewSql(files: string[]): string {
  if (files.length === 0) throw new Error('a table needs at least one file');
  const list = files.map(quoteLiteral).join(', ');
  // Partitioned models keep their partition columns inside the files: the path is not read.
  return `SELECT * FROM read_parquet([${list}], union_by_name = true, hive_partitioning = false)`;
}

/** Reads the state stored in an attached catalog (`alias`), or nothing when it has none. */
export async function readState(c: DuckDBConnection, alias: string): Promise<{ models: Map<string, ModelState>; garbage: GarbageFile[] }> {
  const models = new Map<string, ModelState>();
  const tables = readerRows(
    await c.runAndReadAll(`SELECT table_name FROM duckdb_tables() WHERE database_name = ${quoteLiteral(alias)} AND schema_name = ${quoteLiteral(META_SCHEMA)}`),
  ).map((r) => r.table_name);
  if (tables.includes('models')) {
    for (const r of readerRows(await c.runAndReadAll(`SELECT * FROM ${quoteIdent(alias)}.${META_SCHEMA}.models`))) {
      models.set(String(r.id), {
        id: String(r.id),
        schema: String(r.schema_name),
        name: String(r.name),
        kind: r.kind as StoredKind,
        materialized: String(r.materialized),
        sql: (r.sql as string | null) ?? null,
        files: JSON.parse(String(r.files)) as string[],
        hash: String(r.hash),
        rows: r.rows === null ? null : Number(r.rows),
        runId: String(r.run_id),
        builtAt: String(r.built_at),
        ...(typeof r.scored_with === 'string' ? { scoredWith: r.scored_with } : {}),
        ...(typeof r.definition === 'string' ? { definition: r.definition } : {}),
      });
    }
  }
  const garbage = tables.includes('garbage')
    ? readerRows(await c.runAndReadAll(`SELECT path, superseded_at FROM ${quoteIdent(alias)}.${META_SCHEMA}.garbage`)).map((r) => ({
        path: String(r.path),
        supersededAt: String(r.superseded_at),
      }))
    : [];
  return { models, garbage };
}

/** Creates (or replaces) the object of a state entry in the catalog being built. */
export async function defineObject(c: DuckDBConnection, entry: ModelState): Promise<void> {
  const target = qualified(entry.schema, entry.name);
  const select = entry.kind === 'view' ? entry.sql! : tableViewSql(entry.files);
  await c.run(`CREATE OR REPLACE VIEW ${target} AS ${select}`);
}

/** Creates the schemas that do not exist yet, in one round trip. */
export async function ensureSchema(c: DuckDBConnection, ...schemas: string[]): Promise<void> {
  await c.run(schemas.map((s) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`).join('; '));
}

/** Writes the state tables into the catalog being built (current catalog of `c`). */
export async function writeState(c: DuckDBConnection, models: Iterable<ModelState>, garbage: GarbageFile[]): Promise<void> {
  await ensureSchema(c, META_SCHEMA);
  await c.run(`CREATE OR REPLACE TABLE ${META_SCHEMA}.models (
    id VARCHAR, schema_name VARCHAR, name VARCHAR, kind VARCHAR, materialized VARCHAR, sql VARCHAR,
    files VARCHAR, hash VARCHAR, rows BIGINT, run_id VARCHAR, built_at VARCHAR, scored_with VARCHAR, definition VARCHAR)`);
  const appender = await c.createAppender('models', META_SCHEMA);
  for (const m of models) {
    appender.appendVarchar(m.id);
    appender.appendVarchar(m.schema);
    appender.appendVarchar(m.name);
    appender.appendVarchar(m.kind);
    appender.appendVarchar(m.materialized);
    if (m.sql === null) appender.appendNull();
    else appender.appendVarchar(m.sql);
    appender.appendVarchar(JSON.stringify(m.files));
    appender.appendVarchar(m.hash);
    if (m.rows === null) appender.appendNull();
    else appender.appendBigInt(BigInt(m.rows));
    appender.appendVarchar(m.runId);
    appender.appendVarchar(m.builtAt);
    if (m.scoredWith === undefined) appender.appendNull();
    else appender.appendVarchar(m.scoredWith);
    if (m.definition === undefined) appender.appendNull();
    else appender.appendVarchar(m.definition);
    appender.endRow();
  }
  appender.closeSync();
  await c.run(`CREATE OR REPLACE TABLE ${META_SCHEMA}.garbage (path VARCHAR, superseded_at VARCHAR)`);
  if (garbage.length > 0) {
    const g = await c.createAppender('garbage', META_SCHEMA);
    for (const f of garbage) {
      g.appendVarchar(f.path);
      g.appendVarchar(f.supersededAt);
      g.endRow();
    }
    g.closeSync();
  }
}

/**
 * Files referenced before and not after go to garbage: `kept` while younger than `retainMillis`
 * (a reader that opened an old catalog may still read its files until then), `expired` after.
 * Nothing is deleted here: until the new catalog is published, the one readers open still names
 * the files it replaces (see `deleteGarbage`).
 */
export function collectGarbage(
  before: Map<string, ModelState>,
  after: Map<string, ModelState>,
  garbage: GarbageFile[],
  retainMillis: number,
  now = new Date(),
): { kept: GarbageFile[]; expired: string[] } {
  const live = new Set<string>();
  for (const m of after.values()) for (const f of m.files) live.add(f);
  const pending = new Map(garbage.filter((g) => !live.has(g.path)).map((g) => [g.path, g]));
  for (const m of before.values()) {
    for (const f of m.files) if (!live.has(f) && !pending.has(f)) pending.set(f, { path: f, supersededAt: now.toISOString() });
  }
  const kept: GarbageFile[] = [];
  const expired: string[] = [];
  for (const g of pending.values()) {
    if (now.getTime() - Date.parse(g.supersededAt) >= retainMillis) expired.push(g.path);
    else kept.push(g);
  }
  return { kept, expired };
}

/**
 * Deletes expired garbage, except files the published catalog (`published`) names: call it after
 * the publish, so a process killed (or a build failing) before it never leaves the catalog readers
 * open naming a deleted file.
 */
export function deleteGarbage(expired: string[], published: Map<string, ModelState>): void {
  const named = new Set<string>();
  for (const m of published.values()) for (const f of m.files) named.add(f);
  for (const file of expired) {
    if (named.has(file)) continue;
    fs.rmSync(file, { force: true });
    removeEmptyParents(path.dirname(file));
  }
}

/**
 * The garbage entries of bronze files (under `bronzeDir`) a catalog replacing `before` by `after`
 * supersedes: named by a view that changed and no longer by it, stamped `now`. Earlier entries are
 * kept until they are `retainMillis` old. The files are not deleted here: bronze files are deleted
 * by `purgeRemoved` once compaction or prune removed them, and not while an entry holds them (a
 * reader that opened the replaced catalog may still read them).
 */
export function supersededBronze(
  before: Map<string, ModelState>,
  after: Map<string, ModelState>,
  ledger: GarbageFile[],
  bronzeDir: string,
  retainMillis: number,
  now = new Date(),
): GarbageFile[] {
  const pending = new Map(ledger.filter((g) => now.getTime() - Date.parse(g.supersededAt) < retainMillis).map((g) => [g.path, g]));
  const dropped = new Set<string>();
  const named = new Set<string>();
  for (const [id, old] of before) {
    if (old.kind !== 'view' || !old.sql) continue;
    const next = after.get(id);
    // An unchanged view names the same files: only changed views are read (a staging view over
    // thousands of files is a long text).
    if (next?.kind === 'view' && next.sql === old.sql) continue;
    for (const f of bronzeFilesOf(old.sql, bronzeDir)) dropped.add(f);
    if (next?.kind === 'view' && next.sql) for (const f of bronzeFilesOf(next.sql, bronzeDir)) named.add(f);
  }
  for (const f of named) pending.delete(f);
  for (const f of dropped) if (!named.has(f) && !pending.has(f)) pending.set(f, { path: f, supersededAt: now.toISOString() });
  return [...pending.values()];
}

/** A SQL string literal; its text (quotes doubled) in group 1. */
const LITERAL = /'((?:[^']|'')*)'/g;

/**
 * A view's SQL with the bronze file lists of its `source()` relations emptied: equal for two
 * renders of one model that differ only in what was extracted. For views of a catalog written
 * before views recorded their `definition`.
 */
export function withoutBronzeLists(sql: string, bronzeDir: string): string {
  return sql.replace(/\[(?:'(?:[^']|'')*'(?:, )?)+\]/g, (list) => (bronzeFilesOf(list, bronzeDir).length === [...list.matchAll(LITERAL)].length ? '[]' : list));
}

/** The bronze files (string literals under `bronzeDir`) a view's SQL names. */
function bronzeFilesOf(sql: string, bronzeDir: string): string[] {
  const files: string[] = [];
  for (const m of sql.matchAll(LITERAL)) {
    const text = m[1]!.replaceAll("''", "'");
    if (text.startsWith(bronzeDir) && text.endsWith('.parquet')) files.push(text);
  }
  return files;
}

/**
 * Deletes warehouse files no published catalog references: those of a build that died (or
 * threw) after writing them and before publishing. Call it holding the build lock, so no build
 * is writing; readers only read files of published catalogs (`models`, or pending in `garbage`).
 */
export function sweepUnreferenced(warehouseDir: string, models: Map<string, ModelState>, garbage: GarbageFile[]): number {
  if (!fs.existsSync(warehouseDir)) return 0;
  const keep = new Set(garbage.map((g) => g.path));
  for (const m of models.values()) for (const f of m.files) keep.add(f);
  let removed = 0;
  for (const rel of listTree(warehouseDir)) {
    const file = path.join(warehouseDir, rel);
    if (keep.has(file) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    fs.rmSync(file, { force: true });
    removeEmptyParents(path.dirname(file));
    removed += 1;
  }
  return removed;
}

/** Removes `dir` and the folders above it while they are empty (a deleted file's partition folders). */
export function removeEmptyParents(dir: string): void {
  // Up to the model's folder: partition folders, the version folder, the model folder.
  for (let d = dir, i = 0; i < 6; i++, d = path.dirname(d)) {
    try {
      fs.rmdirSync(d);
    } catch {
      return;
    }
  }
}
