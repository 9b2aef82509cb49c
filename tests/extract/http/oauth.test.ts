import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, z } from '../../../src/index.js';
import { httpSource } from '../../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../../src/extract/http/paginators.js';
import { FAST_LIMITS, faults, makeRecords, oauthProvider, pages, sendJson, startFaultyServer, type FaultyServer, type Handler, type OAuthProvider } from '../../helpers/faulty-server.js';
import { childSource, spawnChild } from '../../helpers/http-child.js';
import { findSecrets } from '../../helpers/secret-scan.js';
import { registerCleanup, tempDir, tempLake } from '../../helpers/temp-lake.js';

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });
const clientId = 'app-4242';
const clientSecret = 'cs-very-secret-client-value';

async function provider(options: { refreshToken: string; accessTtlMillis?: number; pageDelayMillis?: number; records?: number; onData?: Handler }): Promise<{ server: FaultyServer; oauth: OAuthProvider }> {
  const oauth = oauthProvider({ refreshToken: options.refreshToken, clientId, clientSecret, accessTtlMillis: options.accessTtlMillis });
  const data = pages.pageNumber(makeRecords(options.records ?? 20), 1);
  const withHook: Handler = async (req, res, hit) => {
    await options.onData?.(req, res, hit);
    if (!res.headersSent) await data(req, res, hit);
  };
  const server = await startFaultyServer({
    '/oauth/token': oauth.token,
    '/orders': oauth.guard(options.pageDelayMillis ? faults.delayed(options.pageDelayMillis, withHook) : withHook),
  });
  registerCleanup(() => server.close());
  return { server, oauth };
}

function ordersSource(server: FaultyServer, refreshToken: string | undefined, extra: { dataset?: string; timeoutMillis?: number; skewMillis?: number; archiveRaw?: boolean; inFlight?: number } = {}) {
  return httpSource({
    source: 'ml',
    dataset: extra.dataset ?? 'orders',
    url: `${server.url}/orders`,
    paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
    items: 'data',
    schema,
    auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, ...(refreshToken ? { refreshToken } : {}), store: 'ml', skewMillis: extra.skewMillis ?? 0 },
    limits: { ...FAST_LIMITS, ...(extra.timeoutMillis ? { requestTimeoutMillis: extra.timeoutMillis } : {}), ...(extra.inFlight ? { inFlight: extra.inFlight } : {}) },
    ...(extra.archiveRaw ? { archiveRaw: true } : {}),
  });
}

const storeFile = (root: string, name = 'ml'): string => path.join(root, 'state', 'tokens', `${name}.json`);
const readStore = (root: string, name = 'ml'): { refreshToken: string; accessToken?: string; seedHash: string; spent: string[] } =>
  JSON.parse(fs.readFileSync(storeFile(root, name), 'utf8'));

