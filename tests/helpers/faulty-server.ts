/**
 * A loopback HTTP server (node:http on 127.0.0.1) whose routes fail on purpose: 429 with
 * Retry-After, a 500 once, a reset socket, a stall past the client's timeout, truncated JSON,
 * HTML with 200, and an OAuth2 provider with expiring access tokens and single-use refresh
 * tokens. Paginated routes enforce each pagination scheme's rules (a wrong request is a 400).
 * No vitest import: the benchmark and child processes use it too.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface Hit {
  url: URL;
  body: string;
  /** 1 for the first request of this route, 2 for the second… */
  count: number;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, hit: Hit) => void | Promise<void>;

export interface FaultyServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>`: the key of the client's rate limiter and breaker. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  route(path: string, handler: Handler): void;
  /** Requests received on `path` so far. */
  hits(path: string): number;
  /** TCP connections accepted so far (keep-alive reuse shows as few connections). */
  readonly connections: number;
  /** Stops listening and destroys every socket, keep-alive and stalled ones included. */
  close(): Promise<void>;
}

/** Ports servers of this process have listened on (see startFaultyServer). */
const usedPorts = new Set<number>();

export async function startFaultyServer(routes: Record<string, Handler> = {}): Promise<FaultyServer> {
  const table = new Map<string, Handler>(Object.entries(routes));
  const counts = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, at: performance.now() });
    const count = (counts.get(url.pathname) ?? 0) + 1;
    counts.set(url.pathname, count);
    const handler = table.get(url.pathname);
    try {
      if (!handler) return sendJson(res, 404, { error: 'not_found', path: url.pathname });
      await handler(req, res, { url, body, count });
    } catch (error) {
      if (!res.headersSent) sendJson(res, 500, { error: 'handler_failed', message: (error as Error).message });
    }
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    connections += 1;
    socket.on('close', () => sockets.delete(socket));
  });
  // A port this process has served before is not taken again: the HTTP client's circuit breakers
  // and rate limiters live per host:port for the life of the process, and a closed server's
  // failures would count against the next test's server on its port (the OS hands ports out again).
  let port: number;
  for (;;) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    if (!usedPorts.has(port)) break;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  usedPorts.add(port);
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    route: (path, handler) => void table.set(path, handler),
    hits: (path) => counts.get(path) ?? 0,
    get connections() {
      return connections;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Limits that keep tests fast: tiny backoff, short timeout, no throttling to speak of. */
export const FAST_LIMITS = {
  backoffBaseMillis: 5,
  backoffMaxMillis: 50,
  requestTimeoutMillis: 2_000,
  requestsPerSecond: 10_000,
  burst: 1_000,
} as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Route builders that misbehave on purpose. */
export const faults = {
  /** Always answers `body` as JSON. */
  json: (body: unknown, status = 200, headers: Record<string, string> = {}): Handler => (_req, res) => sendJson(res, status, body, headers),
  /** The n-th request uses the n-th handler; the last one repeats. */
  sequence: (...handlers: Handler[]): Handler => (req, res, hit) => handlers[Math.min(hit.count, handlers.length) - 1]!(req, res, hit),
  /** A status with a small JSON error body (and headers such as Retry-After). */
  status: (status: number, headers: Record<string, string> = {}): Handler => (_req, res) => sendJson(res, status, { error: http.STATUS_CODES[status] ?? 'error' }, headers),
  /** Drops the connection without answering: the client sees ECONNRESET / socket hang up. */
  resetSocket: (): Handler => (req) => void req.socket.destroy(),
  /** Never answers (until the server closes): the client must time out. */
  stall: (): Handler => () => new Promise<void>(() => undefined),
  /** Well-framed response whose JSON is cut in half. */
  truncatedJson: (body: unknown): Handler => (_req, res) => {
    const text = JSON.stringify(body);
    const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cut) });
    res.end(cut);
  },
  /** A 200 maintenance page where JSON was expected. */
  html200: (): Handler => (_req, res) => {
    const text = '<!doctype html><html><body><h1>Estamos em manutenção</h1></body></html>';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  },
  /** Waits `ms` before `handler`. */
  delayed: (ms: number, handler: Handler): Handler => async (req, res, hit) => {
    await sleep(ms);
    await handler(req, res, hit);
  },
};

function intParam(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  return /^\d+$/.test(text) ? Number(text) : NaN;
}

function badRequest(res: http.ServerResponse, message: string): void {
  sendJson(res, 400, { error: 'bad_request', message });
}

/** Records after `since_id` (strictly greater `id`), when the client sends it. */
function filtered<T extends { id: number }>(records: T[], url: URL): T[] {
  const since = intParam(url, 'since_id');
  return since === undefined || Number.isNaN(since) ? records : records.filter((r) => r.id > since);
}

/** Paginated routes, each enforcing its scheme's rules. */
export const pages = {
  /** `?offset&limit` (both required, limit ≤ maxLimit) → `{ results, paging: { total } }`. */
  offset: <T extends { id: number }>(records: T[], maxLimit = 50): Handler => (_req, res, { url }) => {
    const offset = intParam(url, 'offset');
    const limit = intParam(url, 'limit');
    if (offset === undefined || limit === undefined || Number.isNaN(offset) || Number.isNaN(limit)) return badRequest(res, 'offset and limit are required integers');
    if (limit < 1 || limit > maxLimit) return badRequest(res, `limit must be 1..${maxLimit}`);
    const all = filtered(records, url);
    sendJson(res, 200, { results: all.slice(offset, offset + limit), paging: { total: all.length, offset, limit } });
  },
  /** `?page` from 1 (required) → `{ data, meta: { total_pages } }`. */
  pageNumber: <T extends { id: number }>(records: T[], size: number): Handler => (_req, res, { url }) => {
    const page = intParam(url, 'page');
    if (page === undefined || Number.isNaN(page) || page < 1) return badRequest(res, 'page must be an integer ≥ 1');
    const all = filtered(records, url);
    const totalPages = Math.ceil(all.length / size);
    if (page > totalPages + 1) return badRequest(res, `page ${page} is past the last page (${totalPages}) + 1`);
    sendJson(res, 200, { data: all.slice((page - 1) * size, page * size), meta: { page, total_pages: totalPages } });
  },
  /** Opaque `?cursor` tokens only the server can make → `{ items, next_cursor }` (null at the end). */
  cursor: <T extends { id: number }>(records: T[], size: number): Handler => {
    const tokens = new Map<string, number>();
    return (_req, res, { url }) => {
      const cursor = url.searchParams.get('cursor');
      const start = cursor === null ? 0 : tokens.get(cursor);
      if (start === undefined) return badRequest(res, 'unknown cursor');
      const all = filtered(records, url);
      const end = start + size;
      let next: string | null = null;
      if (end < all.length) {
        next = randomBytes(6).toString('hex');
        tokens.set(next, end);
      }
      sendJson(res, 200, { items: all.slice(start, end), next_cursor: next });
    };
  },
  /** `?page` with an RFC 8288 `Link: <…>; rel="next"` header (absent on the last page) → array body. */
  link: <T extends { id: number }>(server: () => FaultyServer, path: string, records: T[], size: number): Handler => (_req, res, { url }) => {
    const page = intParam(url, 'page') ?? 1;
    if (Number.isNaN(page) || page < 1) return badRequest(res, 'page must be an integer ≥ 1');
    const all = filtered(records, url);
    const last = Math.ceil(all.length / size);
    const links = [`<${server().url}${path}?page=1&per_page=${size}>; rel="first"`];
    if (page < last) links.push(`<${server().url}${path}?page=${page + 1}&per_page=${size}>; rel="next"`);
    links.push(`<${server().url}${path}?page=${last}&per_page=${size}>; rel="last"`);
    sendJson(res, 200, all.slice((page - 1) * size, page * size), { link: links.join(', ') });
  },
  /**
   * VTEX search: `_from`/`_to` inclusive and required, at most 50 per window, `_to` < maxResults;
   * `resources: from-to/total`; 206 while results remain past `_to`, 200 on the last window.
   */
  vtex: <T>(records: T[], maxResults = 2500): Handler => (_req, res, { url }) => {
    const from = intParam(url, '_from');
    const to = intParam(url, '_to');
    if (from === undefined || to === undefined || Number.isNaN(from) || Number.isNaN(to)) return badRequest(res, '_from and _to are required integers');
    if (to < from) return badRequest(res, `_to (${to}) can't be smaller than _from (${from})`);
    if (to - from + 1 > 50) return badRequest(res, `the maximum number of items per request is 50 (asked ${to - from + 1})`);
    if (to >= maxResults) return badRequest(res, `_to can't be greater than ${maxResults - 1}`);
    const total = records.length;
    const status = to < total - 1 ? 206 : 200;
    sendJson(res, status, records.slice(from, to + 1), { resources: `${from}-${to}/${total}` });
  },
};

