/**
 * Faults: four httpSources (OAuth2, API key in the query, bearer, none; four pagination
 * schemes) extract from a loopback server where one request in ten fails — 429 with
 * Retry-After, 503, reset sockets, stalls past the timeout, truncated JSON — and about one
 * record in ten is invalid. Over two runs: every valid record lands in bronze exactly once per
 * run, every invalid one in quarantine with its reasons, and every count in the metrics db
 * (runs, source_results, source_batches, bronze_files, http_stats) matches bronze, quarantine
 * and what the server saw. No secret reaches `data/` outside the token store.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { httpSource, Lakehouse, z, type ExtractResult, type HttpSourceOptions, type Source } from '../../src/index.js';
import { cursorPaginator, linkHeaderPaginator, offsetPaginator, pageNumberPaginator } from '../../src/extract/http/paginators.js';
import { FAULT_KINDS, faultInjector, type FaultInjector } from '../helpers/fault-injector.js';
import { FAST_LIMITS, oauthProvider, pages, sendJson, startFaultyServer, type FaultyServer, type Handler } from '../helpers/faulty-server.js';
import { expectCommittedBronze } from '../helpers/lake-checks.js';
import { SEED, scaled, seededRandom } from '../helpers/reliability.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { listFiles, registerCleanup, tempDir } from '../helpers/temp-lake.js';

const RECORDS = scaled(300, 2_000);
const PAGE = 25;
const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number(), store: z.string() });
// A stall is held past this timeout. On a loaded machine a slow page may time out too: that is a
// real retry, counted as such (`spurious` below), never a page lost or read twice.
const limits = { ...FAST_LIMITS, requestTimeoutMillis: 1_000, flushRows: scaled(100, 500) };

const clientId = 'faults-app';
const clientSecret = 'cs-faults-suite-client-secret';
const seedToken = 'rt-faults-suite-seed-token';
const apiKey = 'ak-faults-suite-key-0123456789';
const bearer = 'bt-faults-suite-bearer-abcdef';

interface Row {
  id: number;
  name?: string;
  price: number | string;
  store: string;
}

/** Records of one route: ids `base+1…`; id % 17 = 3 has a text price, id % 23 = 5 no name. */
function catalog(base: number, count: number): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const id = base + i + 1;
    const row: Row = { id, name: `item ${id}`, price: Math.round(id * 37) / 100, store: `s${id % 4}` };
    if (id % 17 === 3) row.price = 'n/a';
    if (id % 23 === 5) delete row.name;
    return row;
  });
}

/** The fields zod must name for a record (sorted), empty when it is valid. */
const problems = (r: Row): string[] => [...(r.name === undefined ? ['name'] : []), ...(typeof r.price === 'string' ? ['price'] : [])];

interface Route {
  dataset: string;
  path: string;
  rows: Row[];
  source: Source;
}

const requireAuth = (check: (req: Parameters<Handler>[0], url: URL) => boolean, handler: Handler): Handler => (req, res, hit) =>
  check(req, hit.url) ? handler(req, res, hit) : sendJson(res, 401, { error: 'unauthorized' });

/** Four routes on `server`, each behind the injector, and the sources reading them. */
function setup(server: FaultyServer, injector: FaultInjector, oauth: ReturnType<typeof oauthProvider>): Route[] {
  const routes: Route[] = [];
  server.route('/oauth/token', oauth.token);
  const add = (dataset: string, rows: Row[], handler: Handler, options: Omit<HttpSourceOptions, 'source' | 'dataset' | 'url' | 'schema'>): void => {
    const p = `/${dataset}`;
    server.route(p, injector.wrap(p, handler));
    routes.push({ dataset, path: p, rows, source: httpSource({ source: 'faults', dataset, url: `${server.url}${p}`, schema, limits, ...options }) });
  };
  const a = catalog(0, RECORDS);
  add('oauth_pages', a, oauth.guard(pages.pageNumber(a, PAGE)), {
    paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
    items: 'data',
    auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seedToken, store: 'faults' },
  });
  const b = catalog(100_000, RECORDS);
  add('key_offset', b, requireAuth((_req, url) => url.searchParams.get('api_key') === apiKey, pages.offset(b, PAGE)), {
    paginate: offsetPaginator({ limit: PAGE, totalPath: 'paging.total' }),
    items: 'results',
    auth: { type: 'apiKey', name: 'api_key', value: apiKey, in: 'query' },
  });
  const c = catalog(200_000, RECORDS);
  add('bearer_cursor', c, requireAuth((req) => req.headers.authorization === `Bearer ${bearer}`, pages.cursor(c, PAGE)), {
    paginate: cursorPaginator({ cursorPath: 'next_cursor', cursorParam: 'cursor' }),
    items: 'items',
    auth: { type: 'bearer', token: bearer },
  });
  const d = catalog(300_000, RECORDS);
  add('link_archived', d, pages.link(() => server, '/link_archived', d, PAGE), { paginate: linkHeaderPaginator(), partitionBy: ['store'], archiveRaw: true });
  return routes;
}

