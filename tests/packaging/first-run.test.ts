/** A new user's first hour: a models folder that is not there, a project with no config yet. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { registerCleanup, tempDir } from '../helpers/temp-lake.js';

describe('first run', () => {
  it('a build whose models folder does not exist (a typo in `models`) names the folder and keeps the published models', async () => {
    const dir = tempDir('first-run-');
    fs.mkdirSync(path.join(dir, 'models', 'marts'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'models', 'marts', 'answer.sql'), 'select 42 as answer');
    const root = path.join(dir, 'data');

    const good = await Lakehouse.open({ root, models: path.join(dir, 'models'), log: { console: false } });
    registerCleanup(() => good.close());
    expect((await good.build()).status).toBe('success');
    await good.close();

    const typo = await Lakehouse.open({ root, models: path.join(dir, 'modles'), log: { console: false } });
    registerCleanup(() => typo.close());
    let said = '';
    try {
      const result = await typo.build();
      said = result.warnings.join('\n');
    } catch (error) {
      said = (error as Error).message;
    }
    // Observed: status 'success', no warning, and a new catalog without marts.answer is published:
    // every model built before is gone from analytics.duckdb ("Catalog Error: Table … does not exist").
    expect(said).toMatch(/modles/);
    expect(await typo.query('select answer from marts.answer')).toEqual([{ answer: 42 }]);
  });

  it('`duckhouse run` in a folder with no config and no models folder is a usage error (exit 2), as `extract` is', () => {
    const dir = tempDir('first-run-');
    const extract = runCli(dir, ['extract']);
    expect(extract.code).toBe(2); // "no sources: add `sources: [...]` to duckhouse.config.{ts,mjs,js}"
    const run = runCli(dir, ['run']);
    // Observed: exit 0, "run …: success in 280 ms" — nothing extracted, nothing built, a successful run recorded
    // in a data/ folder created wherever the command ran.
    expect(run.code, run.out + run.err).toBe(2);
    expect(run.err).toMatch(/duckhouse\.config|models/);
  }, 60_000);

  it('an extract-only lake (no models folder) runs its sources with lake.run and builds nothing; build() names the folder', async () => {
    const { defineSource, z, ConfigError } = await import('../../src/index.js');
    const dir = tempDir('first-run-');
    const lake = await Lakehouse.open({ root: path.join(dir, 'data'), models: path.join(dir, 'models'), log: { console: false } });
    registerCleanup(() => lake.close());
    const source = defineSource({ source: 's', dataset: 'd', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] });
    const run = await lake.run({ sources: [source] });
    expect(run).toMatchObject({ status: 'success', build: null });
    expect(run.extract?.sources[0]?.rows).toBe(1);
    // Said in the result, not only in the log (README: "extracts only, with a warning").
    expect(run.warnings).toEqual([expect.stringMatching(/^models folder .*models does not exist: nothing built$/)]);
    await expect(lake.build()).rejects.toThrow(ConfigError);
    await expect(lake.build()).rejects.toThrow(/models folder .*models does not exist \(option "models"\)/);
    await expect(lake.run()).rejects.toThrow(/models folder/);
  });
});
