/**
 * `lake.report()` numbers against the metrics database they come from.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { unrecordedFinishFile } from '../../src/metrics/run-results.js';
import { projectLake } from '../helpers/models.js';
import { section } from '../helpers/report-html.js';
import { tempLake } from '../helpers/temp-lake.js';


describe('report numbers', () => {
  it('the "open alerts" headline counts every open alert, not the 200 the table shows', async () => {
    const lake = await tempLake();
    await lake.metrics.transaction(async (c) => {
      for (let i = 0; i < 250; i++) {
        await c.run(`INSERT INTO alerts (alert_id, kind, severity, subject, message, raised_at) VALUES ($1, 'freshness', 'warn', $2, 'no successful extract for 30 h', now())`, [`a${i}`, `src${i}/data`]);
      }
    });
    const open = (await lake.metrics.select(`SELECT count(*)::INTEGER AS n FROM alerts WHERE resolved_at IS NULL`))[0]!.n;
    expect(open).toBe(250);
    const out = await lake.report();
    const html = fs.readFileSync(out.path, 'utf8');
    const kpi = /<div class="label">open alerts<\/div><div class="value">(?:<span[^>]*>)?([^<]*)/.exec(html)![1];
    // Observed: "200" (the section's query has LIMIT 200 and the headline counts its rows).
    expect(kpi).toBe('250');
  }, 60_000);

  it('alerts raised together are listed errors first, then by kind and subject, in the order lake.alerts() gives them', async () => {
    const lake = await tempLake();
    // Inserted out of order, one raised_at: the order is the tie-break's, not the rows'.
    const rows = [['a1', 'volume', 'warn', 'obs/zeta'], ['a2', 'source_failed', 'warn', 'obs/yy'], ['a3', 'freshness', 'warn', 'obs/xx'], ['a4', 'freshness', 'warn', 'obs/ww'], ['a5', 'source_failed', 'error', 'obs/vv'], ['a6', 'freshness', 'error', 'obs/uu']];
    await lake.metrics.transaction(async (c) => {
      for (const [id, kind, severity, subject] of rows) {
        await c.run(`INSERT INTO alerts (alert_id, kind, severity, subject, message, raised_at) VALUES ($1, $2, $3, $4, 'm', TIMESTAMPTZ '2026-01-10 10:00:00+00')`, [id!, kind!, severity!, subject!]);
      }
    });
    const listed = (await lake.alerts()).map((a) => a.subject);
    expect(listed).toEqual(['obs/uu', 'obs/vv', 'obs/ww', 'obs/xx', 'obs/yy', 'obs/zeta']);
    const html = section(fs.readFileSync((await lake.report()).path, 'utf8'), 'alerts');
    // Observed: obs/zeta and obs/yy before obs/ww and obs/xx (the rows' order among the warns).
    expect([...listed].sort((a, b) => html.indexOf(a) - html.indexOf(b))).toEqual(listed);
  }, 60_000);

  it('quality scores show the tables of the lake, not a model since removed from the project', async () => {
    const read = "select * from {{ source('shop', 'prices') }}";
    const { lake, models } = await projectLake({ 'marts/keep.sql': read, 'marts/gone.sql': read });
    await lake.extract([defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ id: z.number() }), extract: () => [[{ id: 1 }]] })]);
    expect((await lake.build()).status).toBe('success');
    fs.rmSync(path.join(models, 'marts/gone.sql'));
    expect((await lake.build()).status).toBe('success');
    // The score history still holds the removed model (its table is dropped).
    expect((await lake.query(`SELECT DISTINCT model FROM marts.mart_data_quality ORDER BY 1`)).map((r) => r.model)).toEqual(['marts.gone', 'marts.keep']);
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const quality = section(html, 'quality');
    expect(quality).toContain('marts.keep');
    // Observed: marts.gone listed with its last score, and counted in the headline (… / 2).
    expect(quality).not.toContain('marts.gone');
    expect(html).toMatch(/tables below quality gate<\/div><div class="value"><span class="badge pass">0 \/ 1</);
  }, 60_000);

  it('a run whose process died after the lake opened shows as abandoned with its committed rows, as lake.runs() says', async () => {
    const lake = await tempLake();
    await lake.metrics.transaction(async (c) => {
      await c.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ('20260101T000000000Z-dead01', 'extract', 'running', now() - INTERVAL 1 HOUR, $1, 999999999, 'x')`, [os.hostname()]);
      await c.run(`INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, committed_at) VALUES ('20260101T000000000Z-dead01', 'shop', 'prices', 1, 7, 2, 1, 100, now())`);
    });
    expect((await lake.runs({ limit: 5 }))[0]).toMatchObject({ status: 'abandoned', rows: 7, rejected: 2, durationMs: 3_600_000 });
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const runs = section(html, 'runs');
    // Observed: a 'running' badge (and 0 rows) for as long as the process that opened the lake lives.
    expect(runs).not.toContain('badge running');
    expect(runs).toMatch(/<span class="badge abandoned">abandoned<\/span><\/td><td>[^<]*<\/td><td class="num">3600\.0 s<\/td><td class="num">7<\/td><td class="num">2<\/td><td>the process running it died before it finished</);
    expect(html).toContain('<span class="badge abandoned">extract · abandoned</span>');
  }, 60_000);

  it('a run whose finish record failed (its .finish file kept) shows as it finished, not abandoned, as lake.runs() says', async () => {
    const lake = await tempLake();
    const runId = '20260101T000000000Z-fini01';
    await lake.metrics.transaction((c) =>
      c.run(`INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start) VALUES ($1, 'extract', 'running', TIMESTAMPTZ '2026-01-01 08:00:00+00', $2, 999999999, 'x')`, [runId, os.hostname()]),
    );
    // What finishRun leaves when runs.duckdb is held by another process past lockTimeoutMillis.
    const finish = unrecordedFinishFile(lake.paths.metrics, runId);
    fs.mkdirSync(path.dirname(finish), { recursive: true });
    fs.writeFileSync(finish, JSON.stringify({ status: 'partial', rows: 7, rejected: 2, files: 1, bytes: 99, error: 'one source failed', finishedAt: Date.parse('2026-01-01T08:00:42Z') }));
    expect((await lake.runs({ limit: 1 }))[0]).toMatchObject({ status: 'partial', rows: 7, rejected: 2, durationMs: 42_000, error: 'one source failed' });
    const runs = section(fs.readFileSync((await lake.report()).path, 'utf8'), 'runs');
    // Observed: an 'abandoned' badge with 0 rows and "the process running it died before it finished".
    expect(runs).not.toContain('badge abandoned');
    expect(runs).toMatch(/<span class="badge partial">partial<\/span><\/td><td>[^<]*<\/td><td class="num">42\.0 s<\/td><td class="num">7<\/td><td class="num">2<\/td><td>one source failed</);
  }, 60_000);

  it('a dead lake.run() pipeline shows its extract\'s committed rows and ends at its last activity, as lake.runs() says', async () => {
    const lake = await tempLake();
    await lake.metrics.transaction(async (c) => {
      await c.run(
        `INSERT INTO runs (run_id, kind, status, started_at, host, pid, proc_start)
         VALUES ('20260101T000000000Z-pipe01', 'run', 'running', TIMESTAMPTZ '2026-01-01 08:00:00+00', $1, 999999999, 'x'),
                ('20260101T000001000Z-extr01', 'extract', 'running', TIMESTAMPTZ '2026-01-01 08:00:01+00', $1, 999999999, 'x')`,
        [os.hostname()],
      );
      await c.run(`INSERT INTO source_batches (run_id, source, dataset, batch_no, rows, rejected, files, bytes, committed_at) VALUES ('20260101T000001000Z-extr01', 'shop', 'prices', 1, 7, 2, 1, 100, TIMESTAMPTZ '2026-01-01 08:00:42+00')`);
    });
    lake.metrics.savePartialResult('20260101T000000000Z-pipe01', { runId: '20260101T000000000Z-pipe01', extract: '20260101T000001000Z-extr01', build: null });
    const [, pipeline] = await lake.runs({ limit: 5 });
    expect(pipeline).toMatchObject({ runId: '20260101T000000000Z-pipe01', status: 'abandoned', rows: 7, rejected: 2, durationMs: 42_000 });
    const runs = section(fs.readFileSync((await lake.report()).path, 'utf8'), 'runs');
    expect(runs).toMatch(/<td>run<\/td><td><span class="badge abandoned">abandoned<\/span><\/td><td>[^<]*<\/td><td class="num">42\.0 s<\/td><td class="num">7<\/td><td class="num">2<\/td>/);
  }, 60_000);

  it('rows per source: more datasets than colours never share one (the smallest are summed as "other")', async () => {
    const lake = await tempLake();
    const schema = z.object({ id: z.number() });
    const names = Array.from({ length: 12 }, (_, i) => `src${String(i).padStart(2, '0')}`);
    await lake.extract(names.map((source, i) => defineSource({ source, dataset: 'items', schema, extract: () => [Array.from({ length: i + 1 }, (_, k) => ({ id: k }))] })));
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const bars = new Map<string, { fill: string; rows: number }>();
    for (const m of section(html, 'rows').matchAll(/<path aria-label="([^"]*)"[^>]*?fill="([^"]+)"/g)) {
      const dataset = /source\/dataset: ([^;"]+)/.exec(m[1]!)?.[1];
      if (dataset) bars.set(dataset, { fill: m[2]!, rows: Number(/rows: (\d+)/.exec(m[1]!)![1]) });
    }
    // Observed: the palette has 10 colours, so src10 and src11 were drawn in src00's and src01's.
    expect(new Set([...bars.values()].map((b) => b.fill)).size).toBe(bars.size);
    expect(bars.get('src11/items')?.rows).toBe(12);
    expect(bars.get('other (3 datasets)')?.rows).toBe(1 + 2 + 3);
    expect([...bars.values()].reduce((s, b) => s + b.rows, 0)).toBe(78);
  }, 60_000);

  it('the subtitle counts the tables and views built, not the engine state kept in the catalog', async () => {
    const { lake } = await projectLake({ 'staging/a.sql': 'select 1 as x', 'staging/b.sql': 'select 2 as y' });
    expect((await lake.build()).status).toBe('success');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    // Observed: "4 tables and views built" (_duckhouse.models and _duckhouse.garbage counted).
    expect(html).toMatch(/· 2 tables and views built</);
  }, 60_000);

  it('quality scores: a table whose latest build measured nothing shows no score, not an older one as current', async () => {
    const { lake, models } = await projectLake({
      'marts/m.sql': `select * from (values (1), (null)) t(k)`,
      'marts/_m.yml': `version: 2\nmodels:\n  - name: m\n    columns:\n      - name: k\n        tests: [{ not_null: { severity: warn } }]\n`,
    });
    await lake.build();
    fs.writeFileSync(path.join(models, 'marts/_m.yml'), `version: 2\nmodels:\n  - name: m\n`);
    await lake.build();
    const scores = await lake.query(`select score from marts.mart_data_quality where model = 'marts.m' order by computed_at`);
    expect(scores.map((r) => r.score)).toEqual([0.5, null]);
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    const quality = section(html, 'quality');
    // Before: marts.m drawn at 50 %, below the gate, from the first build's score (the latest non-null one).
    expect(quality).not.toContain('quality score: 50%');
    expect(quality).toContain('No scores: 1 table has no score: its latest scoring measured nothing.');
    expect(html).not.toContain('tables below quality gate');
  }, 60_000);

  it('price index: more stores than colours never share one (the smallest are one "other" line, their index weighted by SKUs)', async () => {
    const { lake } = await projectLake({
      'marts/fct_prices_daily.sql': `select 'store' || lpad(i::varchar, 2, '0') as store, 1 as sku_id, DATE '2026-01-01' + j::INTEGER as price_date, (10 + i + j)::DECIMAL(18,2) as price from range(12) r(i), range(3) s(j)`,
    });
    expect((await lake.build()).status).toBe('success');
    const prices = section(fs.readFileSync((await lake.report()).path, 'utf8'), 'prices');
    const strokes = new Map<string, string>();
    for (const m of prices.matchAll(/<path aria-label="([^"]*)"[^>]*?stroke="(#[0-9a-fA-F]+)"/g)) {
      const store = /store: ([^;"]+)/.exec(m[1]!)?.[1];
      if (store) strokes.set(store, m[2]!);
    }
    // Before: 12 lines in 10 colours, store10 and store11 drawn in store00's and store01's.
    expect(strokes.size).toBe(10);
    expect(new Set(strokes.values()).size).toBe(10);
    expect(strokes.has('store08') && strokes.has('other (3 stores)')).toBe(true);
    // Day 2 of stores 09-11: 20/19, 21/20 and 22/21 of day 1, one SKU each.
    expect(prices).toContain('day: 02 Jan; index (first day = 100): 105.01; store: other (3 stores)');
  }, 60_000);
  it('a token in an error or alert message stored unredacted (an older metrics file, another client) never reaches the page nor lake.runs()', async () => {
    const lake = await tempLake();
    const failed = 'GET https://api.example.com/orders?access_token=APP_USR-SECRET123&x=1 failed';
    await lake.metrics.transaction(async (c) => {
      await c.run(`INSERT INTO runs (run_id, kind, status, started_at, finished_at, duration_ms, error) VALUES ('20260101T000000000Z-old001', 'extract', 'failed', now() - INTERVAL 1 HOUR, now(), 5, $1)`, [failed]);
      await c.run(`INSERT INTO alerts (alert_id, kind, severity, subject, message, raised_at) VALUES ('x1', 'source_failed', 'error', 'ml/orders', $1, now())`, [failed]);
      await c.run(`INSERT INTO test_results VALUES ('20260101T000000000Z-old001', 't1', 'marts.x', NULL, 'expression', 'error', 'error', 0, NULL, $1, now())`, [failed]);
    });
    // lake.alerts() already scrubbed such rows on the way out; lake.runs() and the page did not.
    expect((await lake.alerts())[0]!.message).toContain('access_token=[REDACTED]');
    expect((await lake.runs())[0]!.error).toBe('GET https://api.example.com/orders?access_token=[REDACTED]&x=1 failed');
    const html = fs.readFileSync((await lake.report()).path, 'utf8');
    // Observed: 3 (the runs table, the open alerts and the failing tests).
    expect(html.split('SECRET123').length - 1).toBe(0);
    expect(section(html, 'alerts')).toContain('access_token=[REDACTED]');
    expect(section(html, 'tests')).toContain('access_token=[REDACTED]');
  }, 60_000);
});
