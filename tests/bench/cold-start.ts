/**
 * Cold start of `duckhouse runs` (built JS, as `npx duckhouse runs` runs it) next to its floors,
 * each a fresh process, best of N:
 *   node            `node -e 0`: the runtime alone
 *   duckdb floor    node + @duckdb/node-api + open the metrics file READ_ONLY + SELECT 1 (DESIGN's ~115 ms)
 *   duckhouse runs  `node dist/cli.js runs -n 20` on a lake with a few runs        target ≤ 0.3 s
 *   npm run bench:cold-start [-- --rounds=7]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Lakehouse, defineSource, z } from '../../src/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 7);

function best(args: string[], cwd: string): number {
  let min = Infinity;
  for (let i = 0; i < rounds; i += 1) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    min = Math.min(min, ms);
  }
  return min;
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(repo, 'dist', 'cli.js'))) {
    const built = spawnSync('npm', ['run', 'build'], { cwd: repo, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cold-'));
  try {
    const lake = await Lakehouse.open({ root: path.join(dir, 'data'), log: { console: false }, progress: false });
    for (let i = 0; i < 5; i += 1) {
      await lake.extract(defineSource({ source: 'bench', dataset: 'items', schema: z.object({ id: z.number() }), extract: () => [[{ id: i }]] }));
    }
    await lake.close();
    const metrics = path.join(dir, 'data', 'metrics', 'runs.duckdb');
    const floorScript = `const { DuckDBInstance } = require(${JSON.stringify(createRequire(import.meta.url).resolve('@duckdb/node-api'))});
      (async () => { const db = await DuckDBInstance.create(${JSON.stringify(metrics)}, { access_mode: 'READ_ONLY' }); const c = await db.connect(); await c.run('SELECT 1'); c.closeSync(); db.closeSync(); })();`;
    const node = best(['-e', '0'], dir);
    const floor = best(['-e', floorScript], dir);
    const runs = best([path.join(repo, 'dist', 'cli.js'), 'runs', '-n', '20'], dir);
    console.log(`cold start, best of ${rounds} (node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}):`);
    console.log(`  node -e 0                                  ${node.toFixed(0).padStart(5)} ms`);
    console.log(`  node + node-api + open file + SELECT 1     ${floor.toFixed(0).padStart(5)} ms`);
    console.log(`  node dist/cli.js runs                      ${runs.toFixed(0).padStart(5)} ms  (${(runs / floor).toFixed(2)}× the DuckDB floor; target ≤ 300 ms ${runs <= 300 ? 'OK' : 'MISSED'})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
