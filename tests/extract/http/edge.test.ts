/**
 * Credentials on the way out (URL-encoded API keys, redirects to another origin) and incremental
 * cursors over date-times with different offsets.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import { compareCursor } from '../../../src/extract/http/json-path.js';
import { decodeText } from '../../../src/extract/http/client.js';
import { htmlSource } from '../../../src/extract/html-source.js';
import { cursorPaginator, linkHeaderPaginator, offsetPaginator, pageNumberPaginator } from '../../../src/extract/http/paginators.js';
import { FAST_LIMITS, faults, makeRecords, oauthProvider, pages, sendJson, startFaultyServer, type FaultyServer, type Handler } from '../../helpers/faulty-server.js';
import { findSecrets } from '../../helpers/secret-scan.js';
import { registerCleanup, tempLake } from '../../helpers/temp-lake.js';

async function serve(routes: Record<string, Handler>): Promise<FaultyServer> {
  const server = await startFaultyServer(routes);
  registerCleanup(() => server.close());
  return server;
}

describe('credentials on the way out', () => {
  it('an API key sent in the query stays out of errors, logs and metrics in its URL-encoded form too', async () => {
    const key = 'AIza+Q1w2/E3r4T5y6==';
    const server = await serve({ '/items': faults.status(500) });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'k',
        dataset: 'items',
        url: `${server.url}/items`,
        schema: z.object({ id: z.number() }),
        auth: { type: 'apiKey', name: 'key', value: key, in: 'query' },
        limits: { ...FAST_LIMITS, retries: 1 },
      }),
    );
    expect(server.requests[0]!.query.get('key')).toBe(key); // it was sent
    const encoded = encodeURIComponent(key);
    expect(result.sources[0]!.error).toMatch(/HTTP 500/);
    expect(result.sources[0]!.error).not.toContain(encoded);
    expect(result.sources[0]!.error).toContain('key=[REDACTED]');
    await lake.close();
    const { hits, files } = await findSecrets(lake.paths.root, [key, encoded]);
    expect(files.length).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });

  it('an API key in the query shorter than six characters is scrubbed by its parameter name', async () => {
    const server = await serve({ '/short': faults.status(500) });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'k',
        dataset: 'short',
        url: `${server.url}/short?page=1`,
        schema: z.object({ id: z.number() }),
        auth: { type: 'apiKey', name: 'k', value: 'ab1', in: 'query' },
        limits: { ...FAST_LIMITS, retries: 1 },
      }),
    );
    expect(server.requests[0]!.query.get('k')).toBe('ab1');
    expect(result.sources[0]!.error).toMatch(/k=\[REDACTED\]/);
    expect(result.sources[0]!.error).toContain('page=1');
    expect(result.sources[0]!.error).not.toMatch(/k=ab1/);
  });

  it('an API key echoed inside valid records (a callback URL, URL-encoded or not) reaches neither bronze nor column_profiles; secret-named fields keep their data', async () => {
    const apiKey = 'ak-hunt+echoed/in=valid-77aa';
    const encoded = encodeURIComponent(apiKey);
    const server = await serve({
      '/hooks': (req, res) => {
        const key = String(req.headers['x-api-key']);
        // Webhook/callback APIs list each hook with the URL they call, key included.
        sendJson(res, 200, [
          { id: 1, name: 'order created', callback_url: `https://shop.example/cb?key=${encodeURIComponent(key)}`, session_token: 'st-public-1', meta: { echo: [key] } },
          { id: 2, name: 'order paid', callback_url: 'https://shop.example/cb2', session_token: 'st-public-2', meta: { echo: [] } },
        ]);
      },
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'shop',
        dataset: 'hooks',
        url: `${server.url}/hooks`,
        schema: z.object({ id: z.number().int(), name: z.string(), callback_url: z.string(), session_token: z.string(), meta: z.object({ echo: z.array(z.string()) }) }),
        auth: { type: 'apiKey', name: 'X-Api-Key', value: apiKey, in: 'header' },
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    const rows = await lake.query(`select id, callback_url, session_token, meta.echo as echo from read_parquet('${lake.paths.bronze}/shop/hooks/**/*.parquet') order by id`);
    expect(rows).toEqual([
      { id: 1, callback_url: 'https://shop.example/cb?key=[REDACTED]', session_token: 'st-public-1', echo: ['[REDACTED]'] },
      { id: 2, callback_url: 'https://shop.example/cb2', session_token: 'st-public-2', echo: [] },
    ]);
    await lake.close();
    const { hits, files } = await findSecrets(lake.paths.root, [apiKey, encoded]);
    expect(files).toContain(path.join('metrics', 'runs.duckdb'));
    expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
    expect(hits).toEqual([]);
  });

  it('a next-page URL on another origin (Link header) is fetched without the credentials', async () => {
    const cdn = await serve({ '/page2': (_req, res) => sendJson(res, 200, [{ id: 2 }]) });
    const api = await serve({
      '/items': (_req, res) => sendJson(res, 200, [{ id: 1 }], { link: `<${cdn.url}/page2>; rel="next"` }),
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'r',
        dataset: 'cdn',
        url: `${api.url}/items`,
        paginate: linkHeaderPaginator(),
        schema: z.object({ id: z.number() }),
        auth: { type: 'bearer', token: 'bearer-secret-654321' },
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(api.requests[0]!.headers.authorization).toBe('Bearer bearer-secret-654321');
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('a 401 from another origin, sent no credentials, is no refused credential: no token reload, the request not sent again', async () => {
    const seed = 'rt-seed-cdn-401-000000000014';
    const oauth = oauthProvider({ refreshToken: seed, clientId: 'cdn-app', clientSecret: 'cs-cdn-app-secret', accessTtlMillis: 60_000 });
    const cdn = await serve({ '/page2': (_req, res) => sendJson(res, 401, { error: 'signature required' }) });
    const api = await serve({
      '/oauth/token': oauth.token,
      '/items': oauth.guard((_req, res) => sendJson(res, 200, [{ id: 1 }], { link: `<${cdn.url}/page2>; rel="next"` })),
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'r',
        dataset: 'cdn401',
        url: `${api.url}/items`,
        paginate: linkHeaderPaginator(),
        schema: z.object({ id: z.number() }),
        auth: { type: 'oauth2', tokenUrl: `${api.url}/oauth/token`, clientId: 'cdn-app', clientSecret: 'cs-cdn-app-secret', refreshToken: seed, store: 'cdn' },
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'partial', rows: 1 });
    expect(result.sources[0]!.error).toMatch(/page2: HTTP 401 .*\(after 1 attempt\)/);
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
    expect(oauth.presented).toEqual([seed]);
  });

  it('a 401 from another origin a redirect led to, sent no credentials, is no refused credential either: no token refresh, not sent again', async () => {
    const seed = 'rt-seed-redirect-401-0000000021';
    const oauth = oauthProvider({ refreshToken: seed, clientId: 'redir-app', clientSecret: 'cs-redir-app-secret', accessTtlMillis: 60_000 });
    // An expired signed CDN URL: the CDN refuses it, whatever token the API would hand out.
    const cdn = await serve({ '/export.json': (_req, res) => sendJson(res, 401, { error: 'signature expired' }) });
    const api = await serve({
      '/oauth/token': oauth.token,
      '/export': oauth.guard((_req, res) => {
        res.writeHead(302, { location: `${cdn.url}/export.json` });
        res.end();
      }),
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'r',
        dataset: 'redirect401',
        url: `${api.url}/export`,
        schema: z.object({ id: z.number() }),
        auth: { type: 'oauth2', tokenUrl: `${api.url}/oauth/token`, clientId: 'redir-app', clientSecret: 'cs-redir-app-secret', refreshToken: seed, store: 'redir' },
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'failed' });
    expect(result.sources[0]!.error).toMatch(/HTTP 401 .*\(after 1 attempt\)/);
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
    // The seed only: a second refresh would spend a single-use refresh token for nothing.
    expect(oauth.presented).toEqual([seed]);
  });

  it('an API key header is not sent on to another origin after a redirect (as Authorization is not); the same origin keeps it', async () => {
    const other = await serve({ '/items': (_req, res) => sendJson(res, 200, [{ id: 1 }]) });
    const server = await serve({
      '/items': (_req, res) => {
        res.writeHead(302, { location: `${other.url}/items` });
        res.end();
      },
      '/here': (_req, res) => {
        res.writeHead(302, { location: '/final' });
        res.end();
      },
      '/final': (_req, res) => sendJson(res, 200, [{ id: 2 }]),
    });
    const lake = await tempLake();
    const schema = z.object({ id: z.number() });
    const result = await lake.extract([
      httpSource({ source: 'r', dataset: 'bearer', url: `${server.url}/items`, schema, auth: { type: 'bearer', token: 'bearer-secret-123456' }, limits: FAST_LIMITS }),
      httpSource({ source: 'r', dataset: 'key', url: `${server.url}/items`, schema, auth: { type: 'apiKey', name: 'X-Api-Key', value: 'apikey-secret-123456' }, limits: FAST_LIMITS }),
      httpSource({ source: 'r', dataset: 'same', url: `${server.url}/here`, schema, auth: { type: 'apiKey', name: 'X-Api-Key', value: 'apikey-secret-123456' }, limits: FAST_LIMITS }),
    ]);
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows])).toEqual([
      ['bearer', 'success', 1],
      ['key', 'success', 1],
      ['same', 'success', 1],
    ]);
    // Another origin (another port): neither credential goes along.
    expect(other.requests).toHaveLength(2);
    expect(other.requests.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
    expect(other.requests.map((r) => r.headers['x-api-key'])).toEqual([undefined, undefined]);
    // The first hop had it, and a redirect within the origin keeps it.
    expect(server.requests.filter((r) => r.path === '/items').map((r) => r.headers['x-api-key'] ?? r.headers.authorization)).toEqual(
      expect.arrayContaining(['Bearer bearer-secret-123456', 'apikey-secret-123456']),
    );
    expect(server.requests.find((r) => r.path === '/final')!.headers['x-api-key']).toBe('apikey-secret-123456');
  });
});

