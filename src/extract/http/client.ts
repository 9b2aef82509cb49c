/**
 * HttpClient: got 14 with keep-alive agents, and our own retry loop around it, so that every
 * attempt passes the per-source in-flight limit, the per-host circuit breaker and the per-host
 * token bucket, and is counted in per-host stats. got's own retry is off.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import got, { RequestError, TimeoutError, ReadError, type Method } from 'got';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Limits } from '../../config.js';
import { parseJsonExact } from '../json-exact.js';
import { ConfigError, SourceError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isSecretName, redactString } from '../../redact.js';
import type { HttpHostStats } from '../source.js';
import { retryDelayMillis } from './backoff.js';
import { circuitBreakerFor } from './circuit-breaker.js';
import {
  CircuitOpenError,
  HttpBodyError,
  HttpContentTypeError,
  HttpEncodingError,
  HttpError,
  HttpNetworkError,
  HttpRedirectError,
  HttpStatusError,
  HttpTimeoutError,
  HttpTooLargeError,
  surelyUnsent,
} from './http-errors.js';
import { abortable } from '../../abortable.js';
import type { AuthStrategy } from './oauth.js';
import { rateLimiterFor, sleep, type RateLimiterLease } from './rate-limiter.js';

export type QueryValue = string | number | boolean | undefined | null;
export type QueryValues = Record<string, QueryValue | QueryValue[]>;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

export interface HttpRequestOptions {
  method?: HttpMethod;
  /** Added to the URL's own query string (undefined and null values are left out). */
  query?: QueryValues;
  headers?: Record<string, string>;
  /** A JSON request body. */
  json?: unknown;
  /** A form-encoded request body. */
  form?: Record<string, string>;
  /** `json` (default): the body must parse as JSON (integers past ±2^53 as bigints). `text`: the body as a string. */
  responseType?: 'json' | 'text';
  /** Statuses (besides 2xx) handed back as responses instead of thrown. */
  acceptStatuses?: number[];
  /** `false` skips the auth strategy (token endpoints). */
  auth?: false;
  /**
   * Whether a 2xx response's Content-Type (`''` when none) is taken: if not, the request is refused
   * with an HttpContentTypeError as soon as its headers arrive, its body not downloaded.
   */
  acceptContentType?: (contentType: string) => boolean;
  /**
   * `same-origin`: a redirect to another origin ends the request with an HttpRedirectError instead
   * of being followed (a token request, whose body holds the refresh token and client secret).
   */
  redirect?: 'follow' | 'same-origin';
  /** `unsent-only`: retry only failures where the request surely never reached the server. */
  retry?: 'all' | 'unsent-only';
  signal?: AbortSignal;
}

export interface HttpResponse<T = unknown> {
  /** The final URL (after redirects). May hold an API key: redact before showing it. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
  /** The body's size once decoded (what it holds in memory); `stats().bytes` counts it as sent, compressed. */
  bytes: number;
  /** Requests it took, retries included. */
  attempts: number;
}

export interface HttpClientOptions {
  /** Retries, backoff, timeout, rate, burst, in-flight and breaker settings. */
  limits: Limits;
  signal?: AbortSignal;
  logger?: Logger;
  auth?: AuthStrategy;
  /**
   * Origins (`https://api.example.com`) the credentials go to; a request elsewhere (a next-page
   * URL on a CDN) goes without them. `'first'` (the default): the origin of the first request that
   * would carry them, the API the client was made for. `'any'`: every origin, for an `auth` strategy
   * that chooses for itself.
   */
  authOrigins?: string[] | 'first' | 'any';
  /** Sent with every request (the User-Agent can be overridden here). */
  headers?: Record<string, string>;
  /** Counters bumped on every request and retry (a source's `ctx.stats`). */
  counters?: { requests: number; retries: number };
}

/**
 * `authOrigins` as the client matches it: one of the `keywords` (`'any'`, `'first'`) or origins exactly
 * as `new URL(url).origin` writes them. A string was matched as text (every origin it begins with got
 * the credentials), an origin with a path or a slash never (no request carried them).
 */
export function checkAuthOrigins<K extends string>(value: unknown, where: string, keywords: readonly K[]): string[] | K | undefined {
  if (value === undefined || keywords.includes(value as K)) return value as K | undefined;
  if (!Array.isArray(value)) {
    const words = keywords.map((k) => `'${k}'`).join(', ');
    throw new ConfigError(`${where}: option "authOrigins" must be ${words} or a list of origins such as ["https://api.example.com"] (got ${JSON.stringify(value)})`);
  }
  for (const entry of value as unknown[]) {
    const origin = typeof entry === 'string' && URL.canParse(entry) ? new URL(entry).origin : undefined;
    if (origin !== entry) {
      const shown = origin !== undefined && origin !== 'null' ? ` (${origin})` : '';
      throw new ConfigError(`${where}: option "authOrigins": ${JSON.stringify(entry)} is not an origin${shown}: scheme, host and port only, as new URL(url).origin writes it`);
    }
  }
  return value as string[];
}

