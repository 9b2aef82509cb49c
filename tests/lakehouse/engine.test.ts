import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { registerCleanup, tempLake } from '../helpers/temp-lake.js';

describe('the lake engine', () => {
  it('caches Parquet footers, and still reads a file rewritten in place afresh', async () => {
    const lake = await tempLake();
    expect(await lake.query(`SELECT current_setting('parquet_metadata_cache') AS on`)).toEqual([{ on: true }]);
    const writer = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
    const w = await writer.connect();
    registerCleanup(() => {
      w.closeSync();
      writer.closeSync();
    });
    const file = path.join(lake.paths.root, 'rewritten.parquet');
    for (let k = 0; k < 4; k++) {
      // Same schema, same size, new values, milliseconds apart: a stale footer would give the old statistics.
      await w.run(`COPY (SELECT range + ${k * 100} AS a FROM range(10)) TO '${file}' (FORMAT parquet)`);
      expect(await lake.query(`SELECT min(a) AS lo, count(*) AS n FROM read_parquet('${file}') WHERE a >= ${k * 100}`)).toEqual([{ lo: k * 100, n: 10 }]);
    }
  });
});