describe('an API key in the query on a redirect', () => {
  it('is not carried to another origin by a redirect that keeps the query (nginx $request_uri); the same origin keeps it', async () => {
    const other = await serve({ '/v2/items': (_req, res) => sendJson(res, 200, [{ id: 1 }]) });
    const server = await serve({
      // Moved to another host, the query passed along as the request had it: the key included.
      '/items': (req, res) => {
        res.writeHead(301, { location: `${other.url}/v2${req.url}` });
        res.end();
      },
      '/here': (req, res) => {
        res.writeHead(307, { location: `/final${req.url!.slice('/here'.length)}` });
        res.end();
      },
      '/final': (_req, res) => sendJson(res, 200, [{ id: 2 }]),
    });
    const lake = await tempLake();
    const schema = z.object({ id: z.number() });
    const auth = { type: 'apiKey', name: 'api_key', value: 'qkey-secret-246810', in: 'query' } as const;
    const result = await lake.extract([
      httpSource({ source: 'r', dataset: 'moved', url: `${server.url}/items`, query: { region: 'sul' }, schema, auth, limits: FAST_LIMITS }),
      httpSource({ source: 'r', dataset: 'same', url: `${server.url}/here`, query: { region: 'sul' }, schema, auth, limits: FAST_LIMITS }),
    ]);
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows])).toEqual([
      ['moved', 'success', 1],
      ['same', 'success', 1],
    ]);
    expect(server.requests.find((r) => r.path === '/items')!.query.get('api_key')).toBe('qkey-secret-246810');
    // The other origin gets the rest of the query, not the key.
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]!.query.get('region')).toBe('sul');
    expect(other.requests[0]!.query.has('api_key')).toBe(false);
    // Within the origin the key goes on.
    expect(server.requests.find((r) => r.path === '/final')!.query.get('api_key')).toBe('qkey-secret-246810');
  });
});

