import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { tempDir } from '../helpers/temp-lake.js';

// Tests start a holder right after a metrics record that settles 'committed' (a run's start): the
// record resolves before its detach, which goes on in the background, so this process may still
// hold the file when the holder opens it. CI failed once on exactly that ("the process holding
// …/runs.duckdb exited before it held it").
describe('holdDuckDbFile started while this process still holds the file', () => {
  it('waits for the lock and holds the file once this process lets go', async () => {
    const file = path.join(tempDir('duckhouse-holder-'), 'x.duckdb');
    const mine = await DuckDBInstance.create(file);
    const c = await mine.connect();
    await c.run('CREATE TABLE t AS SELECT 1 AS x');
    const letGo = new Promise<void>((resolve) =>
      setTimeout(() => {
        c.closeSync();
        mine.closeSync();
        resolve();
      }, 1_500),
    );
    const holder = await holdDuckDbFile(file);
    await letGo;
    // Held by the other process now: this one cannot open it.
    await expect(DuckDBInstance.create(file)).rejects.toThrow(/Could not set lock/);
    await holder.release();
    const again = await DuckDBInstance.create(file);
    again.closeSync();
  }, 30_000);

  it('fails at once on any other error, saying what the child said', async () => {
    const dir = tempDir('duckhouse-holder-');
    fs.mkdirSync(path.join(dir, 'a-folder.duckdb'));
    await expect(holdDuckDbFile(path.join(dir, 'a-folder.duckdb'))).rejects.toThrow(/exited before it held it: .+/s);
  }, 30_000);
});