/**
 * An HTTP client for one source (or one connector run). Close it to free its sockets and its
 * rate-limit leases.
 * @example
 * const client = new HttpClient({ limits, signal });
 * const { body } = await client.request<{ results: unknown[] }>('https://api.example.com/items', { query: { page: 1 } });
 * client.close();
 */
export class HttpClient {
  private readonly limits: Limits;
  private readonly inFlight: LimitFunction;
  /**
   * One request at a time retries a failing host (5xx, 408, network, broken body): the others that
   * failed with it wait until it is done. A host that fails then sees retries one after another,
   * as from a source reading one page at a time, instead of `inFlight` chains of them, which would
   * add up to the breaker's failures in a row during a blip that one chain rides out. (A 429 or
   * 425 retries in its own time: the host is answering.)
   */
  private retryLane: Promise<void> = Promise.resolve();
  private readonly agents: { http: http.Agent; https: https.Agent };
  /** got with this client's fixed options set once: each request merges only what is its own. */
  private readonly got: typeof got;
  private readonly leases = new Map<string, RateLimiterLease>();
  private readonly hostStats = new Map<string, HttpHostStats>();
  /** Attempts holding (or waiting for) an in-flight slot, until they settle. */
  private readonly sending = new Set<Promise<unknown>>();
  private readonly baseHeaders: Record<string, string>;
  private closed = false;
  /** The origin `authOrigins: 'first'` settled on. */
  private firstAuthOrigin: string | undefined;
  private readonly authOrigins: string[] | 'first' | 'any';
  /**
   * Aborted by `close()`: a request still waiting to retry (its backoff, the retry lane, an
   * in-flight slot) ends instead of going out from a closed client, on a rate-limit lease taken
   * after `close()` released them, which nothing would release.
   */
  private readonly stop = new AbortController();
  /** The client's signal and `stop`'s, combined once: a request without its own signal uses it as is. */
  private readonly signal: AbortSignal;

  constructor(private readonly options: HttpClientOptions) {
    this.limits = options.limits;
    this.authOrigins = checkAuthOrigins(options.authOrigins, 'HttpClient', ['first', 'any'] as const) ?? 'first';
    this.inFlight = pLimit(options.limits.inFlight);
    // One socket per in-flight slot is all a source can use; keep-alive saves a handshake per page.
    const agentOptions = { keepAlive: true, maxSockets: options.limits.inFlight, maxFreeSockets: options.limits.inFlight };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    this.got = got.extend({
      agent: this.agents,
      timeout: { request: this.limits.requestTimeoutMillis },
      retry: { limit: 0 },
      throwHttpErrors: false,
      // Bodies are decoded in `send`: got's decompress-response takes a raw deflate body (no zlib
      // header, as some servers send) for a zlib one by one bit of its first byte, and fails it.
      decompress: false,
    });
    this.baseHeaders = { 'user-agent': userAgent(), 'accept-encoding': ACCEPT_ENCODING, ...lowerKeys(options.headers ?? {}) };
    this.signal = anySignal(options.signal, this.stop.signal)!;
  }

