/**
 * Text cut in the middle of an emoji (a lone UTF-16 surrogate, as APIs that truncate by code
 * unit send, JSON-escaped as "\ud83d"): one such value must not cost the batch around it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSource } from '../../src/extract/file-source.js';
import { defineSource, z } from '../../src/index.js';
import { quarantined } from '../helpers/quarantine.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const quarantinedCount = (root: string, source: string, dataset: string, runId: string): number => quarantined(root, source, dataset, runId).length;

describe('a lone surrogate in a nested value', () => {
  for (const [kind, type, cut, ok] of [
    ['a struct field', z.object({ title: z.string() }), { title: 'Kit 12 un \ud83d' }, { title: 'ok' }],
    ['a list of strings', z.array(z.string()), ['promo \ud83d'], ['ok']],
    ['a JSON (z.unknown) field', z.unknown(), { title: 'Kit \ud83d' }, 'ok'],
  ] as const) {
    it(`in ${kind} does not fail the batch: the other records are stored and this one is stored or quarantined`, async () => {
      const lake = await tempLake();
      const source = defineSource({
        source: 'shop',
        dataset: 'products',
        schema: z.object({ id: z.number().int(), extra: type as z.ZodType }),
        extract: () => [[{ id: 1, extra: cut }, { id: 2, extra: ok }, { id: 3, extra: ok }]],
      });
      const result = await lake.extract(source);
      const s = result.sources[0]!;
      expect(s.status, s.error).toBe('success');
      expect(s.rows + quarantinedCount(lake.paths.root, 'shop', 'products', result.runId)).toBe(3);
      const rows = await lake.query<{ id: number }>(`SELECT id FROM read_parquet('${lake.paths.bronze}/shop/products/**/*.parquet') ORDER BY id`);
      expect(rows.map((r) => r.id)).toEqual(expect.arrayContaining([2, 3]));
    });
  }

  it('in an NDJSON export read without a schema does not fail the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'products.ndjson');
    fs.writeFileSync(file, '{"id":1,"attrs":{"title":"Kit \\ud83d"}}\n{"id":2,"attrs":{"title":"ok"}}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'export', path: file }));
    const s = result.sources[0]!;
    expect(s.status, s.error).toBe('success');
    expect(s.rows + quarantinedCount(lake.paths.root, 'shop', 'export', result.runId)).toBe(2);
  });
});
