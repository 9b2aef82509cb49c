import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { defineSource, z, type ExtractContext } from '../../src/index.js';
import { limitsSchema, type Limits } from '../../src/config.js';
import { httpSource } from '../../src/extract/http-source.js';
import { createHttpContext } from '../../src/extract/http/http-context.js';
import { offsetPaginator, pageNumberPaginator } from '../../src/extract/http/paginators.js';
import type { HttpHostStats } from '../../src/extract/source.js';
import type { AuthOptions } from '../../src/extract/http/oauth.js';
import { FAST_LIMITS, faults, makeRecords, oauthProvider, pages, sendJson, startFaultyServer, type FaultyServer, type Handler, type RecordedRequest } from '../helpers/faulty-server.js';
import { childSource, spawnChild, type ChildConfig } from '../helpers/http-child.js';
import { readEveryTableWhole } from '../helpers/lake-checks.js';
import { quarantined } from '../helpers/quarantine.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { listFiles, registerCleanup, tempLake } from '../helpers/temp-lake.js';

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });

async function serve(routes: Record<string, Handler>): Promise<FaultyServer> {
  const server = await startFaultyServer(routes);
  registerCleanup(() => server.close());
  return server;
}

const bronzeGlob = (root: string, source: string, dataset: string): string => `${root}/bronze/${source}/${dataset}/**/*.parquet`;

