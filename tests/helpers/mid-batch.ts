/**
 * Exact interleavings with an extract of another process that is committing a batch
 * (tests/reliability/half-batch*.test.ts). A batch of a dataset partitioned by store is several
 * files, renamed into bronze one by one before the batch is recorded in the metrics db. The
 * extractor below freezes itself (SIGSTOP, as a slow disk or a descheduled process would) after
 * the second of its batch's three renames; the other side is a child process that waits (a busy
 * wait: nothing of its own runs meanwhile) at a chosen point until a file exists.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `import { Lakehouse } from …` for a child script. */
export const IMPORT_LAKEHOUSE = `import { Lakehouse } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};`;

/** Extracts one batch of 3,000 rows (3 stores → 3 files) priced above 1000; stops itself after the 2nd file is renamed into bronze. */
const EXTRACTOR = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Lakehouse, defineSource } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
import path from 'node:path';
import { drained, fileQueueKey } from ${JSON.stringify(path.join(repo, 'src', 'db', 'file-queue.ts'))};
import { itemSchema, syntheticItems } from ${JSON.stringify(path.join(repo, 'tests', 'helpers', 'synthetic-source.ts'))};
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
// Its rows once the start record's detach (in the background) is done: stopped while that detach
// ran, it would keep runs.duckdb locked, and the other side would wait on it, not on the batch.
const rows = syntheticItems({ source: 'half', batches: 1, rowsPerBatch: 3000, priceShift: 1000 });
const items = defineSource({
  source: 'half',
  dataset: 'items',
  partitionBy: ['store'],
  schema: itemSchema,
  async *extract(ctx) {
    await drained(fileQueueKey(path.resolve(root, 'metrics', 'runs.duckdb')));
    yield* rows.extract(ctx);
  },
});
try {
  const r = await lake.extract([items]);
  fs.writeSync(1, JSON.stringify({ status: r.status, rows: r.sources[0].rows, runId: r.runId }) + '\\n');
} finally {
  await lake.close();
}
`;

/**
 * Script text for a child: blocks (a busy wait) until the file named by the expression `go`
 * exists, once, printing WAITING first; `waited` says it did. A go that never comes (the test
 * died, or outlived any test's timeout) ends the child with exit code 70 and a message: carrying
 * on instead would let a test pass without the child ever having waited where it says.
 */
export const BUSY_WAIT = `
let waited = false;
const testPid = process.ppid;
function waitForGo(go: string, timeoutMillis = 900_000): void {
  waited = true;
  fs.writeSync(1, 'WAITING\\n');
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMillis;
  while (!fs.existsSync(go)) {
    const why = process.ppid !== testPid ? 'the test that started it is gone' : Date.now() > deadline ? \`none within \${timeoutMillis} ms\` : '';
    if (why) {
      fs.writeSync(2, \`waitForGo: no go file \${go}: \${why}\\n\`);
      process.exit(70);
    }
    Atomics.wait(cell, 0, 0, 20);
  }
}
`;

/** Script text for a child: waits (BUSY_WAIT) when its console log first shows the text in the variable `line`, until the file `go` exists. */
export const WAIT_AT_LOG_LINE = `${BUSY_WAIT}
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  if (!waited && String(chunk).includes(line)) waitForGo(go);
  return write(chunk, ...rest);
}) as typeof process.stderr.write;
`;

export interface Child {
  /** Resolves when stdout shows the marker. */
  reached: Promise<void>;
  exited: Promise<number | null>;
  /** The child's JSON line. */
  result(): Record<string, unknown>;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

/** Runs `script` (TypeScript, written to `<base>/<name>.mts`) with `args`; `reached` once stdout shows `marker`. */
export function child(base: string, name: string, script: string, args: string[], marker: string): Child {
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
    // 'close', not 'exit': the marker may still be in the pipe when the process has exited.
    proc.on('close', () => reject(new Error(`${name} exited before ${marker}: ${stderr}`)));
  });
  reached.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return {
    reached,
    exited,
    result: () => JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as Record<string, unknown>,
    stderr: () => stderr,
    kill: (signal) => void proc.kill(signal),
  };
}

/** The extractor of `half/items` (ids 0..2999 priced above 1000), `reached` once it has stopped itself between two renames. */
export function pausedExtractor(base: string, root: string): Child {
  return child(base, 'extractor', EXTRACTOR, [root], 'PAUSED');
}

/**
 * Runs `script` (which waits at some point until the file `<base>/go` exists, BUSY_WAIT, given as
 * its last argument); once it waits, the extractor is started and stopped mid-batch, then the child
 * goes on. Resolves with the child's JSON line and the stopped extractor.
 */
export async function withExtractorMidway(base: string, root: string, name: string, script: string, args: string[]): Promise<{ out: Record<string, unknown>; extractor: Child }> {
  const go = path.join(base, 'go');
  const proc = child(base, name, script, [...args, go], 'WAITING');
  let extractor: Child | undefined;
  try {
    await proc.reached;
    extractor = pausedExtractor(base, root);
    await extractor.reached;
    fs.writeFileSync(go, '');
    const code = await proc.exited;
    if (code !== 0) throw new Error(`${name} exited with ${code}: ${proc.stderr()}`);
    return { out: proc.result(), extractor };
  } catch (error) {
    extractor?.kill('SIGCONT');
    throw error;
  } finally {
    proc.kill('SIGKILL');
  }
}

/** The extractor, once stopped mid-batch: resumed, it commits its batch whole. */
export async function expectExtractorDone(extractor: Child): Promise<void> {
  extractor.kill('SIGCONT');
  expect(await extractor.exited, extractor.stderr()).toBe(0);
  expect(extractor.result()).toMatchObject({ status: 'success', rows: 3000 });
}