  /**
   * Sends a request with retries. Resolves with a 2xx (or an accepted status) whose body is
   * parsed; rejects with an HttpError whose `retryable` said no, or the last one after the retries.
   */
  async request<T = unknown>(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpResponse<T>> {
    if (this.closed) throw new SourceError('HTTP_CLOSED', `HttpClient: request to ${redactString(String(url))} after close()`);
    const target = withQuery(url, options.query);
    const maxAttempts = this.limits.retries + 1;
    const signal = anySignal(this.signal, options.signal)!;
    let attempts = 0;
    let retries = 0;
    // Whether the next attempt repeats a failed one: counted as a retry only once it is sent (the
    // breaker may refuse it, the wait before it may be aborted).
    let retry = false;
    let authRefreshed = false;
    // Set while this request holds the retry lane (see `retryLane`).
    let leaveLane: (() => void) | undefined;
    try {
      for (;;) {
        attempts += 1;
        const sent: { applied?: boolean; credential?: string } = {};
        try {
          return await this.attempt<T>(target, options, attempts, retry, sent, signal);
        } catch (error) {
          retry = false;
          if (signal?.aborted) throw signal.reason;
          // A 401 gets one fresh credential per failure; it does not spend a retry. Only a request
          // that carried credentials: one to another origin (authOrigins) was refused without them.
          if (error instanceof HttpStatusError && error.status === 401 && sent.applied && this.options.auth?.onUnauthorized && !authRefreshed) {
            authRefreshed = true;
            if (await this.options.auth.onUnauthorized(sent.credential, this)) continue;
          }
          const mayRetry = error instanceof HttpError && error.retryable && (options.retry !== 'unsent-only' || surelyUnsent(error));
          if (!mayRetry || retries + 1 >= maxAttempts) throw error;
          let waited = 0;
          // Not a token request (`auth: false`): a data request holding the lane may be waiting on it.
          if (!leaveLane && options.auth !== false && hostFailing(error)) {
            const since = performance.now();
            const before = this.retryLane;
            const mine = new Promise<void>((resolve) => (leaveLane = resolve));
            // The next in line waits for the one before this one too: this one may leave while
            // still waiting (aborted), and the one before it may still be retrying.
            this.retryLane = Promise.all([before, mine]).then(() => undefined);
            await abortable(before, signal);
            waited = performance.now() - since;
          }
          // The wait for the lane gave the host its time already: a Retry-After (or backoff) that
          // requests out together got together is not paid again by each one in turn.
          const delay = Math.max(
            0,
            Math.round(
              retryDelayMillis({
                attempt: retries,
                baseMillis: this.limits.backoffBaseMillis,
                maxMillis: this.limits.backoffMaxMillis,
                retryAfter: error instanceof HttpStatusError ? error.retryAfter : undefined,
                date: error instanceof HttpStatusError ? error.date : undefined,
              }) - waited,
            ),
          );
          retries += 1;
          this.options.logger?.warn(`retry ${retries}/${maxAttempts - 1} in ${delay} ms: ${error.message}`);
          await sleep(delay, signal);
          retry = true;
        }
      }
    } finally {
      leaveLane?.();
    }
  }

  /** GET (by default) and return the parsed JSON body. */
  async getJson<T = unknown>(url: string | URL, options: HttpRequestOptions = {}): Promise<T> {
    return (await this.request<T>(url, options)).body;
  }

  /** Per-host counters so far (copies). */
  stats(): HttpHostStats[] {
    return [...this.hostStats.values()].map((s) => ({ ...s, statuses: { ...s.statuses }, latencyMs: Math.round(s.latencyMs), throttledMs: Math.round(s.throttledMs) }));
  }

  /**
   * Resolves once every attempt started so far has settled (aborted ones too), so that `stats()`
   * counts each request sent with its status: after an abort, an attempt records its ERR a few
   * ticks later.
   */
  async settled(): Promise<void> {
    while (this.sending.size > 0) await Promise.allSettled([...this.sending]);
  }

  /** Frees sockets and rate-limit leases; requests still waiting to go out end with `HTTP_CLOSED`. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(new SourceError('HTTP_CLOSED', 'HttpClient closed: requests still waiting to go out were not sent'));
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private statsFor(host: string): HttpHostStats {
    let stats = this.hostStats.get(host);
    if (!stats) {
      stats = { host, requests: 0, retries: 0, statuses: {}, bytes: 0, latencyMs: 0, throttledMs: 0, breakerOpens: 0 };
      this.hostStats.set(host, stats);
    }
    return stats;
  }

  private leaseFor(host: string): RateLimiterLease {
    let lease = this.leases.get(host);
    if (!lease) {
      lease = rateLimiterFor(host, { requestsPerSecond: this.limits.requestsPerSecond, burst: this.limits.burst });
      this.leases.set(host, lease);
    }
    return lease;
  }

  /** One request: credentials, then an in-flight slot, the breaker, a token, and got. */
  private async attempt<T>(
    target: URL,
    options: HttpRequestOptions,
    attempt: number,
    retry: boolean,
    sent: { applied?: boolean; credential?: string },
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse<T>> {
    const method = options.method ?? 'GET';
    // A copy only when auth may add a query parameter: the retry loop reuses `target`.
    const url = this.options.auth && options.auth !== false ? new URL(target) : target;
    const headers: Record<string, string> = { ...this.baseHeaders, ...lowerKeys(options.headers ?? {}) };
    if ((options.responseType ?? 'json') === 'json') headers.accept ??= 'application/json';
    // Credentials come before the in-flight slot: a token refresh needs a slot of its own.
    // The headers the credentials set: a redirect to another origin goes without them (got drops
    // only Authorization and Cookie; an API key header would follow).
    // So do the query parameters they set (an API key in the query): a server that redirects with
    // the query as it came (nginx's $request_uri) would hand the key to the other origin.
    const credentials: Credentials = { headers: [], params: [] };
    if (options.auth !== false && this.options.auth && this.credentialsGoTo(url.origin)) {
      const before = { ...headers };
      const query = new URLSearchParams(url.search);
      sent.applied = true;
      sent.credential = await this.options.auth.apply({ url, headers }, this);
      credentials.headers = Object.keys(headers).filter((k) => headers[k] !== before[k]);
      credentials.params = [...url.searchParams].filter(([k, v]) => !query.getAll(k).includes(v));
    }
    const sending = this.inFlight(() => this.send<T>(url, method, headers, options, attempt, retry, signal, credentials, sent));
    this.sending.add(sending);
    try {
      return await sending;
    } finally {
      this.sending.delete(sending);
    }
  }

  /** Whether the credentials go to `origin` (see HttpClientOptions.authOrigins). */
  private credentialsGoTo(origin: string): boolean {
    const origins = this.authOrigins;
    // Settled by the first request sent, not the first answered: `attempt` gets here before its
    // first await, in the order the requests were made.
    if (origins === 'first') return (this.firstAuthOrigin ??= origin) === origin;
    return origins === 'any' || origins.includes(origin);
  }

  private async send<T>(
    url: URL,
    method: HttpMethod,
    headers: Record<string, string>,
    options: HttpRequestOptions,
    attempt: number,
    retry: boolean,
    signal: AbortSignal | undefined,
    credentials: Credentials = { headers: [], params: [] },
    sent: { applied?: boolean } = {},
  ): Promise<HttpResponse<T>> {
    // Aborted while waiting for the slot (closed): not sent, and no lease taken for it.
    if (signal?.aborted) throw signal.reason;
    const host = url.host;
    const href = url.href;
    const stats = this.statsFor(host);
    const breaker = circuitBreakerFor(host);
    const gate = breaker.enter();
    // This attempt is not sent: the error counts the ones that were.
    if (typeof gate === 'object') throw new CircuitOpenError({ method, url: href, attempts: attempt - 1, host, ...gate });
    try {
      stats.throttledMs += await this.leaseFor(host).take(signal);
    } catch (error) {
      breaker.neutral();
      throw error;
    }
    stats.requests += 1;
    if (this.options.counters) this.options.counters.requests += 1;
    if (retry) {
      stats.retries += 1;
      if (this.options.counters) this.options.counters.retries += 1;
    }
    // Each redirect hop is a request of its own to the server: counted, and rate-limited on the
    // host it goes to, and sent only when that host's breaker lets it. `at` and `breakerAt` are the
    // host answering now, `since` when its wait started; `refused` the hop its breaker stopped.
    let at = stats;
    let breakerAt = breaker;
    let seen = breaker.seen;
    let since = performance.now();
    let refused: CircuitOpenError | HttpRedirectError | undefined;
    // The query pairs sent to this origin (the first hop, and any redirect within it): a credential
    // among them (a next-page link's `access_token=`) that a redirect carries elsewhere is dropped.
    // Read from the query text only when a redirect comes (rare), not at every request.
    const firstQuery = url.search;
    let sentHere: [string, string][] | undefined;
    const beforeRedirect = async (
      next: { url?: URL | string; headers: Record<string, string | string[] | undefined> },
      hop: { statusCode: number; headers: http.IncomingHttpHeaders },
    ): Promise<void> => {
      at.latencyMs += performance.now() - since;
      at.statuses[hop.statusCode] = (at.statuses[hop.statusCode] ?? 0) + 1;
      at.bytes += Number(hop.headers['content-length']) || 0; // the hop's body is drained unread
      const nextUrl = new URL(next.url ?? url);
      sentHere ??= [...new URLSearchParams(firstQuery)];
      if (nextUrl.origin !== url.origin) {
        if (options.redirect === 'same-origin') {
          breakerAt.success(); // it answered, sanely
          refused = new HttpRedirectError({ method, url: href, attempts: attempt, host: at.host, status: hop.statusCode, to: nextUrl.origin });
          throw refused;
        }
        for (const h of credentials.headers) delete next.headers[h];
        if (next.url instanceof URL) dropParams(next.url, [...credentials.params, ...sentHere.filter(isCredentialParam)]);
        // The answer now comes from where no credentials went: a 401 there refuses none, and a
        // refresh for it would spend a single-use refresh token for nothing.
        sent.applied = false;
      } else {
        sentHere.push(...nextUrl.searchParams);
      }
      if (nextUrl.host !== at.host) {
        // The host that redirected answered sanely; a CDN failing is the CDN's breaker's count.
        breakerAt.success();
        breakerAt = circuitBreakerFor(nextUrl.host);
        const hopGate = breakerAt.enter();
        if (typeof hopGate === 'object') {
          refused = new CircuitOpenError({ method, url: href, attempts: attempt, host: nextUrl.host, ...hopGate });
          throw refused;
        }
      }
      at = this.statsFor(nextUrl.host);
      at.throttledMs += await this.leaseFor(nextUrl.host).take(signal);
      seen = breakerAt.seen;
      at.requests += 1;
      if (this.options.counters) this.options.counters.requests += 1;
      since = performance.now();
    };
    let response;
    // Whether the request was written out: one aborted before (the source stopping while got set
    // it up or waited for a socket) never reached the server and is not counted after all.
    let flushed = false;
    let notTaken: { status: number; contentType: string } | undefined;
    let tooLarge: { status: number; what: string } | undefined;
    try {
      // Agents, timeout, no retry, no decompression: set once (see the constructor).
      const request = this.got(url, {
        method: method as Method,
        headers,
        responseType: 'buffer',
        ...(options.json !== undefined ? { json: options.json } : {}),
        ...(options.form !== undefined ? { form: options.form } : {}),
        signal,
        hooks: { beforeRedirect: [beforeRedirect] },
      });
      // got buffers the whole body: past the limit (announced, or as it comes) the request ends.
      // (Redirect hops are drained by got before it reads a body: only the last answer counts.)
      const max = this.limits.maxResponseBytes;
      let answered = 0;
      request.on('request', (sent: http.ClientRequest) => {
        // 'finish': the request is written to the socket (a GET has no body to wait for).
        sent.once('finish', () => (flushed = true));
        sent.once('response', (res: http.IncomingMessage) => (answered = res.statusCode ?? 0));
      });
      request.on('downloadProgress', (progress: { transferred: number; total?: number }) => {
        if (tooLarge) return;
        if (progress.total !== undefined && progress.total > max) tooLarge = { status: answered, what: `(Content-Length ${progress.total})` };
        else if (progress.transferred > max) tooLarge = { status: answered, what: `received so far (${progress.transferred})` };
        else return;
        request.cancel();
      });
      const accept = options.acceptContentType;
      if (accept) {
        // got's own 'response' comes once the body is read: each hop's native response comes with its headers.
        request.on('request', (sent: http.ClientRequest) => {
          sent.once('response', (res: http.IncomingMessage) => {
            const status = res.statusCode ?? 0;
            const contentType = headerText(res.headers['content-type']) ?? '';
            if (status >= 200 && status < 300 && !accept(contentType)) {
              notTaken = { status, contentType };
              request.cancel();
            }
          });
        });
      }
      response = await request;
    } catch (error) {
      if (refused) throw refused; // the hop was not sent
      if (notTaken) {
        // The host answered, sanely: only not with what this request takes.
        at.latencyMs += performance.now() - since;
        at.statuses[notTaken.status] = (at.statuses[notTaken.status] ?? 0) + 1;
        breakerAt.success();
        throw new HttpContentTypeError({ method, url: href, attempts: attempt, host: at.host, ...notTaken });
      }
      if (tooLarge) {
        // The host answered: it only has more to say than this client reads.
        at.latencyMs += performance.now() - since;
        at.statuses[tooLarge.status] = (at.statuses[tooLarge.status] ?? 0) + 1;
        breakerAt.success();
        throw new HttpTooLargeError({ method, url: href, attempts: attempt, host: at.host, limit: this.limits.maxResponseBytes, ...tooLarge });
      }
      if (signal?.aborted && !flushed && at === stats) this.uncount(stats, retry);
      else {
        at.latencyMs += performance.now() - since;
        at.statuses.ERR = (at.statuses.ERR ?? 0) + 1;
      }
      if (signal?.aborted) {
        breakerAt.neutral();
        throw signal.reason;
      }
      if (breakerAt.failure(this.limits, seen)) at.breakerOpens += 1;
      throw this.networkError(error, method, href, attempt, at.host);
    }
    at.latencyMs += performance.now() - since;
    const status = response.statusCode;
    at.statuses[status] = (at.statuses[status] ?? 0) + 1;
    // Counted as it came over the wire (compressed), as a redirect hop's Content-Length is.
    at.bytes += response.body.length;
    const encoding = headerText(response.headers['content-encoding']);
    const accepted = (status >= 200 && status < 300) || (options.acceptStatuses?.includes(status) ?? false);
    // A coding we cannot undo is not a broken read that may pass: the server sends it so every time.
    // On a status that is not accepted the body is not read, and the status says more.
    const undecodable = response.body.length > 0 ? undecodableCoding(encoding) : undefined;
    if (undecodable !== undefined && accepted && !(options.responseType !== 'text' && isJsonAsIs(response.body, headerText(response.headers['content-type'])))) {
      breakerAt.success(); // it answered, sanely if not usefully
      throw new HttpEncodingError({ method, url: href, attempts: attempt, host: at.host, status, encoding: undecodable, decodes: ACCEPT_ENCODING });
    }
    let raw: Buffer;
    try {
      raw = undecodable === undefined ? await decodeBody(response.body, encoding, this.limits.maxResponseBytes) : response.body;
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        breakerAt.success();
        throw new HttpTooLargeError({ method, url: href, attempts: attempt, host: at.host, status, limit: this.limits.maxResponseBytes, what: `decoded (${response.body.length} bytes ${encoding})` });
      }
      // As a body cut short: the host sent what it should not have, and may send it whole next time.
      if (breakerAt.failure(this.limits, seen)) at.breakerOpens += 1;
      const message = `${encoding} body does not decode: ${(error as Error).message}`;
      throw new HttpNetworkError({ method, url: href, attempts: attempt, host: at.host, errno: (error as { code?: string }).code, message, readFailed: true });
    }
    const finalUrl = response.url;
    if (!accepted) {
      if (failingStatus(status)) {
        if (breakerAt.failure(this.limits, seen)) at.breakerOpens += 1;
      } else {
        breakerAt.success(); // 4xx and 429: the host is alive and answering
      }
      throw new HttpStatusError({
        method,
        url: href,
        attempts: attempt,
        host: at.host,
        status,
        statusText: response.statusMessage,
        retryAfter: headerText(response.headers['retry-after']),
        date: headerText(response.headers.date),
        hint: status === 401 || status === 403 ? 'credentials refused' : undefined,
      });
    }
    let body: unknown;
    if ((options.responseType ?? 'json') === 'text') {
      body = decodeText(raw, headerText(response.headers['content-type']));
    } else if (raw.length === 0 && (status === 204 || method === 'HEAD')) {
      body = undefined;
    } else {
      try {
        // Integers past ±2^53 as bigints, every digit kept (an ID a double would round to another).
        body = parseJsonExact(jsonText(raw, headerText(response.headers['content-type'])));
      } catch (error) {
        // Truncated JSON, a maintenance page, a captcha: the host is not answering what it should.
        // An accepted 4xx without JSON (a token endpoint refusing the client with a bare 401) is
        // the host answering, as any 4xx is.
        if (status >= 400 && status < 500) breakerAt.success();
        else if (breakerAt.failure(this.limits, seen)) at.breakerOpens += 1;
        throw new HttpBodyError({
          method,
          url: href,
          attempts: attempt,
          host: at.host,
          status,
          contentType: headerText(response.headers['content-type']),
          bytes: raw.length,
          reason: raw.length === 0 ? 'empty body' : (error as Error).message.split('\n')[0]!.slice(0, 120),
        });
      }
    }
    breakerAt.success();
    return { url: finalUrl, status, headers: response.headers, body: body as T, bytes: raw.length, attempts: attempt };
  }

  /** Takes back the count of a request that was never sent (see `send`). */
  private uncount(stats: HttpHostStats, retry: boolean): void {
    stats.requests -= 1;
    if (this.options.counters) this.options.counters.requests -= 1;
    if (retry) {
      stats.retries -= 1;
      if (this.options.counters) this.options.counters.retries -= 1;
    }
  }

  /** `host`: the one the request (or the redirect hop) failed on. */
  private networkError(error: unknown, method: string, url: string, attempt: number, host: string): HttpError {
    // got's errors hold the request options (headers included): keep only a redacted message.
    const message = redactString(error instanceof Error ? error.message : String(error));
    const cause = Object.assign(new Error(message), { code: (error as { code?: string }).code });
    if (error instanceof TimeoutError) return new HttpTimeoutError({ method, url, attempts: attempt, host, timeoutMillis: this.limits.requestTimeoutMillis, cause });
    const errno = error instanceof RequestError ? error.code : (error as { code?: string }).code;
    return new HttpNetworkError({ method, url, attempts: attempt, host, errno, message, readFailed: error instanceof ReadError, cause });
  }
}

/** The URL with `query` set on it (undefined and null values left out). */
export function withQuery(url: string | URL, query: QueryValues | undefined): URL {
  const target = new URL(url);
  if (!query) return target;
  // One serialisation at the end: each searchParams.set() would rewrite the whole query string.
  const params = new URLSearchParams(target.search);
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) {
      params.delete(key);
      for (const v of value) if (v !== undefined && v !== null) params.append(key, String(v));
    } else if (value !== undefined && value !== null) {
      params.set(key, String(value));
    }
  }
  target.search = params.toString();
  return target;
}