describe('httpSource through lake.extract', () => {
  it('rides out each fault, and one dead endpoint makes the run partial', async () => {
    const records = makeRecords(3);
    const data = pages.pageNumber(records, 1);
    // The second request of each route (page 2) misbehaves once.
    const once = (fault: Handler): Handler => faults.sequence(data, fault, data);
    const server = await serve({
      '/retry_after': once(faults.status(429, { 'retry-after': '1' })),
      '/fail_once': once(faults.status(500)),
      '/reset': once(faults.resetSocket()),
      '/stall': once(faults.stall()),
      '/truncated': once(faults.truncatedJson({ data: records.slice(1, 2), meta: { total_pages: 3 } })),
      '/html': once(faults.html200()),
      '/broken': faults.status(503),
    });
    const lake = await tempLake();
    const names = ['retry_after', 'fail_once', 'reset', 'stall', 'truncated', 'html', 'broken'];
    const sources = names.map((name) =>
      httpSource({
        source: 'faults',
        dataset: name,
        url: `${server.url}/${name}`,
        paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
        items: 'data',
        schema,
        // Only the stall needs the timeout, and only it gets a short one: a loaded CI machine once
        // took past 300 ms to answer retry_after's page 3, a second retry the test did not expect.
        limits: { ...FAST_LIMITS, requestTimeoutMillis: name === 'stall' ? 1_500 : 30_000, retries: 3 },
      }),
    );
    const result = await lake.extract(sources);
    expect(result.status).toBe('partial');
    const bySet = Object.fromEntries(result.sources.map((s) => [s.dataset, s]));
    for (const name of names.slice(0, 6)) {
      expect(bySet[name], name).toMatchObject({ status: 'success', rows: 3, rejected: 0, requests: 4, retries: 1 });
      const [row] = await lake.query(`select count(distinct id) n from read_parquet('${bronzeGlob(lake.paths.root, 'faults', name)}')`);
      expect(row!.n, name).toBe(3);
    }
    expect(bySet.broken).toMatchObject({ status: 'failed', rows: 0, requests: 4, retries: 3 });
    expect(bySet.broken!.error).toBe(`GET ${server.url}/broken?page=1: HTTP 503 Service Unavailable (after 4 attempts)`);
    const runs = await lake.runs({ limit: 1 });
    expect(runs[0]).toMatchObject({ runId: result.runId, status: 'partial' });
  });

  it('sends invalid records to quarantine with their reasons', async () => {
    const body = [
      { id: 1, name: 'ok', price: 1.5 },
      { id: 'two', name: 'bad id', price: 2 },
      { id: 3, name: 'no price' },
    ];
    const server = await serve({ '/items': faults.json(body) });
    const lake = await tempLake();
    const result = await lake.extract(httpSource({ source: 'q', dataset: 'items', url: `${server.url}/items`, schema, limits: FAST_LIMITS }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 2 });
    const file = path.join(lake.paths.quarantine, 'q', 'items', `${result.runId}.ndjson`);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { record: { id: unknown }; reasons: { path: string }[] });
    expect(lines.map((l) => [l.record.id, l.reasons.map((r) => r.path)])).toEqual([
      ['two', ['id']],
      [3, ['price']],
    ]);
  });

  it('picks items by path, by function, or takes an array body; a non-array is an error naming the URL', async () => {
    const server = await serve({
      '/nested': faults.json({ payload: { rows: makeRecords(2) } }),
      '/wrapped': faults.json({ results: makeRecords(2, 10), count: 2 }),
      '/object': faults.json({ results: { id: 1 } }),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      httpSource({ source: 'it', dataset: 'path', url: `${server.url}/nested`, items: 'payload.rows', schema, limits: FAST_LIMITS }),
      httpSource({ source: 'it', dataset: 'fn', url: `${server.url}/wrapped`, items: (body: { results: unknown[] }) => body.results, schema, limits: FAST_LIMITS }),
      httpSource({ source: 'it', dataset: 'bad', url: `${server.url}/object`, items: 'results', schema, limits: FAST_LIMITS }),
    ]);
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows])).toEqual([
      ['path', 'success', 2],
      ['fn', 'success', 2],
      ['bad', 'failed', 0],
    ]);
    expect(result.sources[2]!.error).toBe(`httpSource("it"/"bad"): ${server.url}/object: items path "results" gave object, not an array of records`);
  });

  it('POSTs a JSON body and sends the query and headers', async () => {
    const server = await serve({ '/search': faults.json({ hits: makeRecords(2) }) });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'post',
        dataset: 'search',
        url: `${server.url}/search`,
        method: 'POST',
        body: { filter: { brand: 'x' } },
        query: { lang: 'pt', active: true },
        headers: { 'X-Tenant': 'bistek' },
        items: 'hits',
        schema,
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]!.rows).toBe(2);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', body: '{"filter":{"brand":"x"}}' });
    expect(request!.query.toString()).toBe('lang=pt&active=true');
    expect(request!.headers['x-tenant']).toBe('bistek');
  });

  it('checks its options at the door, naming the field', () => {
    const base = { source: 'x', dataset: 'y', url: 'http://127.0.0.1:1/items', schema };
    expect(() => httpSource({ ...base, paginte: 1 } as never)).toThrow(/httpSource\("x"\/"y"\): unknown option "paginte"/);
    expect(() => httpSource({ ...base, url: 'ftp://example.com' })).toThrow(/option "url"/);
    expect(() => httpSource({ ...base, auth: { type: 'bearer' } } as never)).toThrow(/option "auth.token"/);
    expect(() => httpSource({ ...base, incremental: { cursorField: 'id' } } as never)).toThrow(/option "incremental.param"/);
    expect(() => httpSource({ ...base, paginate: {} as never })).toThrow(/option "paginate" must be a paginator/);
    expect(() => httpSource({ ...base, source: 'Bad-Name' })).toThrow(/source name "Bad-Name" is invalid/);
  });
});

