/**
 * The raw archive of a run that goes on past midnight in the lake's time zone: each response is
 * filed under the day it arrived, as bronze files its rows, so deleting old day folders never
 * deletes a response of a day still kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../src/config.js';
import { HttpClient } from '../../src/extract/http/client.js';
import { RawArchive } from '../../src/extract/http/raw-archive.js';
import { FAST_LIMITS, makeRecords, pages, startFaultyServer } from '../helpers/faulty-server.js';
import { listFiles, registerCleanup, tempDir } from '../helpers/temp-lake.js';

describe('raw archive across midnight', () => {
  it("files each response under its own day in the lake's time zone, not the day its file was opened", async () => {
    const server = await startFaultyServer({ '/items': pages.pageNumber(makeRecords(9), 3) });
    registerCleanup(() => server.close());
    const client = new HttpClient({ limits: limitsSchema.parse(FAST_LIMITS) });
    const root = tempDir();
    // Three pages read at 23:59:58, 23:59:59 and 00:00:01 in São Paulo (02:59:58Z … 03:00:01Z):
    // midnight there, not in UTC.
    const clock = [Date.parse('2026-03-02T23:59:58-03:00'), Date.parse('2026-03-02T23:59:59-03:00'), Date.parse('2026-03-03T00:00:01-03:00')];
    let read = 0;
    const archive = new RawArchive({ root, source: 'shop', dataset: 'items', runId: '20260303T025958000Z-abcdef', timezone: 'America/Sao_Paulo', now: () => clock[read]! });
    for (let page = 1; page <= 3; page++, read++) await archive.add(await client.request(`${server.url}/items?page=${page}`));
    await archive.close();

    const rawDir = path.join(root, 'raw', 'shop', 'items');
    const byDay = new Map<string, string[]>();
    for (const rel of listFiles(rawDir)) {
      const day = path.dirname(rel);
      const ats = zlib.gunzipSync(fs.readFileSync(path.join(rawDir, rel))).toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { at: string }).at);
      byDay.set(day, [...(byDay.get(day) ?? []), ...ats]);
    }
    expect(Object.fromEntries(byDay)).toEqual({
      [path.join('year=2026', 'month=03', 'day=02')]: ['2026-03-03T02:59:58.000Z', '2026-03-03T02:59:59.000Z'],
      [path.join('year=2026', 'month=03', 'day=03')]: ['2026-03-03T03:00:01.000Z'],
    });
    expect(archive.files).toHaveLength(2);
  });
});
