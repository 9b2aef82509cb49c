/**
 * A run's schema drift lands in bronze with its first committed batch: it is recorded once
 * (`schema_changes`, a `schema_drift` alert) whether the run finishes, is killed after that
 * batch, or is killed past its commit point and rolled forward by the next open; and the
 * dataset's recorded schema (state/schemas/) is the one bronze holds, so the next run's drift
 * check compares with it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { readRecordedSchema } from '../../src/transform/source-relation.js';
import { spawnHelper } from '../helpers/child.js';
import { driftSource } from '../helpers/child-drift.js';
import { sendJson, startFaultyServer, type Handler } from '../helpers/faulty-server.js';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { metricsRows } from '../helpers/metrics-read.js';
import { listFiles, registerCleanup, tempDir } from '../helpers/temp-lake.js';

const items = (page: number, price: string | null): unknown[] => [1, 2].map((i) => ({ id: page * 10 + i, price: price === 'string' ? `${i}.5` : i + 0.5 }));

async function extract(root: string, url: string, price: 'number' | 'string') {
  const lake = await Lakehouse.open({ root, log: { console: false } });
  try {
    return (await lake.extract([driftSource(url, price)])).sources[0]!;
  } finally {
    await lake.close();
  }
}

async function until(what: string, check: () => boolean, child: ReturnType<typeof spawnHelper>): Promise<void> {
  for (;;) {
    if (check()) return;
    if (child.process.exitCode !== null) throw new Error(`the child ended before ${what}: ${child.lines.join('\n')} ${(await child.exited).stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the metrics db holds of the drift of run `runId` (the rows, the alerts). */
async function driftOf(root: string, runId: string) {
  return {
    changes: await metricsRows(root, `SELECT column_name, change, old_type, new_type FROM schema_changes WHERE run_id = '${runId}'`),
    alerts: await metricsRows(root, `SELECT kind, subject, message FROM alerts WHERE run_id = '${runId}' AND kind = 'schema_drift'`),
  };
}

const PRICE_TO_VARCHAR = {
  changes: [{ column_name: 'price', change: 'retyped', old_type: 'DOUBLE', new_type: 'VARCHAR' }],
  alerts: [{ kind: 'schema_drift', subject: 'shop/items', message: 'price retyped DOUBLE → VARCHAR' }],
};

describe('schema drift of a run killed after it committed', () => {
  it('past its commit point: the roll-forward records its schema and its drift, and the next run compares with them', async () => {
    const root = path.join(tempDir('duckhouse-drift-roll-'), 'data');
    const metricsFile = path.join(root, 'metrics', 'runs.duckdb');
    let hold: Awaited<ReturnType<typeof holdDuckDbFile>> | undefined;
    let holding = false;
    const handler: Handler = async (_req, res, hit) => {
      const price = hit.url.searchParams.get('price');
      // The child's page: the metrics file is held first, so its batch stops right after its commit point.
      if (price === 'string' && !holding) {
        holding = true;
        hold = await holdDuckDbFile(metricsFile, { retry: true });
      }
      sendJson(res, 200, { data: items(Number(hit.url.searchParams.get('p')), price), more: false });
    };
    const server = await startFaultyServer({ '/items': handler });
    registerCleanup(() => server.close());
    const url = `${server.url}/items`;
    expect(await extract(root, url, 'number')).toMatchObject({ status: 'success', rows: 2 });

    const child = spawnHelper('child-drift.ts', [root, url, 'string']);
    registerCleanup(() => void child.process.kill('SIGKILL'));
    await until('its commit point', () => fs.existsSync(path.join(root, '.tmp')) && listFiles(path.join(root, '.tmp')).some((f) => f.endsWith('.commit.json')), child);
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    await hold!.release();
    expect(readRecordedSchema(root, 'shop', 'items')?.columns).toContainEqual({ name: 'price', type: 'DOUBLE' });

    // The next open rolls the batch forward: bronze holds VARCHAR prices now, and so does the recorded schema.
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    const [killed] = (await metricsRows(root, `SELECT run_id FROM runs WHERE status = 'abandoned'`)).map((r) => String(r.run_id));
    expect(killed).toBeDefined();
    expect(readRecordedSchema(root, 'shop', 'items')).toMatchObject({ runId: killed, columns: expect.arrayContaining([{ name: 'price', type: 'VARCHAR' }]) });
    expect(await driftOf(root, killed!)).toEqual(PRICE_TO_VARCHAR);
    // Prices back to numbers: a change from what bronze holds now.
    const next = await extract(root, url, 'number');
    expect(next.schemaChanges).toEqual([{ column: 'price', change: 'retyped', oldType: 'VARCHAR', newType: 'DOUBLE' }]);
    expect(await metricsRows(root, `SELECT count(*) AS n FROM schema_changes`)).toEqual([{ n: 2 }]);
  });

  it('after its first batch: the drift it brought is recorded once, not lost to the next run comparing with the schema it recorded', async () => {
    const root = path.join(tempDir('duckhouse-drift-kill-'), 'data');
    // The child's run: a first page, then a second that never comes; it is killed waiting for it, its first batch committed.
    let childRun = true;
    let stalled: (() => void) | undefined;
    const handler: Handler = async (_req, res, hit) => {
      const page = Number(hit.url.searchParams.get('p'));
      const price = hit.url.searchParams.get('price');
      if (childRun && price === 'string' && page === 2) await new Promise<void>((resolve) => (stalled = resolve));
      sendJson(res, 200, { data: items(page, price), more: childRun && price === 'string' && page === 1 });
    };
    const server = await startFaultyServer({ '/items': handler });
    registerCleanup(() => {
      stalled?.();
      return server.close();
    });
    const url = `${server.url}/items`;
    expect(await extract(root, url, 'number')).toMatchObject({ status: 'success', rows: 2 });

    const child = spawnHelper('child-drift.ts', [root, url, 'string']);
    registerCleanup(() => void child.process.kill('SIGKILL'));
    await until('its first batch recorded its schema', () => readRecordedSchema(root, 'shop', 'items')?.columns.some((c) => c.type === 'VARCHAR') === true, child);
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    childRun = false;

    await (await Lakehouse.open({ root, log: { console: false } })).close();
    const [killed] = (await metricsRows(root, `SELECT run_id FROM runs WHERE status = 'abandoned'`)).map((r) => String(r.run_id));
    expect(killed).toBeDefined();
    expect(await driftOf(root, killed!)).toEqual(PRICE_TO_VARCHAR);
    // The next run has the prices bronze holds: no change, and the drift stays recorded once.
    const next = await extract(root, url, 'string');
    expect(next.schemaChanges ?? []).toEqual([]);
    expect(await metricsRows(root, `SELECT run_id, column_name FROM schema_changes`)).toEqual([{ run_id: killed, column_name: 'price' }]);
  });
});

