/** `lake.report({ to })` whose target cannot be written: it fails, and leaves nothing behind. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

describe('report --to an existing folder', () => {
  it('fails without leaving its temporary page next to the folder', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    const target = path.join(dir, 'reports');
    fs.mkdirSync(target);
    await expect(lake.report({ to: target })).rejects.toThrow(/reports/);
    // Before, `reports.<pid>.<random>.tmp`, the whole page (~50 KB), stayed in `dir` after the
    // EISDIR of the rename; each retry left another one.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});