describe('a credential the server put in a next-page URL, on a redirect', () => {
  it('is not carried to another origin by a redirect that keeps the query: by its name (access_token) or its value (a registered secret); what the redirect itself adds goes', async () => {
    const serverToken = 'ml-next-page-token-8642097531';
    const bearer = 'bearer-next-page-secret-97531';
    const other = await serve({ '/v2/items': (_req, res) => sendJson(res, 200, [{ id: 2 }]) });
    const api = await serve({
      '/items': (req, res) => {
        const url = new URL(req.url!, api.url);
        if (url.searchParams.get('page') !== '2') {
          // Mercado Livre / Facebook style paging: the next link carries a token, and here the caller's own one too.
          const next = `${api.url}/items?page=2&access_token=${serverToken}&sid=${bearer}`;
          return sendJson(res, 200, [{ id: 1 }], { link: `<${next}>; rel="next"` });
        }
        // Moved to another host, the query passed along as it came (nginx $request_uri), plus a signature of the move's own.
        res.writeHead(301, { location: `${other.url}/v2${req.url}&X-Amz-Signature=move-sig-0123456789` });
        res.end();
      },
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'r',
        dataset: 'next_token',
        url: `${api.url}/items`,
        paginate: linkHeaderPaginator(),
        schema: z.object({ id: z.number() }),
        auth: { type: 'bearer', token: bearer },
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    // The API's own origin got its token back.
    expect(api.requests.map((r) => r.query.get('access_token'))).toEqual([null, serverToken]);
    expect(other.requests).toHaveLength(1);
    const query = other.requests[0]!.query;
    expect(query.get('page')).toBe('2');
    expect(query.has('access_token')).toBe(false);
    expect(query.has('sid')).toBe(false);
    expect(query.get('X-Amz-Signature')).toBe('move-sig-0123456789');
    expect(other.requests[0]!.headers.authorization).toBeUndefined();
    await lake.close();
    const { hits, files } = await findSecrets(lake.paths.root, [serverToken, bearer]);
    expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
    expect(hits).toEqual([]);
  });
  it("keeps a page token (Google's pageToken) on a cross-origin hop: named like a token, it is the page asked for, not a credential", async () => {
    const other = await serve({
      // The moved API: without the token it would serve the first page again.
      '/v2/items': (req, res) => {
        const token = new URL(req.url!, other.url).searchParams.get('pageToken');
        if (token === 'CAIQAA') return sendJson(res, 200, { items: [{ id: 2 }] });
        sendJson(res, 400, { error: `pageToken ${JSON.stringify(token)} is not a page` });
      },
    });
    const api = await serve({
      '/items': (req, res) => {
        if (new URL(req.url!, api.url).searchParams.has('pageToken')) {
          res.writeHead(301, { location: `${other.url}/v2${req.url}` });
          res.end();
          return;
        }
        sendJson(res, 200, { items: [{ id: 1 }], nextPageToken: 'CAIQAA' });
      },
    });
    const lake = await tempLake();
    const result = await lake.extract(
      httpSource({
        source: 'r',
        dataset: 'page_token',
        url: `${api.url}/items`,
        items: 'items',
        paginate: cursorPaginator({ cursorPath: 'nextPageToken', cursorParam: 'pageToken' }),
        schema: z.object({ id: z.number() }),
        auth: { type: 'bearer', token: 'bearer-page-token-secret-1357' },
        limits: { ...FAST_LIMITS, retries: 0 },
      }),
    );
    expect(other.requests.map((r) => r.query.get('pageToken'))).toEqual(['CAIQAA']);
    expect(other.requests[0]!.headers.authorization).toBeUndefined();
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    await lake.close();
  });
});

describe('incremental cursors over date-times', () => {
  it('orders date-times with offsets by the instant they name', () => {
    expect(compareCursor('2026-01-01T10:00:00-03:00', '2026-01-01T12:00:00Z')).toBeGreaterThan(0);
    expect(compareCursor('2026-01-01T12:00:00Z', '2026-01-01T10:00:00-03:00')).toBeLessThan(0);
    expect(compareCursor('2026-01-01T09:59:59.500-03:00', '2026-01-01T12:59:59Z')).toBeGreaterThan(0);
    expect(compareCursor(10, 9)).toBeGreaterThan(0);
    expect(compareCursor('b', 'a')).toBeGreaterThan(0);
  });

  it('orders integers past 2^53 (bigints) against numbers by value, not as text', () => {
    expect(compareCursor(10n, 9)).toBeGreaterThan(0);
    expect(compareCursor(9, 10n)).toBeLessThan(0);
    expect(compareCursor(1234567890123456789n, 999)).toBeGreaterThan(0);
    expect(compareCursor(5n, 5)).toBe(0);
  });

  it('the cursor is the latest instant when records carry different offsets: an unchanged API adds no row', async () => {
    const records = [
      { id: 1, updated_at: '2026-01-01T10:00:00-03:00' }, // 13:00Z, the latest
      { id: 2, updated_at: '2026-01-01T12:00:00Z' },
    ];
    const server = await serve({
      '/items': (_req, res, hit) => {
        const since = hit.url.searchParams.get('updated_since');
        sendJson(res, 200, records.filter((r) => since === null || Date.parse(r.updated_at) > Date.parse(since)));
      },
    });
    const lake = await tempLake();
    const source = httpSource({
      source: 'inc',
      dataset: 'items',
      url: `${server.url}/items`,
      schema: z.object({ id: z.number().int(), updated_at: z.iso.datetime({ offset: true }) }),
      incremental: { cursorField: 'updated_at', param: 'updated_since' },
      limits: FAST_LIMITS,
    });
    const first = await lake.extract(source);
    const second = await lake.extract(source);
    expect(first.sources[0]!.rows).toBe(2);
    expect(second.sources[0]!.rows).toBe(0);
    expect(server.requests.at(-1)!.query.get('updated_since')).toBe('2026-01-01T10:00:00-03:00');
    expect((await lake.bronze('inc/items')).map((r) => r.id).sort()).toEqual([1, 2]);
  });
});

describe('incremental cursors over records not sorted by the cursor field', () => {
  it('a run that fails after reading records out of cursor order saves no cursor: the next run reads what it missed', async () => {
    // Paged by id (offset); updated_at is not in id order; filtered by updated_since.
    const all = [
      { id: 1, updated_at: '2024-05-01T00:00:00Z' },
      { id: 2, updated_at: '2024-01-01T00:00:00Z' },
      { id: 3, updated_at: '2024-02-01T00:00:00Z' },
      { id: 4, updated_at: '2024-03-01T00:00:00Z' },
    ];
    let down = true;
    const server = await serve({
      '/items': (_req, res, { url }) => {
        const offset = Number(url.searchParams.get('offset'));
        const since = url.searchParams.get('updated_since');
        const rows = since ? all.filter((r) => Date.parse(r.updated_at) > Date.parse(since)) : all;
        if (down && offset > 0) return sendJson(res, 503, { error: 'down' }); // page 2 fails in run 1
        sendJson(res, 200, { results: rows.slice(offset, offset + 2), paging: { total: rows.length } });
      },
    });
    const lake = await tempLake();
    const source = () =>
      httpSource({
        source: 'inc',
        dataset: 'unsorted',
        url: `${server.url}/items`,
        paginate: offsetPaginator({ limit: 2, totalPath: 'paging.total' }),
        items: 'results',
        schema: z.object({ id: z.number().int(), updated_at: z.iso.datetime({ offset: true }) }),
        incremental: { cursorField: 'updated_at', param: 'updated_since' },
        limits: { ...FAST_LIMITS, retries: 1 },
      });
    const first = await lake.extract([source()]);
    expect(first.sources[0]).toMatchObject({ status: 'partial', rows: 2 });
    expect(first.sources[0]!.warnings?.join(' ')).toMatch(/records do not come in "updated_at" order/);
    down = false;
    const second = await lake.extract([source()]);
    expect(second.sources[0]!.status).toBe('success');
    // The second run started from no cursor (none was saved): ids 3 and 4 arrive; 1 and 2 again.
    expect(server.requests.filter((r) => r.path === '/items').at(-1)!.query.get('updated_since')).toBeNull();
    const ids = (await lake.bronze('inc/unsorted')).map((r) => Number(r.id));
    expect([...new Set(ids)].sort()).toEqual([1, 2, 3, 4]);
    // That run finished: its cursor is the latest value of all, and a third run reads nothing new.
    const third = await lake.extract([source()]);
    expect(third.sources[0]!.rows).toBe(0);
    expect(server.requests.at(-1)!.query.get('updated_since')).toBe('2024-05-01T00:00:00Z');
  });
});

describe('OAuth2: a refused client is not a refused refresh token', () => {
  it('a wrong clientSecret (invalid_client) leaves the refresh token usable: the corrected run works', async () => {
    const clientId = 'app-4242';
    const clientSecret = 'cs-very-secret-client-value';
    const seed = 'rt-seed-000000000777';
    const oauth = oauthProvider({ refreshToken: seed, clientId, clientSecret });
    const server = await serve({ '/oauth/token': oauth.token, '/data': oauth.guard(pages.pageNumber(makeRecords(3), 10)) });
    const lake = await tempLake();
    const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });
    const source = (secret: string) =>
      httpSource({
        source: 'oa',
        dataset: 'data',
        url: `${server.url}/data`,
        items: 'data',
        paginate: pageNumberPaginator(),
        schema,
        limits: FAST_LIMITS,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret: secret, refreshToken: seed, store: 'typo' },
      });
    const typo = await lake.extract([source('cs-very-secret-client-valeu')]);
    expect(typo.sources[0]!.status).toBe('failed');
    expect(typo.sources[0]!.error).toMatch(/refused the client \(HTTP 401 invalid_client\): check "clientId" and "clientSecret"/);
    expect(typo.sources[0]!.error).not.toContain('cs-very-secret-client-valeu');
    expect(oauth.current).toBe(seed); // the provider never consumed it
    const fixed = await lake.extract([source(clientSecret)]);
    expect(fixed.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    expect(oauth.reused).toEqual([]);
  });
});

