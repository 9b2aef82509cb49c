import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { projectLake } from '../helpers/models.js';
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

describe('export-ddl: table names', () => {
  it('quotes schema and table, so a mart named like a reserved word (`order`, reserved in Trino and Athena DDL) declares', async () => {
    const { lake } = await projectLake({ 'marts/order.sql': `select 1 as id` });
    expect((await lake.build()).status).toBe('success');
    await lake.exportTable('marts.order', { format: 'parquet' });
    expect(await lake.exportDdl({ engine: 'trino' })).toContain('CREATE TABLE IF NOT EXISTS hive."marts"."order" (');
    expect(await lake.exportDdl({ engine: 'athena' })).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS `marts`.`order` (');
    expect(await lake.exportDdl({ engine: 'spark' })).toContain('CREATE TABLE IF NOT EXISTS `marts`.`order` (');
  });
});
