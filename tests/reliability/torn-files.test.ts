/**
 * Files a process writes in place (not tmp + rename), killed with SIGKILL part way through one
 * write: a kill stops the kernel's copy of a big write part way (its first pages written, the
 * rest not; seen on this host, see last-checkpoint.ts). The children below do exactly that at a
 * chosen write, then kill themselves; the next `Lakehouse.open` must leave every file whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { BUSY_WAIT, child, IMPORT_LAKEHOUSE, repo } from '../helpers/mid-batch.js';
import { modelsProject } from '../helpers/models.js';
import { tempDir } from '../helpers/temp-lake.js';

/**
 * Extracts 2,500 records the schema rejects: the quarantine writer appends 1,000 lines, then
 * 1,000 more, and the child is killed half way through that second append.
 */
const TORN_QUARANTINE = `
import fs from 'node:fs';
${IMPORT_LAKEHOUSE}
import { defineSource, z } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root] = process.argv.slice(2);
const append = fs.appendFileSync;
let appends = 0;
fs.appendFileSync = function (file, data, ...rest) {
  if (String(file).includes('/quarantine/') && ++appends === 2) {
    const text = String(data);
    append.call(this, file, text.slice(0, Math.floor(text.length / 2) + 7), ...rest);
    fs.writeSync(1, 'TORN\\n');
    process.kill(process.pid, 'SIGKILL');
  }
  return append.call(this, file, data, ...rest);
} as typeof fs.appendFileSync;
const lake = await Lakehouse.open({ root, log: { console: false } });
const source = defineSource({
  source: 'torn',
  dataset: 'prices',
  schema: z.object({ sku: z.string(), price: z.number().positive() }),
  extract: () => [Array.from({ length: 2500 }, (_, i) => ({ sku: 's' + i, price: -i }))],
});
await lake.extract([source]);
`;

/**
 * Opens a lake, then (its temp folder untouched for two minutes, as in a long-lived process) a
 * second one, and waits (BUSY_WAIT, until the file `go` exists) inside the second open's write of
 * the folder's owner file, if it writes it in place, right after the open that truncates it; else
 * once the second open is done.
 */
const REOPEN = `
import fs from 'node:fs';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
${IMPORT_LAKEHOUSE}
${BUSY_WAIT}
const [root, go] = process.argv.slice(2);
const first = await Lakehouse.open({ root, log: { console: false } });
const [dir] = fs.readdirSync(path.join(root, '.tmp'));
const past = new Date(Date.now() - 120_000);
fs.utimesSync(path.join(root, '.tmp', dir), past, past);
const write = fs.writeFileSync;
fs.writeFileSync = function (file, ...rest) {
  if (String(file).endsWith('owner.json') && !waited) {
    fs.closeSync(fs.openSync(file, 'w'));
    waitForGo(go);
  }
  return write.call(this, file, ...rest);
} as typeof fs.writeFileSync;
syncBuiltinESMExports();
const second = await Lakehouse.open({ root, log: { console: false } });
if (!waited) waitForGo(go);
await second.close();
await first.close();
`;

/** A user's DuckDB client, read-write on the published catalog: drops a view and is killed before any checkpoint (its log stays). */
const USER_SESSION = `
import fs from 'node:fs';
import { DuckDBInstance } from ${JSON.stringify(path.join(repo, 'src', 'db', 'duckdb.ts'))};
const [file] = process.argv.slice(2);
const db = await DuckDBInstance.create(file, { checkpoint_threshold: '1TB' });
const c = await db.connect();
await c.run('DROP VIEW marts.m');
fs.writeSync(1, 'DROPPED\\n');
process.kill(process.pid, 'SIGKILL');
`;

describe('files written in place, killed part way through a write', () => {
  it("a build publishes its own catalog, not the log a killed client left of the one it replaces", async () => {
    const { dir, models, root } = modelsProject({ 'marts/m.sql': "{{ config(materialized='view') }} select {{ var('n', 1) }} as n" });
    const open = (): Promise<Lakehouse> => Lakehouse.open({ root, models, log: { console: false } });
    let lake = await open();
    expect((await lake.build()).status).toBe('success');
    await lake.close();
    const session = child(dir, 'user-session', USER_SESSION, [path.join(root, 'analytics.duckdb')], 'DROPPED');
    await session.reached;
    await session.exited;
    expect(fs.existsSync(path.join(root, 'analytics.duckdb.wal'))).toBe(true);
    lake = await open();
    try {
      expect((await lake.build({ vars: { n: 2 } })).status).toBe('success');
      expect(await lake.query('select n from marts.m')).toEqual([{ n: 2 }]);
    } finally {
      await lake.close();
    }
  });


  it("another process's open never takes a live process's temp folder for debris while that process opens a second lake", async () => {
    const base = tempDir('duckhouse-torn-');
    const root = path.join(base, 'data');
    const go = path.join(base, 'go');
    const opener = child(base, 'reopen', REOPEN, [root, go], 'WAITING');
    try {
      await opener.reached;
      const [dir] = fs.readdirSync(path.join(root, '.tmp'));
      const lake = await Lakehouse.open({ root, log: { console: false } });
      await lake.close();
      expect(fs.existsSync(path.join(root, '.tmp', dir!)), 'the live process keeps its temp folder').toBe(true);
    } finally {
      fs.writeFileSync(go, '');
    }
    expect(await opener.exited, opener.stderr()).toBe(0);
  });


  it('a quarantine file torn by a kill is cut back to its whole lines at the next open', async () => {
    const base = tempDir('duckhouse-torn-');
    const root = path.join(base, 'data');
    const killed = child(base, 'torn-quarantine', TORN_QUARANTINE, [root], 'TORN');
    await killed.reached;
    await killed.exited;
    const dir = path.join(root, 'quarantine', 'torn', 'prices');
    const [name] = fs.readdirSync(dir);
    const file = path.join(dir, name!);
    // The kill left part of a line at the end (what a reader such as read_ndjson fails on).
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(false);

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const [run] = await lake.runs({ limit: 1 });
      expect(run).toMatchObject({ runId: name!.replace(/\.ndjson$/, ''), status: 'abandoned' });
      const text = fs.readFileSync(file, 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as { position: number });
      // The first append whole, and the whole lines of the torn one.
      expect(lines.length).toBeGreaterThanOrEqual(1000);
      expect(lines.length).toBeLessThan(2000);
      expect(lines.map((l) => l.position)).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
      expect(await lake.query(`SELECT count(*)::INTEGER AS n FROM read_ndjson(${JSON.stringify(file).replaceAll('"', "'")})`)).toEqual([{ n: lines.length }]);
    } finally {
      await lake.close();
    }
  });
});
