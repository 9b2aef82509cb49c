/**
 * README, "Alerts and observability": freshness is judged at every extract, build and test run
 * for every source of the run history, so a source dropped from the config was alerted for ever
 * (`error` after 72 h, never resolved). `lake.retireSource` says it was dropped: its open alerts
 * resolve, freshness skips it, and a later successful extract of it brings it back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { ConfigError, Lakehouse, defineSource, z } from '../../src/index.js';
import { METRICS_DDL } from '../../src/metrics/schema.js';
import { projectLake } from '../helpers/models.js';
import { registerCleanup, tempDir, tempLake } from '../helpers/temp-lake.js';

const schema = z.object({ i: z.number() });
const ok = (source: string, dataset: string) => defineSource({ source, dataset, schema, extract: () => [[{ i: 1 }]] });
const store = (name: string) => defineSource({ source: 'obs', dataset: 'products', partitionBy: { store: name }, schema, extract: () => [[{ i: 1 }]] });

/** Time passes: every extract and retirement recorded happened `hours` earlier. */
async function age(lake: Lakehouse, hours: number): Promise<void> {
  await lake.metrics.transaction(async (c) => {
    await c.run(`UPDATE source_results SET finished_at = finished_at - INTERVAL (${hours}) HOUR`);
    await c.run(`UPDATE source_retirements SET retired_at = retired_at - INTERVAL (${hours}) HOUR`);
  });
}

const openFreshness = async (lake: Lakehouse): Promise<string[]> =>
  (await lake.alerts()).filter((a) => a.kind === 'freshness').map((a) => `${a.subject} ${a.severity}`).sort();

