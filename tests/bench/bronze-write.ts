/**
 * Bronze write benchmark: 1,000,000 price rows (10 fields incl. a timestamp), generated lazily
 * in batches, into 3 store partitions. Side by side in one run, each variant in its own child
 * process (so peak RSS is its own):
 *   ours     lake.extract(defineSource) — zod validation, chunks, COPY PARTITION_BY, commit, metrics
 *   floor    DuckDB data-chunk appender + COPY PARTITION_BY, no validation, no bookkeeping
 *   parquetjs  parquetjs-lite, one writer per partition, appendRow per row
 * Targets: ours ≥ 10× faster than parquetjs-lite, ≤ 2× the floor's time, peak RSS < 500 MB.
 *   npm run bench:bronze-write [-- --rows 1000000]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROWS = Number(process.argv.find((a, i) => process.argv[i - 1] === '--rows') ?? 1_000_000);
const BATCH = 10_000;
const STORES = ['bistek', 'fort', 'giassi'];
const BASE = Date.UTC(2026, 10, 20, 12);

export interface PriceRow {
  store: string;
  region: string;
  sku_id: string;
  ean: string;
  name: string;
  price: number;
  list_price: number;
  available: boolean;
  stock: number;
  captured_at: string;
}

function* batches(rows: number): Generator<PriceRow[]> {
  for (let start = 0; start < rows; start += BATCH) {
    const batch: PriceRow[] = [];
    for (let i = start; i < Math.min(rows, start + BATCH); i++) {
      const price = 1 + ((i * 7919) % 50_000) / 100;
      batch.push({
        store: STORES[i % 3]!,
        region: `r${i % 4}`,
        sku_id: String(100_000 + (i % 200_000)),
        ean: String(7_890_000_000_000 + (i % 200_000)),
        name: `Produto ${i % 200_000} Marca ${i % 97} ${(i % 12) + 1}x395g`,
        price,
        list_price: price * 1.1,
        available: i % 10 !== 0,
        stock: i % 500,
        captured_at: new Date(BASE + i * 1000).toISOString(),
      });
    }
    yield batch;
  }
}

async function runOurs(dir: string): Promise<void> {
  const { Lakehouse, defineSource, z } = await import('../../src/index.js');
  const lake = await Lakehouse.open({ root: dir, log: { file: false, console: false } });
  try {
    const source = defineSource({
      source: 'bench',
      dataset: 'prices',
      partitionBy: ['store'],
      schema: z.object({
        store: z.string(),
        region: z.string(),
        sku_id: z.string(),
        ean: z.string(),
        name: z.string(),
        price: z.number(),
        list_price: z.number(),
        available: z.boolean(),
        stock: z.number().int(),
        captured_at: z.iso.datetime(),
      }),
      extract: () => batches(ROWS),
    });
    const result = await lake.extract([source]);
    if (result.status !== 'success' || result.sources[0]!.rows !== ROWS) throw new Error(`ours: ${JSON.stringify(result)}`);
  } finally {
    await lake.close();
  }
}

async function runFloor(dir: string): Promise<void> {
  const { DuckDBInstance, DuckDBDataChunk, VARCHAR, DOUBLE, BOOLEAN, BIGINT, TIMESTAMPTZ, DuckDBTimestampTZValue } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  const c = await db.connect();
  fs.mkdirSync(path.join(dir, 'floor'), { recursive: true });
  await c.run(`CREATE TABLE t (store VARCHAR, region VARCHAR, sku_id VARCHAR, ean VARCHAR, name VARCHAR, price DOUBLE, list_price DOUBLE, available BOOLEAN, stock BIGINT, captured_at TIMESTAMPTZ)`);
  const types = [VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, DOUBLE, DOUBLE, BOOLEAN, BIGINT, TIMESTAMPTZ];
  let appender = await c.createAppender('t');
  let buffered = 0;
  let flushNo = 0;
  const flush = async (): Promise<void> => {
    appender.closeSync();
    await c.run(`COPY t TO '${dir}/floor/${flushNo++}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (store))`);
    await c.run('DELETE FROM t');
    appender = await c.createAppender('t');
    buffered = 0;
  };
  for (const batch of batches(ROWS)) {
    for (let s = 0; s < batch.length; s += 2048) {
      const part = batch.slice(s, s + 2048);
      const chunk = DuckDBDataChunk.create(types, part.length);
      chunk.setColumnValues(0, part.map((r) => r.store));
      chunk.setColumnValues(1, part.map((r) => r.region));
      chunk.setColumnValues(2, part.map((r) => r.sku_id));
      chunk.setColumnValues(3, part.map((r) => r.ean));
      chunk.setColumnValues(4, part.map((r) => r.name));
      chunk.setColumnValues(5, part.map((r) => r.price));
      chunk.setColumnValues(6, part.map((r) => r.list_price));
      chunk.setColumnValues(7, part.map((r) => r.available));
      chunk.setColumnValues(8, part.map((r) => BigInt(r.stock)));
      chunk.setColumnValues(9, part.map((r) => new DuckDBTimestampTZValue(BigInt(Date.parse(r.captured_at)) * 1000n)));
      appender.appendDataChunk(chunk);
    }
    buffered += batch.length;
    if (buffered >= 100_000) await flush();
  }
  if (buffered > 0) await flush();
  appender.closeSync();
  c.closeSync();
  db.closeSync();
}

async function runParquetjs(dir: string): Promise<void> {
  const { default: parquet } = (await import('parquetjs-lite')) as { default: any };
  const schema = new parquet.ParquetSchema({
    region: { type: 'UTF8' },
    sku_id: { type: 'UTF8' },
    ean: { type: 'UTF8' },
    name: { type: 'UTF8' },
    price: { type: 'DOUBLE' },
    list_price: { type: 'DOUBLE' },
    available: { type: 'BOOLEAN' },
    stock: { type: 'INT64' },
    captured_at: { type: 'TIMESTAMP_MILLIS' },
  });
  const writers = new Map<string, any>();
  for (const store of STORES) {
    fs.mkdirSync(path.join(dir, 'pq', `store=${store}`), { recursive: true });
    writers.set(store, await parquet.ParquetWriter.openFile(schema, path.join(dir, 'pq', `store=${store}`, 'part-0.parquet')));
  }
  for (const batch of batches(ROWS)) {
    for (const r of batch) {
      await writers.get(r.store).appendRow({ ...r, captured_at: new Date(r.captured_at) });
    }
  }
  for (const w of writers.values()) await w.close();
}

function dirSize(dir: string): number {
  let total = 0;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const st = fs.statSync(path.join(dir, f));
    if (st.isFile() && f.endsWith('.parquet')) total += st.size;
  }
  return total;
}

async function child(variant: string, dir: string): Promise<void> {
  const t0 = performance.now();
  if (variant === 'ours') await runOurs(dir);
  else if (variant === 'floor') await runFloor(dir);
  else await runParquetjs(dir);
  const seconds = (performance.now() - t0) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ variant, seconds, rssMb, bytes: dirSize(dir) })}\n`);
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, { seconds: number; rssMb: number; bytes: number }> = {};
  for (const variant of ['floor', 'ours', 'parquetjs']) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-bronze-${variant}-`));
    const out = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', variant, dir, '--rows', String(ROWS)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    fs.rmSync(dir, { recursive: true, force: true });
    if (out.status !== 0) throw new Error(`${variant} failed`);
    const line = out.stdout.trim().split('\n').pop()!;
    results[variant] = JSON.parse(line);
    const r = results[variant]!;
    console.log(
      `${variant.padEnd(10)} ${r.seconds.toFixed(2).padStart(7)} s  ${Math.round(ROWS / r.seconds).toLocaleString('en-US').padStart(10)} rows/s  peak RSS ${Math.round(r.rssMb)} MB  ${(r.bytes / 1e6).toFixed(1)} MB parquet`,
    );
  }
  const ours = results.ours!;
  const vsParquetjs = results.parquetjs!.seconds / ours.seconds;
  const vsFloor = ours.seconds / results.floor!.seconds;
  console.log(`\nrows: ${ROWS.toLocaleString('en-US')}`);
  console.log(`ours vs parquetjs-lite: ${vsParquetjs.toFixed(1)}× faster (target ≥ 10×) ${vsParquetjs >= 10 ? 'OK' : 'MISSED'}`);
  console.log(`ours / floor time:      ${vsFloor.toFixed(2)}× (target ≤ 2×) ${vsFloor <= 2 ? 'OK' : 'MISSED'}`);
  console.log(`ours peak RSS:          ${Math.round(ours.rssMb)} MB (target < 500 MB) ${ours.rssMb < 500 ? 'OK' : 'MISSED'}`);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await child(process.argv[childAt + 1]!, process.argv[childAt + 2]!);
else await main();