/** What `decodeBody` decodes (zstd needs Node 22.15). */
const ACCEPT_ENCODING = 'gzip, deflate, br';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotli = promisify(zlib.brotliDecompress);

/** The codings `decodeBody` undoes (`identity` by leaving the body as it is). */
const DECODED_CODINGS = new Set(['gzip', 'x-gzip', 'br', 'deflate', 'identity']);

/** The first coding of a Content-Encoding that `decodeBody` cannot undo (`zstd`, a misspelt one), if any. */
function undecodableCoding(contentEncoding: string | undefined): string | undefined {
  if (!contentEncoding) return undefined;
  return contentEncoding
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .find((coding) => coding !== '' && !DECODED_CODINGS.has(coding));
}

/**
 * Whether a body under a coding we cannot undo is plain JSON as it came: the label is wrong, not
 * the body (`Content-Encoding: UTF-8` or `none` from a misconfigured server, which browsers and
 * Python's clients read as it is). A compressed body never parses.
 */
function isJsonAsIs(body: Buffer, contentType: string | undefined): boolean {
  try {
    parseJsonExact(jsonText(body, contentType));
    return true;
  } catch {
    return false;
  }
}

/**
 * A body as its Content-Encoding(s) say, decoded off the main thread: `gzip` (`x-gzip`), `br`, and
 * `deflate` with or without its zlib header (RFC 9110 asks for one; some servers send raw deflate,
 * which browsers and curl read too). `identity` leaves it as it is; the caller refuses any other
 * (`undecodableCoding`) before.
 */
