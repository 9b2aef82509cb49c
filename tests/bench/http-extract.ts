/**
 * Benchmark: httpSource into bronze vs a bare keep-alive got loop that only parses JSON,
 * against one loopback server serving N pages × 50 records.
 *
 *   npm run bench:http-extract                       # 5,000 and 20,000 pages, 2 rounds
 *   npm run bench:http-extract -- 2000 8000 --rounds=3
 *
 * The server runs in its own process, and each measurement in a fresh process, so timings do
 * not share an event loop and each peak RSS (getrusage maxrss) belongs to one variant alone.
 * Variants alternate for several rounds and the best time of each counts: on a shared machine
 * the best run is the one least disturbed by other work.
 * Target: httpSource ≤ 1.3× the bare loop; RSS flat in the page count. A third variant,
 * `engine`, runs httpSource's HTTP side and zod without bronze, to tell the two costs apart. A
 * fourth, `ahead`, is httpSource told the API's page count, so that it sends pages ahead (up to
 * its in-flight limit): not like for like with the one-request-at-a-time bare loop, and printed
 * apart.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import got from 'got';
import { Lakehouse, z, type ExtractContext } from '../../src/index.js';
import { limitsSchema } from '../../src/config.js';
import { httpSource } from '../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../src/extract/http/paginators.js';

const PER_PAGE = 50;
const here = fileURLToPath(import.meta.url);

function pageBody(page: number, pages: number): string {
  const data = [];
  for (let i = 0; i < PER_PAGE; i += 1) {
    const id = (page - 1) * PER_PAGE + i + 1;
    data.push({
      id,
      sku: `SKU-${id}`,
      name: `Produto ${id} 395g`,
      store: id % 3 === 0 ? 'bistek' : 'giassi',
      price: Math.round(id * 7.3) / 100,
      list_price: Math.round(id * 8.1) / 100,
      available: id % 7 !== 0,
      updated_at: new Date(Date.UTC(2026, 2, 5, 12, 0, id % 60)).toISOString(),
    });
  }
  return JSON.stringify({ data: page <= pages ? data : [], meta: { page, total_pages: pages } });
}

/** `--serve`: the loopback API. Prints its port, then serves until killed. */
async function serve(): Promise<void> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = Number(url.searchParams.get('page') ?? '1');
    const pages = Number(url.searchParams.get('pages') ?? '1');
    const text = pageBody(page, pages);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
}

interface Measurement {
  /**
   * bare: got loop; engine: httpSource's HTTP side + zod, no bronze; source: httpSource into bronze;
   * ahead: the same, told the page count the API sends (`meta.total_pages`), so it sends the pages
   * after the next one ahead, up to its in-flight limit (4), which the bare loop does not.
   */
  variant: 'bare' | 'engine' | 'source' | 'ahead';
  pages: number;
  records: number;
  ms: number;
  /** CPU time of the measuring process (all its threads, DuckDB's included). */
  cpuMs: number;
  peakRssMb: number;
}

const schema = z.object({
  id: z.number().int(),
  sku: z.string(),
  name: z.string(),
  store: z.string(),
  price: z.number(),
  list_price: z.number(),
  available: z.boolean(),
  updated_at: z.iso.datetime(),
});

