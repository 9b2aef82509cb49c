/** README, Logs: a source's lines say which source they are about, a store of a dataset included. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

const store = (name: string, rows: number, fail = false) =>
  defineSource({
    source: 'shop',
    dataset: 'prices',
    partitionBy: { store: name },
    schema: z.object({ sku: z.string() }),
    async *extract() {
      yield Array.from({ length: rows }, (_, i) => ({ sku: String(i) }));
      if (fail) throw new Error('store API down');
    },
  });

describe('the log lines of several stores of one dataset', () => {
  it('carry the store (scope) of each, so which one failed or extracted what is in the log', async () => {
    const lake = await tempLake();
    const result = await lake.extract([store('a', 3), store('b', 2, true)]);
    expect(result.sources.map((s) => [s.scope, s.rows, s.status])).toEqual([
      ['store=a', 3, 'success'],
      ['store=b', 2, 'partial'],
    ]);
    const file = path.join(lake.paths.root, 'logs', 'duckhouse.log');
    await lake.close();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.filter((l) => l.runId === result.runId);
    // Before: two lines about shop/prices, with nothing to tell which store failed.
    expect(mine.find((l) => String(l.message).startsWith('extracted 3 rows'))).toMatchObject({ source: 'shop', dataset: 'prices', scope: 'store=a' });
    expect(mine.find((l) => String(l.message).startsWith('source failed'))).toMatchObject({ source: 'shop', dataset: 'prices', scope: 'store=b' });
    expect(mine.find((l) => String(l.message).startsWith('extract started'))?.message).toBe('extract started: shop/prices (store=a), shop/prices (store=b)');
  }, 60_000);
});
