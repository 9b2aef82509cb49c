/**
 * README, "Lakehouse.open(options)": "Every option is checked by a strict schema: an unknown or
 * invalid option throws a ConfigError naming the field and the value … The options of every
 * `lake.*` method are checked the same way". Only the keys are checked for lake.test, lake.run
 * (before its build) and lake.exportDdl: an invalid value is a TypeError, or goes through into
 * the output.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, defineSource, z } from '../../src/index.js';
import { projectLake } from '../helpers/models.js';

const skus = defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }), extract: () => [[{ sku: 'a' }]] });

describe('invalid option values of lake.* methods are ConfigErrors naming the option', () => {
  it('lake.test({ select: "layer:marts" }) (a string, not a list) names "select", not a TypeError about flatMap', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    expect((await lake.build()).status).toBe('success');
    const attempt = lake.test({ select: 'layer:marts' as unknown as string[] });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/"select"/);
  });

  it('lake.run({ sources, select: "m" }) names "select" (a ConfigError), not a TypeError about flatMap', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    const attempt = lake.run({ sources: [skus], select: 'm' as unknown as string[] });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/"select"/);
  });

  it('lake.test({ vars: "as_of=2026-01-01" }) (not an object) is refused naming "vars"', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    expect((await lake.build()).status).toBe('success');
    await expect(lake.test({ vars: 'as_of=2026-01-01' as unknown as Record<string, unknown> })).rejects.toThrow(/"vars"/);
  });

  it('lake.exportDdl({ schema: "my bronze" }) is refused, not printed into every CREATE TABLE as `hive.my bronze.shop_prices`', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    expect((await lake.extract([skus])).status).toBe('success');
    const attempt = lake.exportDdl({ engine: 'trino', schema: 'my bronze' });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/"schema"/);
  });

  it('lake.exportDdl({ locationPrefix: 42 }) is refused naming "locationPrefix"', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': 'select 1 as x' });
    expect((await lake.extract([skus])).status).toBe('success');
    const attempt = lake.exportDdl({ engine: 'spark', locationPrefix: 42 as unknown as string });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/"locationPrefix"/);
  });
});