async function decodeBody(body: Buffer, contentEncoding: string | undefined, maxOutputLength: number): Promise<Buffer> {
  if (!contentEncoding || body.length === 0) return body;
  let decoded = body;
  // Encodings are listed in the order they were applied: undone last first.
  for (const coding of contentEncoding.toLowerCase().split(',').reverse()) {
    const name = coding.trim();
    // maxOutputLength: a small body decoding to gigabytes (a gzip bomb) stops at the limit.
    if (name === 'gzip' || name === 'x-gzip') decoded = await gunzip(decoded, { maxOutputLength });
    else if (name === 'br') decoded = await brotli(decoded, { maxOutputLength });
    else if (name === 'deflate') decoded = zlibWrapped(decoded) ? await inflate(decoded, { maxOutputLength }) : await inflateRaw(decoded, { maxOutputLength });
  }
  return decoded;
}

/** Whether a deflate body starts with a zlib header (RFC 1950: method 8, header a multiple of 31). */
function zlibWrapped(body: Buffer): boolean {
  return body.length >= 2 && (body[0]! & 0x0f) === 8 && ((body[0]! << 8) | body[1]!) % 31 === 0;
}

/** What an auth strategy added to a request: header names, and query parameters (name, value). */
interface Credentials {
  headers: string[];
  params: [string, string][];
}

