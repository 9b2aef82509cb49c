import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { commitCursorDir, commitCursorName, readManifest, writeCommitCursor, writeManifest } from '../../src/bronze/commit.js';
import { spawnHelper } from '../helpers/child.js';
import { expectCommittedBronze } from '../helpers/lake-checks.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

async function checkLakeAfterKill(root: string, expectAbandoned: boolean): Promise<void> {
  const lake = await Lakehouse.open({ root, log: { console: false } });
  try {
    const runs = await lake.runs({ limit: 10 });
    if (expectAbandoned) expect(runs[0]!.status).toBe('abandoned');
    // Every Parquet file under bronze is whole and committed: listed in bronze_files with its row count.
    await expectCommittedBronze(lake);
    // Only the live process's own temp folder remains.
    expect(fs.readdirSync(lake.paths.tmp)).toHaveLength(1);
    const [latest] = await lake.metrics.select('SELECT coalesce(sum(rows), 0) AS rows FROM bronze_files WHERE run_id = $1', [runs[0]!.runId]);
    expect(runs[0]!.rows).toBe(Number(latest!.rows));
  } finally {
    await lake.close();
  }
}

describe('a process killed mid-extract', () => {
  it('leaves no partial file visible; the next open marks the run abandoned and keeps committed batches', async () => {
    const root = path.join(tempDir(), 'data');
    const child = spawnHelper('child-extract.ts', [root, 'crash', '1000', '500', '20']);
    await child.waitFor((l) => l.includes('"yielded":4'));
    child.process.kill('SIGKILL');
    const { signal } = await child.exited;
    expect(signal).toBe('SIGKILL');
    await checkLakeAfterKill(root, true);
  });

  it('survives kills at random moments, including mid-COPY, over several trials', async () => {
    const root = path.join(tempDir(), 'data');
    for (let trial = 0; trial < 4; trial++) {
      // Big batches, no delay: most of the child's time is spent writing Parquet and committing.
      const child = spawnHelper('child-extract.ts', [root, 'crash', '1000', '20000', '0']);
      await child.waitFor((l) => l.includes('"yielded":1'));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      child.process.kill('SIGKILL');
      await child.exited;
      await checkLakeAfterKill(root, true);
    }
  }, 120_000);
});