export interface OAuthProvider {
  /** POST form `grant_type=refresh_token&refresh_token&client_id&client_secret` → new tokens. */
  readonly token: Handler;
  /** Wraps a handler: 401 unless `Authorization: Bearer <live access token>`. */
  guard(handler: Handler): Handler;
  /** Every refresh token presented, in order, accepted or not. */
  readonly presented: string[];
  /** Every token issued (access and refresh), for leak checks. */
  readonly issued: string[];
  /** The refresh token that works now. */
  readonly current: string;
  /** Refresh tokens presented more than once, and refused presentations. */
  readonly reused: string[];
  readonly refusals: number;
  /** Every access token issued so far stops working. */
  expireAccessTokens(): void;
  /** Someone else used the current refresh token: a new one exists that we never saw. */
  rotateElsewhere(): string;
  /** Makes the next refresh stall without answering (after rotating: the answer is lost). */
  stallNextRefresh(): void;
}

export function oauthProvider(options: { refreshToken: string; clientId: string; clientSecret: string; accessTtlMillis?: number }): OAuthProvider {
  const ttl = options.accessTtlMillis ?? 60 * 60_000;
  const access = new Map<string, number>(); // token → expiresAt
  const presented: string[] = [];
  const issued: string[] = [];
  const reused: string[] = [];
  let current = options.refreshToken;
  let refusals = 0;
  let stallNext = false;
  const newToken = (prefix: string): string => {
    const token = `${prefix}-${randomBytes(12).toString('hex')}`;
    issued.push(token);
    return token;
  };
  return {
    async token(req, res, { body }) {
      const form = new URLSearchParams(body);
      if (req.method !== 'POST' || form.get('grant_type') !== 'refresh_token') return badRequest(res, 'unsupported grant');
      if (form.get('client_id') !== options.clientId || form.get('client_secret') !== options.clientSecret) return sendJson(res, 401, { error: 'invalid_client' });
      const token = form.get('refresh_token') ?? '';
      if (presented.includes(token)) reused.push(token);
      presented.push(token);
      if (token !== current) {
        refusals += 1;
        return sendJson(res, 400, { error: 'invalid_grant', message: 'refresh token expired or already used' });
      }
      current = newToken('rt');
      const accessToken = newToken('at');
      access.set(accessToken, Date.now() + ttl);
      if (stallNext) {
        stallNext = false;
        return new Promise<void>(() => undefined);
      }
      sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: ttl / 1000, refresh_token: current, scope: 'read' });
    },
    guard: (handler) => (req, res, hit) => {
      const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const expiresAt = match ? access.get(match[1]!) : undefined;
      if (expiresAt === undefined || Date.now() >= expiresAt) return sendJson(res, 401, { error: 'unauthorized', message: 'invalid or expired access token' });
      return handler(req, res, hit);
    },
    presented,
    issued,
    reused,
    get current() {
      return current;
    },
    get refusals() {
      return refusals;
    },
    expireAccessTokens() {
      for (const token of access.keys()) access.set(token, 0);
    },
    rotateElsewhere() {
      current = newToken('rt');
      return current;
    },
    stallNextRefresh() {
      stallNext = true;
    },
  };
}

/** `count` records `{ id: 1.., name, price }`. */
export function makeRecords(count: number, start = 1): { id: number; name: string; price: number }[] {
  return Array.from({ length: count }, (_, i) => ({ id: start + i, name: `item ${start + i}`, price: Math.round((start + i) * 137) / 100 }));
}
