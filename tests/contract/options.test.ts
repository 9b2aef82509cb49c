/**
 * STYLE.md: "option objects checked by a strict zod schema whose message names the field and the
 * bad value"; DESIGN: zod validates "source records and every options object". `lake.build`
 * refuses a misspelt option ("would otherwise build everything without a word"); the other
 * methods of the public API take a misspelt option silently and do something else.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ConfigError, Lakehouse, defineSource, z } from '../../src/index.js';
import { projectLake } from '../helpers/models.js';
import { tempDir } from '../helpers/temp-lake.js';

const old = new Date('2020-03-01T12:00:00Z');
const skus = defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }), extract: () => [[{ sku: 'a' }, { sku: 'b' }]] });

async function lakeWithBronze() {
  const { lake } = await projectLake({ 'marts/t.sql': 'select 1 as a' });
  const first = await lake.extract([skus], { extractedAt: old });
  expect(first.status).toBe('success');
  return { lake, first };
}

describe('misspelt options of the public API', () => {
  it('lake.prune({ dryrun: true }) is refused, not a real prune that deletes the partitions', async () => {
    const { lake } = await lakeWithBronze();
    const attempt = lake.prune({ source: 'shop', dataset: 'prices', olderThan: '365d', dryrun: true } as never);
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/unknown option "dryrun"/);
    // The user asked for a dry run: nothing may be gone.
    expect(await lake.bronze('shop/prices')).toHaveLength(2);
  });

  it('lake.run({ source: [...] }) is refused, not a run that extracts nothing', async () => {
    const { lake } = await projectLake({ 'marts/t.sql': 'select 1 as a' });
    await expect(lake.run({ source: [skus] } as never)).rejects.toThrow(/unknown option "source"/);
  });

  it('lake.bronze(…, { asOf }) is refused, not every run', async () => {
    const { lake, first } = await lakeWithBronze();
    await lake.extract([skus]);
    await expect(lake.bronze('shop/prices', { asOf: first.runId } as never)).rejects.toThrow(/unknown option "asOf"/);
  });

  it('lake.exportTable(…, { path }) is refused, not written elsewhere', async () => {
    const { lake } = await projectLake({ 'marts/t.sql': 'select 1 as a' });
    await lake.build();
    await expect(lake.exportTable('marts.t', { format: 'csv', path: 'out/t.csv' } as never)).rejects.toThrow(/unknown option "path"/);
  });

  it('lake.extract(…, { extractedat }) and lake.compact({ targetMb }) are refused', async () => {
    const { lake } = await projectLake({ 'marts/t.sql': 'select 1 as a' });
    await expect(lake.extract([skus], { extractedat: old } as never)).rejects.toThrow(/unknown option "extractedat"/);
    await expect(lake.compact({ source: 'shop', dataset: 'prices', targetMb: 1 } as never)).rejects.toThrow(/unknown option "targetMb"/);
  });

  it('lake.test({ selct }) and lake.alerts({ opn }) are refused', async () => {
    const { lake } = await projectLake({ 'marts/t.sql': 'select 1 as a' });
    await lake.build();
    await expect(lake.test({ selct: ['t'] } as never)).rejects.toThrow(/unknown option "selct"/);
    await expect(lake.alerts({ opn: false } as never)).rejects.toThrow(/unknown option "opn"/);
  });

  it('Lakehouse.open({ quality: { weights } }) refuses a weight for a dimension that does not exist', async () => {
    const root = path.join(tempDir(), 'data');
    // DESIGN: the 8 dimensions, "score = equal-weight mean (weights configurable)". A misspelt
    // dimension silently keeps the equal weights.
    const open = Lakehouse.open({ root, log: { console: false }, quality: { weights: { completness: 3 } as never } });
    await expect(open.then((lake) => lake.close())).rejects.toThrow(ConfigError);
    await expect(Lakehouse.open({ root, log: { console: false }, quality: { weights: { completness: 3 } as never } }).then((lake) => lake.close())).rejects.toThrow(/quality\.weights.*completness/);
  });
});
