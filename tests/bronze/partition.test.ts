import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, PartitionError, z } from '../../src/index.js';
import { listFiles, tempLake } from '../helpers/temp-lake.js';
import { dateParts, startOfDay } from '../../src/bronze/partition.js';

const schema = z.object({ store: z.string(), id: z.number() });

describe('hostile partition values and names', () => {
  it('keeps values with /, .., = and spaces inside their folder and reads them back unchanged', async () => {
    const lake = await tempLake();
    const hostile = ['../../x', 'a=b', 'a/b', '..', 'espaço e acentuação', '%2F', 'back\\slash'];
    const source = defineSource({
      source: 'hostile',
      dataset: 'values',
      partitionBy: ['store'],
      schema,
      extract: () => [hostile.map((store, id) => ({ store, id }))],
    });
    const result = await lake.extract([source]);
    expect(result.status).toBe('success');
    const datasetDir = path.join(lake.paths.bronze, 'hostile', 'values');
    const files = listFiles(datasetDir);
    expect(files).toHaveLength(hostile.length);
    for (const f of files) {
      // One `store=` folder level, then year/month/day: nothing climbed out or nested deeper.
      expect(f.split(path.sep)).toHaveLength(5);
      expect(f.startsWith('store=')).toBe(true);
      expect(path.resolve(datasetDir, f).startsWith(datasetDir + path.sep)).toBe(true);
    }
    // Nothing was written outside the lake root.
    expect(fs.existsSync(path.join(lake.paths.root, '..', 'x'))).toBe(false);
    const rows = await lake.query(
      `SELECT store, id FROM read_parquet('${datasetDir}/**/*.parquet', hive_partitioning = true, hive_types = {'store': VARCHAR}) ORDER BY id`,
    );
    expect(rows.map((r) => r.store)).toEqual(hostile);
  });

  it('puts every record in its own folder across batches whose values come in another order, numbers and their text sharing one folder', async () => {
    // flushRows 3: each batch numbers its values afresh, 'b' first in one and second in another.
    const lake = await tempLake({ limits: { flushRows: 3 } });
    const stores: (string | number)[] = ['a', 'b', 'a', 'c', 'b', 'c', 'b', 7, '7', 'a', 7, 'c'];
    const source = defineSource({
      source: 'order',
      dataset: 'values',
      partitionBy: ['store'],
      schema: z.object({ store: z.union([z.string(), z.number()]), id: z.number() }),
      extract: () => stores.map((store, id) => [{ store, id }]),
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: stores.length });
    const datasetDir = path.join(lake.paths.bronze, 'order', 'values');
    const rows = await lake.query<{ folder: string; id: number }>(
      `SELECT store AS folder, id FROM read_parquet('${datasetDir}/**/*.parquet', hive_partitioning = true, hive_types = {'store': VARCHAR}) ORDER BY id`,
    );
    expect(rows).toEqual(stores.map((store, id) => ({ folder: String(store), id })));
  });

  /** The quarantined records of a run, with their reasons. */
  const quarantined = (root: string, dataset: string, runId: string) => {
    const file = path.join(root, 'quarantine', 'hostile', dataset, `${runId}.ndjson`);
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { position: number; record: { id: number }; reasons: { path: string; message: string; code: string }[] });
  };

  it.each([
    ['NUL', 'a\u0000b', /control character/],
    ['newline', 'a\nb', /control character/],
    ['10,000 characters', 'x'.repeat(10_000), /10000 characters long/],
    ['150 slashes (450 bytes as a folder name)', '/'.repeat(150), /456-byte folder name \(at most 255/],
    ['150 ç (900 bytes as a folder name)', 'ç'.repeat(150), /906-byte folder name/],
    ['the Hive null marker', '__HIVE_DEFAULT_PARTITION__', /Hive null marker/],
    ['the text NULL (read back as NULL)', 'NULL', /Hive null marker "NULL"/],
    ['the text null (read back as NULL)', 'null', /Hive null marker "null"/],
  ])('a partition value with %s sends its record to quarantine, naming the field; the records around it are stored', async (_label, value, message) => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'hostile',
      dataset: 'bad',
      partitionBy: ['store'],
      schema,
      extract: () => [[{ store: 'ok', id: 1 }, { store: value, id: 2 }, { store: 'ok', id: 3 }], [{ store: '', id: 4 }]],
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 1 });
    const [q] = quarantined(lake.paths.root, 'bad', result.runId);
    expect(q).toMatchObject({ position: 2, record: { id: 2 }, reasons: [{ path: 'store', code: 'invalid_partition' }] });
    expect(q!.reasons[0]!.message).toMatch(/partition field "store"/);
    expect(q!.reasons[0]!.message).toMatch(message);
    // '' is stored as NULL, in its own folder: 3 rows in bronze, 3 in bronze_files.
    const rows = await lake.query(`SELECT id, store FROM read_parquet('${path.join(lake.paths.bronze, 'hostile', 'bad')}/**/*.parquet', hive_partitioning = true) ORDER BY id`);
    expect(rows).toEqual([{ id: 1, store: 'ok' }, { id: 3, store: 'ok' }, { id: 4, store: null }]);
    const [files] = await lake.metrics.select(`SELECT sum(rows)::INTEGER AS n FROM bronze_files WHERE dataset = 'bad'`);
    expect(files!.n).toBe(3);
  });

  it('a record that cannot be encoded half-way fails the source and leaves no part of itself in the buffer: the records before it are kept', async () => {
    const lake = await tempLake();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const source = defineSource({
      source: 'hostile',
      dataset: 'half',
      partitionBy: ['store'],
      // `meta` is stored as JSON text, after `id`: the circular one throws once `id` is buffered.
      schema: z.object({ store: z.string(), id: z.number(), meta: z.any() }),
      extract: () => [[{ store: 'ok', id: 1, meta: { a: 1 } }, { store: 'ok', id: 2, meta: circular }]],
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ status: 'partial', rows: 1 });
    expect(result.sources[0]!.error).toMatch(/circular/i);
    const rows = await lake.query(`SELECT id, meta FROM read_parquet('${path.join(lake.paths.bronze, 'hostile', 'half')}/**/*.parquet')`);
    expect(rows).toEqual([{ id: 1, meta: '{"a":1}' }]);
  });

  it('a partition function that throws on a record sends that record to quarantine, naming the key and the error; the records around it are stored', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'hostile',
      dataset: 'fn',
      partitionBy: { year_of: (r) => (r.period as string).slice(0, 4) },
      schema: z.object({ id: z.number(), period: z.string().nullable() }),
      extract: () => [[{ id: 1, period: '2026-01' }, { id: 2, period: null }, { id: 3, period: '2025-12' }]],
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    const [q] = quarantined(lake.paths.root, 'fn', result.runId);
    expect(q).toMatchObject({ position: 2, record: { id: 2 }, reasons: [{ path: 'year_of', code: 'invalid_partition' }] });
    expect(q!.reasons[0]!.message).toMatch(/partition key "year_of" threw: .*null/);
    const rows = await lake.query(`SELECT id, year_of FROM read_parquet('${path.join(lake.paths.bronze, 'hostile', 'fn')}/**/*.parquet', hive_partitioning = true, hive_types = {'year_of': VARCHAR}) ORDER BY id`);
    expect(rows).toEqual([{ id: 1, year_of: '2026' }, { id: 3, year_of: '2025' }]);
  });

  it.each(['../evil', 'Upper', 'a;drop', "quo'te", 'has space', '', '1starts_with_digit', 'x'.repeat(65)])(
    'refuses source name %j with an error naming it',
    (name) => {
      expect(() => defineSource({ source: name, dataset: 'd', schema, extract: () => [] })).toThrow(PartitionError);
      expect(() => defineSource({ source: name, dataset: 'd', schema, extract: () => [] })).toThrow(/source name/);
      expect(() => defineSource({ source: 'ok', dataset: name, schema, extract: () => [] })).toThrow(/dataset name/);
    },
  );

  it('refuses partition keys that are reserved or missing from the schema', () => {
    expect(() => defineSource({ source: 's', dataset: 'd', schema, partitionBy: ['nope'], extract: () => [] })).toThrow(/partitionBy field "nope" is not in the schema/);
    expect(() => defineSource({ source: 's', dataset: 'd', schema, partitionBy: { year: '2020' }, extract: () => [] })).toThrow(/partition key "year" is reserved/);
    expect(() => defineSource({ source: 's', dataset: 'd', schema, partitionBy: { store: 'x' }, extract: () => [] })).toThrow(/also a field of the schema/);
    expect(() => defineSource({ source: 's', dataset: 'd', schema: z.object({ _run_id: z.string() }), extract: () => [] })).toThrow(/"_run_id" is reserved/);
  });

  it('refuses a schema field named __proto__ (records dropped its values without a word: it sets an object\'s prototype)', () => {
    expect(() => defineSource({ source: 's', dataset: 'd', schema: z.object({ id: z.number(), ['__proto__']: z.string() }), extract: () => [] })).toThrow(
      /defineSource\("s"\/"d"\): field "__proto__" cannot be stored/,
    );
  });

  it('checks the definition strictly, naming the bad option', () => {
    expect(() => defineSource({ source: 's', dataset: 'd', schema, extract: () => [], partitonBy: ['store'] } as never)).toThrow(/unknown option "partitonBy"/);
    expect(() => defineSource({ source: 's', dataset: 'd', schema: { not: 'zod' }, extract: () => [] } as never)).toThrow(/option "schema"/);
    expect(() => defineSource({ source: 's', dataset: 'd', schema: z.string(), extract: () => [] } as never)).toThrow(/z.object/);
    expect(() => defineSource({ source: 's', dataset: 'd', schema, extract: 'nope' } as never)).toThrow(/option "extract"/);
  });

  it('partitions by constants and functions, with the extraction date in the lake time zone', async () => {
    const lake = await tempLake({ timezone: 'America/Sao_Paulo' });
    const source = defineSource({
      source: 'const',
      dataset: 'parts',
      partitionBy: { region: 'sul', bucket: (r) => ((r as { id: number }).id % 2 === 0 ? 'even' : 'odd') },
      schema,
      extract: () => [[{ store: 'x', id: 1 }, { store: 'y', id: 2 }]],
    });
    const before = Date.now();
    await lake.extract([source]);
    const after = Date.now();
    const files = listFiles(path.join(lake.paths.bronze, 'const', 'parts'));
    const rows = await lake.query(`SELECT id, region, bucket, _extracted_at FROM read_parquet('${lake.paths.bronze}/const/parts/**/*.parquet', hive_partitioning = true) ORDER BY id`);
    // The date of the extraction instant, not of a clock read after the extract: an extract begun
    // just before midnight in São Paulo (03:00 UTC) rightly writes the day before.
    const extractedAt = rows.map((r) => (r._extracted_at as Date).getTime());
    expect(new Set(extractedAt).size).toBe(1);
    expect(extractedAt[0]).toBeGreaterThanOrEqual(before);
    expect(extractedAt[0]).toBeLessThanOrEqual(after);
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Sao_Paulo' }).format(extractedAt[0]).split('-');
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(f).toMatch(new RegExp(`^region=sul/bucket=(even|odd)/year=${day[0]}/month=${day[1]}/day=${day[2]}/\\d{8}T\\d{9}Z-[0-9a-f]{6}-\\d+\\.parquet$`));
    }
    expect(rows.map(({ _extracted_at: _at, ...r }) => r)).toEqual([
      { id: 1, region: 'sul', bucket: 'odd' },
      { id: 2, region: 'sul', bucket: 'even' },
    ]);
  });
});