describe('text in the charset the page declares', () => {
  it('decodeText follows Content-Type, then <meta charset>, then UTF-8', () => {
    const latin1 = Buffer.from('<html><head><meta charset="iso-8859-1"></head><body>Açúcar União</body></html>', 'latin1');
    expect(decodeText(latin1, 'text/html; charset=ISO-8859-1')).toContain('Açúcar União');
    expect(decodeText(latin1, 'text/html')).toContain('Açúcar União');
    const equiv = Buffer.from('<meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><p>Feijão</p>', 'latin1');
    expect(decodeText(equiv, undefined)).toContain('Feijão');
    expect(decodeText(Buffer.from('<p>Feijão</p>', 'utf8'), 'text/html; charset=utf-8')).toBe('<p>Feijão</p>');
    expect(decodeText(Buffer.from('<p>Feijão</p>', 'utf8'), 'text/html; charset=no-such-charset')).toBe('<p>Feijão</p>');
  });

  it('a charset <meta> after the first 1,024 bytes is found in the <head> (not past it, nor past 64 KB)', () => {
    // Old store sites: title, SEO metas and styles first, the charset meta after the first KB.
    const head = `<title>Mercado</title>${Array.from({ length: 30 }, (_, i) => `<meta name="keywords-${i}" content="arroz, feijao, acucar, cafe, leite">`).join('')}<style>${'.x{color:red}'.repeat(40)}</style>`;
    const page = `<!doctype html><html><head>${head}<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head><body>Pão de Açúcar</body></html>`;
    expect(page.indexOf('charset=')).toBeGreaterThan(1024);
    expect(decodeText(Buffer.from(page, 'latin1'), 'text/html')).toContain('Pão de Açúcar');
    // A meta in the body, or one too far in, is not the page's declaration: UTF-8.
    const inBody = `<!doctype html><html><head>${head}</head><body><p>Pão</p><meta charset="iso-8859-1"></body></html>`;
    expect(decodeText(Buffer.from(inBody, 'utf8'), 'text/html')).toContain('<p>Pão</p>');
    const far = `<!doctype html><html><head><style>${' '.repeat(70 * 1024)}</style><meta charset="iso-8859-1"></head><body><p>Pão</p></body></html>`;
    expect(decodeText(Buffer.from(far, 'utf8'), 'text/html')).toContain('<p>Pão</p>');
  });

  it('htmlSource reads an ISO-8859-1 page declaring its charset in a <meta> after a long <head> (the server sends no charset)', async () => {
    const head = `<title>Mercado</title>${Array.from({ length: 30 }, (_, i) => `<meta name="keywords-${i}" content="arroz, feijao, acucar, cafe, leite">`).join('')}<style>${'.x{color:red}'.repeat(40)}</style>`;
    const html = `<!doctype html><html><head>${head}<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head><body><li class="p" data-sku="PAO-1"><span class="n">Pão de Açúcar</span></li></body></html>`;
    const server = await serve({
      '/': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(Buffer.from(html, 'latin1'));
      },
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({
        source: 'shop',
        dataset: 'latehead',
        startUrls: [`${server.url}/`],
        extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' }, name: '.n' } },
        schema: z.object({ sku: z.string(), name: z.string() }),
        limits: FAST_LIMITS,
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(await lake.bronze('shop/latehead')).toMatchObject([{ sku: 'PAO-1', name: 'Pão de Açúcar' }]);
  });

  it('htmlSource stores a page served as ISO-8859-1 with its accents', async () => {
    const html = '<!doctype html><html><head><meta charset="iso-8859-1"></head><body><h1 class="nome">Açúcar União 1kg</h1><span class="preco">R$ 4,99</span></body></html>';
    const server = await serve({
      '/p/acucar': (_req, res) => {
        const bytes = Buffer.from(html, 'latin1');
        res.writeHead(200, { 'content-type': 'text/html; charset=ISO-8859-1', 'content-length': bytes.length });
        res.end(bytes);
      },
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({
        source: 'shop',
        dataset: 'latin1',
        startUrls: [`${server.url}/p/acucar`],
        extract: { fields: { name: '.nome', price: { selector: '.preco', parse: 'brl' } } },
        schema: z.object({ name: z.string(), price: z.number() }),
        limits: FAST_LIMITS,
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect((await lake.bronze('shop/latin1')).map((r) => [r.name, r.price])).toEqual([['Açúcar União 1kg', 4.99]]);
  });
});