describe('lake.retireSource: a source dropped from the config is no longer alerted', () => {
  it('resolves its open freshness alert; the next extract, build and test raise nothing for it, while a neighbour still alerts', async () => {
    const { lake } = await projectLake({
      'marts/m.sql': 'select 1 as id',
      'marts/_m.yml': `version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        tests: [not_null]\n`,
    });
    expect((await lake.extract([ok('obs', 'a'), ok('obs', 'b')])).status).toBe('success');
    await age(lake, 80);
    expect((await lake.build()).status).toBe('success');
    expect(await openFreshness(lake)).toEqual(['obs/a error', 'obs/b error']);

    const retired = await lake.retireSource({ source: 'obs', dataset: 'a' });
    expect(retired.sources).toEqual([{ source: 'obs', dataset: 'a', subject: 'obs/a', lastSuccessAt: expect.any(Date) }]);
    expect(retired.resolvedAlerts).toBe(1);
    expect(await openFreshness(lake)).toEqual(['obs/b error']);
    const history = (await lake.alerts({ open: false })).filter((a) => a.subject === 'obs/a');
    expect(history).toEqual([expect.objectContaining({ kind: 'freshness', resolvedAt: expect.any(Date) })]);

    // Another source's extract, a build and a test run each judge freshness: obs/b only.
    const extract = await lake.extract([ok('other', 'x')]);
    expect(extract.alerts!.filter((a) => a.kind === 'freshness').map((a) => a.subject)).toEqual(['obs/b']);
    expect(await openFreshness(lake)).toEqual(['obs/b error']);
    expect((await lake.build()).status).toBe('success');
    expect(await openFreshness(lake)).toEqual(['obs/b error']);
    const tested = await lake.test();
    expect(tested.map((t) => `${t.name} ${t.status}`)).toContain('not_null_m_id pass');
    expect(await openFreshness(lake)).toEqual(['obs/b error']);
    expect((await lake.alerts({ open: false })).filter((a) => a.subject === 'obs/a')).toHaveLength(1);
    // Alerting only: the history and bronze of the retired source are as they were.
    expect(await lake.metrics.select(`SELECT count(*)::INTEGER AS n FROM source_results WHERE source = 'obs' AND dataset = 'a'`)).toEqual([{ n: 1 }]);
    expect(await lake.bronze('obs/a')).toHaveLength(1);
  }, 60_000);

  it('a later successful extract of it lifts the retirement: it is judged again once stale', async () => {
    const lake = await tempLake();
    await lake.extract([ok('obs', 'a'), ok('obs', 'b')]);
    await age(lake, 80);
    await lake.retireSource({ source: 'obs', dataset: 'a' });
    await lake.extract([ok('other', 'x')]);
    expect(await openFreshness(lake)).toEqual(['obs/b error']);
    // A failed extract is not the source back: it has its source_failed alert, not a freshness one.
    await lake.extract([defineSource({ source: 'obs', dataset: 'a', schema, extract() { throw new Error('down'); } })]);
    expect((await lake.alerts()).filter((a) => a.subject === 'obs/a').map((a) => a.kind).sort()).toEqual(['extraction_success', 'source_failed']);
    // The user put it back in the config and it extracted: fresh now, and judged as any source again.
    expect((await lake.extract([ok('obs', 'a')])).status).toBe('success');
    expect(await openFreshness(lake)).toEqual(['obs/b error']);
    await age(lake, 30);
    await lake.extract([ok('other', 'x')]);
    expect(await openFreshness(lake)).toEqual(['obs/a warn', 'obs/b error']);
  }, 60_000);

  it('without a dataset retires every dataset and scope of the source, and resolves their failure and success-rate alerts too', async () => {
    const lake = await tempLake();
    const broken = defineSource({ source: 'obs', dataset: 'broken', schema, extract() { throw new Error('down'); } });
    await lake.extract([store('big'), store('small'), ok('shop', 'prices')]);
    await lake.extract([broken, ok('shop', 'prices')]);
    await lake.extract([broken, ok('shop', 'prices')]);
    await age(lake, 30);
    await lake.extract([ok('shop', 'prices')]);
    const before = (await lake.alerts()).map((a) => `${a.kind} ${a.subject}`).sort();
    expect(before).toEqual([
      'extraction_success obs/broken',
      'freshness obs/broken',
      'freshness obs/products (store=big)',
      'freshness obs/products (store=small)',
      'source_failed obs/broken',
    ]);
    const r = await lake.retireSource({ source: 'obs' });
    expect(r.sources.map((s) => s.subject).sort()).toEqual(['obs/broken', 'obs/products (store=big)', 'obs/products (store=small)']);
    expect(r.sources.find((s) => s.dataset === 'broken')).toMatchObject({ lastSuccessAt: null });
    expect(r.resolvedAlerts).toBe(5);
    expect(await lake.alerts()).toEqual([]);
    await lake.extract([ok('shop', 'prices')]);
    expect(await lake.alerts()).toEqual([]);
  }, 60_000);

  it('with a scope retires that store only: the other store of the dataset is still alerted', async () => {
    const lake = await tempLake();
    await lake.extract([store('big'), store('small')]);
    await age(lake, 30);
    const r = await lake.retireSource({ source: 'obs', dataset: 'products', scope: 'store=small' });
    expect(r.sources.map((s) => s.subject)).toEqual(['obs/products (store=small)']);
    await lake.extract([ok('other', 'x')]);
    expect(await openFreshness(lake)).toEqual(['obs/products (store=big) warn']);
  }, 60_000);

  it('a name the run history does not know is a ConfigError naming the closest source, and retires nothing', async () => {
    const lake = await tempLake();
    await lake.extract([ok('obs', 'orders'), store('bistek'), ok('shop', 'prices')]);
    const refused = async (options: Parameters<Lakehouse['retireSource']>[0]): Promise<string> => {
      const error = await lake.retireSource(options).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('CONFIG_INVALID');
      return (error as Error).message;
    };
    expect(await refused({ source: 'osb' })).toMatch(/^lake\.retireSource: no source "osb" in the run history — did you mean obs\?; nothing was retired$/);
    expect(await refused({ source: 'obs', dataset: 'ordres' })).toMatch(/no dataset "ordres" of source obs in the run history — did you mean obs\/orders\?/);
    expect(await refused({ source: 'obs', dataset: 'products', scope: 'store=bistec' })).toMatch(/no scope "store=bistec" of obs\/products in the run history — did you mean obs\/products \(store=bistek\)\?/);
    expect(await refused({ source: 'obs', dataset: 'orders', scope: 'store=a' })).toMatch(/obs\/orders has no scopes/);
    expect(await refused({ dataset: 'orders' } as never)).toMatch(/option "source" must be a non-empty string/);
    expect(await refused({ source: 'obs', datset: 'orders' } as never)).toMatch(/unknown option "datset" — did you mean dataset\?/);
    expect(await lake.metrics.select(`SELECT * FROM source_retirements`)).toEqual([]);
  }, 60_000);

  it('works on an older metrics file, which has no source_retirements table: its stale source and open alert are retired', async () => {
    const root = path.join(tempDir(), 'data');
    const file = path.join(root, 'metrics', 'runs.duckdb');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    {
      const db = await DuckDBInstance.create(file);
      const c = await db.connect();
      for (const ddl of METRICS_DDL.filter((d) => !d.includes('source_retirements'))) await c.run(ddl);
      await c.run(`INSERT INTO source_results VALUES ('20260101T000000000Z-aaaaaa', 'old', 'items', 'success', 7, 0, 1, 100, 1, 0, 10, NULL, now() - INTERVAL 100 HOUR, NULL)`);
      await c.run(`INSERT INTO alerts VALUES ('a1', '20260101T000000000Z-aaaaaa', 'freshness', 'error', 'old/items', 'no successful extract for 100 h', now(), NULL)`);
      c.closeSync();
      db.closeSync();
    }
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());
    expect(await lake.retireSource({ source: 'old' })).toMatchObject({ sources: [{ subject: 'old/items' }], resolvedAlerts: 1 });
    expect((await lake.extract([ok('other', 'x')])).alerts).toEqual([]);
    expect(await lake.alerts()).toEqual([]);
  }, 60_000);
});
