/**
 * The HTTP toolkit of one source run: a client bound to the run's signal, limits and stats,
 * with the source's auth. httpSource uses it; connectors use it inside their own
 * `defineSource` extract functions to make requests with the same limits and auth.
 */
import type { Limits } from '../../config.js';
import { limitsOverrideSchema, parseOptions } from '../../config.js';
import type { ExtractContext } from '../source.js';
import { checkAuthOrigins, HttpClient, type HttpRequestOptions, type HttpResponse } from './client.js';
import { createAuth, type AuthOptions, type AuthStrategy } from './oauth.js';

export interface HttpContextOptions {
  /** Credentials for every request (plain options, or a ready strategy). */
  auth?: AuthOptions | AuthStrategy;
  /**
   * Origins the credentials go to; a request elsewhere goes without them. Default: the origin of
   * the first request that would carry them (the API the source was written for), not every
   * origin a URL from a response may point to. `'any'` only for an `auth` strategy that chooses
   * for itself. See HttpClientOptions.authOrigins.
   */
  authOrigins?: string[] | 'any';
  /** Over the source's limits (`ctx.limits`). */
  limits?: Partial<Limits>;
  /** Sent with every request. */
  headers?: Record<string, string>;
}

export interface HttpContext {
  readonly client: HttpClient;
  /** A request with retries, limits and auth; resolves with status, headers and parsed body. */
  request<T = unknown>(url: string | URL, options?: HttpRequestOptions): Promise<HttpResponse<T>>;
  /** `request` returning just the parsed JSON body. */
  getJson<T = unknown>(url: string | URL, options?: HttpRequestOptions): Promise<T>;
  /** Reports the per-host stats to the run (once), aborts what is still in flight, frees sockets. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * @example
 * const orders = defineSource({ source: 'shop', dataset: 'orders', schema,
 *   async *extract(ctx) {
 *     const http = createHttpContext(ctx, { auth: { type: 'bearer', token } });
 *     try {
 *       const body = await http.getJson<{ results: Order[] }>(`${base}/orders`, { query: { page: 1 } });
 *       yield body.results;
 *     } finally { await http.close(); }
 *   } });
 */
export function createHttpContext(ctx: ExtractContext, options: HttpContextOptions = {}): HttpContext {
  const limits = options.limits ? { ...ctx.limits, ...parseOptions(limitsOverrideSchema, options.limits, `createHttpContext(${ctx.source}/${ctx.dataset}) limits`) } : ctx.limits;
  const auth = options.auth === undefined ? undefined : isStrategy(options.auth) ? options.auth : createAuth(options.auth, { root: ctx.root, logger: ctx.logger, lockTimeoutMillis: ctx.lockTimeoutMillis, signal: ctx.signal });
  // Closing aborts prefetches and retries still waiting, so nothing outlives the source.
  const stop = new AbortController();
  const client = new HttpClient({
    limits,
    signal: AbortSignal.any([ctx.signal, stop.signal]),
    logger: ctx.logger,
    auth,
    authOrigins: checkAuthOrigins(options.authOrigins, `createHttpContext(${ctx.source}/${ctx.dataset})`, ['any']) ?? 'first',
    headers: options.headers,
    counters: ctx.stats,
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      stop.abort(new Error(`${ctx.source}/${ctx.dataset}: HTTP context closed`));
      // Requests still out (pages sent ahead of a page that failed) were sent and seen by the
      // server: reported once their abort is counted, not as requests without a status.
      await client.settled();
      ctx.reportHttpStats(client.stats());
      client.close();
    })();
    return closed;
  };
  return {
    client,
    request: (url, o) => client.request(url, o),
    getJson: (url, o) => client.getJson(url, o),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function isStrategy(auth: AuthOptions | AuthStrategy): auth is AuthStrategy {
  return typeof (auth as AuthStrategy).apply === 'function';
}