describe('dateParts', () => {
  const formats = new Map<string, Intl.DateTimeFormat>();
  const intl = (ms: number, timeZone: string) => {
    if (!formats.has(timeZone)) formats.set(timeZone, new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }));
    const [year, month, day] = formats.get(timeZone)!.format(new Date(ms)).split('-');
    return { year, month, day };
  };

  it('gives the local date of each instant, the same minute asked again included, across midnights and zones', () => {
    // São Paulo's midnight is 03:00 UTC: the last millisecond before it and the first after.
    const midnight = Date.UTC(2026, 2, 5, 3, 0, 0);
    expect(dateParts(new Date(midnight - 1), 'America/Sao_Paulo')).toEqual({ year: '2026', month: '03', day: '04' });
    expect(dateParts(new Date(midnight - 1), 'America/Sao_Paulo')).toEqual({ year: '2026', month: '03', day: '04' });
    expect(dateParts(new Date(midnight), 'America/Sao_Paulo')).toEqual({ year: '2026', month: '03', day: '05' });
    // Every 13 s over two days (Lord Howe leaves its half-hour DST on 5 April), zones with half-
    // and quarter-hour offsets interleaved.
    const zones = ['America/Sao_Paulo', 'Asia/Kathmandu', 'America/St_Johns', 'Australia/Lord_Howe', 'UTC'];
    const start = Date.UTC(2026, 3, 4, 0, 0, 0);
    const wrong: string[] = [];
    let checked = 0;
    for (let ms = start; ms < start + 2 * 86_400_000; ms += 13_000) {
      for (const zone of zones) {
        const [got, want] = [dateParts(new Date(ms), zone), intl(ms, zone)];
        checked += 1;
        if (got.year !== want.year || got.month !== want.month || got.day !== want.day) wrong.push(`${new Date(ms).toISOString()} ${zone}: ${JSON.stringify(got)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(60_000);
  });

  it('asks Intl for every instant before 1980 (offsets in seconds, as São Paulo kept until 1914)', () => {
    // Local mean time −3:06:28: 1900-01-01 00:00 local is 03:06:28 UTC, within one UTC minute.
    const localMidnight = Date.UTC(1900, 0, 1, 3, 6, 28);
    expect(dateParts(new Date(localMidnight - 1000), 'America/Sao_Paulo')).toEqual(intl(localMidnight - 1000, 'America/Sao_Paulo'));
    expect(dateParts(new Date(localMidnight), 'America/Sao_Paulo')).toEqual(intl(localMidnight, 'America/Sao_Paulo'));
    expect(intl(localMidnight - 1000, 'America/Sao_Paulo').year).toBe('1899');
    expect(intl(localMidnight, 'America/Sao_Paulo').year).toBe('1900');
  });

  it('returns a copy: changing one result does not change the next', () => {
    const at = new Date(Date.UTC(2026, 5, 1, 12));
    const first = dateParts(at, 'UTC');
    first.day = 'xx';
    expect(dateParts(at, 'UTC').day).toBe('01');
  });
});

describe('startOfDay', () => {
  it("is the first instant of the date in the zone, at the offset of that day's midnight", () => {
    const day = (date: string, zone: string): string => new Date(startOfDay(date, zone)).toISOString();
    expect(day('2026-03-05', 'America/Sao_Paulo')).toBe('2026-03-05T03:00:00.000Z');
    // Summer time (−02:00); and a midnight the clock skipped: the day began at 01:00 local.
    expect(day('2018-12-01', 'America/Sao_Paulo')).toBe('2018-12-01T02:00:00.000Z');
    expect(day('2018-11-04', 'America/Sao_Paulo')).toBe('2018-11-04T03:00:00.000Z');
    // A clock set back from 01:00 to 00:00 (Amman, Gaza): midnight came twice, the day began at the first.
    expect(day('2021-10-29', 'Asia/Amman')).toBe('2021-10-28T21:00:00.000Z');
    expect(day('2021-10-29', 'Asia/Gaza')).toBe('2021-10-28T21:00:00.000Z');
    expect(dateParts(new Date(Date.UTC(2021, 9, 28, 21) - 1), 'Asia/Amman').day).toBe('28');
  });
});

describe('a batch over many partitions', () => {
  it('records every file in bronze_files once, with its partition and rows (files are recorded 100 per statement)', async () => {
    const lake = await tempLake();
    const stores = 250;
    const records = Array.from({ length: stores * 3 }, (_, i) => ({ store: `s${i % stores}`, v: i }));
    const r = await lake.extract([defineSource({ source: 'p', dataset: 'many', partitionBy: ['store'], schema: z.object({ store: z.string(), v: z.number() }), extract: () => [records] })]);
    expect(r.sources[0]).toMatchObject({ status: 'success', rows: stores * 3, files: stores });
    const rows = await lake.metrics.select(`select path, partition->>'store' as store, rows, batch_no from bronze_files where run_id = $1 order by path`, [r.runId]);
    expect(rows).toHaveLength(stores);
    expect(new Set(rows.map((f) => f.path)).size).toBe(stores);
    expect(new Set(rows.map((f) => f.store))).toEqual(new Set(Array.from({ length: stores }, (_, i) => `s${i}`)));
    expect(rows.every((f) => f.rows === 3 && f.batch_no === 1 && String(f.path).includes(`store=${f.store}/`))).toBe(true);
    const [batch] = await lake.metrics.select(`select files, rows from source_batches where run_id = $1`, [r.runId]);
    expect(batch).toMatchObject({ files: stores, rows: stores * 3 });
  });
});