describe('raw archive', () => {
  it('writes redacted gzip NDJSON per run under raw/<source>/<dataset>/year/month/day, whole files only', async () => {
    const apiKey = 'ak-live-9f8e7d6c5b4a';
    const records = makeRecords(4);
    // The API echoes the request URL (with the key) in its body and sets a cookie, as some do.
    const echo: Handler = (req, res, hit) => {
      if (hit.count === 2) return faults.status(500)(req, res, hit);
      const offset = Number(hit.url.searchParams.get('offset'));
      const limit = Number(hit.url.searchParams.get('limit'));
      const body = { results: records.slice(offset, offset + limit), paging: { total: records.length }, self: req.url, note: `key=${apiKey}` };
      sendJson(res, 200, body, { 'set-cookie': `session=${apiKey}` });
    };
    const server = await serve({ '/items': echo });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'arc',
        dataset: 'items',
        url: `${server.url}/items`,
        paginate: offsetPaginator({ limit: 2, totalPath: 'paging.total' }),
        items: 'results',
        schema,
        auth: { type: 'apiKey', name: 'api_key', value: apiKey, in: 'query' },
        archiveRaw: true,
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]!.error).toBeUndefined();
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 4, retries: 1 });
    const files = listFiles(path.join(lake.paths.root, 'raw'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^arc/items/year=\\d{4}/month=\\d{2}/day=\\d{2}/${result.runId}-1\\.ndjson\\.gz$`));
    const lines = zlib
      .gunzipSync(fs.readFileSync(path.join(lake.paths.root, 'raw', files[0]!)))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { url: string; status: number; body: { results: { id: number }[] }; headers: Record<string, string> });
    expect(lines.map((l) => l.body.results.map((r) => r.id))).toEqual([[1, 2], [3, 4]]);
    expect(lines[0]!.status).toBe(200);
    expect(lines[0]!.url).toContain('api_key=[REDACTED]');
    expect(lines[0]!.headers['set-cookie']).toBe('[REDACTED]');
    // Nothing half-written anywhere, and the key is nowhere under the lake (logs of the retry included).
    expect(listFiles(lake.paths.tmp).filter((f) => f.includes('raw'))).toEqual([]);
    await lake.close();
    const { hits } = await findSecrets(lake.paths.root, [apiKey]);
    expect(hits).toEqual([]);
    expect(server.requests.every((r) => r.query.get('api_key') === apiKey)).toBe(true);
  });
});

describe('httpSource: integers past 2^53', () => {
  /** A JSON body sent as given (JSON.stringify cannot write an integer past 2^53). */
  const rawJson = (text: string): Handler => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  it('a z.bigint() id from an API keeps every digit, as it does from jsonSource, and so does the raw archive', async () => {
    const server = await serve({ '/big': rawJson('{"results":[{"id":1234567890123456789,"name":"a"},{"id":2,"name":"b"}]}') });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({ source: 'big', dataset: 'ids', url: `${server.url}/big`, items: 'results', schema: z.object({ id: z.bigint(), name: z.string() }), archiveRaw: true, limits: FAST_LIMITS }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    const rows = await lake.query(`SELECT CAST(id AS VARCHAR) AS id FROM read_parquet('${bronzeGlob(lake.paths.root, 'big', 'ids')}') ORDER BY name`);
    expect(rows).toEqual([{ id: '1234567890123456789' }, { id: '2' }]);
    // The archive holds the body as the API sent it: the big id as a number with every digit, the small one a plain number.
    const [file] = listFiles(path.join(lake.paths.root, 'raw'));
    const line = zlib.gunzipSync(fs.readFileSync(path.join(lake.paths.root, 'raw', file!))).toString('utf8');
    expect(line).toContain('"results":[{"id":1234567890123456789,"name":"a"},{"id":2,"name":"b"}]');
  });

  it('a z.number() id past 2^53 goes to quarantine with every digit (as from jsonSource), not to bronze rounded to another id', async () => {
    const server = await serve({ '/big': rawJson('{"results":[{"id":1234567890123456789,"name":"a"}]}') });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({ source: 'big', dataset: 'num', url: `${server.url}/big`, items: 'results', schema: z.object({ id: z.number(), name: z.string() }), limits: FAST_LIMITS }),
    );
    expect(result.sources[0]).toMatchObject({ rows: 0, rejected: 1 });
    expect(quarantined(lake.paths.root, 'big', 'num', result.runId).map((q) => q.record.id)).toEqual(['1234567890123456789']);
  });

  it('an incremental cursor on a 19-digit id is saved and sent back with every digit', async () => {
    const server = await serve({
      '/orders': (req, res, hit) => {
        const since = hit.url.searchParams.get('since_id');
        rawJson(since === null ? '{"results":[{"id":1234567890123456788},{"id":1234567890123456789}]}' : '{"results":[]}')(req, res, hit);
      },
    });
    const lake = await tempLake();
    const source = httpSource({
      source: 'big',
      dataset: 'orders',
      url: `${server.url}/orders`,
      items: 'results',
      schema: z.object({ id: z.bigint() }),
      incremental: { cursorField: 'id', param: 'since_id' },
      limits: FAST_LIMITS,
    });
    expect((await lake.extract(source)).sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(fs.readFileSync(path.join(lake.paths.state, 'cursors', 'big.orders.json'), 'utf8')).toContain('"cursor":1234567890123456789');
    expect((await lake.extract(source)).sources[0]).toMatchObject({ status: 'success', rows: 0 });
    expect(server.requests.at(-1)!.query.get('since_id')).toBe('1234567890123456789');
  });
});

describe('incremental httpSource', () => {
  it('sends the committed cursor (max of cursorField) and reads only what is new', async () => {
    const records = makeRecords(25);
    const server = await serve({ '/items': pages.pageNumber(records, 10) });
    const lake = await tempLake();
    const source = httpSource({
      source: 'inc',
      dataset: 'items',
      url: `${server.url}/items`,
      paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
      items: 'data',
      schema,
      incremental: { cursorField: 'id', param: 'since_id', initial: 5 },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    expect(first.sources[0]!.rows).toBe(20); // initial 5: ids 6..25
    expect(server.requests[0]!.query.get('since_id')).toBe('5');
    const cursorFile = path.join(lake.paths.state, 'cursors', 'inc.items.json');
    expect(JSON.parse(fs.readFileSync(cursorFile, 'utf8'))).toMatchObject({ cursor: 25, runId: first.runId });

    records.push(...makeRecords(5, 26));
    const second = await lake.extract(source);
    expect(second.sources[0]!.rows).toBe(5);
    expect(server.requests.at(-1)!.query.get('since_id')).toBe('25');
    const [counts] = await lake.query(`select count(*) n, count(distinct id) d, min(id) lo, max(id) hi from read_parquet('${bronzeGlob(lake.paths.root, 'inc', 'items')}')`);
    expect(counts).toEqual({ n: 25, d: 25, lo: 6, hi: 30 });
  });

  it('resumes after SIGKILL mid-run with no duplicate and no gap', async () => {
    const records = makeRecords(300);
    const data = pages.pageNumber(records, 10);
    let stalled = false;
    const server = await serve({
      '/orders': (req, res, hit) => {
        // The 8th request of the first run hangs: the child is then killed while waiting for it,
        // with pages 1–6 committed (flushes every 3 pages) and page 7 buffered, not committed.
        if (hit.count === 8) {
          stalled = true;
          return new Promise<void>(() => undefined);
        }
        return data(req, res, hit);
      },
    });
    const lake = await tempLake();
    const config: ChildConfig = { root: lake.paths.root, dataset: 'orders', url: `${server.url}/orders`, incremental: true, flushRows: 25 };
    const { child, finished } = spawnChild(config);
    const cursorFile = path.join(lake.paths.state, 'cursors', 'child.orders.json');
    const deadline = Date.now() + 30_000;
    const cursorNow = (): unknown => {
      try {
        return (JSON.parse(fs.readFileSync(cursorFile, 'utf8')) as { cursor: unknown }).cursor;
      } catch {
        return undefined;
      }
    };
    while (!(stalled && cursorNow() === 60) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(cursorNow()).toBe(60);
    const committed = await lake.query(`select count(*) n from read_parquet('${bronzeGlob(lake.paths.root, 'child', 'orders')}')`);
    expect(committed[0]!.n).toBe(60);
    child.kill('SIGKILL');
    expect((await finished).signal).toBe('SIGKILL');
    // The metrics db the child was writing (each record ends in a checkpoint) reads whole, as any client opens it.
    await lake.close();
    expect(Object.keys(await readEveryTableWhole(path.join(lake.paths.root, 'metrics', 'runs.duckdb')))).toContain('main.runs');

    // Re-run in this process, reopening the lake: the dead child's run is marked abandoned and its cursor lock taken over.
    const reopened = await tempLake({ root: lake.paths.root });
    const rerun = await reopened.extract(childSource(config));
    expect(rerun.sources[0]).toMatchObject({ status: 'success', rows: 240 });
    expect(server.requests.at(-1)!.query.get('since_id')).toBe('60');
    const [counts] = await reopened.query(`select count(*) n, count(distinct id) d, min(id) lo, max(id) hi from read_parquet('${bronzeGlob(lake.paths.root, 'child', 'orders')}')`);
    expect(counts).toEqual({ n: 300, d: 300, lo: 1, hi: 300 });
    expect((await reopened.runs({ limit: 5 })).map((r) => r.status)).toEqual(['success', 'abandoned']);
  });

  it('a quarantined record with a malformed cursorField value does not become the saved cursor', async () => {
    // A strict API: updated_since must be a date-time.
    const server = await serve({
      '/orders': (_req, res, { url }) => {
        const since = url.searchParams.get('updated_since');
        if (since !== null && Number.isNaN(Date.parse(since))) return sendJson(res, 400, { error: 'updated_since must be a date-time' });
        sendJson(res, 200, {
          results: [
            { id: 1, updated_at: '2026-01-01T10:00:00Z' },
            { id: 2, updated_at: 'pending' }, // fails the schema: to quarantine
          ],
        });
      },
    });
    const lake = await tempLake();
    const source = httpSource({
      source: 'inc',
      dataset: 'orders',
      url: `${server.url}/orders`,
      items: 'results',
      schema: z.object({ id: z.number().int(), updated_at: z.iso.datetime({ offset: true }) }),
      incremental: { cursorField: 'updated_at', param: 'updated_since' },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 1 });
    const cursorFile = path.join(lake.paths.state, 'cursors', 'inc.orders.json');
    expect(JSON.parse(fs.readFileSync(cursorFile, 'utf8'))).toMatchObject({ cursor: '2026-01-01T10:00:00Z' });
    const second = await lake.extract(source);
    expect(server.requests.at(-1)!.query.get('updated_since')).toBe('2026-01-01T10:00:00Z');
    expect(second.sources[0]!.status).toBe('success');
  });
});

describe('lower-level HTTP context for connectors', () => {
  it('lets a defineSource make its own requests with the same client, limits and auth', async () => {
    const token = 'bearer-token-abcdef123';
    const server = await serve({
      '/orders': (req, res) => {
        if (req.headers.authorization !== `Bearer ${token}`) return sendJson(res, 401, { error: 'unauthorized' });
        sendJson(res, 200, { ids: [1, 2, 3] });
      },
      '/order': faults.sequence(faults.status(502), (req, res, hit) => sendJson(res, 200, { id: Number(hit.url.searchParams.get('id')), name: 'o', price: 1 })),
    });
    const lake = await tempLake();
    const source = defineSource({
      source: 'conn',
      dataset: 'orders',
      schema,
      limits: FAST_LIMITS,
      async *extract(ctx) {
        const http = createHttpContext(ctx, { auth: { type: 'bearer', token } });
        try {
          const { ids } = await http.getJson<{ ids: number[] }>(`${server.url}/orders`);
          yield await Promise.all(ids.map((id) => http.getJson<Record<string, unknown>>(`${server.url}/order`, { query: { id } })));
        } finally {
          await http.close();
        }
      },
    });
    const result = await lake.extract(source);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, requests: 5, retries: 1 });
  });

  it('sends the credentials (bearer, API key in a header or the query, OAuth2 token) to the origin of its first request only: another origin is fetched without them', async () => {
    const seed = 'rt-seed-context-origin-000000031';
    const oauth = oauthProvider({ refreshToken: seed, clientId: 'ctx-app', clientSecret: 'cs-ctx-app-secret', accessTtlMillis: 60_000 });
    const cdn = await serve({ '/asset': (_req, res) => sendJson(res, 200, { ok: true }) });
    const api = await serve({ '/oauth/token': oauth.token, '/items': (_req, res) => sendJson(res, 200, { ok: true }), '/guarded': oauth.guard((_req, res) => sendJson(res, 200, { ok: true })) });
    const auths: { auth: AuthOptions; path: string; sent: (r: RecordedRequest) => unknown }[] = [
      { auth: { type: 'bearer', token: 'ctx-bearer-7a61c0' }, path: '/items', sent: (r) => r.headers.authorization },
      { auth: { type: 'apiKey', name: 'x-api-key', value: 'ctx-header-key-5f2e' }, path: '/items', sent: (r) => r.headers['x-api-key'] },
      { auth: { type: 'apiKey', name: 'api_key', value: 'ctx-query-key-9d3b', in: 'query' }, path: '/items', sent: (r) => r.query.get('api_key') ?? undefined },
      {
        auth: { type: 'oauth2', tokenUrl: `${api.url}/oauth/token`, clientId: 'ctx-app', clientSecret: 'cs-ctx-app-secret', refreshToken: seed, store: 'ctx-origin' },
        path: '/guarded',
        sent: (r) => r.headers.authorization,
      },
    ];
    const lake = await tempLake();
    for (const [i, { auth, path: apiPath, sent }] of auths.entries()) {
      const source = defineSource({
        source: 'conn',
        dataset: `origins_${i}`,
        schema: z.object({ ok: z.boolean() }),
        limits: FAST_LIMITS,
        async *extract(ctx) {
          const http = createHttpContext(ctx, { auth });
          try {
            yield [await http.getJson<{ ok: boolean }>(`${api.url}${apiPath}`), await http.getJson<{ ok: boolean }>(`${cdn.url}/asset`)];
          } finally {
            await http.close();
          }
        },
      });
      expect((await lake.extract(source)).sources[0]).toMatchObject({ status: 'success', rows: 2 });
      expect(sent(api.requests.filter((r) => r.path === apiPath).at(-1)!), auth.type).toBeDefined();
    }
    expect(cdn.requests).toHaveLength(auths.length);
    for (const request of cdn.requests) {
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers['x-api-key']).toBeUndefined();
      expect([...request.query.keys()]).toEqual([]);
    }
  });

  it('sends the credentials to every origin its authOrigins lists, whichever it asks first', async () => {
    const cdn = await serve({ '/asset': (_req, res) => sendJson(res, 200, { ok: true }) });
    const api = await serve({ '/items': (_req, res) => sendJson(res, 200, { ok: true }) });
    const lake = await tempLake();
    const source = defineSource({
      source: 'conn',
      dataset: 'listed',
      schema: z.object({ ok: z.boolean() }),
      limits: FAST_LIMITS,
      async *extract(ctx) {
        const http = createHttpContext(ctx, { auth: { type: 'bearer', token: 'ctx-listed-3e9a' }, authOrigins: [api.url] });
        try {
          yield [await http.getJson<{ ok: boolean }>(`${cdn.url}/asset`), await http.getJson<{ ok: boolean }>(`${api.url}/items`)];
        } finally {
          await http.close();
        }
      },
    });
    expect((await lake.extract(source)).sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
    expect(api.requests[0]!.headers.authorization).toBe('Bearer ctx-listed-3e9a');
  });

  it('refuses an authOrigins that is not a list of origins, naming it: a string was matched as text, an origin with a path never', async () => {
    const api = await serve({ '/items': (_req, res) => sendJson(res, 200, { ok: true }) });
    const lake = await tempLake();
    const source = (dataset: string, authOrigins: unknown) =>
      defineSource({
        source: 'conn',
        dataset,
        schema: z.object({ ok: z.boolean() }),
        limits: FAST_LIMITS,
        async *extract(ctx) {
          // A JavaScript caller, or one that types its options loosely: createHttpContext checks them.
          const http = createHttpContext(ctx, { auth: { type: 'bearer', token: 'ctx-origins-7c1d' }, authOrigins: authOrigins as string[] });
          try {
            yield [await http.getJson<{ ok: boolean }>(`${api.url}/items`)];
          } finally {
            await http.close();
          }
        },
      });
    // One origin as a string: `includes` on it is a substring test, true for every origin it
    // begins with ('https://api.example.co' for 'https://api.example.com').
    // An origin written with its slash: no request's origin is that, so none carried the token.
    const result = await lake.extract([source('text', api.url), source('slash', [`${api.url}/`])]);
    const bySet = Object.fromEntries(result.sources.map((s) => [s.dataset, s]));
    expect(bySet.text).toMatchObject({ status: 'failed', errorCode: 'CONFIG_INVALID' });
    expect(bySet.text!.error).toContain('createHttpContext(conn/text): option "authOrigins" must be \'any\' or a list of origins');
    expect(bySet.slash).toMatchObject({ status: 'failed', errorCode: 'CONFIG_INVALID' });
    expect(bySet.slash!.error).toContain(`"${api.url}/" is not an origin (${api.url})`);
    expect(api.requests).toHaveLength(0);
  });

  it('reports per-host stats once at the end, also when the source fails', async () => {
    const server = await serve({ '/ok': faults.json([{ id: 1, name: 'a', price: 1 }]), '/down': faults.status(500) });
    const reports: HttpHostStats[][] = [];
    const ctx = fakeContext(reports);
    const drain = async (url: string): Promise<unknown> => {
      try {
        for await (const _ of httpSource({ source: 's', dataset: 'd', url, schema }).extract(ctx())) void _;
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(await drain(`${server.url}/ok`)).toBeUndefined();
    expect(await drain(`${server.url}/down`)).toBeInstanceOf(Error);
    expect(reports).toEqual([
      [expect.objectContaining({ host: server.host, requests: 1, retries: 0, statuses: { 200: 1 } })],
      [expect.objectContaining({ host: server.host, requests: 2, retries: 1, statuses: { 500: 2 } })],
    ]);
  });

  it('overrides only the limits it is given: the rest stay the source\'s', async () => {
    const server = await serve({ '/stall': faults.stall() });
    const http = createHttpContext(fakeContext([])({ requestTimeoutMillis: 150, retries: 3 }), { limits: { retries: 0 } });
    const error = await http.getJson(`${server.url}/stall`).catch((e: unknown) => e);
    await http.close();
    expect((error as Error).message).toMatch(/no response within 150 ms \(after 1 attempt\)/);
  });
});

/** An ExtractContext without a lake, to watch what a source reports. */
function fakeContext(reports: HttpHostStats[][]): (limits?: Partial<Limits>) => ExtractContext {
  return (limits = {}) => ({
    runId: 'r',
    source: 's',
    dataset: 'd',
    timezone: 'America/Sao_Paulo',
    logger: { error() {}, warn() {}, info() {}, debug() {}, child() { return this; } },
    signal: new AbortController().signal,
    limits: limitsSchema.parse({ ...FAST_LIMITS, retries: 1, ...limits }),
    root: '/nonexistent',
    cursor: async () => undefined,
    checkpoint() {},
    checkpointAccepted() {},
    reject() {},
    connect: () => Promise.reject(new Error('not needed')),
    bronzeFiles: async () => [],
    stats: { requests: 0, retries: 0, pages: 0 },
    reportHttpStats: (stats) => void reports.push(stats),
    warn() {},
  });
}
