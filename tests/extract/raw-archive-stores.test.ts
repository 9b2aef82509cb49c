/**
 * The raw archive when two sources of one run write the same dataset (one per store, as the
 * connectors' stores do): each response kept once, in whole gzip files.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { httpSource } from '../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../src/extract/http/paginators.js';
import { FAST_LIMITS, makeRecords, pages, startFaultyServer } from '../helpers/faulty-server.js';
import { listFiles, registerCleanup, tempLake } from '../helpers/temp-lake.js';

describe('archiveRaw with two stores writing one dataset in one run', () => {
  it('keeps every response of both stores in valid gzip NDJSON, and neither source fails because of the archive', async () => {
    const server = await startFaultyServer({ '/a': pages.pageNumber(makeRecords(30), 3), '/b': pages.pageNumber(makeRecords(30, 100), 3) });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const store = (name: string) =>
      httpSource({
        source: 'shop',
        dataset: 'items',
        url: `${server.url}/${name}`,
        paginate: pageNumberPaginator(),
        items: 'data',
        schema: z.object({ id: z.number().int(), name: z.string(), price: z.number() }),
        partitionBy: { store: name },
        archiveRaw: true,
        limits: FAST_LIMITS,
      });
    const result = await lake.extract([store('a'), store('b')]);
    expect(result.sources.map((s) => [s.status, s.rows, s.error])).toEqual([
      ['success', 30, undefined],
      ['success', 30, undefined],
    ]);
    const rawDir = path.join(lake.paths.root, 'raw');
    const urls: string[] = [];
    for (const rel of listFiles(rawDir)) {
      const text = zlib.gunzipSync(fs.readFileSync(path.join(rawDir, rel))).toString('utf8');
      for (const line of text.trim().split('\n')) urls.push(new URL((JSON.parse(line) as { url: string }).url).pathname);
    }
    // 11 responses per store (10 pages + the empty one), each archived once.
    expect(urls.filter((u) => u === '/a')).toHaveLength(11);
    expect(urls.filter((u) => u === '/b')).toHaveLength(11);
  });
});
