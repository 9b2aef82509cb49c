/**
 * `duckhouse retire <source>[.<dataset>] [--scope s]`: a store dropped from duckhouse.config.ts
 * stays in the run history, and every extract, build and test run alerted on its freshness for
 * ever. The command retires it (lake.retireSource): exit 0 with what it retired, exit 2 naming
 * the closest source for a name the history does not know.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { runCli, writeCliConfig } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

const source = (s: string, d: string, store?: string) =>
  `defineSource({ source: '${s}', dataset: '${d}',${store ? ` partitionBy: { store: '${store}' },` : ''} schema: z.object({ i: z.number() }), extract: () => [[{ i: 1 }]] })`;

describe('duckhouse retire', () => {
  it('retires a dropped source end to end: its alert is resolved, the next extract alerts only the source still stale', async () => {
    const dir = tempDir('duckhouse-cli-');
    const root = path.join(dir, 'data');
    writeCliConfig(dir, [source('obs', 'a'), source('obs', 'b'), source('obs', 'products', 'big'), source('other', 'x')].join(', '));
    const first = runCli(dir, ['extract']);
    expect(first.code, first.err).toBe(0);
    // Three days pass without an extract of obs.
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      await lake.metrics.transaction((c) => c.run(`UPDATE source_results SET finished_at = finished_at - INTERVAL 80 HOUR`));
    } finally {
      await lake.close();
    }
    const stale = runCli(dir, ['extract', 'other']);
    expect(stale.code, stale.err).toBe(0);
    expect(stale.out.match(/^alert {3}\[error\] freshness .*$/gm)!.sort()).toEqual([
      expect.stringMatching(/^alert {3}\[error\] freshness obs\/a: no successful extract for 80 h/),
      expect.stringMatching(/^alert {3}\[error\] freshness obs\/b: /),
      expect.stringMatching(/^alert {3}\[error\] freshness obs\/products \(store=big\): /),
    ]);

    const retired = runCli(dir, ['retire', 'obs.a']);
    expect(retired.code, retired.err).toBe(0);
    expect(retired.out).toMatch(/^retired obs\/a \(last successful extract: \d{4}-\d\d-\d\dT[\d:.]+Z\)\n1 open alert\(s\) resolved; a successful extract of it brings it back\n$/);
    const scoped = runCli(dir, ['retire', 'obs/products', '--scope', 'store=big']);
    expect(scoped.code, scoped.err).toBe(0);
    expect(scoped.out).toMatch(/^retired obs\/products \(store=big\) /);

    const after = runCli(dir, ['extract', 'other']);
    expect(after.code, after.err).toBe(0);
    expect(after.out.match(/^alert .*$/gm)).toEqual([expect.stringMatching(/^alert {3}\[error\] freshness obs\/b: /)]);
  }, 120_000);

  it('a name the run history does not know exits 2 naming the closest source; a malformed name is a usage error', async () => {
    const dir = tempDir('duckhouse-cli-');
    writeCliConfig(dir, source('obs', 'orders'));
    expect(runCli(dir, ['extract']).code).toBe(0);
    const typo = runCli(dir, ['retire', 'osb']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/^duckhouse: lake\.retireSource: no source "osb" in the run history — did you mean obs\?; nothing was retired\n$/);
    const dataset = runCli(dir, ['retire', 'obs.ordres']);
    expect(dataset.code).toBe(2);
    expect(dataset.err).toMatch(/did you mean obs\/orders\?/);
    const malformed = runCli(dir, ['retire', 'obs.orders.x']);
    expect(malformed.code).toBe(2);
    expect(malformed.err).toMatch(/retire "obs\.orders\.x": name a source, source\.dataset or source\/dataset/);
    const help = runCli(dir, ['retire', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--scope <scope>/);
  }, 120_000);
});