describe('OAuth2 refresh_token grant with rotating single-use refresh tokens', () => {
  it('refreshes once when several pages in flight get a 401 together, presenting no refresh token twice', async () => {
    const seed = 'rt-seed-000000000002';
    let root = '';
    const unsaved: string[] = [];
    let oauth!: OAuthProvider;
    const checked = await provider({
      refreshToken: seed,
      pageDelayMillis: 40,
      onData: (_req, _res, hit) => {
        if (readStore(root).refreshToken !== oauth.current) unsaved.push(`page ${hit.url.searchParams.get('page')}`);
        if (hit.count === 6) oauth.expireAccessTokens(); // the pages in flight with it get a 401
      },
    });
    oauth = checked.oauth;
    const lake = await tempLake();
    root = lake.paths.root;
    const result = await lake.extract(ordersSource(checked.server, seed, { inFlight: 4 }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 20, rejected: 0 });
    // The pages went out several at a time (one after another, each would come ≥ 40 ms after the one before).
    const arrivals = checked.server.requests.filter((r) => r.path === '/orders').map((r) => r.at);
    expect(arrivals.slice(1).some((at, i) => at - arrivals[i]! < 20)).toBe(true);
    expect(unsaved).toEqual([]);
    expect(oauth.presented).toHaveLength(2); // the seed, then one refresh for all the 401s
    expect(oauth.reused).toEqual([]);
    expect(oauth.refusals).toBe(0);
    const [ids] = await lake.query(`select count(*) n, count(distinct id) d from read_parquet('${lake.paths.bronze}/ml/orders/**/*.parquet')`);
    expect(ids).toEqual({ n: 20, d: 20 });
  });

  it('rotates on expiry and on a 401, saving each new refresh token before its access token is used', async () => {
    const seed = 'rt-seed-000000000001';
    let root = '';
    const unsaved: string[] = [];
    let oauth!: OAuthProvider;
    const checked = await provider({
      refreshToken: seed,
      accessTtlMillis: 250,
      pageDelayMillis: 40,
      onData: (_req, _res, hit) => {
        // By the time an access token is used, the refresh token issued with it is on disk.
        if (readStore(root).refreshToken !== oauth.current) unsaved.push(`page ${hit.url.searchParams.get('page')}`);
        if (hit.count === 6) oauth.expireAccessTokens(); // the next request gets a 401
      },
    });
    oauth = checked.oauth;
    const lake = await tempLake();
    root = lake.paths.root;
    // One page at a time: 20 pages of 40 ms outlive the 250 ms access tokens (the total pages the
    // API tells would otherwise let four go out at once, see the next test).
    const result = await lake.extract(ordersSource(checked.server, seed, { inFlight: 1 }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 20, rejected: 0 });
    expect(unsaved).toEqual([]);
    expect(oauth.presented.length).toBeGreaterThanOrEqual(3); // first token, expiries, the 401
    expect(oauth.reused).toEqual([]);
    expect(oauth.refusals).toBe(0);
    expect(checked.server.requests.some((r) => r.path === '/orders' && r.headers.authorization && r.at > 0)).toBe(true);

    const store = readStore(root);
    expect(store.refreshToken).toBe(oauth.current);
    expect(store.seedHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(store)).not.toContain(seed);
    expect(fs.statSync(storeFile(root)).mode & 0o777).toBe(0o600);

    // A second run picks up the stored (rotated) token: the seed is never presented again.
    const again = await lake.extract(ordersSource(checked.server, seed, { dataset: 'orders2' }));
    expect(again.sources[0]!.status).toBe('success');
    expect(oauth.presented.filter((t) => t === seed)).toHaveLength(1);
    expect(oauth.reused).toEqual([]);
  });

  it('does not refresh on every request when tokens live shorter than the default skew', async () => {
    const seed = 'rt-seed-000000000006';
    const { server, oauth } = await provider({ refreshToken: seed, accessTtlMillis: 2000, records: 10 });
    const lake = await tempLake();
    const source = ordersSource(server, seed, { skewMillis: 60_000 });
    expect((await lake.extract(source)).sources[0]!.rows).toBe(10);
    expect(oauth.presented).toHaveLength(1); // 2 s tokens, 60 s skew: the skew shrinks to 0.5 s
  });

  it('refreshes once per 401 and gives up when fresh credentials are refused too', async () => {
    const seed = 'rt-seed-000000000002';
    const oauth = oauthProvider({ refreshToken: seed, clientId, clientSecret });
    const server = await startFaultyServer({ '/oauth/token': oauth.token, '/orders': faults.status(401) });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const result = await lake.extract(ordersSource(server, seed));
    expect(result.sources[0]!.status).toBe('failed');
    expect(result.sources[0]!.error).toMatch(/HTTP 401 Unauthorized — credentials refused \(after 2 attempts\)/);
    expect(oauth.presented).toHaveLength(2); // the first token, then one refresh for the one 401
    expect(server.hits('/orders')).toBe(2);
  });

  it('reports a reused (refused) refresh token clearly; a different refreshToken option replaces the store', async () => {
    const seed = 'rt-seed-000000000003';
    const { server, oauth } = await provider({ refreshToken: seed, records: 3 });
    const lake = await tempLake();
    expect((await lake.extract(ordersSource(server, seed))).status).toBe('success');
    const stored = readStore(lake.paths.root).refreshToken;

    // Someone else used our refresh token (a copy of the store, another machine): it is dead.
    const fresh = oauth.rotateElsewhere();
    oauth.expireAccessTokens();
    const refused = await lake.extract(ordersSource(server, seed, { dataset: 'orders_b' }));
    expect(refused.status).toBe('failed');
    const error = refused.sources[0]!.error!;
    expect(error).toMatch(/OAuth2 token store ml: the refresh token was refused by http:\/\/127\.0\.0\.1:\d+ \(HTTP 400 invalid_grant\)/);
    expect(error).toMatch(/pass the new refresh token as option "refreshToken"/);
    for (const secret of [seed, stored, fresh, clientSecret]) expect(error).not.toContain(secret);

    // Same seed again: the dead token is not presented a second time.
    const still = await lake.extract(ordersSource(server, seed, { dataset: 'orders_c' }));
    expect(still.sources[0]!.error).toMatch(/already presented once/);
    expect(oauth.presented.filter((t) => t === stored)).toHaveLength(1);

    // The way out: a new refresh token as the option replaces the store.
    const recovered = await lake.extract(ordersSource(server, fresh, { dataset: 'orders_d' }));
    expect(recovered.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    expect(readStore(lake.paths.root).refreshToken).toBe(oauth.current);
    expect(oauth.reused).toEqual([]);
  });

  it('never presents a refresh token again when its answer was lost', async () => {
    const seed = 'rt-seed-000000000004';
    const { server, oauth } = await provider({ refreshToken: seed, records: 2 });
    oauth.stallNextRefresh();
    const lake = await tempLake();
    const lost = await lake.extract(ordersSource(server, seed, { timeoutMillis: 300 }));
    expect(lost.sources[0]!.error).toMatch(/token refresh failed: POST http:\/\/127\.0\.0\.1:\d+\/oauth\/token: no response within 300 ms \(after 1 attempt\)/);
    const next = await lake.extract(ordersSource(server, seed, { dataset: 'orders_b' }));
    expect(next.sources[0]!.error).toMatch(/already presented once .* cannot be used again/);
    expect(oauth.presented).toEqual([seed]); // presented exactly once, never retried
  });

  it('a token endpoint answering 500 to a refresh says at once that the refresh token is spent and the app must be authorized again', async () => {
    const seed = 'rt-seed-server-error-000000000013';
    const oauth = oauthProvider({ refreshToken: seed, clientId, clientSecret });
    const server = await startFaultyServer({
      '/oauth/token': (req, res, hit) => (hit.count === 1 ? sendJson(res, 500, { error: 'server_error' }) : oauth.token(req, res, hit)),
      '/orders': oauth.guard((_req, res) => sendJson(res, 200, makeRecords(2))),
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const failed = await lake.extract(ordersSource(server, seed));
    // The 500 may come after the provider rotated the token: it is not presented again, and the
    // first error says what to do, not only the next run's.
    expect(failed.sources[0]!.error).toMatch(/token refresh failed: .*HTTP 500 .*never presented again — authorize the app again and pass the new refresh token/);
    const next = await lake.extract(ordersSource(server, seed, { dataset: 'orders_b' }));
    expect(next.sources[0]!.error).toMatch(/already presented once .* cannot be used again — authorize the app again/);
    expect(server.hits('/oauth/token')).toBe(1);
    for (const secret of [seed, clientSecret]) expect(`${failed.sources[0]!.error} ${next.sources[0]!.error}`).not.toContain(secret);
  });

  it('shares one token store between two processes without presenting a refresh token twice, and leaks no secret', async () => {
    const seed = 'rt-seed-000000000005';
    const { server, oauth } = await provider({ refreshToken: seed, accessTtlMillis: 300, pageDelayMillis: 25, records: 30 });
    const lake = await tempLake();
    const root = lake.paths.root;
    const config = (dataset: string) => ({
      root,
      dataset,
      url: `${server.url}/orders`,
      archiveRaw: true,
      oauth: { tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seed, skewMillis: 0 },
    });
    const a = spawnChild(config('a'));
    const b = spawnChild(config('b'));
    // And this process too, on the same store, at the same time.
    const [ra, rb, here] = await Promise.all([a.finished, b.finished, lake.extract(childSource(config('c')))]);
    expect(ra.stderr).toBe('');
    expect(rb.stderr).toBe('');
    for (const r of [JSON.parse(ra.stdout), JSON.parse(rb.stdout), here]) {
      expect(r.sources[0]).toMatchObject({ status: 'success', rows: 30 });
    }
    expect(oauth.reused).toEqual([]);
    expect(oauth.refusals).toBe(0);
    expect(new Set(oauth.presented).size).toBe(oauth.presented.length);
    expect(oauth.presented.length).toBeGreaterThanOrEqual(3);
    expect(readStore(root, 'shared').refreshToken).toBe(oauth.current);

    await lake.close();
    const { hits, files } = await findSecrets(root, [seed, clientSecret, ...oauth.issued]);
    const kinds = new Set(files.map((f) => /\.(parquet|ndjson\.gz|log|duckdb)$/.exec(f)?.[1]));
    expect([...kinds]).toEqual(expect.arrayContaining(['parquet', 'ndjson.gz', 'log', 'duckdb'])); // bronze, raw archive, logs, metrics
    expect(fs.readdirSync(path.join(root, 'raw', 'child'))).toEqual(['a', 'b', 'c']);
    expect(hits).toEqual([]);
    // The scan does see inside those files: a record's text shows up in Parquet and in the raw archive.
    const control = (await findSecrets(root, ['item 17'])).hits.map((h) => h.file);
    expect(control.some((f) => f.endsWith('.parquet'))).toBe(true);
    expect(control.some((f) => f.endsWith('.ndjson.gz'))).toBe(true);
  });
});

describe('OAuth2 token endpoints answering as RFC 6749 allows', () => {
  it('a provider answering a refresh with the refresh token it was sent (no rotation) gets it again at the next expiry', async () => {
    // HubSpot (and QuickBooks, within a day) answer a refresh with the very refresh token presented:
    // it stays valid. Only a NEW refresh token in the answer means the old one is spent.
    const seed = 'rt-seed-echoed-000000000006';
    const access = new Map<string, number>();
    const presented: string[] = [];
    const server = await startFaultyServer({
      '/oauth/token': (_req, res, { body }) => {
        const form = new URLSearchParams(body);
        if (form.get('client_secret') !== clientSecret) return sendJson(res, 401, { error: 'invalid_client' });
        if (form.get('refresh_token') !== seed) return sendJson(res, 400, { error: 'invalid_grant' });
        presented.push(form.get('refresh_token')!);
        const at = `at-${randomBytes(10).toString('hex')}`;
        access.set(at, Date.now() + 2000);
        sendJson(res, 200, { access_token: at, token_type: 'bearer', expires_in: 2, refresh_token: seed });
      },
      '/orders': (req, res) => {
        const at = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const until = at ? access.get(at) : undefined;
        if (until === undefined || Date.now() >= until) return sendJson(res, 401, { error: 'expired' });
        sendJson(res, 200, makeRecords(3));
      },
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = (dataset: string) =>
      httpSource({
        source: 'hub',
        dataset,
        url: `${server.url}/orders`,
        schema,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seed, store: 'hub', skewMillis: 0 },
        limits: FAST_LIMITS,
      });
    expect((await lake.extract(source('a'))).sources[0]).toMatchObject({ status: 'success', rows: 3 });
    await new Promise((resolve) => setTimeout(resolve, 2300)); // the access token has expired: the next run refreshes
    const second = await lake.extract(source('b'));
    expect(second.sources[0]!.error).toBeUndefined();
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    expect(presented).toEqual([seed, seed]);
    expect(readStore(lake.paths.root, 'hub').spent).toEqual([]);
  });

  it('an expires_in sent as a string ("120", as Azure AD v1 sends it) is the token\'s lifetime, not the 1-hour default', async () => {
    const seed = 'rt-seed-string-expiry-000000000011';
    const server = await startFaultyServer({
      '/oauth/token': (_req, res) => sendJson(res, 200, { access_token: `at-${randomBytes(10).toString('hex')}`, token_type: 'Bearer', expires_in: '120', refresh_token: `rt-${randomBytes(10).toString('hex')}` }),
      '/orders': (_req, res) => sendJson(res, 200, makeRecords(3)),
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const before = Date.now();
    const result = await lake.extract(
      httpSource({
        source: 'azure',
        dataset: 'orders',
        url: `${server.url}/orders`,
        schema,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seed, store: 'azure', skewMillis: 0 },
        limits: FAST_LIMITS,
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    const store = JSON.parse(fs.readFileSync(storeFile(lake.paths.root, 'azure'), 'utf8')) as { expiresAt: number; lifetimeMillis: number };
    expect(store.lifetimeMillis).toBe(120_000);
    expect(store.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(store.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
  });

  it('a bare 401 from the token endpoint (client authentication failed, no JSON body) leaves the refresh token for the corrected clientSecret', async () => {
    const seed = 'rt-seed-bare-401-000000000007';
    let current = seed;
    const presented: string[] = [];
    const server = await startFaultyServer({
      '/oauth/token': (req, res, { body }) => {
        // Basic client authentication, refused the way most servers do: 401, WWW-Authenticate, no body.
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const [, secret] = Buffer.from(basic ?? '', 'base64').toString('utf8').split(':');
        if (decodeURIComponent(secret ?? '') !== clientSecret) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="oauth"', 'content-length': '0' });
          res.end();
          return;
        }
        const rt = new URLSearchParams(body).get('refresh_token')!;
        presented.push(rt);
        if (rt !== current) return sendJson(res, 400, { error: 'invalid_grant' });
        current = `rt-${randomBytes(8).toString('hex')}`;
        sendJson(res, 200, { access_token: `at-${randomBytes(8).toString('hex')}`, expires_in: 3600, refresh_token: current });
      },
      '/orders': (_req, res) => sendJson(res, 200, makeRecords(2)),
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = (dataset: string, secret: string) =>
      httpSource({
        source: 'basic',
        dataset,
        url: `${server.url}/orders`,
        schema,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret: secret, refreshToken: seed, store: 'basic', clientAuth: 'basic' },
        limits: FAST_LIMITS,
      });
    const wrong = await lake.extract(source('a', 'cs-wrong-client-secret'));
    expect(wrong.sources[0]!.status).toBe('failed');
    expect(wrong.sources[0]!.error).toMatch(/refused the client \(HTTP 401 invalid_client\): check "clientId" and "clientSecret"; the refresh token was not used/);
    expect(presented).toEqual([]); // the server never looked at the grant
    const fixed = await lake.extract(source('b', clientSecret));
    expect(fixed.sources[0]!.error).toBeUndefined();
    expect(fixed.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(readStore(lake.paths.root, 'basic').refreshToken).toBe(current);
  });

  it("bare 401s from the token endpoint (the client refused) do not count as the host failing: its circuit breaker stays closed for the other sources", async () => {
    const server = await startFaultyServer({
      '/oauth/token': (_req, res) => {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="oauth"', 'content-length': '0' });
        res.end();
      },
      '/open': (_req, res) => sendJson(res, 200, makeRecords(2)),
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const limits = { ...FAST_LIMITS, breakerFailures: 2 };
    const refused = (n: number) =>
      httpSource({
        source: 'basic',
        dataset: `refused_${n}`,
        url: `${server.url}/open`,
        schema,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret: 'cs-wrong-client-secret', refreshToken: `rt-seed-breaker-00000000${n}`, store: `breaker${n}` },
        limits,
      });
    for (const n of [1, 2, 3]) expect((await lake.extract(refused(n))).sources[0]!.error).toMatch(/refused the client \(HTTP 401 invalid_client\)/);
    const open = await lake.extract(httpSource({ source: 'basic', dataset: 'open', url: `${server.url}/open`, schema, limits }));
    expect(open.sources[0]).toMatchObject({ status: 'success', rows: 2 });
  });

  it('400 invalid_scope (no token issued, the grant untouched) leaves the refresh token for the corrected "scope"', async () => {
    const seed = 'rt-seed-invalid-scope-000000000008';
    let current = seed;
    const presented: string[] = [];
    const server = await startFaultyServer({
      '/oauth/token': (_req, res, { body }) => {
        const form = new URLSearchParams(body);
        if (form.get('client_secret') !== clientSecret) return sendJson(res, 401, { error: 'invalid_client' });
        // The scope is checked before the grant is redeemed: nothing was issued, nothing rotated.
        if (form.get('scope') !== 'orders:read') return sendJson(res, 400, { error: 'invalid_scope', error_description: 'scope exceeds the grant' });
        const rt = form.get('refresh_token')!;
        presented.push(rt);
        if (rt !== current) return sendJson(res, 400, { error: 'invalid_grant' });
        current = `rt-${randomBytes(8).toString('hex')}`;
        sendJson(res, 200, { access_token: `at-${randomBytes(8).toString('hex')}`, expires_in: 3600, refresh_token: current });
      },
      '/orders': (_req, res) => sendJson(res, 200, makeRecords(2)),
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const source = (dataset: string, scope: string) =>
      httpSource({
        source: 'scoped',
        dataset,
        url: `${server.url}/orders`,
        schema,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seed, store: 'scoped', scope },
        limits: FAST_LIMITS,
      });
    const wrong = await lake.extract(source('a', 'orders:read orders:write'));
    expect(wrong.sources[0]!.status).toBe('failed');
    expect(wrong.sources[0]!.error).toMatch(/refused the request \(HTTP 400 invalid_scope: scope exceeds the grant\): check "scope"; the refresh token was not used/);
    expect(readStore(lake.paths.root, 'scoped').spent).toEqual([]);
    const fixed = await lake.extract(source('b', 'orders:read'));
    expect(fixed.sources[0]!.error).toBeUndefined();
    expect(fixed.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(presented).toEqual([seed]);
  });

  it('a token endpoint redirecting to another origin is not followed: the refresh token and client secret stay home, and stay usable', async () => {
    const seed = 'rt-seed-token-redirect-0000000021';
    const { server, oauth } = await provider({ refreshToken: seed, records: 2 });
    const elsewhere = await startFaultyServer({ '/oauth/token': oauth.token });
    registerCleanup(() => elsewhere.close());
    // A moved endpoint (or a hijacked one) answering 307: the POST, its form with the secrets, would be sent again there.
    const moved = await startFaultyServer({
      '/oauth/token': (_req, res) => {
        res.writeHead(307, { location: `${elsewhere.url}/oauth/token` });
        res.end();
      },
    });
    registerCleanup(() => moved.close());
    const lake = await tempLake();
    const source = (dataset: string, tokenUrl: string) =>
      httpSource({
        source: 'ml',
        dataset,
        url: `${server.url}/orders`,
        paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
        items: 'data',
        schema,
        auth: { type: 'oauth2', tokenUrl, clientId, clientSecret, refreshToken: seed, store: 'ml' },
        limits: FAST_LIMITS,
      });
    const redirected = await lake.extract(source('a', `${moved.url}/oauth/token`));
    expect(redirected.sources[0]!.status).toBe('failed');
    expect(redirected.sources[0]!.error).toMatch(/redirects to another origin \(http:\/\/127\.0\.0\.1:\d+\).*not followed.*the refresh token was not used and stays in the store/);
    expect(elsewhere.requests).toHaveLength(0);
    expect(readStore(lake.paths.root).spent).toEqual([]);
    // Pointed at the endpoint itself, the same refresh token works.
    const direct = await lake.extract(source('b', `${elsewhere.url}/oauth/token`));
    expect(direct.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(oauth.presented).toEqual([seed]);
  });

  it('an old refreshToken option passed again after the store was re-seeded does not replace it: the live refresh token survives', async () => {
    const seed = 'rt-seed-stale-old-000000000009';
    const { server, oauth } = await provider({ refreshToken: seed, records: 2 });
    const lake = await tempLake();
    expect((await lake.extract(ordersSource(server, seed))).sources[0]!.status).toBe('success');
    // The app is authorized again: the new refresh token replaces the store (the way out).
    const reseed = oauth.rotateElsewhere();
    oauth.expireAccessTokens();
    expect((await lake.extract(ordersSource(server, reseed, { dataset: 'orders_b' }))).sources[0]!.status).toBe('success');
    const live = oauth.current;
    expect(readStore(lake.paths.root).refreshToken).toBe(live);

    // A job still configured with the first seed runs once: it cannot work (that seed was spent)…
    oauth.expireAccessTokens();
    const stale = await lake.extract(ordersSource(server, seed, { dataset: 'orders_c' }));
    expect(stale.sources[0]!.status).toBe('failed');
    expect(stale.sources[0]!.error).toMatch(/OAuth2 token store ml: the "refreshToken" option is an old one, already presented and replaced; .*ml\.json holds the live refresh token/);
    // …and does not throw away the live refresh token the store holds.
    expect(readStore(lake.paths.root).refreshToken).toBe(live);
    const current = await lake.extract(ordersSource(server, reseed, { dataset: 'orders_d' }));
    expect(current.sources[0]!.error).toBeUndefined();
    expect(current.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(oauth.presented.filter((t) => t === seed)).toHaveLength(1); // the spent seed was never sent again
    expect(oauth.reused).toEqual([]);
  });
});

describe('OAuth2 token store files', () => {
  it('data/state/tokens/ is private to its owner (0700), though the store lock creates it, and so is each store (0600)', async () => {
    const seed = 'rt-seed-folder-mode-000000000010';
    const { server } = await provider({ refreshToken: seed, records: 1 });
    const lake = await tempLake();
    expect((await lake.extract(ordersSource(server, seed))).sources[0]!.status).toBe('success');
    const dir = path.join(lake.paths.root, 'state', 'tokens');
    expect((fs.statSync(storeFile(lake.paths.root)).mode & 0o777).toString(8)).toBe('600');
    expect((fs.statSync(dir).mode & 0o777).toString(8)).toBe('700');

    // A folder left open by an earlier version is tightened at the next use.
    fs.chmodSync(dir, 0o755);
    expect((await lake.extract(ordersSource(server, seed, { dataset: 'orders_b' }))).sources[0]!.status).toBe('success');
    expect((fs.statSync(dir).mode & 0o777).toString(8)).toBe('700');
  });

  it('a store cut short is refused naming the file, unless a different refreshToken option replaces it (the text left shows the seed)', async () => {
    const seed = 'rt-seed-broken-store-000000000011';
    const { server, oauth } = await provider({ refreshToken: seed, records: 2 });
    const lake = await tempLake();
    expect((await lake.extract(ordersSource(server, seed))).sources[0]!.status).toBe('success');
    const file = storeFile(lake.paths.root);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.slice(0, text.indexOf('"refreshToken"') + 20)); // what a full disk left of it
    const stuck = await lake.extract(ordersSource(server, seed, { dataset: 'orders_b' }));
    expect(stuck.sources[0]!.error).toMatch(/ml\.json is unreadable \(.*\); repair it, or delete it and pass a newly authorized refresh token as option "refreshToken"/);
    // README: "a different `refreshToken` option replaces the store" — the user authorizes again.
    const fresh = oauth.rotateElsewhere();
    const recovered = await lake.extract(ordersSource(server, fresh, { dataset: 'orders_c' }));
    expect(recovered.sources[0]!.error).toBeUndefined();
    expect(recovered.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(readStore(lake.paths.root).refreshToken).toBe(oauth.current);
    expect(oauth.reused).toEqual([]);
  });

  it('a store cut short before its seed hash may hold the only copy of the live token: no refreshToken option replaces it until it is deleted', async () => {
    const seed = 'rt-seed-broken-store-000000000012';
    const { server, oauth } = await provider({ refreshToken: seed, records: 2 });
    const lake = await tempLake();
    expect((await lake.extract(ordersSource(server, seed))).sources[0]!.status).toBe('success');
    const file = storeFile(lake.paths.root);
    fs.writeFileSync(file, '{"version":1,"seedHash":"');
    // Nothing left says whether this option seeded the store (then it is spent) or is a new one.
    const fresh = oauth.rotateElsewhere();
    for (const [dataset, refreshToken] of [['orders_b', seed], ['orders_c', fresh]] as const) {
      const stuck = await lake.extract(ordersSource(server, refreshToken, { dataset }));
      expect(stuck.sources[0]!.error).toMatch(/ml\.json is unreadable \(.*\); repair it, or delete it and pass a newly authorized refresh token/);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('{"version":1,"seedHash":"');
    expect(oauth.presented).toEqual([seed]);
    fs.rmSync(file);
    const recovered = await lake.extract(ordersSource(server, fresh, { dataset: 'orders_d' }));
    expect(recovered.sources[0]).toMatchObject({ status: 'success', rows: 2 });
  });
});

describe('OAuth2 refreshes stopped by lake.close()', () => {
  const stoppable = async (options: { stall?: boolean } = {}) => {
    const seed = `rt-seed-stopped-${randomBytes(6).toString('hex')}`;
    const oauth = oauthProvider({ refreshToken: seed, clientId, clientSecret });
    let expireOnce = false;
    const server = await startFaultyServer({
      '/oauth/token': oauth.token,
      '/orders': (req, res, hit) => {
        if (expireOnce) {
          expireOnce = false;
          oauth.expireAccessTokens(); // this request gets a 401: a refresh follows
          if (options.stall) oauth.stallNextRefresh();
        }
        return oauth.guard((_q, r) => sendJson(r, 200, makeRecords(2)))(req, res, hit);
      },
    });
    registerCleanup(() => server.close());
    const root = path.join(tempDir(), 'data');
    const source = (dataset: string, requestsPerSecond: number = FAST_LIMITS.requestsPerSecond) =>
      httpSource({
        source: 'slow',
        dataset,
        url: `${server.url}/orders`,
        schema,
        auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seed, store: 'slow' },
        limits: { ...FAST_LIMITS, requestsPerSecond, burst: 1, requestTimeoutMillis: 20_000 },
      });
    const first = await Lakehouse.open({ root, log: { console: false } });
    expect((await first.extract(source('a'))).sources[0]).toMatchObject({ status: 'success', rows: 2 });
    await first.close();
    expect(oauth.presented).toEqual([seed]);
    const stored = oauth.current; // the rotated refresh token now in the store

    // A run whose access token is refused, closed while its refresh waits (rate limiter or answer).
    const second = await Lakehouse.open({ root, log: { console: false } });
    expireOnce = true;
    const stopped = second.extract(source('b', options.stall ? FAST_LIMITS.requestsPerSecond : 0.25));
    stopped.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await second.close();
    await stopped.catch(() => undefined);

    const third = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => third.close());
    return { oauth, seed, stored, again: await third.extract(source('c')) };
  };

  it('closed while the refresh waits for the rate limiter: the refresh token never left the process and stays usable', async () => {
    const { oauth, seed, stored, again } = await stoppable();
    expect(again.sources[0]!.error).toBeUndefined();
    expect(again.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(oauth.presented).toEqual([seed, stored]);
    expect(oauth.reused).toEqual([]);
  }, 30_000);

  it('closed while the refresh waits for its answer: the refresh token went out and is never presented again', async () => {
    const { oauth, seed, stored, again } = await stoppable({ stall: true });
    expect(again.sources[0]!.error).toMatch(/already presented once/);
    expect(oauth.presented).toEqual([seed, stored]);
  }, 30_000);
});
