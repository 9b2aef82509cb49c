/**
 * README, "Bronze lifecycle": "partitions: ['store=São José'] … a filter that matches no partition
 * is a warning, not an error", and the CLI form `compact [datasets…] [--partition path…]`.
 * lake.compact returns the warning in `warnings`; `duckhouse compact` prints every other figure of
 * the result but drops its warnings, so a typo in --partition reads as "0 files → 0" with exit 0.
 * (`duckhouse build` prints its warnings as `warning: …` lines.) The logger's console is off
 * without a terminal (cron, CI), so the warning reaches only data/logs/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, defineSource, z } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

describe('duckhouse compact --partition', () => {
  it('prints the warning of a --partition that matches no partition (a typo), not only "0 files → 0"', async () => {
    const dir = tempDir('duckhouse-cli-');
    const root = path.join(dir, 'data');
    const lake = await Lakehouse.open({ root, models: path.join(dir, 'models'), log: { console: false } });
    try {
      const prices = defineSource({
        source: 'shop',
        dataset: 'prices',
        partitionBy: ['store'],
        schema: z.object({ store: z.string(), sku: z.string() }),
        extract: () => [[{ store: 'bistek', sku: '1' }]],
      });
      for (let i = 0; i < 2; i++) expect((await lake.extract([prices])).status).toBe('success');
      // The API says so.
      const api = await lake.compact({ source: 'shop', dataset: 'prices', partitions: ['store=bistekk'] });
      expect(api.warnings?.join('\n')).toMatch(/matches no partition/);
    } finally {
      await lake.close();
    }
    const r = runCli(dir, ['compact', 'shop', '--partition', 'store=bistekk', '--root', root]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/compact shop\/prices: 0 files/);
    expect(r.out + r.err).toMatch(/store=bistekk.*matches no partition/);
  }, 60_000);
});

describe('duckhouse compact and prune with stray entries in bronze', () => {
  it('skip a dangling symlink and a .DS_Store as export-ddl does, instead of exiting 1 with ENOENT', async () => {
    const dir = tempDir('duckhouse-cli-');
    const root = path.join(dir, 'data');
    const lake = await Lakehouse.open({ root, models: path.join(dir, 'models'), log: { console: false } });
    try {
      const items = defineSource({ source: 'shop', dataset: 'items', schema: z.object({ sku: z.string() }), extract: () => [[{ sku: '1' }]] });
      // One extraction instant: two extracts on either side of midnight in São Paulo (03:00 UTC)
      // write one file into each day's partition, and nothing is left to merge.
      const extractedAt = new Date('2026-03-05T15:00:00Z');
      for (let i = 0; i < 2; i++) expect((await lake.extract([items], { extractedAt })).status).toBe('success');
    } finally {
      await lake.close();
    }
    fs.symlinkSync(path.join(root, 'bronze', 'gone'), path.join(root, 'bronze', 'dangling'));
    fs.symlinkSync(path.join(root, 'bronze', 'shop', 'gone'), path.join(root, 'bronze', 'shop', 'dangling'));
    fs.writeFileSync(path.join(root, 'bronze', 'shop', '.DS_Store'), '');
    const c = runCli(dir, ['compact', '--root', root]);
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/^compact shop\/items: 2 files → 1 in 1 partitions, 2 rows/);
    const p = runCli(dir, ['prune', 'shop', '--older-than', '2000-01-01', '--dry-run', '--root', root]);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^would prune shop\/items before 2000-01-01: 0 files/);
  }, 90_000);
});
