/**
 * A child process that builds (or runs: extract then build) a lake's models, for crash and
 * concurrency tests. Usage: node --import tsx child-build.ts '<json ChildBuildConfig>'
 * Prints `{"building":n}` before each build and `{"built":n,"status":…}` after it.
 */
import { pathToFileURL } from 'node:url';
import { Lakehouse } from '../../src/index.js';
import { spawnHelper, type Child } from './child.js';
import { syntheticItems } from './synthetic-source.js';

export interface ChildBuildConfig {
  root: string;
  models: string;
  builds: number;
  /** The `build_no` var of the first build (then +1 per build). */
  firstBuildNo?: number;
  /** Extract `rows × build_no` synthetic rows (one batch) before each build, with `lake.run`: every build grows the tables. */
  extract?: { source: string; rows: number };
}

export function spawnBuild(config: ChildBuildConfig): Child {
  return spawnHelper('child-build.ts', [JSON.stringify(config)]);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as ChildBuildConfig;
  const lake = await Lakehouse.open({ root: config.root, models: config.models, log: { console: false } });
  try {
    for (let i = 0; i < config.builds; i++) {
      const buildNo = (config.firstBuildNo ?? 1) + i;
      process.stdout.write(`${JSON.stringify({ building: buildNo })}\n`);
      const vars = { build_no: buildNo };
      if (config.extract) {
        const source = syntheticItems({ source: config.extract.source, batches: 1, rowsPerBatch: config.extract.rows * buildNo, priceShift: buildNo });
        const run = await lake.run({ sources: [source], vars });
        process.stdout.write(`${JSON.stringify({ built: buildNo, status: run.build?.status, extract: run.extract?.status, runId: run.build?.runId })}\n`);
      } else {
        const result = await lake.build({ vars });
        process.stdout.write(`${JSON.stringify({ built: buildNo, status: result.status, runId: result.runId })}\n`);
      }
    }
  } finally {
    await lake.close();
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