/**
 * Whether a query parameter is a credential: named like one, or holding what the redaction scrubs
 * (a secret the auth layer registered, under any name; an API key's registered parameter). Only
 * those a redirect carries from the source's origin are dropped: one the redirect adds itself (a
 * presigned URL's `X-Amz-Signature`) is the target's own.
 */
function isCredentialParam([name, value]: [string, string]): boolean {
  // A page token (Google's `pageToken`, AWS's `NextToken`) is named like a credential but is the
  // page asked for: dropped, the moved API would serve the first page again. Only a secret in it goes.
  if (PAGE_TOKEN.test(name)) return redactString(value) !== value;
  const pair = `${name}=${value}`;
  return isSecretName(name) || redactString(pair) !== pair;
}

/** Query parameter names of a paginator's token: `pageToken`, `page_token`, `next_token`, `NextToken`, `continuationToken`. */
const PAGE_TOKEN = /(?:page|next|continuation|pagination|cursor|sync|resume)[_-]?token$/i;

/** Removes the `[name, value]` pairs from `url`'s query, in place (the query is rewritten only when one is there). */
function dropParams(url: URL, params: [string, string][]): void {
  const query = [...url.searchParams];
  const kept = query.filter(([k, v]) => !params.some(([name, value]) => k === name && v === value));
  if (kept.length < query.length) url.search = new URLSearchParams(kept).toString();
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}

