/**
 * Secrets: one lake put through everything that could carry a token or a client secret to
 * disk — OAuth with faults and an expired access token, an API key in the query of failing
 * requests, a refused bearer token, invalid records echoing the key (quarantine), raw archives,
 * a process killed mid-run with its tokens in memory, a model failing on a URL with a token,
 * the run history and the HTML report. Afterwards no secret is anywhere under `data/` except
 * the token store (`state/tokens/`, mode 0600). The other suites scan their own lakes too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { httpSource, Lakehouse, z } from '../../src/index.js';
import { pageNumberPaginator } from '../../src/extract/http/paginators.js';
import { faultInjector } from '../helpers/fault-injector.js';
import { FAST_LIMITS, makeRecords, oauthProvider, pages, sendJson, startFaultyServer, type Handler } from '../helpers/faulty-server.js';
import { childSource, spawnChild, type ChildConfig } from '../helpers/http-child.js';
import { writeFiles } from '../helpers/models.js';
import { SEED, seededRandom } from '../helpers/reliability.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { listFiles, registerCleanup, tempDir } from '../helpers/temp-lake.js';
import { spawnHelper } from '../helpers/child.js';
import { holdDuckDbFile } from '../helpers/lock-holder.js';
import { nextLinkSource } from '../helpers/child-next-link.js';

const clientId = 'secrets-app';
const clientSecret = 'cs-secrets-suite-client-secret';
const seedToken = 'rt-secrets-suite-seed-token';
const childSeed = 'rt-secrets-suite-child-seed';
const apiKey = 'ak-secrets-suite-9f8e7d6c5b4a';
const bearer = 'bt-secrets-suite-refused-token';
const urlToken = 'ut-secrets-suite-url-token';

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });

describe('secrets after faults, failures and a kill', () => {
  it('no token or client secret anywhere under data/ outside the token store', async () => {
    const oauth = oauthProvider({ refreshToken: seedToken, clientId, clientSecret });
    const childOauth = oauthProvider({ refreshToken: childSeed, clientId, clientSecret });
    const injector = faultInjector(seededRandom(SEED));
    const records = makeRecords(200);
    const data = pages.pageNumber(records, 10);
    let childKill: (() => void) | undefined;
    let expired = false;
    const echoing: Handler = (req, res, hit) => {
      // Half the calls fail with a body quoting the request (key included), as some APIs do.
      if (hit.count % 2 === 0) return sendJson(res, 500, { error: 'upstream', request: req.url });
      // The others answer records; the invalid ones echo the key (they go to quarantine), once 25 levels deep.
      let deep: unknown = { note: `code=${apiKey}` };
      for (let i = 0; i < 25; i++) deep = { nested: deep };
      sendJson(res, 200, [
        { id: 1, name: 'fine', price: 1 },
        { id: 2, name: `echo ${apiKey}`, price: 'n/a', api_key: apiKey },
        { id: 3, name: 'deep echo', price: 'n/a', deep },
      ]);
    };
    const server = await startFaultyServer({
      '/oauth/token': oauth.token,
      '/child/token': childOauth.token,
      '/orders': oauth.guard(
        injector.wrap('/orders', (req, res, hit) => {
          // Once, at the first page served from the 7th request on (the 7th itself may be an injected fault):
          // the next request gets a 401 and a refresh.
          if (hit.count >= 7 && !expired) {
            expired = true;
            oauth.expireAccessTokens();
          }
          return data(req, res, hit);
        }),
      ),
      '/child-orders': childOauth.guard((req, res, hit) => {
        if (hit.count === 6) childKill?.();
        return pages.pageNumber(records, 10)(req, res, hit);
      }),
      '/keyed': echoing,
      '/refused': (_req, res) => sendJson(res, 401, { error: 'invalid_token' }),
    });
    registerCleanup(() => server.close());
    const base = tempDir('duckhouse-secrets-');
    const root = path.join(base, 'data');
    const models = path.join(base, 'models');
    writeFiles(models, {
      'staging/stg_orders.sql': `select id, name, price from {{ source('sec', 'orders') }}`,
      'marts/order_totals.sql': `select count(*) as n, sum(price) as revenue from {{ ref('stg_orders') }}`,
      // A model reading a URL with a token: it fails (no httpfs offline), and its error and compiled SQL must not keep the token.
      'marts/remote.sql': `select * from read_json('http://127.0.0.1:9/feed.json?access_token=${urlToken}')`,
    });

    // A second process extracting with its own OAuth client, killed mid-run.
    const childConfig: ChildConfig = {
      root,
      dataset: 'child_orders',
      url: `${server.url}/child-orders`,
      flushRows: 30,
      archiveRaw: true,
      oauth: { tokenUrl: `${server.url}/child/token`, clientId, clientSecret, refreshToken: childSeed },
    };
    const child = spawnChild(childConfig);
    childKill = () => child.child.kill('SIGKILL');
    expect((await child.finished).signal).toBe('SIGKILL');

    const lake = await Lakehouse.open({ root, models, log: { console: false } });
    try {
      const sources = [
        httpSource({
          source: 'sec',
          dataset: 'orders',
          url: `${server.url}/orders`,
          paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
          items: 'data',
          schema,
          auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seedToken, store: 'sec' },
          archiveRaw: true,
          // FAST_LIMITS' 2 s request timeout (the one injected stall waits it out), not 400 ms: a token
          // refresh that times out has spent its refresh token (never presented again, by design), so
          // a refresh answered late on a busy machine failed the source.
          limits: FAST_LIMITS,
        }),
        httpSource({ source: 'sec', dataset: 'keyed', url: `${server.url}/keyed`, schema, auth: { type: 'apiKey', name: 'code', value: apiKey, in: 'query' }, archiveRaw: true, limits: { ...FAST_LIMITS, retries: 0 } }),
        httpSource({ source: 'sec', dataset: 'refused', url: `${server.url}/refused`, schema, auth: { type: 'bearer', token: bearer }, limits: FAST_LIMITS }),
        childSource(childConfig),
      ];
      const run = await lake.run({ sources });
      const bySet = Object.fromEntries(run.extract!.sources.map((s) => [s.dataset, s]));
      expect(bySet.orders).toMatchObject({ status: 'success', rows: 200 });
      expect(bySet.child_orders).toMatchObject({ status: 'success', rows: 200 });
      expect(bySet.keyed).toMatchObject({ status: 'success', rows: 1, rejected: 2 });
      expect(bySet.refused!.status).toBe('failed');
      expect(run.build!.models.find((m) => m.name === 'marts.remote')!.status).toBe('error');
      // A second run: the keyed source now meets the failing call, with the key in its URL.
      const again = await lake.extract(sources[1]!);
      expect(again.sources[0]!.status).toBe('failed');
      expect(again.sources[0]!.error).toMatch(/HTTP 500/);
      expect(oauth.refusals + childOauth.refusals).toBe(0);
      expect(oauth.presented.length).toBeGreaterThanOrEqual(2); // the first token, and the refresh after the 401
      await lake.report();
      await lake.runs();
    } finally {
      await lake.close();
    }

    const secrets = [clientSecret, seedToken, childSeed, apiKey, bearer, urlToken, ...oauth.issued, ...childOauth.issued];
    const { hits, files } = await findSecrets(root, secrets);
    expect(hits).toEqual([]);
    // The scan looked everywhere a secret could have gone.
    const top = new Set(files.map((f) => f.split(path.sep)[0]));
    for (const dir of ['bronze', 'quarantine', 'raw', 'metrics', 'logs', 'compiled', 'analytics.duckdb', 'report.html']) expect(top, dir).toContain(dir);
    // The token stores do hold the live tokens, readable by their owner only.
    const stores = listFiles(path.join(root, 'state', 'tokens')).filter((f) => f.endsWith('.json'));
    expect(stores.length).toBeGreaterThanOrEqual(2);
    for (const f of stores) expect(fs.statSync(path.join(root, 'state', 'tokens', f)).mode & 0o777, f).toBe(0o600);
    const stored = stores.map((f) => fs.readFileSync(path.join(root, 'state', 'tokens', f), 'utf8')).join('\n');
    expect(stored).toContain(oauth.current);
    expect(stored).toContain(childOauth.current);
    // And the scanner finds what is there: a record name from bronze, the refused source's error in the metrics.
    const control = await findSecrets(root, ['item 17', 'HTTP 401']);
    expect(control.hits.map((h) => h.secret).sort()).toEqual(expect.arrayContaining(['HTTP 401', 'item 17']));
  }, 120_000);
});

describe('a next-page link carrying a token, as the cursor of a process killed past its commit point', () => {
  it('is under data/state/ only, before and after the next open rolls the batch forward, and the resumed run goes on from it exactly', async () => {
    const token = 'APP_USR-secrets-next-link-token-4f9a';
    const records = Array.from({ length: 9 }, (_, i) => ({ id: i + 1, text: `post ${i + 1}` }));
    const root = path.join(tempDir('duckhouse-secrets-link-'), 'data');
    const metricsFile = path.join(root, 'metrics', 'runs.duckdb');
    let server: Awaited<ReturnType<typeof startFaultyServer>> | undefined;
    let hold: Awaited<ReturnType<typeof holdDuckDbFile>> | undefined;
    // Three pages of a Graph-style API; its next link carries the access token, which each page checks.
    server = await startFaultyServer({
      '/posts': async (_req, res, hit) => {
        const page = Number(hit.url.searchParams.get('p') ?? '1');
        if (page > 1 && hit.url.searchParams.get('access_token') !== token) return sendJson(res, 401, { error: 'invalid_token' });
        // The child's last page: the metrics file is held by another process first, so the child's
        // batch stops right after its commit point (the manifest written, the batch not yet recorded).
        if (page === 2 && hold === undefined) hold = await holdDuckDbFile(metricsFile, { retry: true });
        const next = page < 3 ? `${server!.url}/posts?p=${page + 1}&access_token=${token}` : undefined;
        sendJson(res, 200, { data: records.slice((page - 1) * 3, page * 3), paging: next ? { next } : {} });
      },
    });
    registerCleanup(() => server!.close());
    const child = spawnHelper('child-next-link.ts', [root, `${server.url}/posts?p=1`, '2']);
    registerCleanup(() => void child.process.kill('SIGKILL'));
    const manifest = async (): Promise<string> => {
      for (;;) {
        const tmp = path.join(root, '.tmp');
        const found = (fs.existsSync(tmp) ? listFiles(tmp) : []).find((f) => f.endsWith('.commit.json'));
        if (found) return found;
        if (child.process.exitCode !== null) throw new Error(`the child ended before its commit point: ${child.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await manifest();
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    await hold!.release();
    const outsideState = async (): Promise<string[]> => (await findSecrets(root, [token])).hits.map((h) => h.file).filter((f) => !f.startsWith(`state${path.sep}`));
    // Killed past its commit point: the batch is left for the next open, and its cursor with it.
    expect(listFiles(path.join(root, '.tmp')).some((f) => f.endsWith('.commit.json'))).toBe(true);
    expect(await outsideState()).toEqual([]);
    // It waits in data/state/, readable by its owner only, as a token store.
    const waiting = listFiles(path.join(root, 'state')).filter((f) => fs.readFileSync(path.join(root, 'state', f), 'utf8').includes(token));
    expect(waiting).toHaveLength(1);
    expect(fs.statSync(path.join(root, 'state', waiting[0]!)).mode & 0o777).toBe(0o600);

    // The next open rolls the batch forward: recorded, and its cursor (the link, token and all) saved.
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    expect(await outsideState()).toEqual([]);
    const holding = listFiles(path.join(root, 'state')).filter((f) => fs.readFileSync(path.join(root, 'state', f), 'utf8').includes(token));
    expect(holding).toEqual([path.join('cursors', 'graph.posts.json')]);
    expect(fs.existsSync(path.join(root, 'state', waiting[0]!)), 'removed once its batch is rolled forward').toBe(false);
    const lake = await Lakehouse.open({ root, log: { console: false } });
    try {
      expect((await lake.bronze<{ id: number }>('graph/posts')).map((r) => r.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      // The next run goes on from the link: the third page, with the token the API checks.
      const resumed = await lake.extract([nextLinkSource(`${server.url}/posts?p=1`)]);
      expect(resumed.sources[0]).toMatchObject({ status: 'success', rows: 3 });
      expect((await lake.bronze<{ id: number }>('graph/posts')).map((r) => r.id).sort((a, b) => a - b)).toEqual(records.map((r) => r.id));
    } finally {
      await lake.close();
    }
    expect(await outsideState()).toEqual([]);
  }, 120_000);
});
