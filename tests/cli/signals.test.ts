/**
 * Ctrl-C (SIGINT) and kill (SIGTERM) sent to the CLI while it works: it says it is stopping,
 * closes the lake (the run recorded failed, partial files removed) and exits 130 / 143; a second
 * signal ends it at once.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { spawnCli } from '../helpers/cli.js';
import { makeRecords, sendJson, startFaultyServer, type FaultyServer } from '../helpers/faulty-server.js';
import { metricsRows } from '../helpers/metrics-read.js';
import { writeFiles } from '../helpers/models.js';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

const index = path.join(path.resolve(import.meta.dirname, '..', '..'), 'src', 'index.ts');

/** Resolves once `check()` holds (a file appears), polling: the child gives no other sign. */
async function until(check: () => boolean, what: string, timeoutMillis = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let server: FaultyServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('the CLI stopped by a signal', () => {
  it('SIGINT during a build whose model runs long: says it is stopping, exit 130, the run failed naming SIGINT, nothing published, nothing left in data/.tmp (was: killed, the run left running)', async () => {
    const dir = tempDir('cli-sigint-');
    writeFiles(path.join(dir, 'models'), { 'marts/slow.sql': 'select count(*) as n from range(1000000000000) r where r.range % 7 = 3' });
    const cli = spawnCli(dir, ['build']);
    // Its compiled SQL written: the model's statement is about to run, or running.
    await until(() => fs.existsSync(path.join(dir, 'data', 'compiled', 'marts', 'slow.sql')), 'the model to start');
    const sent = Date.now();
    cli.kill('SIGINT');
    const exit = await cli.exited;
    expect(exit, cli.err()).toEqual({ code: 130, signal: null });
    expect(Date.now() - sent, 'stopped at once, not after close()\'s 30 s wait').toBeLessThan(15_000);
    expect(cli.err()).toMatch(/SIGINT.*stopping.*Ctrl-C again/i);
    expect(fs.existsSync(path.join(dir, 'data', 'analytics.duckdb')), 'nothing published').toBe(false);
    expect(listFiles(path.join(dir, 'data', '.tmp'))).toEqual([]);
    const runs = await metricsRows(path.join(dir, 'data'), `select kind, status, error from runs`);
    expect(runs).toEqual([{ kind: 'build', status: 'failed', error: expect.stringMatching(/interrupted by SIGINT/) }]);
  }, 60_000);

  it('stopped by `timeout` (cron\'s `timeout 1h duckhouse run`), which sends its signal to the CLI and then to its process group: the two count as one, exit 143, the run recorded failed (was: the second, unless the kernel merged it with the first, ended it at once, the run left running)', async () => {
    const dir = tempDir('cli-timeout-');
    writeFiles(path.join(dir, 'models'), { 'marts/slow.sql': 'select count(*) as n from range(1000000000000) r where r.range % 7 = 3' });
    // timeout passes a SIGTERM it gets on as its time running out would.
    const cli = spawnCli(dir, ['build'], { via: ['timeout', '600'] });
    await until(() => fs.existsSync(path.join(dir, 'data', 'compiled', 'marts', 'slow.sql')), 'the model to start');
    cli.kill('SIGTERM');
    // timeout exits with its command's code.
    expect(await cli.exited, cli.err()).toEqual({ code: 143, signal: null });
    expect(cli.err()).toMatch(/SIGTERM received: stopping/);
    const runs = await metricsRows(path.join(dir, 'data'), `select status, error from runs`);
    expect(runs).toEqual([{ status: 'failed', error: expect.stringMatching(/interrupted by SIGTERM/) }]);
  }, 60_000);

  it('a second signal right behind the first (as `timeout` sends them: to the CLI, then to its group) is the same request: exit 130, the run recorded failed (was: it ended the CLI at once, the run left running)', async () => {
    const dir = tempDir('cli-sigint-twice-');
    writeFiles(path.join(dir, 'models'), { 'marts/slow.sql': 'select count(*) as n from range(1000000000000) r where r.range % 7 = 3' });
    const cli = spawnCli(dir, ['build']);
    await until(() => fs.existsSync(path.join(dir, 'data', 'compiled', 'marts', 'slow.sql')), 'the model to start');
    cli.kill('SIGINT');
    // The first one handled, then at once the second: two signals sent together are often merged
    // by the kernel into one, so the test sends them so that they cannot be.
    await cli.shows(/stopping/);
    cli.kill('SIGINT');
    expect(await cli.exited, cli.err()).toEqual({ code: 130, signal: null });
    const runs = await metricsRows(path.join(dir, 'data'), `select status, error from runs`);
    expect(runs).toEqual([{ status: 'failed', error: expect.stringMatching(/interrupted by SIGINT/) }]);
  }, 60_000);

  it('SIGTERM during an extract waiting on a slow server: exit 143, the run recorded with the batch it committed and an error naming SIGTERM, no partial file (was: killed, the run left running)', async () => {
    let waiting: http.ServerResponse | undefined;
    let secondPage!: () => void;
    const asked = new Promise<void>((resolve) => (secondPage = resolve));
    server = await startFaultyServer({
      '/items': (_req, res, hit) => {
        // Page 1 at once; page 2 never answers (a server that hangs), until the test ends.
        if (hit.url.searchParams.get('page') === '1') return sendJson(res, 200, { data: makeRecords(10), meta: { total_pages: 5 } });
        waiting = res;
        secondPage();
      },
    });
    const dir = tempDir('cli-sigterm-');
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { httpSource, pageNumberPaginator, z } from ${JSON.stringify(index)};
export default {
  limits: { flushRows: 10 },
  sources: [httpSource({ source: 'shop', dataset: 'items', url: ${JSON.stringify(`${server!.url}/items`)}, items: 'data',
    paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
    schema: z.object({ id: z.number(), name: z.string(), price: z.number() }), limits: { requestTimeoutMillis: 120000 } })],
};
`,
    );
    const cli = spawnCli(dir, ['extract']);
    const bronze = path.join(dir, 'data', 'bronze', 'shop', 'items');
    await asked;
    // Page 1's batch committed (its file renamed into bronze), page 2 waited on.
    await until(() => listFiles(bronze).some((f) => f.endsWith('.parquet')), 'page 1 in bronze');
    cli.kill('SIGTERM');
    const exit = await cli.exited;
    waiting?.destroy();
    expect(exit, cli.err()).toEqual({ code: 143, signal: null });
    expect(cli.err()).toMatch(/SIGTERM.*stopping/i);
    expect(listFiles(path.join(dir, 'data', '.tmp'))).toEqual([]);
    const root = path.join(dir, 'data');
    const [run] = await metricsRows(root, `select run_id, kind, status, error from runs`);
    // The batch it committed stays (a run that did some work is `partial`, as close() records it).
    expect(run).toMatchObject({ kind: 'extract', status: 'partial', error: expect.stringMatching(/interrupted by SIGTERM/) });
    const recorded = await metricsRows(root, `select path, rows from bronze_files where run_id = '${String(run!.run_id)}'`);
    expect(recorded.map((r) => r.rows)).toEqual([10]);
    // Bronze holds the committed file and nothing else: no part-written one.
    expect(listFiles(bronze).map((f) => path.join(bronze, f))).toEqual(recorded.map((r) => path.resolve(root, String(r.path))));
  }, 60_000);

  it('SIGINT during `run`: what the pipeline did is printed whole, then exit 130 (was: the command ended as soon as close() returned, its own lines cut or followed by a second error)', async () => {
    const dir = tempDir('cli-sigint-run-');
    writeFiles(path.join(dir, 'models'), { 'marts/m.sql': `select * from {{ source('shop', 'p') }}` });
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export default {
  limits: { flushRows: 10 },
  sources: [defineSource({ source: 'shop', dataset: 'p', schema: z.object({ i: z.number() }),
    async *extract() {
      for (let p = 0; p < 1000; p++) {
        if (p === 2) process.stderr.write('PAGE 2\\n');
        await sleep(50);
        yield Array.from({ length: 10 }, (_, i) => ({ i: p * 10 + i }));
      }
    } })],
};
`,
    );
    const cli = spawnCli(dir, ['run']);
    await cli.shows('PAGE 2');
    cli.kill('SIGINT');
    expect(await cli.exited, cli.err()).toEqual({ code: 130, signal: null });
    expect(cli.out()).toMatch(/^extract shop\/p: partial, \d+ rows, 0 rejected — lake: the lakehouse is closed \(interrupted by SIGINT\)$/m);
    expect(cli.out()).toMatch(/^run \S+: partial in \d+ ms$/m);
    // The error that stopped the pipeline, once, and nothing after it.
    const errors = cli.err().split('\n').filter((l) => l.startsWith('duckhouse: ') && !l.includes('received: stopping'));
    expect(errors).toEqual(['duckhouse: lake.build(): the lakehouse is closed (interrupted by SIGINT)']);
  }, 60_000);

  it('a second SIGINT while close() waits for a source ends the CLI at once (was: the first one killed it; no second chance)', async () => {
    const dir = tempDir('cli-sigint2-');
    // A source that does not heed the lake's signal: close() waits for it (up to 30 s).
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};
export default {
  sources: [defineSource({ source: 'shop', dataset: 'stuck', schema: z.object({ i: z.number() }),
    async *extract() {
      process.stderr.write('SOURCE STARTED\\n');
      await new Promise((r) => setTimeout(r, 120000));
      yield [{ i: 1 }];
    } })],
};
`,
    );
    const cli = spawnCli(dir, ['extract']);
    await cli.shows('SOURCE STARTED');
    cli.kill('SIGINT');
    await cli.shows(/stopping/i);
    // Past the time in which a second signal is taken for the first one sent twice (see the tests above).
    await new Promise((r) => setTimeout(r, 600));
    const sent = Date.now();
    cli.kill('SIGINT');
    const exit = await cli.exited;
    expect(Date.now() - sent, 'at once, not after close()\'s 30 s wait').toBeLessThan(5_000);
    // Ended by the signal itself, as before the CLI handled it (a shell reads it as 130).
    expect(exit, cli.err()).toEqual({ code: null, signal: 'SIGINT' });
    // The next process finds the run's process gone and marks it abandoned, as after any kill.
    const runs = spawnCli(dir, ['runs', '--json']);
    expect((await runs.exited).code, runs.err()).toBe(0);
    expect(JSON.parse(runs.out())).toEqual([expect.objectContaining({ kind: 'extract', status: 'abandoned' })]);
  }, 60_000);

  it('a command that finished leaves no signal listener behind (one opening a lake, one that does not)', async () => {
    const dir = tempDir('cli-listeners-');
    writeFiles(path.join(dir, 'models'), { 'marts/one.sql': 'select 1 as x' });
    const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    const argv = (...args: string[]) => ['node', 'duckhouse', '--root', path.join(dir, 'data'), '--models', path.join(dir, 'models'), ...args];
    expect(await main(argv('build'))).toBe(0);
    expect(await main(argv('runs'))).toBe(0);
    // A command that failed too (a selector matching nothing: a usage error, after the lake opened).
    expect(await main(argv('build', '--select', 'nothing_like_it'))).toBe(2);
    expect({ SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') }).toEqual(before);
  }, 60_000);
});