describe('schema drift of a run whose first batch failed to record', () => {
  it('is recorded once: by the end of its run, and not again when the next open rolls that batch forward', async () => {
    const root = path.join(tempDir('duckhouse-drift-unrecorded-'), 'data');
    const metricsFile = path.join(root, 'metrics', 'runs.duckdb');
    const logFile = path.join(root, 'logs', 'duckhouse.log');
    let hold: Awaited<ReturnType<typeof holdDuckDbFile>> | undefined;
    const handler: Handler = async (_req, res, hit) => {
      const price = hit.url.searchParams.get('price');
      // The child's page: the metrics file is held, so its batch, past its commit point, cannot be recorded.
      if (price === 'string' && !hold) hold = await holdDuckDbFile(metricsFile, { retry: true });
      sendJson(res, 200, { data: items(Number(hit.url.searchParams.get('p')), price), more: false });
    };
    const server = await startFaultyServer({ '/items': handler });
    registerCleanup(() => server.close());
    const url = `${server.url}/items`;
    expect(await extract(root, url, 'number')).toMatchObject({ status: 'success', rows: 2 });

    const child = spawnHelper('child-drift.ts', [root, url, 'string', '3000']);
    registerCleanup(() => void child.process.kill('SIGKILL'));
    // Its batch gave up on the lock (the source failed): the rest of its run records, the file let go.
    await until('its source failed', () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('source failed'), child);
    await hold!.release();
    const line = await child.waitFor((l) => l.startsWith('{"result"'));
    const { result } = JSON.parse(line) as { result: { runId: string; sources: { status: string; errorCode?: string }[] } };
    expect(result.sources[0]).toMatchObject({ status: 'failed', errorCode: 'LOCKED' });
    expect((await child.exited).code).toBe(0);
    expect(await driftOf(root, result.runId)).toEqual(PRICE_TO_VARCHAR);
    expect(listFiles(path.join(root, '.tmp')).some((f) => f.endsWith('.commit.json'))).toBe(true);

    // The next open rolls the batch forward: recorded now, with its schema; its drift was already.
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    expect(listFiles(path.join(root, '.tmp')).some((f) => f.endsWith('.commit.json'))).toBe(false);
    expect(readRecordedSchema(root, 'shop', 'items')).toMatchObject({ runId: result.runId, columns: expect.arrayContaining([{ name: 'price', type: 'VARCHAR' }]) });
    expect(await driftOf(root, result.runId)).toEqual(PRICE_TO_VARCHAR);
  });
});