/** `--run <variant> <pages> <port>`: one measurement, printed as JSON. */
async function run(variant: Measurement['variant'], pages: number, port: number): Promise<void> {
  const base = `http://127.0.0.1:${port}/items`;
  let records = 0;
  let ms: number;
  let cpu = process.cpuUsage();
  if (variant === 'bare') {
    const agent = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
    const started = performance.now();
    for (let page = 1; ; page += 1) {
      const body = JSON.parse((await got(`${base}?pages=${pages}&page=${page}`, { agent, responseType: 'buffer', retry: { limit: 0 } })).body.toString('utf8')) as { data: unknown[] };
      if (body.data.length === 0) break;
      records += body.data.length;
    }
    ms = performance.now() - started;
    cpu = process.cpuUsage(cpu);
    agent.http.destroy();
  } else if (variant === 'engine') {
    // The HTTP engine alone (client, paginator, read-ahead) plus validation: where bronze costs nothing.
    const ctx: ExtractContext = {
      runId: 'bench',
      source: 'bench',
      dataset: 'items',
      timezone: 'America/Sao_Paulo',
      logger: { error() {}, warn() {}, info() {}, debug() {}, child() { return this; } },
      signal: new AbortController().signal,
      limits: limitsSchema.parse({ requestsPerSecond: 1e9, burst: 1e6 }),
      root: os.tmpdir(),
      cursor: async () => undefined,
      checkpoint() {},
      checkpointAccepted() {},
      reject() {},
      connect: () => Promise.reject(new Error('not used')),
      bronzeFiles: async () => [],
      stats: { requests: 0, retries: 0, pages: 0 },
      reportHttpStats() {},
      warn() {},
    };
    const source = httpSource({ source: 'bench', dataset: 'items', url: base, query: { pages }, paginate: pageNumberPaginator(), items: 'data', schema });
    const started = performance.now();
    for await (const batch of source.extract(ctx)) {
      for (const record of batch as unknown[]) if (schema.safeParse(record).success) records += 1;
    }
    ms = performance.now() - started;
    cpu = process.cpuUsage(cpu);
  } else {
    // source and ahead
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-bench-http-'));
    const lake = await Lakehouse.open({ root: path.join(root, 'data'), log: { console: false }, progress: false });
    try {
      const source = httpSource({
        source: 'bench',
        dataset: 'items',
        url: base,
        query: { pages },
        paginate: pageNumberPaginator(variant === 'ahead' ? { totalPagesPath: 'meta.total_pages' } : {}),
        items: 'data',
        schema,
        partitionBy: ['store'],
        limits: { requestsPerSecond: 1e9, burst: 1e6 },
      });
      cpu = process.cpuUsage();
      const started = performance.now();
      const result = await lake.extract(source);
      ms = performance.now() - started;
      cpu = process.cpuUsage(cpu);
      if (result.status !== 'success') throw new Error(`extract ${result.status}: ${result.sources[0]?.error}`);
      records = result.sources[0]!.rows;
    } finally {
      await lake.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }
  const m: Measurement = { variant, pages, records, ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  process.stdout.write(JSON.stringify(m));
}

function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', here, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pageCounts = args.map(Number).filter((n) => n > 0);
  const counts = pageCounts.length > 0 ? pageCounts : [5_000, 20_000];
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 2);
  const server = spawn(process.execPath, ['--import', 'tsx', here, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  try {
    console.log(`http-extract bench: ${PER_PAGE} records per page, node ${process.version}, ${os.cpus().length} CPUs`);
    const rows: Measurement[] = [];
    for (const pages of counts) {
      const best: Partial<Record<Measurement['variant'], Measurement>> = {};
      for (let round = 1; round <= rounds; round += 1) {
        for (const variant of ['bare', 'engine', 'source', 'ahead'] as const) {
          const m = JSON.parse(await child(['--run', variant, String(pages), String(port)])) as Measurement;
          if (!best[variant] || m.ms < best[variant].ms) best[variant] = m;
          console.log(`${variant.padEnd(6)} ${String(pages).padStart(6)} pages  round ${round}  ${String(m.records).padStart(8)} records  ${String(m.ms).padStart(7)} ms  ${String(Math.round((m.records / m.ms) * 1000)).padStart(7)} rec/s  cpu ${String(m.cpuMs).padStart(6)} ms  peak RSS ${m.peakRssMb} MB`);
        }
      }
      const bare = best.bare!;
      const engine = best.engine!;
      const source = best.source!;
      const ahead = best.ahead!;
      rows.push(bare, engine, source, ahead);
      console.log(`  → best of ${rounds}: HTTP engine + zod without bronze ${(engine.ms / bare.ms).toFixed(2)}× the bare loop (CPU ${(engine.cpuMs / bare.cpuMs).toFixed(2)}×)`);
      const ratio = source.ms / bare.ms;
      console.log(`  → best of ${rounds}: bare ${bare.ms} ms, httpSource ${source.ms} ms: ${ratio.toFixed(2)}× (target ≤ 1.30×) ${ratio <= 1.3 ? 'OK' : 'OVER'}; CPU ${(source.cpuMs / bare.cpuMs).toFixed(2)}×`);
      const aheadRatio = ahead.ms / bare.ms;
      console.log(`  → best of ${rounds}: told the page count, httpSource sends pages ahead (the bare loop does not): ${ahead.ms} ms, ${aheadRatio.toFixed(2)}× the bare loop ${aheadRatio <= 1.3 ? 'OK' : 'OVER'}; CPU ${(ahead.cpuMs / bare.cpuMs).toFixed(2)}×`);
    }
    for (const variant of ['source', 'ahead'] as const) {
      const sources = rows.filter((r) => r.variant === variant);
      if (sources.length < 2) continue;
      const first = sources[0]!;
      const last = sources.at(-1)!;
      console.log(`peak RSS of httpSource (${variant}): ${first.peakRssMb} MB at ${first.pages} pages → ${last.peakRssMb} MB at ${last.pages} pages (${(last.peakRssMb / first.peakRssMb).toFixed(2)}× for ${(last.pages / first.pages).toFixed(1)}× the pages)`);
    }
  } finally {
    server.kill();
  }
}

if (process.argv[2] === '--serve') void serve();
else if (process.argv[2] === '--run') void run(process.argv[3] as Measurement['variant'], Number(process.argv[4]), Number(process.argv[5]));
else void main();
