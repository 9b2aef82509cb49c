/**
 * several processes opening one lake at the same instant after a crash. Each open
 * recovers `data/.tmp/` (recover.ts); README: "the next `Lakehouse.open` rolls a batch past its
 * commit point forward, removes the rest, and marks the dead run `abandoned`", and "several
 * processes can extract and build at once". Two cron jobs (an extract and a build) starting in
 * the same second after a crash is the ordinary case.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { newRunId } from '../../src/run-id.js';
import { withMemoryQuery } from '../helpers/lake-checks.js';
import { holdLock } from '../helpers/lock-holder.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs a TypeScript snippet in a child Node process (through tsx); resolves with its stdout and exit code. */
function runScript(dir: string, code: string, args: string[]): { ready: Promise<void>; exited: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const file = path.join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  fs.writeFileSync(file, code);
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VITEST: 'true' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.startsWith('ready\n')) {
      stderr = stderr.slice('ready\n'.length);
      ready();
    }
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (c) => resolve({ code: c, stdout, stderr })));
  void exited.then(() => ready());
  return { ready: isReady, exited };
}

const OPENER = `
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
import fs from 'node:fs';
const [root, go] = process.argv.slice(2);
console.error('ready');
while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 1));
try {
  const lake = await Lakehouse.open({ root, log: { console: false } });
  await lake.close();
  console.log('opened');
} catch (error) {
  console.log('FAILED ' + (error as Error).message);
  process.exitCode = 1;
}
`;

describe('opens racing on the recovery of a dead process', () => {
  it('four processes opening the lake at once after an extract was killed past its commit point all open, and the batch is recorded once', async () => {
    const base = tempDir('duckhouse-open-race-');
    const root = path.join(base, 'data');
    await (await Lakehouse.open({ root, log: { console: false } })).close();

    // An extract of a source partitioned by store, SIGKILLed after the commit manifest of a batch
    // (its files still in its private folder): what the next open rolls forward.
    const deadPid = 4_194_305; // 2^22 + 1: no such process on Linux
    const deadDir = path.join(root, '.tmp', `p${deadPid}-777`);
    const batchDir = path.join(deadDir, 'batch-1');
    fs.mkdirSync(batchDir, { recursive: true });
    fs.writeFileSync(path.join(deadDir, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: deadPid, procStart: '777' }));
    const one = path.join(base, 'one.parquet');
    await withMemoryQuery((q) => q(`COPY (SELECT 1 AS id, now() AS _extracted_at) TO '${one}' (FORMAT parquet)`));
    const runId = newRunId(new Date(Date.now() - 60_000));
    const STORES = 40;
    const moves: { from: string; to: string }[] = [];
    const files: { path: string; partition: Record<string, string>; rows: number; bytes: number }[] = [];
    for (let s = 0; s < STORES; s++) {
      const from = path.join(batchDir, `store=s${s}`, 'data_0.parquet');
      fs.mkdirSync(path.dirname(from), { recursive: true });
      fs.copyFileSync(one, from);
      const to = path.join(root, 'bronze', 'shop', 'items', `store=s${s}`, 'year=2026', 'month=01', 'day=01', `${runId}-${s + 1}.parquet`);
      moves.push({ from, to });
      files.push({ path: path.relative(root, to), partition: { store: `s${s}`, year: '2026', month: '01', day: '01' }, rows: 1, bytes: fs.statSync(one).size });
    }
    fs.writeFileSync(path.join(deadDir, `${runId}-1.commit.json`), JSON.stringify({ batch: { runId, source: 'shop', dataset: 'items', batchNo: 1, rows: STORES, rejected: 0, files }, moves }));

    // Four processes (cron jobs) load, then open the lake at the same instant.
    const go = path.join(base, 'go');
    const children = Array.from({ length: 4 }, () => runScript(base, OPENER, [root, go]));
    await Promise.all(children.map((c) => c.ready));
    fs.writeFileSync(go, '');
    const outs = await Promise.all(children.map((c) => c.exited));
    expect(outs.map((o) => `${o.stdout}${o.stderr}`.trim()), 'every process opens the lake').toEqual(Array(4).fill('opened'));

    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      const [batches] = await lake.metrics.select(`SELECT count(*) AS n FROM source_batches WHERE run_id = $1`, [runId]);
      expect(batches).toEqual({ n: 1 });
      const [recorded] = await lake.metrics.select(`SELECT count(*) AS n, count(DISTINCT path) AS paths FROM bronze_files WHERE run_id = $1`, [runId]);
      expect(recorded).toEqual({ n: STORES, paths: STORES });
      for (const m of moves) expect(fs.existsSync(m.to), m.to).toBe(true);
    } finally {
      await lake.close();
    }
  }, 60_000);
});

describe('the claim on a dead process folder', () => {
  it('an open leaves a dead folder another live process is recovering to it, and recovers it once that process is gone', async () => {
    const root = path.join(tempDir('duckhouse-open-claim-'), 'data');
    const deadDir = path.join(root, '.tmp', 'p4194305-778');
    fs.mkdirSync(deadDir, { recursive: true });
    fs.writeFileSync(path.join(deadDir, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4_194_305, procStart: '778' }));
    const runId = newRunId(new Date(Date.now() - 60_000));
    fs.writeFileSync(path.join(deadDir, `${runId}-1.commit.json`), JSON.stringify({ batch: { runId, source: 'shop', dataset: 'items', batchNo: 1, rows: 0, rejected: 0, files: [] }, moves: [] }));
    // A live process (this one stands in for it) holds the claim on the folder.
    const { holder } = holdLock(path.join(root, 'state', 'locks', 'recover.p4194305-778.lock'));

    await (await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 500 })).close();
    expect(fs.existsSync(deadDir), 'left to the process holding the claim').toBe(true);

    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(fs.existsSync(deadDir), 'recovered once its claimer died').toBe(false);
      expect(await lake.metrics.select(`SELECT count(*) AS n FROM source_batches WHERE run_id = $1`, [runId])).toEqual([{ n: 1 }]);
    } finally {
      await lake.close();
    }
  });
});
