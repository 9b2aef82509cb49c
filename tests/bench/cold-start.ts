/**
 * Cold start of `duckhouse runs` (built JS, as `npx duckhouse runs` runs it) next to its floors,
 * each a fresh process, best of N:
 *   node            `node -e 0`: the runtime alone
 *   node-api floor  node + @duckdb/node-api + open the metrics file READ_ONLY + SELECT 1
 *   bindings floor  the same on @duckdb/node-bindings (the native client node-api wraps), which
 *                   is what `duckhouse runs` loads: the least any DuckDB-backed command can take
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
  // dist/ is what is measured: built again when missing or older than any file of src/ (a stale
  // dist/ measured an earlier commit's code without a word).
  const cli = path.join(repo, 'dist', 'cli.js');
  const newest = Math.max(...fs.readdirSync(path.join(repo, 'src'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => fs.statSync(path.join(e.parentPath, e.name)).mtimeMs));
  if (!fs.existsSync(cli) || fs.statSync(cli).mtimeMs < newest) {
    console.log('building dist/ (missing or older than src/)');
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
    const bindingsScript = `const b = require(${JSON.stringify(createRequire(import.meta.url).resolve('@duckdb/node-bindings'))});
      (async () => { const cfg = b.create_config(); b.set_config(cfg, 'access_mode', 'READ_ONLY'); const db = await b.open(${JSON.stringify(metrics)}, cfg); const c = await b.connect(db); await b.query(c, 'SELECT 1'); b.disconnect_sync(c); b.close_sync(db); })();`;
    const node = best(['-e', '0'], dir);
    const floor = best(['-e', floorScript], dir);
    const bindingsFloor = best(['-e', bindingsScript], dir);
    const runs = best([path.join(repo, 'dist', 'cli.js'), 'runs', '-n', '20'], dir);
    // The same with a config file naming the root: it is loaded and checked as every command does.
    const withConfig = (name: string): number => {
      fs.writeFileSync(path.join(dir, name), `export default { root: 'data' };\n`);
      try {
        return best([path.join(repo, 'dist', 'cli.js'), 'runs', '-n', '20'], dir);
      } finally {
        fs.rmSync(path.join(dir, name));
      }
    };
    const runsMjs = withConfig('duckhouse.config.mjs');
    const runsTs = withConfig('duckhouse.config.ts');
    console.log(`cold start, best of ${rounds} (node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}):`);
    console.log(`  node -e 0                                  ${node.toFixed(0).padStart(5)} ms`);
    console.log(`  node + node-api + open file + SELECT 1     ${floor.toFixed(0).padStart(5)} ms`);
    console.log(`  node + node-bindings + open + SELECT 1     ${bindingsFloor.toFixed(0).padStart(5)} ms`);
    console.log(`  node dist/cli.js runs                      ${runs.toFixed(0).padStart(5)} ms  (${(runs / bindingsFloor).toFixed(2)}× the bindings floor, ${(runs - bindingsFloor).toFixed(0)} ms above it; target ≤ 300 ms ${runs <= 300 ? 'OK' : 'MISSED'})`);
    console.log(`    … with a duckhouse.config.mjs            ${runsMjs.toFixed(0).padStart(5)} ms  (the config is imported and checked)`);
    console.log(`    … with a duckhouse.config.ts             ${runsTs.toFixed(0).padStart(5)} ms  (TypeScript config: tsx compiles it first)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
