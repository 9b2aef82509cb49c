/**
 * Crashes: extract and build processes killed with SIGKILL at random moments, over one lake.
 * After each kill, before anything recovers: bronze and the warehouse hold only whole Parquet
 * files and `analytics.duckdb` opens READ_ONLY (any DuckDB client) with a whole build — the
 * previous one, or the killed one when it had published. After the next `Lakehouse.open`: the
 * killed run is `abandoned`, bronze is exactly what was committed, and a re-run completes with
 * no duplicate anywhere. OAuth tokens are in play (HTTP trials); none may leak under `data/`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, type ExtractResult } from '../../src/index.js';
import { spawnHelper, type Child } from '../helpers/child.js';
import { spawnBuild } from '../helpers/child-build.js';
import { childSource, spawnChild, type ChildConfig } from '../helpers/http-child.js';
import { makeRecords, oauthProvider, pages, startFaultyServer, type Handler } from '../helpers/faulty-server.js';
import { expectCommittedBronze, expectWholeParquet, expectWholeWarehouse, readOnlyQuery, runsOfPid, withMemoryQuery } from '../helpers/lake-checks.js';
import { FULL, ITEMS_BUILD_CHECK, SEED, isWholeBuild, scaled, seededRandom, toBuildState, writeItemsModels } from '../helpers/reliability.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { syntheticItems } from '../helpers/synthetic-source.js';
import { listFiles, registerCleanup, tempDir } from '../helpers/temp-lake.js';

/** Trials take turns: extract, build, OAuth extract over HTTP (the fast subset kills one extract and one build; secrets.test.ts kills an OAuth extract too). */
const TRIALS = scaled(2, 20);
/** Rows per extract batch (each batch is one bronze commit). */
const ROWS = scaled(10_000, 20_000);
const KINDS = ['extract', 'build', 'http'] as const;
type Kind = (typeof KINDS)[number];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const clientId = 'crash-app';
const clientSecret = 'cs-crash-suite-client-secret';
const seedToken = 'rt-crash-suite-seed-token';
const HTTP_RECORDS = 1_000;

interface Outcome {
  trial: number;
  kind: Kind;
  delayMillis: number;
  /** What the killed process had recorded: abandoned (killed mid-run), success (its run finished before the kill), none (killed before its run started). */
  run: 'abandoned' | 'success' | 'none';
  /** Whether `analytics.duckdb` showed the killed build right after the kill (it had published). */
  publishedByKilled: boolean;
}

/** Temp files outside `.tmp/` (writeFileAtomic's `<file>.<pid>.<random>.tmp`). */
const strayTmpFiles = (root: string): string[] => listFiles(root).filter((f) => f.endsWith('.tmp') && !f.startsWith(`.tmp${path.sep}`));