let cachedUserAgent: string | undefined;

/** `duckhouse/<version> (+https://github.com/duckhouse)`: servers can tell who calls them. */
export function userAgent(): string {
  cachedUserAgent ??= `duckhouse/${packageVersion()} (+https://github.com/duckhouse)`;
  return cachedUserAgent;
}

function packageVersion(): string {
  // Walk up from this file: the depth differs between src/ (tsx) and dist/ (built).
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'duckhouse' && pkg.version) return pkg.version;
    } catch {
      /* no package.json here */
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

/**
 * Text in the charset the response declares: a byte order mark, else its Content-Type, else (HTML)
 * a `<meta charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">` in its first
 * 1,024 bytes, else in its `<head>` (up to HEAD_SCAN_BYTES); UTF-8 otherwise. A label TextDecoder
 * does not know (`charset=None`) is no declaration: the next one counts. Brazilian store sites
 * still serve ISO-8859-1.
 */
export function decodeText(raw: Buffer, contentType: string | undefined): string {
  // The BOM wins, as in browsers: a page saved as UTF-8 with a BOM on a server that labels every
  // page ISO-8859-1 (Apache's AddDefaultCharset) would be stored as "FeijÃ£o"; a UTF-16 one as noise.
  const bom = bomCharset(raw);
  if (bom !== undefined) return new TextDecoder(bom).decode(raw); // drops the BOM
  return decodeAs(raw, knownCharset(headerCharset(contentType)) ?? knownCharset(metaCharset(raw)));
}

function bomCharset(raw: Buffer): string | undefined {
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) return 'utf-8';
  if (raw[0] === 0xfe && raw[1] === 0xff) return 'utf-16be';
  if (raw[0] === 0xff && raw[1] === 0xfe) return 'utf-16le';
  return undefined;
}