const glob = (root: string, dataset: string): string => `${root}/bronze/faults/${dataset}/**/*.parquet`;

describe('extraction under 10% injected faults', () => {
  it(`lands every valid record once per run, every invalid one in quarantine, and the metrics db agrees (${RECORDS} records × 4 sources × 2 runs)`, async () => {
    const injector = faultInjector(seededRandom(SEED));
    const oauth = oauthProvider({ refreshToken: seedToken, clientId, clientSecret });
    const server = await startFaultyServer();
    registerCleanup(() => server.close());
    const routes = setup(server, injector, oauth);
    const root = path.join(tempDir('duckhouse-faults-'), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());

    let spuriousTotal = 0;
    for (let run = 1; run <= 2; run++) {
      const hitsBefore = new Map(routes.map((r) => [r.path, server.hits(r.path)]));
      const refreshesBefore = server.hits('/oauth/token');
      const faultsBefore = injector.log.length;
      const result: ExtractResult = await lake.extract(routes.map((r) => r.source));
      expect(result.sources.map((s) => [s.dataset, s.status, s.error])).toEqual(routes.map((r) => [r.dataset, 'success', undefined]));
      expect(result.status).toBe('success');

      for (const route of routes) {
        const valid = route.rows.filter((r) => problems(r).length === 0);
        const invalid = route.rows.filter((r) => problems(r).length > 0);
        const at = `run ${run} ${route.dataset}`;
        const got = result.sources.find((s) => s.dataset === route.dataset)!;
        const requests = server.hits(route.path) - hitsBefore.get(route.path)!;
        const injected = injector.count(route.path, undefined, faultsBefore);
        const pageCount = Math.ceil(route.rows.length / PAGE);
        // Every request the server saw is a page, an injected fault, or a page the client gave up waiting for.
        const retried = requests - pageCount;
        expect(retried, `${at}: every injected fault was retried`).toBeGreaterThanOrEqual(injected);
        const spurious = retried - injected;
        // The OAuth source also counts its token refreshes (the first run's only: the store keeps the access token).
        const refreshes = route.dataset === 'oauth_pages' ? server.hits('/oauth/token') - refreshesBefore : 0;
        expect(refreshes, `${at}: token refreshes`).toBe(route.dataset === 'oauth_pages' && run === 1 ? 1 : 0);
        expect(got, at).toMatchObject({ rows: valid.length, rejected: invalid.length, requests: requests + refreshes, retries: retried });

        // Bronze: each valid id exactly once in this run, nothing else.
        const ids = await lake.query<{ id: number; n: number }>(`SELECT id, count(*) AS n FROM read_parquet('${glob(root, route.dataset)}') WHERE _run_id = $1 GROUP BY id ORDER BY id`, [result.runId]);
        expect(ids.filter((r) => r.n !== 1), `${at}: ids written twice`).toEqual([]);
        expect(ids.map((r) => r.id), `${at}: the valid ids`).toEqual(valid.map((r) => r.id));

        // Quarantine: each invalid record once, with the fields zod named.
        const lines = fs
          .readFileSync(path.join(root, 'quarantine', 'faults', route.dataset, `${result.runId}.ndjson`), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { record: Row; reasons: { path: string; message: string }[] });
        expect(lines.map((l) => [l.record.id, l.reasons.map((x) => x.path).sort()]), `${at}: quarantine`).toEqual(invalid.map((r) => [r.id, problems(r)]));
        expect(lines.every((l) => l.reasons.every((x) => x.message.length > 0))).toBe(true);

        // Metrics: every table counts what is on disk and what the server saw.
        const [sr] = await lake.metrics.select('SELECT * FROM source_results WHERE run_id = $1 AND dataset = $2', [result.runId, route.dataset]);
        const [batches] = await lake.metrics.select('SELECT count(*) AS batches, sum(rows) AS rows, sum(rejected) AS rejected, sum(files) AS files, sum(bytes) AS bytes FROM source_batches WHERE run_id = $1 AND dataset = $2', [result.runId, route.dataset]);
        const files = await lake.metrics.select('SELECT path, rows, bytes FROM bronze_files WHERE run_id = $1 AND dataset = $2 ORDER BY path', [result.runId, route.dataset]);
        const onDisk = listFiles(path.join(root, 'bronze', 'faults', route.dataset)).filter((f) => path.basename(f).startsWith(`${result.runId}-`));
        expect(files.map((f) => f.path)).toEqual(onDisk.map((f) => path.join('bronze', 'faults', route.dataset, f)).sort());
        expect(files.map((f) => Number(f.bytes))).toEqual(files.map((f) => fs.statSync(path.join(root, String(f.path))).size));
        const fileRows = files.reduce((s, f) => s + Number(f.rows), 0);
        const fileBytes = files.reduce((s, f) => s + Number(f.bytes), 0);
        expect(sr, `${at}: source_results`).toMatchObject({ status: 'success', rows: valid.length, rejected: invalid.length, files: files.length, bytes: fileBytes, requests: requests + refreshes, retries: retried });
        expect(Number(batches!.batches), `${at}: one batch per ${limits.flushRows} rows`).toBe(Math.ceil(valid.length / limits.flushRows));
        expect({ rows: Number(batches!.rows), rejected: Number(batches!.rejected), files: Number(batches!.files), bytes: Number(batches!.bytes) }, `${at}: source_batches`).toEqual({
          rows: valid.length,
          rejected: invalid.length,
          files: files.length,
          bytes: fileBytes,
        });
        expect(fileRows).toBe(valid.length);
        const [stats] = await lake.metrics.select('SELECT requests, retries, statuses FROM http_stats WHERE run_id = $1 AND dataset = $2', [result.runId, route.dataset]);
        const statuses = JSON.parse(String(stats!.statuses)) as Record<string, number>;
        const of = (kind: (typeof FAULT_KINDS)[number]): number => injector.count(route.path, kind, faultsBefore);
        expect({ requests: stats!.requests, retries: stats!.retries }).toEqual({ requests: requests + refreshes, retries: retried });
        expect({ ok: (statuses['200'] ?? 0) - refreshes, throttled: statuses['429'] ?? 0, unavailable: statuses['503'] ?? 0, network: statuses.ERR ?? 0 }, `${at}: http_stats statuses`).toEqual({
          ok: pageCount + of('truncated'),
          throttled: of('429'),
          unavailable: of('503'),
          network: of('reset') + of('stall') + spurious,
        });
        spuriousTotal += spurious;
      }

      // The run as a whole.
      const [record] = await lake.metrics.select('SELECT status, rows, rejected, files FROM runs WHERE run_id = $1', [result.runId]);
      const sum = (k: 'rows' | 'rejected' | 'files'): number => result.sources.reduce((s, x) => s + x[k], 0);
      expect(record).toEqual({ status: 'success', rows: sum('rows'), rejected: sum('rejected'), files: sum('files') });

      // The raw archive of the link source: one whole gzip file per run, one line per page served.
      const archived = listFiles(path.join(root, 'raw', 'faults', 'link_archived')).filter((f) => path.basename(f).startsWith(result.runId));
      expect(archived).toHaveLength(1);
      const lines = zlib.gunzipSync(fs.readFileSync(path.join(root, 'raw', 'faults', 'link_archived', archived[0]!))).toString('utf8').trim().split('\n');
      expect(lines).toHaveLength(Math.ceil(RECORDS / PAGE));
    }

    // Across both runs: each valid key twice (once per run), and the injected faults covered every kind.
    for (const route of routes) {
      const [counts] = await lake.query(`SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT _run_id) AS runs FROM read_parquet('${glob(root, route.dataset)}')`);
      const valid = route.rows.filter((r) => problems(r).length === 0).length;
      expect(counts).toEqual({ n: 2 * valid, ids: valid, runs: 2 });
    }
    const kinds = new Set(injector.log.map((f) => f.kind));
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
    const requests = routes.reduce((s, r) => s + server.hits(r.path), 0);
    // One fault in every block of ten requests of each route, and at most one in its last, partial
    // block. (A rate over all requests is not a check: requests that time out on their own under
    // load add retries without faults, and the last block's fault may fall past its end.)
    for (const route of routes) {
      const hits = server.hits(route.path);
      expect(injector.count(route.path), `faults on ${route.path} in ${hits} requests`).toBeGreaterThanOrEqual(Math.floor(hits / 10));
      expect(injector.count(route.path), `faults on ${route.path} in ${hits} requests`).toBeLessThanOrEqual(Math.ceil(hits / 10));
    }
    await expectCommittedBronze(lake);
    process.stdout.write(`[faults] seed ${SEED}: ${injector.log.length} faults in ${requests} requests (${FAULT_KINDS.map((k) => `${k} ${injector.log.filter((f) => f.kind === k).length}`).join(', ')}); ${spuriousTotal} pages timed out on their own\n`);

    await lake.close();
    const { hits } = await findSecrets(root, [clientSecret, seedToken, apiKey, bearer, ...oauth.issued]);
    expect(hits).toEqual([]);
    // The scan does find what is there: the name of a valid record is in bronze.
    const control = routes[0]!.rows.find((r) => problems(r).length === 0)!.name!;
    expect((await findSecrets(root, [control])).hits.map((h) => h.file.split(path.sep)[0])).toContain('bronze');
  }, scaled(60_000, 300_000));

  it('a page that never recovers leaves the source partial; what came before is kept once and counted', async () => {
    const injector = faultInjector(seededRandom(SEED + 1));
    const rows = catalog(0, RECORDS);
    const deadPage = Math.ceil(RECORDS / PAGE / 2) + 1;
    const data = pages.pageNumber(rows, PAGE);
    // Its own server: the dead page's failures must not open the breaker for other tests' hosts.
    const faulty = injector.wrap('/items', data);
    const server = await startFaultyServer({
      '/items': (req, res, hit) => (hit.url.searchParams.get('page') === String(deadPage) ? sendJson(res, 503, { error: 'down' }) : faulty(req, res, hit)),
    });
    registerCleanup(() => server.close());
    const root = path.join(tempDir('duckhouse-faults-'), 'data');
    const lake = await Lakehouse.open({ root, log: { console: false } });
    registerCleanup(() => lake.close());
    const result = await lake.extract(
      httpSource({
        source: 'faults',
        dataset: 'dying',
        url: `${server.url}/items`,
        paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
        items: 'data',
        schema,
        limits: { ...limits, retries: 2 },
      }),
    );
    const before = rows.slice(0, (deadPage - 1) * PAGE);
    const valid = before.filter((r) => problems(r).length === 0);
    const invalid = before.filter((r) => problems(r).length > 0);
    expect(result.status).toBe('partial');
    expect(result.sources[0]).toMatchObject({ status: 'partial', rows: valid.length, rejected: invalid.length });
    // The API tells its page count, so up to three pages past the one being read went out ahead
    // (inFlight 4); what they answered is dropped when the source stops at the dead page.
    const pageOf = (request: number): number => Number(server.requests[request - 1]!.query.get('page'));
    const requested = new Set(server.requests.map((_, i) => pageOf(i + 1)));
    expect(Math.max(...requested)).toBeLessThanOrEqual(deadPage + 3);
    // Every request past the first of each page is a retry: the dead page's two, each fault's one
    // on the pages before it (a page sent ahead may have been stopped before its retry went out).
    expect(result.sources[0]!.retries).toBe(server.hits('/items') - requested.size);
    const faultsBefore = injector.log.filter((f) => pageOf(f.request) < deadPage).length;
    expect(result.sources[0]!.retries).toBeGreaterThanOrEqual(2 + faultsBefore);
    expect(result.sources[0]!.error).toBe(`GET ${server.url}/items?page=${deadPage}: HTTP 503 Service Unavailable (after 3 attempts)`);
    const ids = await lake.query<{ id: number }>(`SELECT id FROM read_parquet('${glob(root, 'dying')}') ORDER BY id`);
    expect(ids.map((r) => r.id)).toEqual(valid.map((r) => r.id));
    const quarantined = fs.readFileSync(path.join(root, 'quarantine', 'faults', 'dying', `${result.runId}.ndjson`), 'utf8').trim().split('\n');
    expect(quarantined.map((l) => (JSON.parse(l) as { record: Row }).record.id)).toEqual(invalid.map((r) => r.id));
    const [sr] = await lake.metrics.select('SELECT status, rows, rejected, error FROM source_results WHERE run_id = $1', [result.runId]);
    expect(sr).toEqual({ status: 'partial', rows: valid.length, rejected: invalid.length, error: result.sources[0]!.error });
    const [record] = await lake.metrics.select('SELECT status, rows, rejected FROM runs WHERE run_id = $1', [result.runId]);
    expect(record).toEqual({ status: 'partial', rows: valid.length, rejected: invalid.length });
    await expectCommittedBronze(lake);
  }, scaled(60_000, 300_000));
});