describe('SIGKILL at random moments', () => {
  it(`${TRIALS} trials kill extract and build processes; every time the lake stays whole and a re-run completes without duplicates`, async () => {
    const random = seededRandom(SEED);
    const base = tempDir('duckhouse-crash-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeItemsModels(models, 'crash');

    // An OAuth-protected API for the HTTP trials; the test kills the child from the route handler.
    const oauth = oauthProvider({ refreshToken: seedToken, clientId, clientSecret });
    const data = pages.pageNumber(makeRecords(HTTP_RECORDS), 20);
    let onPage: (() => void) | undefined;
    const orders: Handler = (req, res, hit) => {
      onPage?.();
      return data(req, res, hit);
    };
    const server = await startFaultyServer({ '/oauth/token': oauth.token, '/orders': oauth.guard(orders) });
    registerCleanup(() => server.close());
    const httpConfig: ChildConfig = {
      root,
      dataset: 'orders',
      url: `${server.url}/orders`,
      flushRows: 100,
      oauth: { tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seedToken },
    };

    // The first complete build. Then how long a build takes in this process and in a child (its
    // start included) when it has new data to merge: each build kill is aimed over the whole of a
    // build, estimated from the last build of this process plus the child's extra time.
    let buildNo = 0;
    const extractMore = async (shift: number, thenBuild = false): Promise<number> => {
      const lake = await Lakehouse.open({ root, models, log: { console: false } });
      try {
        expect((await lake.extract([syntheticItems({ source: 'crash', batches: 2, rowsPerBatch: ROWS, priceShift: shift })])).status).toBe('success');
        if (!thenBuild) return 0;
        const started = performance.now();
        expect((await lake.build({ vars: { build_no: buildNo } })).status).toBe('success');
        return performance.now() - started;
      } finally {
        await lake.close();
      }
    };
    await extractMore(0, true);
    buildNo += 1;
    let lastBuildMillis = await extractMore(0.25, true);
    await extractMore(0.5);
    const calibration = spawnBuild({ root, models, builds: 1, firstBuildNo: ++buildNo });
    await calibration.waitFor((l) => l.includes('"building"'));
    const started = performance.now();
    await calibration.waitFor((l) => l.includes('"built"'));
    const childExtraMillis = Math.max(0, performance.now() - started - lastBuildMillis);
    expect((await calibration.exited).code).toBe(0);
    const buildEstimate = (): number => lastBuildMillis + childExtraMillis;
    let published = buildNo;

    const outcomes: Outcome[] = [];
    let orphans = 0;
    let aimedAtFiles = 0;
    /** Temp files of writeFileAtomic (lineage, compiled SQL, state) kills left outside .tmp/ (removed by the next open). */
    const strayTmp = new Set<string>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const kind = KINDS[trial % KINDS.length]!;
      let child: Child | ReturnType<typeof spawnChild>['child'];
      let exited: Promise<{ code: number | null; signal: NodeJS.Signals | string | null }>;
      let delayMillis = 0;
      let killedBuildNo: number | undefined;
      if (kind === 'extract') {
        // Big batches back to back: most of the time goes to COPY and commits.
        const c = spawnHelper('child-extract.ts', [root, 'crash', '1000', String(ROWS), '0']);
        await c.waitFor((l) => l.includes('"yielded":1'));
        delayMillis = Math.floor(random() * 600);
        await sleep(delayMillis);
        c.process.kill('SIGKILL');
        child = c.process;
        exited = c.exited;
      } else if (kind === 'build') {
        // New data first, so the killed build has real work: merge, marts, publish.
        await extractMore(trial);
        killedBuildNo = ++buildNo;
        const c = spawnBuild({ root, models, builds: 1, firstBuildNo: killedBuildNo });
        await c.waitFor((l) => l.includes('"building"'));
        const estimate = buildEstimate();
        const since = performance.now();
        if (random() < 0.5) {
          // Anywhere in the build, from its first step to just past its end.
          await sleep(1.05 * random() * estimate);
        } else {
          // After it wrote its first warehouse file: the late steps (more models, the catalog, the publish).
          aimedAtFiles += 1;
          const before = new Set(listFiles(path.join(root, 'warehouse')));
          while (!listFiles(path.join(root, 'warehouse')).some((f) => !before.has(f)) && performance.now() - since < 3 * estimate) await sleep(5);
          await sleep(random() * 0.5 * estimate);
        }
        delayMillis = Math.round(performance.now() - since);
        c.process.kill('SIGKILL');
        child = c.process;
        exited = c.exited;
      } else {
        const target = 2 + Math.floor(random() * (HTTP_RECORDS / 20 - 10));
        let pagesSeen = 0;
        const spawned = spawnChild(httpConfig);
        const killed = new Promise<void>((resolve) => {
          onPage = () => {
            if (++pagesSeen !== target) return;
            delayMillis = Math.floor(random() * 30);
            setTimeout(() => {
              spawned.child.kill('SIGKILL');
              resolve();
            }, delayMillis);
          };
        });
        await Promise.race([killed, spawned.finished]);
        onPage = undefined;
        child = spawned.child;
        exited = spawned.finished;
      }
      const pid = child.pid!;
      const { signal, code } = await exited;
      const finishedFirst = signal !== 'SIGKILL';
      if (finishedFirst) expect(code, `trial ${trial} (${kind}) exited by itself`).toBe(0);

      // Straight after the kill, nothing recovered yet: what any reader sees.
      const seen = toBuildState((await readOnlyQuery(path.join(root, 'analytics.duckdb'), ITEMS_BUILD_CHECK))[0]);
      expect(isWholeBuild(seen), `trial ${trial} (${kind}): published build is whole ${JSON.stringify(seen)}`).toBe(true);
      expect([published, ...(killedBuildNo === undefined ? [] : [killedBuildNo])], `trial ${trial}: the previous build, or the killed one if it published`).toContain(seen.build);
      await withMemoryQuery(async (query) => {
        await expectWholeParquet(query, path.join(root, 'bronze'));
        await expectWholeParquet(query, path.join(root, 'warehouse'));
      });
      for (const f of strayTmpFiles(root)) strayTmp.add(f);
      // The next open recovers: the killed run is abandoned, bronze is exactly what was committed.
      const lake = await Lakehouse.open({ root, models, log: { console: false } });
      try {
        const runs = await runsOfPid(lake, pid);
        if (finishedFirst) expect(runs.map((r) => r.status)).toEqual(runs.map(() => 'success'));
        // Killed mid-run: abandoned. A build may also have finished (published, recorded) and been
        // killed on its way out: then its build is the one every reader saw.
        else expect(runs.every((r) => r.status === 'abandoned' || (kind === 'build' && r.status === 'success')), `trial ${trial} (${kind}): runs of the killed process ${JSON.stringify(runs)}`).toBe(true);
        const status = runs[0]?.status;
        if (kind === 'build' && status === 'success') expect(seen.build, 'a build recorded success had published').toBe(killedBuildNo);
        if (kind !== 'build') expect(runs, `an ${kind} is killed after its run started`).toHaveLength(1);
        outcomes.push({ trial, kind, delayMillis, run: status === 'success' ? 'success' : status === 'abandoned' ? 'abandoned' : 'none', publishedByKilled: seen.build === killedBuildNo });
        await expectCommittedBronze(lake);
        const leftover = (await expectWholeWarehouse(lake)).orphans;
        // Files no catalog references can only come from a build that died before publishing.
        const leftBy = new Set(leftover.map((f) => /(\d{8}T\d{9}Z-[0-9a-f]+)-\d+/.exec(f)?.[1] ?? f));
        for (const runId of leftBy) expect(await lake.metrics.select('SELECT kind, status FROM runs WHERE run_id = $1', [runId]), `run of ${runId}`).toEqual([{ kind: 'build', status: 'abandoned' }]);
        orphans += leftover.length;
        expect(strayTmpFiles(root), 'temp files of the dead process, removed at open').toEqual([]);

        // Re-run what was killed, then build: it completes, and nothing is duplicated.
        let extracted: ExtractResult | undefined;
        if (kind === 'extract') extracted = await lake.extract([syntheticItems({ source: 'crash', batches: 2, rowsPerBatch: ROWS, priceShift: trial })]);
        if (kind === 'http') extracted = await lake.extract([childSource(httpConfig)]);
        if (extracted) expect(extracted.sources.map((s) => [s.status, s.error])).toEqual([['success', undefined]]);
        if (kind === 'http') expect(extracted!.sources[0]!.rows).toBe(HTTP_RECORDS);
        const rebuildStarted = performance.now();
        const build = await lake.build({ vars: { build_no: ++buildNo } });
        lastBuildMillis = performance.now() - rebuildStarted;
        expect(build.models.filter((m) => m.status === 'error')).toEqual([]);
        expect(build.status).toBe('success');
        published = buildNo;
        expect((await expectWholeWarehouse(lake)).orphans, 'the next build removed the files of builds that never published').toEqual([]);
        const after = toBuildState((await lake.query(ITEMS_BUILD_CHECK))[0]);
        expect(isWholeBuild(after), JSON.stringify(after)).toBe(true);
        expect(after.build).toBe(buildNo);
        const [bronze] = await lake.query(`SELECT count(DISTINCT id) AS ids FROM read_parquet('${root}/bronze/crash/items/**/*.parquet')`);
        expect(after.items, 'trusted.items holds every id once').toBe(Number(bronze!.ids));
        for (const dataset of ['crash/items', 'child/orders']) {
          if (!fs.existsSync(path.join(root, 'bronze', dataset))) continue;
          const dupes = await lake.query(`SELECT _run_id, id, count(*) AS n FROM read_parquet('${root}/bronze/${dataset}/**/*.parquet') GROUP BY ALL HAVING count(*) > 1 LIMIT 5`);
          expect(dupes, `${dataset}: each key once per run`).toEqual([]);
        }
        if (kind === 'http') {
          const [counts] = await lake.query(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM read_parquet('${root}/bronze/child/orders/**/*.parquet') WHERE _run_id = $1`, [extracted!.runId]);
          expect(counts).toEqual({ n: HTTP_RECORDS, ids: HTTP_RECORDS });
        }
        await expectCommittedBronze(lake);
      } finally {
        await lake.close();
      }
    }

    const summary = KINDS.map((k) => {
      const of = outcomes.filter((o) => o.kind === k);
      return `${k}: ${of.length} kills, ${of.filter((o) => o.run === 'abandoned').length} abandoned, ${of.filter((o) => o.run === 'success').length} finished before the kill, ${of.filter((o) => o.run === 'none').length} before their run`;
    });
    process.stdout.write(`[crashes] seed ${SEED}, a child's build ≈ ${Math.round(lastBuildMillis)} + ${Math.round(childExtraMillis)} ms; ${summary.join('; ')} (${aimedAtFiles} aimed after the first warehouse file); killed builds that had published: ${outcomes.filter((o) => o.publishedByKilled).length}; whole warehouse files left unreferenced by killed builds (each swept by the next build): ${orphans}; temp files left outside .tmp/ (removed at the next open): ${[...strayTmp].join(', ') || 'none'}\n`);
    // Kills must land mid-run, or the trials prove nothing. (A build kill may land before the
    // build recorded its run, or after it finished: with one build trial, only the full suite can insist.)
    expect(outcomes.filter((o) => o.kind !== 'build').every((o) => o.run === 'abandoned')).toBe(true);
    if (FULL) expect(outcomes.filter((o) => o.kind === 'build' && o.run === 'abandoned').length, 'build kills that landed mid-run').toBeGreaterThan(0);
    // No token or client secret anywhere under data/ outside the token store.
    const { hits, files } = await findSecrets(root, [clientSecret, seedToken, ...oauth.issued]);
    expect(files.length).toBeGreaterThan(10);
    expect(hits).toEqual([]);
  }, scaled(120_000, 900_000));
});

describe('temp files of a dead writer', () => {
  it('are removed at the next open, next to lineage, compiled SQL and state; a live process keeps its own', async () => {
    const root = path.join(tempDir(), 'data');
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    // pid 2^22 + 1 cannot exist on Linux: a writer killed between writing and renaming.
    // Named after their target (as before) and not (.duckhouse.<pid>.<random>.tmp, as now).
    const dead = ['lineage.json.4194305.k2j3h4.tmp', path.join('compiled', 'marts', 'm.sql.4194305.a1b2c3.tmp'), path.join('state', 'tokens', 'ml.json.4194305.zz9.tmp'), '.duckhouse.4194305.0a1b2c3d4e5f6a7b.tmp', path.join('state', 'schemas', '.duckhouse.4194305.9f8e7d6c5b4a3210.tmp')];
    const live = path.join('state', 'cursors', `s.d.json.${process.pid}.abc123.tmp`);
    for (const f of [...dead, live]) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), 'half');
    }
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    expect(strayTmpFiles(root)).toEqual([live]);
  });

  it('are removed when their pid now belongs to a process started after they were written (a reused pid)', async () => {
    const root = path.join(tempDir(), 'data');
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    // This process's pid, written an hour before it started: a dead writer's, as in a container
    // whose first process always has the same pid.
    const reused = path.join('state', 'cursors', `s.d.json.${process.pid}.old123.tmp`);
    const own = path.join('state', 'cursors', `s.d.json.${process.pid}.new456.tmp`);
    for (const f of [reused, own]) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), 'half');
    }
    const before = new Date(Date.now() - process.uptime() * 1000 - 3_600_000);
    fs.utimesSync(path.join(root, reused), before, before);
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    expect(strayTmpFiles(root)).toEqual([own]);
  });
});
