/**
 * Readers of bronze other than the build while another process commits a batch (see
 * half-batch.test.ts for the build and lake.test).
 *
 * A batch of a dataset partitioned by store is several files, renamed into bronze one by one
 * before the batch is recorded in the metrics db; readers hide the files of a run still `running`
 * that are not recorded yet. That rule holds only when the folder is listed right after the
 * metrics db was read, and only while a run whose batch is half renamed stays `running`. The
 * extractor here is frozen (SIGSTOP) after the second of its batch's three renames; the other
 * side waits at a chosen point (a busy wait on a file) for an exact interleaving.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { writeFiles } from '../helpers/models.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Extracts one batch of 3,000 rows (3 stores → 3 files) priced above 1000; stops itself after the 2nd file is renamed into bronze. */
const EXTRACTOR = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
import { syntheticItems } from ${JSON.stringify(path.join(repo, 'tests', 'helpers', 'synthetic-source.ts'))};
const [root] = process.argv.slice(2);
const rename = fs.renameSync;
let intoBronze = 0;
fs.renameSync = function (from, to) {
  const out = rename.call(this, from, to);
  if (String(to).includes('/bronze/') && ++intoBronze === 2) {
    fs.writeSync(1, 'PAUSED\\n');
    process.kill(process.pid, 'SIGSTOP');
  }
  return out;
} as typeof fs.renameSync;
syncBuiltinESMExports();
const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 3000 } });
try {
  const r = await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000, priceShift: 1000 })]);
  fs.writeSync(1, JSON.stringify({ status: r.status, rows: r.sources[0].rows, runId: r.runId }) + '\\n');
} finally {
  await lake.close();
}
`;

interface Child {
  /** Resolves when stdout shows `marker`. */
  reached: Promise<void>;
  exited: Promise<number | null>;
  /** The child's JSON line. */
  result(): Record<string, unknown>;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

function child(base: string, name: string, script: string, args: string[], marker: string): Child {
  const file = path.join(base, `${name}.mts`);
  fs.writeFileSync(file, script);
  const proc = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VITEST: 'true' } });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const reached = new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes(marker)) resolve();
    });
    proc.on('exit', () => reject(new Error(`${name} exited before ${marker}: ${stderr}`)));
  });
  reached.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    reached,
    exited,
    result: () => JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as Record<string, unknown>,
    stderr: () => stderr,
    kill: (signal) => void proc.kill(signal),
  };
}

const pausedExtractor = (base: string, root: string): Child => child(base, 'extractor', EXTRACTOR, [root], 'PAUSED');

/**
 * `lake.compact` or `lake.prune` of half/items in its own process, which waits (a busy wait:
 * nothing of its own runs meanwhile) when it first reads the dataset's records from the metrics
 * db (as a wait for the metrics file's lock would), until the file `go` exists.
 */
const LIFECYCLE = `
import fs from 'node:fs';
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
import { MetricsDb } from ${JSON.stringify(path.join(repo, 'src', 'metrics', 'metrics-db.ts'))};
const [root, go, mode] = process.argv.slice(2);
const records = MetricsDb.prototype.bronzeRecords;
let waited = false;
MetricsDb.prototype.bronzeRecords = function (...args) {
  if (!waited) {
    waited = true;
    fs.writeSync(1, 'WAITING\\n');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(go) && Date.now() < deadline) Atomics.wait(cell, 0, 0, 20);
  }
  return records.apply(this, args);
} as typeof records;
const lake = await Lakehouse.open({ root, log: { console: false } });
try {
  const r = mode === 'compact'
    ? await lake.compact({ source: 'half', dataset: 'items' })
    : await lake.prune({ source: 'half', dataset: 'items', olderThan: '2999-01-01' });
  fs.writeSync(1, JSON.stringify({ status: r.status, waited }) + '\\n');
} finally {
  await lake.close();
}
`;

/** A first extract: ids 0..2999 priced below 1000, one file per store. */
async function firstExtract(root: string): Promise<void> {
  const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: 3000 } });
  try {
    expect((await lake.extract([syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000 })])).status).toBe('success');
  } finally {
    await lake.close();
  }
}

/** Rows of the extractor's batch (the only ones priced above 1000) and all rows, as `lake.bronze` reads them now. */
async function bronzeRows(lake: Lakehouse): Promise<{ batch: number; all: number }> {
  const rows = await lake.bronze<{ price: number }>('half/items');
  return { batch: rows.filter((r) => r.price > 1000).length, all: rows.length };
}

/**
 * Runs LIFECYCLE with `mode`; once it waits between its visibility read and its listing, the
 * extractor is started and stopped mid-batch, then the child goes on.
 */
async function lifecycleWithExtractorMidway(base: string, root: string, mode: 'compact' | 'prune'): Promise<{ out: Record<string, unknown>; extractor: Child }> {
  const go = path.join(base, 'go');
  const proc = child(base, mode, LIFECYCLE, [root, go, mode], 'WAITING');
  let extractor: Child | undefined;
  try {
    await proc.reached;
    extractor = pausedExtractor(base, root);
    await extractor.reached;
    fs.writeFileSync(go, '');
    expect(await proc.exited, proc.stderr()).toBe(0);
    return { out: proc.result(), extractor };
  } catch (error) {
    extractor?.kill('SIGCONT');
    throw error;
  } finally {
    proc.kill('SIGKILL');
  }
}

describe('compaction and prune while another process commits a batch', () => {
  it('a compaction leaves a batch being committed out whole: readers never see part of it', async () => {
    const base = tempDir('duckhouse-half-batch-compact-');
    const root = path.join(base, 'data');
    await firstExtract(root);
    const { out, extractor } = await lifecycleWithExtractorMidway(base, root, 'compact');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(out).toEqual({ status: 'success', waited: true });
      // The extractor is still stopped between its second and third rename.
      const during = await bronzeRows(lake);
      extractor.kill('SIGCONT');
      expect(await extractor.exited, extractor.stderr()).toBe(0);
      expect(extractor.result()).toMatchObject({ status: 'success', rows: 3000 });
      expect.soft([0, 3000], 'rows of the batch being committed seen after the compaction').toContain(during.batch);
      expect(await bronzeRows(lake)).toEqual({ batch: 3000, all: 6000 });
    } finally {
      extractor.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);

  it('a prune takes a batch being committed whole or leaves it whole: no part of it is lost', async () => {
    const base = tempDir('duckhouse-half-batch-prune-');
    const root = path.join(base, 'data');
    await firstExtract(root);
    const { out, extractor } = await lifecycleWithExtractorMidway(base, root, 'prune');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(out).toEqual({ status: 'success', waited: true });
      extractor.kill('SIGCONT');
      expect(await extractor.exited, extractor.stderr()).toBe(0);
      expect(extractor.result()).toMatchObject({ status: 'success', rows: 3000 });
      // The first extract is pruned; the batch committed meanwhile is pruned whole or kept whole.
      const after = await bronzeRows(lake);
      expect([0, 3000], 'rows of the batch committed during the prune left in bronze').toContain(after.batch);
      expect(after.all).toBe(after.batch);
    } finally {
      extractor.kill('SIGCONT');
      await lake.close();
    }
  }, 120_000);
});


/**
 * `Lakehouse.open` in its own process, which waits (a busy wait) when its console log first shows
 * `line`, until the file `go` exists.
 */
const OPENER = `
import fs from 'node:fs';
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root, go, line] = process.argv.slice(2);
const write = process.stderr.write.bind(process.stderr);
let waited = false;
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  if (!waited && String(chunk).includes(line)) {
    waited = true;
    fs.writeSync(1, 'WAITING\\n');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(go) && Date.now() < deadline) Atomics.wait(cell, 0, 0, 20);
  }
  return write(chunk, ...rest);
}) as typeof process.stderr.write;
const lake = await Lakehouse.open({ root, log: { console: true } });
await lake.close();
fs.writeSync(1, JSON.stringify({ waited }) + '\\n');
`;

describe('an open while an extract of another process dies mid-commit', () => {
  it('the dead run stays running, its batch hidden, until its batch is rolled forward: never seen in part', async () => {
    // An open recovers dead processes' folders (rolling their committed batches forward), then
    // marks dead runs abandoned. An extract that dies between the two (alive when its folder was
    // looked at, dead when its run is) must not have its half-renamed batch shown as committed.
    const base = tempDir('duckhouse-half-batch-open-');
    const root = path.join(base, 'data');
    await firstExtract(root);
    const reader = await Lakehouse.open({ root, log: { console: false } });
    let extractor: Child | undefined;
    try {
      extractor = pausedExtractor(base, root);
      await extractor.reached;
      // A temp file of a process that is gone (pid out of range): the open removes it between its
      // recovery of dead processes' folders and its marking of dead runs, and logs it.
      fs.writeFileSync(path.join(root, 'state', 'planted.json.2147483646.abc123.tmp'), '{}');
      const go = path.join(base, 'go');
      const opener = child(base, 'opener', OPENER, [root, go, 'temp file(s) a dead process left'], 'WAITING');
      try {
        await opener.reached;
        extractor.kill('SIGKILL');
        await extractor.exited;
        fs.writeFileSync(go, '');
        expect(await opener.exited, opener.stderr()).toBe(0);
        expect(opener.result()).toEqual({ waited: true });
      } finally {
        opener.kill('SIGKILL');
      }
      const during = await bronzeRows(reader);
      expect.soft([0, 3000], 'rows of the dead extract\'s batch seen after the open').toContain(during.batch);
    } finally {
      extractor?.kill('SIGKILL');
      await reader.close();
    }
    // Its batch was past its commit point: an open rolls it forward, whole.
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect(await bronzeRows(lake)).toEqual({ batch: 3000, all: 6000 });
      const [run] = (await lake.runs({ limit: 5 })).filter((r) => r.kind === 'extract' && r.runId > '');
      expect(run?.status).toBe('abandoned');
    } finally {
      await lake.close();
    }
  }, 120_000);
});

/**
 * `lake.test()` in its own process, which waits (a busy wait) when its console log first shows
 * `line`, until the file `go` exists.
 */
const TESTER = `
import fs from 'node:fs';
import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [root, models, go, line] = process.argv.slice(2);
const write = process.stderr.write.bind(process.stderr);
let waited = false;
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  if (!waited && String(chunk).includes(line)) {
    waited = true;
    fs.writeSync(1, 'WAITING\\n');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(go) && Date.now() < deadline) Atomics.wait(cell, 0, 0, 20);
  }
  return write(chunk, ...rest);
}) as typeof process.stderr.write;
const lake = await Lakehouse.open({ root, models, log: { console: true } });
try {
  const tests = await lake.test();
  fs.writeSync(1, JSON.stringify({ tests: tests.map((t) => [t.name, t.status, t.error ?? null]), waited }) + '\\n');
} finally {
  await lake.close();
}
`;

describe('a compaction while lake.test runs in another process', () => {
  it('keeps the files the test run listed until it ends, however short the retention', async () => {
    // lake.test lists the datasets its tests read when it starts, and reads them at each test's
    // turn. A compaction (retention 0) switching and purging them in between must not delete them
    // under it, as it does not under a build running.
    const base = tempDir('duckhouse-compact-during-test-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/one.sql': `select 1 as one`,
      'assertions/aa_always_fails.sql': `select 1 as one`,
      'assertions/zz_no_negative_price.sql': `select id from {{ source('half', 'items') }} where price < 0`,
    });
    const lake = await Lakehouse.open({ root, models, log: { console: false }, limits: { flushRows: 1500 }, retainSupersededMinutes: 0 });
    try {
      // Two batches: two small files per store partition, for compaction to merge.
      expect((await lake.extract([syntheticItems({ source: 'half', batches: 2, rowsPerBatch: 1500 })])).status).toBe('success');
      expect((await lake.build({ test: false })).status).toBe('success');
      const go = path.join(base, 'go');
      const tester = child(base, 'tester', TESTER, [root, models, go, 'test aa_always_fails'], 'WAITING');
      try {
        await tester.reached;
        const compacted = await lake.compact({ source: 'half', dataset: 'items' });
        expect(compacted.filesIn).toBeGreaterThan(0);
        fs.writeFileSync(go, '');
        expect(await tester.exited, tester.stderr()).toBe(0);
      } finally {
        tester.kill('SIGKILL');
      }
      const out = tester.result() as { tests: [string, string, string | null][]; waited: boolean };
      expect(out.waited).toBe(true);
      expect(out.tests).toEqual([
        ['aa_always_fails', 'fail', null],
        ['zz_no_negative_price', 'pass', null],
      ]);
      // Once the test run has ended, the next compaction or build deletes them.
      expect((await lake.compact({ source: 'half', dataset: 'items' })).deleted).toBeGreaterThan(0);
    } finally {
      await lake.close();
    }
  }, 120_000);
});
