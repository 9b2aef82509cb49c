import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, runHistory } from '../../src/index.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { tempLake } from '../helpers/temp-lake.js';

const digest = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('a damaged metrics database', () => {
  it("fails the open and runHistory with an error naming the file and the way out, and is left as it was", async () => {
    const lake = await tempLake();
    await lake.extract([syntheticItems({ source: 's', batches: 2, rowsPerBatch: 50 })]);
    const root = lake.paths.root;
    await lake.close();
    const file = path.join(root, 'metrics', 'runs.duckdb');
    // Every block damaged, the three header pages (3 × 4 KiB) kept: DuckDB finds a checksum
    // mismatch in the first block it reads, as after the SIGKILL seen once in CI.
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    for (let at = 12_288 + 64; at < size; at += 262_144) fs.writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, at);
    fs.closeSync(fd);
    const before = digest(file);

    // Before: "IO Error: Corrupt database file: computed checksum … in block at location …", no file named.
    const opening = Lakehouse.open({ root, models: path.join(root, '..', 'models'), log: { console: false } });
    await expect(opening).rejects.toMatchObject({ code: 'METRICS_CORRUPT' });
    await expect(opening).rejects.toThrow(new RegExp(`metrics database ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged \\(DuckDB: .*Corrupt database file.*restore it from a backup`));
    await expect(runHistory({ root })).rejects.toMatchObject({ code: 'METRICS_CORRUPT', message: expect.stringContaining(file) });
    expect(digest(file)).toBe(before);
  });
});
