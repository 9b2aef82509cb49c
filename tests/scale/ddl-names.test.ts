import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { tempLake } from '../helpers/temp-lake.js';

const schema = z.object({ id: z.string(), total: z.number() });
const source = (name: string, dataset: string) => defineSource({ source: name, dataset, schema, extract: () => [[{ id: `${name}/${dataset}`, total: 1 }]] });

describe('export-ddl: one table per bronze dataset', () => {
  it('gives mercado_livre/orders and mercado/livre_orders two different tables (not one CREATE … IF NOT EXISTS skipped)', async () => {
    const lake = await tempLake();
    const r = await lake.extract([source('mercado_livre', 'orders'), source('mercado', 'livre_orders')]);
    expect(r.status).toBe('success');
    for (const engine of ['spark', 'trino', 'athena'] as const) {
      const ddl = await lake.exportDdl({ engine });
      const tables = [...ddl.matchAll(/CREATE (?:EXTERNAL )?TABLE IF NOT EXISTS (\S+) \(/g)].map((m) => m[1]);
      expect(tables, engine).toHaveLength(2);
      // Each dataset must be reachable under its own name: with the same name, the second
      // CREATE … IF NOT EXISTS does nothing and one dataset is silently missing.
      expect(new Set(tables).size, `${engine}: ${tables.join(', ')}`).toBe(2);
    }
  });
});
