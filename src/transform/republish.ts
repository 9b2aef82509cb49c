/**
 * A lake folder moved or copied (rsync to a bigger disk, the old copy kept or not) is opened at its
 * new root with a catalog whose views name files under the old one: every reader of it (queries,
 * tests, the report, exports, any DuckDB client) would read the old copy, or fail on a missing file.
 * `Lakehouse.open` republishes it rebased under the new root, as a build would publish it: under the
 * build lock, the new catalog written in a temp file and renamed over `analytics.duckdb`. No model
 * is rebuilt and no data file is read: it is the same catalog, its paths under another folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { writeFileAtomic } from '../bronze/commit.js';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { DuckhouseError, errorMessage } from '../errors.js';
import { listTree } from '../fs-list.js';
import { defineObject, ensureSchema, publishedRoot, rebaseLiterals, rebaseState, recordCatalogRoot, writeState, type GarbageFile, type ModelState } from './warehouse.js';

export interface RepublishEnv {
  conn: DuckDBConnection;
  root: string;
  analyticsFile: string;
  compiledDir: string;
  tmpDir: string;
  /** The root recorded beside the catalog (`recordedCatalogRoot`), if any. */
  recorded: string | undefined;
}

/**
 * Publishes `published` (the catalog's state) rebased under `env.root` when it names another root;
 * returns that root, or undefined when it names this one (then only recorded as such). Throws a
 * `CATALOG_MOVED` error, publishing nothing, when an object cannot be defined under the new root
 * (its files are not there): a build rebuilds what it cannot carry over. Call it holding the build lock.
 */
export async function republishMoved(env: RepublishEnv, published: { models: Map<string, ModelState>; garbage: GarbageFile[] }): Promise<string | undefined> {
  // The recorded root is the one every path was written under; a catalog of an earlier version has
  // none, and its root is read from its paths.
  const from = env.recorded ?? publishedRoot(published.models);
  const rebased = rebaseState(published, env.root, from);
  if (from === undefined || from === env.root || rebased === published) {
    recordCatalogRoot(env.analyticsFile, env.root);
    return undefined;
  }
  const alias = `moved_${process.pid}_${Date.now()}`;
  const catalogFile = path.join(env.tmpDir, `catalog-${alias}.duckdb`);
  const c = env.conn;
  let attached = false;
  try {
    // As a build writes its catalog (see build.ts): no log, the file is this process's until the rename.
    await c.run(`ATTACH ${quoteLiteral(catalogFile)} AS ${quoteIdent(alias)} (RECOVERY_MODE no_wal_writes)`);
    attached = true;
    await c.run(`USE ${quoteIdent(alias)}`);
    const schemas = new Set([...rebased.models.values()].map((m) => m.schema));
    if (schemas.size > 0) await ensureSchema(c, ...schemas);
    // A view is bound when it is defined, so what it reads must be defined before it: the catalog
    // keeps no order, and each pass defines those whose inputs are there.
    let pending = [...rebased.models.values()];
    let failures: { entry: ModelState; error: unknown }[] = [];
    while (pending.length > 0) {
      failures = [];
      for (const entry of pending) {
        try {
          await defineObject(c, entry);
        } catch (error) {
          failures.push({ entry, error });
        }
      }
      if (failures.length === pending.length) break;
      pending = failures.map((f) => f.entry);
    }
    if (failures.length > 0) {
      const first = failures[0]!;
      throw new DuckhouseError(
        'CATALOG_MOVED',
        `analytics.duckdb (${env.analyticsFile}) names files under ${from}, not under this lake's root ${env.root}, and cannot be republished there: ${first.entry.id}: ${errorMessage(first.error)}. Run lake.build() to rebuild it under ${env.root}`,
        { cause: first.error },
      );
    }
    await writeState(c, rebased.models.values(), rebased.garbage);
    await c.run('USE memory');
    await c.run(`DETACH ${quoteIdent(alias)}`);
    attached = false;
    // A log there is a dead read-write client's (see build.ts): it belongs to the file replaced.
    fs.rmSync(`${env.analyticsFile}.wal`, { force: true });
    fs.renameSync(catalogFile, env.analyticsFile);
  } finally {
    if (attached) {
      await c.run('USE memory').catch(() => undefined);
      await c.run(`DETACH ${quoteIdent(alias)}`).catch(() => undefined);
    }
    fs.rmSync(catalogFile, { force: true });
    fs.rmSync(`${catalogFile}.wal`, { force: true });
  }
  // Recorded last: an open killed before it does it all again (the same catalog, published again).
  rebaseCompiled(env.compiledDir, from, env.root);
  recordCatalogRoot(env.analyticsFile, env.root);
  return from;
}

/** The compiled SQL (`compiled/<schema>/<model>.sql`, the SQL that ran) names its files under `root` too: a user may run it by hand. */
function rebaseCompiled(dir: string, from: string, root: string): void {
  if (!fs.existsSync(dir)) return;
  for (const rel of listTree(dir)) {
    if (!rel.endsWith('.sql')) continue;
    const file = path.join(dir, rel);
    const text = fs.readFileSync(file, 'utf8');
    const rebased = rebaseLiterals(text, from, root);
    if (rebased !== text) writeFileAtomic(file, rebased);
  }
}
