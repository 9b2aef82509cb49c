import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Lakehouse } from '../../src/index.js';
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
