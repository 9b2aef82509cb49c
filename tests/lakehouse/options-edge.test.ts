import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { ConfigError, Lakehouse, defineSource, z } from '../../src/index.js';
import { tempDir } from '../helpers/temp-lake.js';

describe('option errors show the value given', () => {
  it('NaN, Infinity and -Infinity are shown as such, not as (got null)', async () => {
    const root = path.join(tempDir(), 'data');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ limits: { flushRows: Number.NaN } }, /option "limits\.flushRows".*\(got NaN\)/],
      [{ retainSupersededMinutes: Number.POSITIVE_INFINITY }, /option "retainSupersededMinutes".*\(got Infinity\)/],
      [{ quality: { freshnessWarnHours: Number.NEGATIVE_INFINITY } }, /option "quality\.freshnessWarnHours".*\(got -Infinity\)/],
      [{ lockTimeoutMillis: 1.5 }, /option "lockTimeoutMillis".*\(got 1\.5\)/],
    ];
    for (const [options, message] of cases) {
      const attempt = Lakehouse.open({ root, log: { console: false }, ...options });
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.not.toThrow(/got null/);
    }
  });
});

describe('quality options', () => {
  it('an error window shorter than the warn window is a ConfigError naming freshnessErrorHours (such an error could never fire)', async () => {
    const root = path.join(tempDir(), 'data');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ freshnessWarnHours: 0.01, freshnessErrorHours: 0.0001 }, /option "quality\.freshnessErrorHours" must be at least freshnessWarnHours \(0\.01\) \(got 0\.0001\)/],
      [{ freshnessErrorHours: 12 }, /option "quality\.freshnessErrorHours" must be at least freshnessWarnHours \(24\) \(got 12\)/],
    ];
    for (const [quality, message] of cases) {
      const attempt = Lakehouse.open({ root, log: { console: false }, quality });
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    }
    const lake = await Lakehouse.open({ root, log: { console: false }, quality: { freshnessWarnHours: 24, freshnessErrorHours: 24 } });
    await lake.close();
  });
});

describe('log rotation (DESIGN: 10 MB × 30 files, configurable)', () => {
  it('log.maxSizeMb and log.maxFiles set the rotation of data/logs', async () => {
    const root = path.join(tempDir(), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false, level: 'debug', maxSizeMb: 0.002, maxFiles: 2 } });
    const source = defineSource({ source: 's', dataset: 'd', schema: z.object({ id: z.number() }), extract: () => [Array.from({ length: 10 }, (_, id) => ({ id }))] });
    for (let i = 0; i < 12; i++) await lake.extract([source]);
    await lake.close();
    const files = fs.readdirSync(path.join(root, 'logs')).filter((f) => f.startsWith('duckhouse'));
    expect(files.length).toBe(2);
    for (const f of files) expect(fs.statSync(path.join(root, 'logs', f)).size).toBeLessThanOrEqual(2100 + 1000);
    await expect(Lakehouse.open({ root, log: { maxFiles: 0 } })).rejects.toThrow(/option "log\.maxFiles"/);
  });
});
