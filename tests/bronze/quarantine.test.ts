import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const limitHelper = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'child-quarantine-limit.ts');

describe('quarantine', () => {
  it('sends every invalid record to quarantine with its reasons, and every valid one to bronze', async () => {
    const lake = await tempLake();
    const records = [
      { sku: 'a', price: 10 },
      { sku: 'b', price: -1 },
      { sku: 'c' },
      { sku: 4, price: 3 },
      { sku: 'e', price: 5, token: 'sk_live_abcdefgh' },
      'not an object',
    ];
    const source = defineSource({
      source: 'q',
      dataset: 'prices',
      schema: z.object({ sku: z.string(), price: z.number().positive() }),
      extract: () => [records],
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 4 });

    const file = path.join(lake.paths.quarantine, 'q', 'prices', `${result.runId}.ndjson`);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.position)).toEqual([2, 3, 4, 6]);
    expect(lines[0].reasons).toEqual([expect.objectContaining({ path: 'price', code: 'too_small' })]);
    expect(lines[1].reasons).toEqual([expect.objectContaining({ path: 'price', code: 'invalid_type' })]);
    expect(lines[2].reasons[0]).toMatchObject({ path: 'sku', code: 'invalid_type' });
    expect(lines[2].record).toEqual({ sku: 4, price: 3 });
    expect(lines[3].record).toBe('not an object');
    for (const l of lines) expect(l).toMatchObject({ runId: result.runId, source: 'q', dataset: 'prices' });

    const rows = await lake.query(`SELECT sku, price FROM read_parquet('${lake.paths.bronze}/q/prices/**/*.parquet') ORDER BY sku`);
    expect(rows).toEqual([
      { sku: 'a', price: 10 },
      { sku: 'e', price: 5 },
    ]);
    // The run's counts in the metrics db match.
    const [run] = await lake.runs({ limit: 1 });
    expect(run).toMatchObject({ runId: result.runId, status: 'success', rows: 2, rejected: 4 });
    const batches = await lake.metrics.select('SELECT sum(rows) AS rows, sum(rejected) AS rejected FROM source_batches WHERE run_id = $1', [result.runId]);
    expect(batches[0]).toEqual({ rows: 2, rejected: 4 });
  });

  it('keeps the rows validated before a source fails, and reports the failure', async () => {
    const lake = await tempLake();
    const source = defineSource({
      source: 'q',
      dataset: 'failing',
      schema: z.object({ id: z.number() }),
      async *extract() {
        yield [{ id: 1 }, { id: 2 }];
        throw new Error('upstream went away');
      },
    });
    const ok = defineSource({ source: 'q', dataset: 'fine', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] });
    const result = await lake.extract([source, ok]);
    expect(result.status).toBe('partial');
    const failing = result.sources.find((s) => s.dataset === 'failing')!;
    expect(failing).toMatchObject({ status: 'partial', rows: 2, error: 'upstream went away' });
    const none = defineSource({
      source: 'q',
      dataset: 'nothing',
      schema: z.object({ id: z.number() }),
      extract() {
        throw new Error('no connection');
      },
    });
    const second = await lake.extract([none]);
    expect(second).toMatchObject({ status: 'failed', sources: [{ status: 'failed', rows: 0, error: 'no connection' }] });
  });

  it('keeps the rows validated before its quarantine file could not be written, and fails the source naming the file', async () => {
    const lake = await tempLake();
    // A file where the source's quarantine folder belongs: the quarantine cannot be written.
    fs.mkdirSync(lake.paths.quarantine, { recursive: true });
    fs.writeFileSync(path.join(lake.paths.quarantine, 'q'), 'not a folder');
    const result = await lake.extract(
      defineSource({
        source: 'q',
        dataset: 'd',
        schema: z.object({ id: z.number() }),
        async *extract(ctx) {
          await ctx.cursor();
          ctx.checkpoint({ after: 2 });
          yield [{ id: 1 }, { id: 'x' }, { id: 2 }];
        },
      }),
    );
    // The cursor stays before the record whose rejection is in no file: the next run reads it again.
    expect(fs.existsSync(path.join(lake.paths.state, 'cursors', 'q.d.json'))).toBe(false);
    expect(result.sources[0]).toMatchObject({ status: 'partial', rows: 2, error: expect.stringContaining(path.join('quarantine', 'q')) });
    expect((await lake.bronze('q/d')).map((r) => r.id).sort()).toEqual([1, 2]);
    // The 1,000th rejection fills the quarantine's buffer, whose write fails mid-item.
    const many = await lake.extract(
      defineSource({
        source: 'q',
        dataset: 'many',
        schema: z.object({ id: z.number() }),
        async *extract() {
          yield [{ id: 1 }];
          yield Array.from({ length: 1_000 }, () => ({ id: 'x' }));
          yield [{ id: 2 }];
        },
      }),
    );
    expect(many.sources[0]).toMatchObject({ status: 'partial', rows: 1, error: expect.stringContaining(path.join('quarantine', 'q')) });
    expect((await lake.bronze('q/many')).map((r) => r.id)).toEqual([1]);
  });

  it('a record rejected for NaN or ±Infinity shows that value, not null (JSON has no form for them)', async () => {
    const lake = await tempLake();
    const result = await lake.extract(
      defineSource({ source: 'q', dataset: 'nan', schema: z.object({ id: z.number(), v: z.number() }), extract: () => [[{ id: 1, v: Number.NaN }, { id: 2, v: Infinity }, { id: 3, v: -Infinity }, { id: 4, v: 1 }]] }),
    );
    expect(result.sources[0]).toMatchObject({ rows: 1, rejected: 3 });
    const file = path.join(lake.paths.quarantine, 'q', 'nan', `${result.runId}.ndjson`);
    const records = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { record: unknown }).record);
    expect(records).toEqual([
      { id: 1, v: 'NaN' },
      { id: 2, v: 'Infinity' },
      { id: 3, v: '-Infinity' },
    ]);
  });
});

describe('a quarantine flush that fails part-way (a full disk)', () => {
  it('retried, writes each rejected record once: the lines already written are not appended again', async () => {
    const root = tempDir();
    const child = spawn('bash', ['-c', `ulimit -f 9216; exec "${process.execPath}" --import tsx "${limitHelper}" "${root}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code, err).toBe(0);
    // The first flush got one line in and failed on the second (the file was at the limit).
    expect(JSON.parse(out).codes[0]).toBe('EFBIG');
    const file = path.join(root, 'quarantine', 'q', 'big', 'run1.ndjson');
    const positions = [`${file}.1`, file]
      .filter((f) => fs.existsSync(f))
      .flatMap((f) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { position: number }).position));
    expect(positions).toEqual([1, 2]);
  }, 60_000);
});

describe('a quarantine write cut short (the disk fills up in the middle of a line)', () => {
  it('leaves no part of a line in the file: what it could not finish is written whole by the retry', async () => {
    const root = tempDir();
    const child = spawn('bash', ['-c', `ulimit -f 9216; exec "${process.execPath}" --import tsx "${limitHelper}" "${root}" 8704`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code, err).toBe(0);
    expect(JSON.parse(out).codes).toEqual(['EFBIG', null]);
    const file = path.join(root, 'quarantine', 'q', 'big', 'run1.ndjson');
    const text = fs.readFileSync(`${file}.1`, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const positions = [`${file}.1`, file].flatMap((f) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { position: number }).position));
    expect(positions).toEqual([1, 2]);
  }, 60_000);
});