describe('recovery of a dead process temp folder', () => {
  it('reads a manifest as the batch it was written from: a cursor past 2^53 (as an earlier version wrote it in) with every digit', () => {
    const dir = tempDir();
    const cursor = { after: 12345678901234567891n, next: 'https://loja.example/?q="a\\b"&page=2', queue: [{ url: 'https://loja.example/p/ç' }] };
    const batch = { runId: 'r1', source: 's', dataset: 'd', batchNo: 1, rows: 0, rejected: 0, cursor, cursorScope: 'store=a', files: [] };
    for (const moves of [[{ from: '/tmp/a', to: '/tmp/b' }], []]) {
      const whole = path.join(dir, `whole-${moves.length}.commit.json`);
      writeManifest(whole, { batch, moves });
      expect(readManifest(whole)).toEqual({ batch, moves });
    }
  });

  it("removes the cursor file (under data/state/) of a batch killed before its commit point, and one whose process folder is gone", async () => {
    const root = path.join(tempDir(), 'data');
    const os = await import('node:os');
    const dead = path.join(root, '.tmp', 'p4194305-1');
    fs.mkdirSync(dead, { recursive: true });
    fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
    const cursors = commitCursorDir(root);
    // Written before the manifest, which the kill came before; and one of a folder removed by hand.
    writeCommitCursor(cursors, commitCursorName(dead, 'r1', 1), JSON.stringify({ next: 'https://api.example/?p=2&access_token=t0k3n' }));
    writeCommitCursor(cursors, commitCursorName(path.join(root, '.tmp', 'p4194306-1'), 'r0', 3), '{"next":null}');
    expect(fs.readdirSync(cursors)).toHaveLength(2);
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    expect(fs.readdirSync(cursors)).toEqual([]);
    expect(fs.existsSync(dead)).toBe(false);
  });

  it('rolls a batch past its commit point forward and removes uncommitted leftovers', async () => {
    const root = path.join(tempDir(), 'data');
    const os = await import('node:os');
    // A dead process (pid 2^22 + 1 cannot exist on Linux) that had staged two batches.
    const dead = path.join(root, '.tmp', 'p4194305-1');
    fs.mkdirSync(path.join(dead, 'run-b1', 'k=v'), { recursive: true });
    fs.mkdirSync(path.join(dead, 'run-b2', 'k=v'), { recursive: true });
    fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
    // Batch 1 reached its commit point: a real Parquet file and its manifest.
    const staged = path.join(dead, 'run-b1', 'k=v', 'part_0.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(`COPY (SELECT range AS id FROM range(7)) TO '${staged}' (FORMAT parquet)`);
    c.closeSync();
    db.closeSync();
    const target = path.join(root, 'bronze', 'rec', 'items', 'k=v', 'year=2026', 'month=01', 'day=01', 'r1-1.parquet');
    const batch = { runId: 'r1', source: 'rec', dataset: 'items', batchNo: 1, rows: 7, rejected: 0, files: [{ path: path.relative(root, target), partition: { k: 'v' }, rows: 7, bytes: fs.statSync(staged).size }] };
    fs.writeFileSync(path.join(dead, 'run-b1.commit.json'), JSON.stringify({ batch, moves: [{ from: staged, to: target }] }));
    // Batch 2 never reached it: only a staged file.
    fs.writeFileSync(path.join(dead, 'run-b2', 'k=v', 'part_0.parquet'), 'half a file');

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(fs.existsSync(target)).toBe(true);
      expect(fs.existsSync(dead)).toBe(false);
      expect(listFiles(lake.paths.bronze)).toEqual([path.relative(lake.paths.bronze, target)]);
      const files = await lake.metrics.select('SELECT path, rows FROM bronze_files');
      expect(files).toEqual([{ path: batch.files[0]!.path, rows: 7 }]);
      const [count] = await lake.query(`SELECT count(*) AS n FROM read_parquet('${target}')`);
      expect(count!.n).toBe(7);
    } finally {
      await lake.close();
    }
  });

  it("hides a dead run's batch half renamed into bronze until an open rolls it forward, then shows it whole", async () => {
    const root = path.join(tempDir(), 'data');
    const os = await import('node:os');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      // An extract (pid 2^22 + 1: dead) killed between the two renames of its batch, after its commit point.
      const runId = '20260305T150000000Z-abcdef';
      await lake.metrics.select(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ($1, 'extract', 'running', now(), $2, 4194305, '1')`, [runId, os.hostname()]);
      const dead = path.join(root, '.tmp', 'p4194305-1');
      fs.mkdirSync(dead, { recursive: true });
      fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const db = await DuckDBInstance.create(':memory:');
      const c = await db.connect();
      const moves: { from: string; to: string }[] = [];
      const files = [];
      for (const [i, k] of ['a', 'b'].entries()) {
        const staged = path.join(dead, 'b1', `k=${k}`, 'part_0.parquet');
        fs.mkdirSync(path.dirname(staged), { recursive: true });
        await c.run(`COPY (SELECT range AS id FROM range(${5 + i})) TO '${staged}' (FORMAT parquet)`);
        const to = path.join(root, 'bronze', 'rec', 'items', `k=${k}`, 'year=2026', 'month=03', 'day=05', `${runId}-${i + 1}.parquet`);
        moves.push({ from: staged, to });
        files.push({ path: path.relative(root, to), partition: { k }, rows: 5 + i, bytes: fs.statSync(staged).size });
      }
      c.closeSync();
      db.closeSync();
      const batch = { runId, source: 'rec', dataset: 'items', batchNo: 1, rows: 11, rejected: 0, files };
      fs.writeFileSync(path.join(dead, 'b1.commit.json'), JSON.stringify({ batch, moves }));
      fs.mkdirSync(path.dirname(moves[0]!.to), { recursive: true });
      fs.renameSync(moves[0]!.from, moves[0]!.to);

      // Not yet recovered: the run is still `running` and its batch unrecorded, so none of it is visible.
      expect(await lake.bronze('rec/items')).toEqual([]);
      // An open (another process's, or this one's next) rolls the batch forward and marks the run abandoned.
      const other = await Lakehouse.open({ root, log: { console: false } });
      await other.close();
      expect((await lake.bronze('rec/items')).length).toBe(11);
    } finally {
      await lake.close();
    }
  });

  it('records a batch it rolls forward as committed when its manifest was written, so the dead run ends there, not at the open that noticed it', async () => {
    const root = path.join(tempDir(), 'data');
    const os = await import('node:os');
    const runId = '20260305T150000000Z-rolled';
    const dead = path.join(root, '.tmp', 'p4194305-1');
    fs.mkdirSync(path.join(dead, 'b1', 'k=v'), { recursive: true });
    fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
    const staged = path.join(dead, 'b1', 'k=v', 'part_0.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(`COPY (SELECT range AS id FROM range(7)) TO '${staged}' (FORMAT parquet)`);
    c.closeSync();
    db.closeSync();
    const target = path.join(root, 'bronze', 'rec', 'items', 'k=v', 'year=2026', 'month=03', 'day=05', `${runId}-1.parquet`);
    const batch = { runId, source: 'rec', dataset: 'items', batchNo: 1, rows: 7, rejected: 0, files: [{ path: path.relative(root, target), partition: { k: 'v' }, rows: 7, bytes: fs.statSync(staged).size }] };
    const manifest = path.join(dead, 'b1.commit.json');
    fs.writeFileSync(manifest, JSON.stringify({ batch, moves: [{ from: staged, to: target }] }));
    // Started two hours ago, killed one hour ago right after its commit point.
    const committedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    fs.utimesSync(manifest, committedAt, committedAt);
    const { MetricsDb } = await import('../../src/metrics/metrics-db.js');
    const metrics = new MetricsDb(path.join(root, 'metrics', 'runs.duckdb'), 5_000);
    await metrics.transaction((tx) =>
      tx.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ($1, 'extract', 'running', $2::TIMESTAMPTZ, $3, 4194305, '1')`, [runId, new Date(committedAt.getTime() - 3_600_000).toISOString(), os.hostname()]),
    );
    await metrics.close();

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const [committed] = await lake.metrics.select(`SELECT committed_at FROM source_batches WHERE run_id = $1`, [runId]);
      // Observed: the time of this open.
      expect((committed!.committed_at as Date).toISOString()).toBe(committedAt.toISOString());
      const run = (await lake.runs()).find((r) => r.runId === runId)!;
      expect(run).toMatchObject({ status: 'abandoned', rows: 7, durationMs: 3_600_000 });
      expect(run.finishedAt!.toISOString()).toBe(committedAt.toISOString());
    } finally {
      await lake.close();
    }
  });

  it('recovers the folder of a process of another host (a container recreated with a new hostname) once quiet for otherHostAbandonHours', async () => {
    const root = path.join(tempDir(), 'data');
    const runId = '20260305T150000000Z-oldbox';
    const killed = path.join(root, '.tmp', 'p77-1');
    const recent = path.join(root, '.tmp', 'p78-1');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const target = path.join(root, 'bronze', 'rec', 'items', 'k=v', 'year=2026', 'month=03', 'day=05', `${runId}-1.parquet`);
    for (const dir of [killed, recent]) {
      fs.mkdirSync(path.join(dir, 'b1', 'k=v'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ host: 'old-container-7f3a', pid: dir === killed ? 77 : 78, procStart: '1' }));
    }
    // The killed one reached its batch's commit point two days ago, and wrote nothing since.
    const staged = path.join(killed, 'b1', 'k=v', 'part_0.parquet');
    await c.run(`COPY (SELECT range AS id FROM range(7)) TO '${staged}' (FORMAT parquet)`);
    c.closeSync();
    db.closeSync();
    const batch = { runId, source: 'rec', dataset: 'items', batchNo: 1, rows: 7, rejected: 0, files: [{ path: path.relative(root, target), partition: { k: 'v' }, rows: 7, bytes: fs.statSync(staged).size }] };
    fs.writeFileSync(path.join(killed, 'b1.commit.json'), JSON.stringify({ batch, moves: [{ from: staged, to: target }] }));
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
    for (const f of [staged, path.dirname(staged), path.join(killed, 'b1'), path.join(killed, 'b1.commit.json'), path.join(killed, 'owner.json'), killed]) fs.utimesSync(f, twoDaysAgo, twoDaysAgo);
    const setup = await Lakehouse.open({ root, log: { console: false } });
    await setup.metrics.select(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ($1, 'extract', 'running', now() - INTERVAL 48 HOUR, 'old-container-7f3a', 77, '1')`, [runId]);
    await setup.close();

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      // Observed: the folder kept for good (a process of another host assumed alive), its batch never recorded.
      expect(fs.existsSync(killed)).toBe(false);
      expect(fs.existsSync(target)).toBe(true);
      expect(await lake.metrics.select('SELECT path, rows FROM bronze_files')).toEqual([{ path: batch.files[0]!.path, rows: 7 }]);
      expect((await lake.runs()).find((r) => r.runId === runId)).toMatchObject({ status: 'abandoned', rows: 7 });
      // One written to a moment ago is left to its process.
      expect(fs.existsSync(path.join(recent, 'owner.json'))).toBe(true);
    } finally {
      await lake.close();
    }
  });
});

describe('a batch whose files cannot all be renamed into bronze', () => {
  it('is taken back out whole: the failed run leaves none of it visible, and a re-run commits it whole', async () => {
    // The third partition's folder cannot be made (a file is in its way): its file's rename fails
    // after the first two were renamed into bronze. Once the run ends (failed), files it did not
    // record are no longer hidden as those of a run in progress: the two would read as committed.
    const root = path.join(tempDir(), 'data');
    const blocker = path.join(root, 'bronze', 'half', 'items', 'store=s2');
    fs.mkdirSync(path.dirname(blocker), { recursive: true });
    fs.writeFileSync(blocker, 'not a folder');
    const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 3000 } });
    try {
      const failed = await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000 })]);
      expect(failed.sources[0]).toMatchObject({ status: 'failed', rows: 0, files: 0 });
      expect(failed.sources[0]!.error).toContain('store=s2');
      expect((await lake.bronze('half/items')).length, 'rows of the failed batch visible').toBe(0);
      expect(listFiles(path.join(root, 'bronze')).filter((f) => f.endsWith('.parquet'))).toEqual([]);
      // Once the obstacle is gone, the next run commits the batch whole (its cursor was not saved).
      fs.rmSync(blocker);
      expect((await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000 })])).status).toBe('success');
      expect((await lake.bronze('half/items')).length).toBe(3000);
    } finally {
      await lake.close();
    }
    // Nothing left for an open to roll forward.
    const other = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await other.bronze('half/items')).length).toBe(3000);
      await expectCommittedBronze(other);
    } finally {
      await other.close();
    }
  });
});