/** `label` when TextDecoder knows it. */
function knownCharset(label: string | undefined): string | undefined {
  if (label === undefined) return undefined;
  try {
    new TextDecoder(label);
    return label;
  } catch {
    return undefined;
  }
}

/**
 * A JSON body as text: in the charset its Content-Type declares (an ISO-8859-1 API's "Feijão"),
 * else UTF-8, without a byte order mark (JSON.parse refuses one; jsonSource skips it too). A UTF-8
 * BOM wins over the label, as in `decodeText`: read as ISO-8859-1 it would be "ï»¿" and no JSON.
 */
function jsonText(raw: Buffer, contentType: string | undefined): string {
  const text = decodeAs(raw, bomCharset(raw) === 'utf-8' ? 'utf-8' : headerCharset(contentType));
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function headerCharset(contentType: string | undefined): string | undefined {
  return /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
}

/** `raw` decoded as `label`: UTF-8 when none is declared or TextDecoder does not know it. */
function decodeAs(raw: Buffer, label: string | undefined): string {
  if (!label || /^utf-?8$/i.test(label)) return raw.toString('utf8');
  try {
    return new TextDecoder(label).decode(raw);
  } catch {
    return raw.toString('utf8'); // a label TextDecoder does not know
  }
}

/** How far into a page its `<head>` is searched for a charset `<meta>`. */
const HEAD_SCAN_BYTES = 64 * 1024;
const META_CHARSET = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i;

/**
 * The charset a `<meta>` declares. Browsers look in the first 1,024 bytes, then re-decode when the
 * parser meets a later one: store sites put titles, SEO metas and styles first, pushing it past 1 KB.
 */
function metaCharset(raw: Buffer): string | undefined {
  const found = META_CHARSET.exec(raw.subarray(0, 1024).toString('latin1'))?.[1];
  if (found !== undefined || raw.length <= 1024) return found;
  const start = raw.subarray(0, HEAD_SCAN_BYTES).toString('latin1');
  const headEnd = start.search(/<\/head\s*>|<body[\s>]/i);
  return META_CHARSET.exec(headEnd < 0 ? start : start.slice(0, headEnd))?.[1];
}

/** A status that says the host is failing, not answering: its circuit breaker counts it. */
function failingStatus(status: number): boolean {
  return status >= 500 || status === 408;
}

/**
 * Whether the error says the host is failing, as `send` told its breaker: no answer (network,
 * timeout), a failing status, or a 2xx whose body is broken.
 */
function hostFailing(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return typeof status !== 'number' || failingStatus(status) || (status >= 200 && status < 300);
}
