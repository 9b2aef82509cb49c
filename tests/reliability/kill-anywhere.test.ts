/**
 * SIGKILL at chosen moments: a build right after it deletes a superseded warehouse file, or
 * right after it creates its lock file or the guard of a dead build's lock it takes over.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { Lakehouse } from '../../src/index.js';
import { spawnOp } from '../helpers/child-ops.js';
import { writeFiles } from '../helpers/models.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

/** Temp files writeFileAtomic left beside their targets (outside `.tmp/`). */
const strayTmpFiles = (root: string): string[] => listFiles(root).filter((f) => f.endsWith('.tmp') && !f.startsWith(`.tmp${path.sep}`));

/** Opens `analytics.duckdb` READ_ONLY as any client would and counts every table and view outside `_duckhouse`. */
async function readEveryModel(file: string): Promise<Record<string, number>> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  try {
    const tables = (await c.runAndReadAll(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema <> '_duckhouse' ORDER BY ALL`)).getRowObjectsJS();
    const out: Record<string, number> = {};
    for (const { s, t } of tables as { s: string; t: string }[]) {
      out[`${s}.${t}`] = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM "${s}"."${t}"`)).getRowObjectsJS()[0]!.n);
    }
    return out;
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('a build killed as it deletes superseded warehouse files', () => {
  it('with retainSupersededMinutes 0, leaves the published catalog reading: no file it names is deleted before the new catalog replaces it', async () => {
    const base = tempDir('duckhouse-kill-gc-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/stg_items.sql': `select id, store, price from {{ source('gc', 'items') }}`,
      'marts/items.sql': `select id, store, price from {{ ref('stg_items') }}`,
    });
    const lake = await Lakehouse.open({ root, models, log: { console: false }, retainSupersededMinutes: 0 });
    try {
      await lake.extract([syntheticItems({ source: 'gc', batches: 1, rowsPerBatch: 100 })]);
      expect((await lake.build()).status).toBe('success');
      await lake.extract([syntheticItems({ source: 'gc', batches: 1, rowsPerBatch: 100, priceShift: 1 })]);
    } finally {
      await lake.close();
    }
    // The next build replaces marts.items' file: killed right after it deletes the old one.
    const c = spawnOp({ root, models, op: 'build', retainSupersededMinutes: 0, killAfterRemoving: `${path.sep}warehouse${path.sep}` });
    const { signal, stderr } = await c.exited;
    expect(signal, `the build deleted a warehouse file: ${stderr}`).toBe('SIGKILL');
    const tables = await readEveryModel(path.join(root, 'analytics.duckdb'));
    expect(tables['marts.items']).toBe(200);
  });
});

describe('a process killed while taking a lock', () => {
  it('a build killed while taking over the lock of a dead build (holding the takeover guard) does not block the next build', async () => {
    const base = tempDir('duckhouse-kill-takeover-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, { 'marts/one.sql': 'select 1 as x' });
    // The lock of a build whose process is gone.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.on('exit', resolve));
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'analytics.duckdb.lock'), JSON.stringify({ host: os.hostname(), pid: dead.pid, procStart: '' }));
    const c = spawnOp({ root, models, op: 'build', killAfterOpening: 'analytics.duckdb.lock.takeover' });
    const { signal, stderr } = await c.exited;
    expect(signal, `killed taking the lock over: ${stderr}`).toBe('SIGKILL');
    const lake = await Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: 5_000 });
    try {
      expect((await lake.build()).status).toBe('success');
      expect(strayTmpFiles(root), 'temp files of the dead process, removed at open').toEqual([]);
    } finally {
      await lake.close();
    }
  });

  it('a build killed right after creating its lock file, before writing its owner into it, does not block the next build', async () => {
    const base = tempDir('duckhouse-kill-lock-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/stg_items.sql': `select id, store, price from {{ source('lk', 'items') }}`,
      'marts/items.sql': `select id, store, price from {{ ref('stg_items') }}`,
    });
    let lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      await lake.extract([syntheticItems({ source: 'lk', batches: 1, rowsPerBatch: 100 })]);
    } finally {
      await lake.close();
    }
    const c = spawnOp({ root, models, op: 'build', killAfterOpening: 'analytics.duckdb.lock' });
    const { signal, stderr } = await c.exited;
    expect(signal, `killed taking the build lock: ${stderr}`).toBe('SIGKILL');
    // Its process is dead: the lock is taken over at once, not after lockTimeoutMillis (a LockError).
    lake = await Lakehouse.open({ root, models, log: { console: false }, lockTimeoutMillis: 5_000 });
    try {
      const build = await lake.build();
      expect(build.status).toBe('success');
      expect(await lake.query('SELECT count(*) AS n FROM marts.items')).toEqual([{ n: 100 }]);
      expect(strayTmpFiles(root), 'temp files of the dead process, removed at open').toEqual([]);
    } finally {
      await lake.close();
    }
  });
});
