import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A child that extracts one NDJSON record whose `seen_at` is a date-time without an offset (the
 * schema allows it with `z.iso.datetime({ local: true })`), at the top level, in a struct and in
 * a list, into a fresh lake (timezone São Paulo, the default), and prints the instants bronze holds.
 */
const CHILD = `
import fs from 'node:fs';
import path from 'node:path';
import { Lakehouse, jsonSource, z } from ${JSON.stringify(path.join(repo, 'src', 'index.ts'))};
const [dir] = process.argv.slice(2);
const file = path.join(dir, 'events.ndjson');
fs.writeFileSync(file, JSON.stringify({ id: 1, seen_at: '2026-01-10T10:00:00', nested: { at: '2026-01-10T10:00:00', times: ['2026-01-10T10:00:00', '2026-01-10T10:00:00Z'] } }) + '\\n');
const lake = await Lakehouse.open({ root: path.join(dir, 'data'), models: path.join(dir, 'models'), log: { console: false } });
try {
  const source = jsonSource({
    source: 'hunt', dataset: 'events', path: file,
    schema: z.object({ id: z.number().int(), seen_at: z.iso.datetime({ local: true }), nested: z.object({ at: z.iso.datetime({ local: true }), times: z.array(z.iso.datetime({ local: true, offset: true })) }) }),
  });
  const r = await lake.extract([source]);
  const [row] = await lake.bronze('hunt/events');
  process.stdout.write(JSON.stringify({ status: r.status, seen_at: row.seen_at.toISOString(), nested_at: row.nested.at.toISOString(), times: row.nested.times.map((t) => t.toISOString()) }) + '\\n');
} finally {
  await lake.close();
}
`;

function extractIn(tz: string): Promise<{ status: string; seen_at: string; nested_at: string; times: string[] }> {
  const dir = tempDir();
  const script = path.join(dir, 'child.mts');
  fs.writeFileSync(script, CHILD);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { cwd: repo, env: { ...process.env, TZ: tz, VITEST: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) reject(new Error(`child (TZ=${tz}) exited ${code}: ${err}`));
      else resolve(JSON.parse(line));
    });
  });
}

describe('naive date-times of an HTTP/JSON source do not depend on the machine time zone', () => {
  it('the same record extracted under TZ=UTC and TZ=Asia/Tokyo lands as the same instants, read in the lake time zone at every depth', async () => {
    const [utc, tokyo] = await Promise.all([extractIn('UTC'), extractIn('Asia/Tokyo')]);
    expect(utc.status).toBe('success');
    expect(tokyo.status).toBe('success');
    // Results must not depend on the machine's zone.
    expect(tokyo).toEqual(utc);
    // As README says of CSV naive timestamps: read in the lake's timezone (São Paulo, UTC-3).
    expect(utc.seen_at).toBe('2026-01-10T13:00:00.000Z');
    expect(utc.nested_at).toBe('2026-01-10T13:00:00.000Z');
    // In a list too; a date-time with an offset stays the instant it names.
    expect(utc.times).toEqual(['2026-01-10T13:00:00.000Z', '2026-01-10T10:00:00.000Z']);
  }, 60_000);
});
