/**
 * httpSource: a paginated JSON API as a source. Pages are fetched ahead of the writer (requests
 * keep going out while the lake validates a page or flushes a batch), records are picked out
 * of each body, and an incremental cursor is declared per page so it is saved only once the
 * bronze files holding those records are committed.
 */
import { z } from 'zod';
import type { Limits } from '../config.js';
import { parseOptions } from '../config.js';
import { bigintPlanOf, withBigints } from '../bronze/schema-map.js';
import { SourceError } from '../errors.js';
import { redactString } from '../redact.js';
import { defineSource, type ExtractContext, type PartitionBy, type Source, type SourceRecord } from './source.js';
import { withQuery, type HttpMethod, type HttpResponse, type QueryValues } from './http/client.js';
import { createHttpContext } from './http/http-context.js';
import { compareCursor, valueAtPath } from './http/json-path.js';
import { authOptionsSchema, type AuthOptions } from './http/oauth.js';
import { isPaginator, PaginationError, singlePage, type PageRequest, type PageResult, type Paginator } from './http/paginators.js';
import { RawArchive } from './http/raw-archive.js';
import { ReadAhead } from './http/read-ahead.js';

/** Response bytes fetched ahead of the writer at most (bodies in memory: a few times this). */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

export interface IncrementalOptions {
  /** Record field (dotted path) whose maximum is the cursor, e.g. `updated_at` or `id`. */
  cursorField: string;
  /** Query parameter that sends the committed cursor, e.g. `updated_since`. The API should return records past it. */
  param: string;
  /** Sent on the very first run, before any cursor is committed. */
  initial?: string | number;
}

export interface HttpSourceOptions<T extends SourceRecord = SourceRecord> {
  source: string;
  dataset: string;
  /** First page URL (absolute). */
  url: string;
  method?: Extract<HttpMethod, 'GET' | 'POST'>;
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  /** JSON request body (POST searches). */
  body?: unknown;
  /** How to get from one page to the next; default: a single request. */
  paginate?: Paginator;
  /** Where the records are: a dotted path (`results`, `data.items`) or a function; default: the body, if it is an array. */
  items?: string | ((body: any, response: HttpResponse<unknown>) => unknown[]);
  schema: z.ZodType<T>;
  partitionBy?: PartitionBy;
  primaryKey?: string[];
  auth?: AuthOptions;
  limits?: Partial<Limits>;
  incremental?: IncrementalOptions;
  /** Keep every response body (redacted) as gzip NDJSON under `<root>/raw/`. */
  archiveRaw?: boolean;
}

const optionsSchema = z.strictObject({
  source: z.unknown(),
  dataset: z.unknown(),
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['GET', 'POST']).default('GET'),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.unknown().optional(),
  paginate: z.custom<Paginator>(isPaginator, 'must be a paginator (offsetPaginator(), cursorPaginator()…)').optional(),
  items: z.union([z.string(), z.custom<(body: unknown, response: HttpResponse<unknown>) => unknown[]>((v) => typeof v === 'function', 'must be a function')]).optional(),
  schema: z.unknown(),
  partitionBy: z.unknown().optional(),
  primaryKey: z.unknown().optional(),
  auth: authOptionsSchema.optional(),
  limits: z.unknown().optional(),
  incremental: z
    .strictObject({ cursorField: z.string().min(1), param: z.string().min(1), initial: z.union([z.string(), z.number()]).optional() })
    .optional(),
  archiveRaw: z.boolean().default(false),
});

interface Page {
  request: PageRequest;
  response: HttpResponse<unknown>;
  records: unknown[];
}

/**
 * A source reading a paginated JSON API.
 * @example
 * const products = httpSource({
 *   source: 'shop', dataset: 'products', url: 'https://api.example.com/products',
 *   paginate: offsetPaginator({ limit: 100, totalPath: 'total' }), items: 'results',
 *   schema: z.object({ id: z.number(), name: z.string(), updated_at: z.string() }),
 *   incremental: { cursorField: 'updated_at', param: 'updated_since' },
 *   auth: { type: 'bearer', token: process.env.SHOP_TOKEN! },
 * });
 */
export function httpSource<T extends SourceRecord>(options: HttpSourceOptions<T>): Source<T> {
  const where = `httpSource(${JSON.stringify(String((options as { source?: unknown })?.source))}/${JSON.stringify(String((options as { dataset?: unknown })?.dataset))})`;
  const o = parseOptions(optionsSchema, options, where);
  const paginator = o.paginate ?? singlePage();
  const pickItems = itemsPicker(o.items);
  // z.bigint() fields, nested ones too: the body's integers within ±2^53 are numbers (past it, bigints), zod wants a bigint.
  const bigints = bigintPlanOf(options.schema);
  return defineSource<T>({
    source: options.source,
    dataset: options.dataset,
    schema: options.schema,
    ...(options.partitionBy === undefined ? {} : { partitionBy: options.partitionBy }),
    ...(options.primaryKey === undefined ? {} : { primaryKey: options.primaryKey }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    async *extract(ctx) {
      // The credentials go to the source's own origin only: a next-page URL elsewhere goes without them.
      const http = createHttpContext(ctx, { auth: o.auth, authOrigins: [new URL(o.url).origin], headers: o.headers });
      const archive = o.archiveRaw ? new RawArchive({ root: ctx.root, source: ctx.source, dataset: ctx.dataset, runId: ctx.runId, timezone: ctx.timezone }) : undefined;
      try {
        const incremental = o.incremental;
        let cursor: unknown = incremental ? ((await ctx.cursor()) ?? incremental.initial) : undefined;
        // Whether the cursor values came in order so far (see below).
        let ordered = true;
        const baseQuery: QueryValues = { ...o.query };
        if (incremental && cursor !== undefined) baseQuery[incremental.param] = cursor as string | number;
        const urlOf = (request: PageRequest): URL => withQuery(request.url ?? o.url, request.url ? undefined : { ...baseQuery, ...request.query });
        const send = (url: URL): Promise<HttpResponse<unknown>> => http.request<unknown>(url, { method: o.method, ...(o.body === undefined ? {} : { json: o.body }) });
        // Pages the paginator knows exist (the API told its total), sent ahead in order, up to the
        // in-flight limit, while the pages before them are read: on a slow API the requests
        // overlap instead of each waiting for the one before. An answer is used only when the
        // paginator then asks for that very URL; a guess that went wrong is dropped.
        const sentAhead: { key: string; response: Promise<HttpResponse<unknown>>; failed: boolean }[] = [];
        const fetchPage = async (request: PageRequest, url: URL, key: string): Promise<Page> => {
          const early = sentAhead.length > 0 && sentAhead[0]!.key === key ? sentAhead.shift() : undefined;
          if (!early) sentAhead.length = 0;
          const response = await (early?.response ?? send(url));
          return { request, response, records: pickItems(response, where) };
        };
        const sendAhead = (page: PageResult, next: PageRequest, nextUrl: URL, nextKey: string): void => {
          const ahead = paginator.ahead?.(page, next, ctx.limits.inFlight - 1) ?? [];
          if (ahead.length === 0) return; // nothing known past `next`: it goes out in its turn
          const urls = [nextUrl, ...ahead.map(urlOf)].slice(0, ctx.limits.inFlight);
          for (const [i, url] of urls.entries()) {
            const key = i === 0 ? nextKey : pageKey(url);
            const sent = sentAhead[i];
            if (sent?.key === key) {
              // A page that failed for good ends the source in its turn: nothing past it is asked
              // for (a request sent now would only be stopped, perhaps before the server saw it).
              if (sent.failed) return;
              continue;
            }
            sentAhead.length = i; // a guess that went wrong, and what was sent after it
            const entry = { key, response: send(url), failed: false };
            // Its error is thrown when its turn comes, or never.
            entry.response.catch(() => void (entry.failed = true));
            sentAhead.push(entry);
          }
        };
        // The producer walks the pages ahead of the consumer, so requests keep going out while
        // the lake validates a page or flushes a batch; the queue's byte budget bounds memory.
        const queue = new ReadAhead<Page>(READ_AHEAD_BYTES);
        const warn = (message: string): void => ctx.warn(`${ctx.source}/${ctx.dataset}: ${message}`);
        const produce = async (): Promise<void> => {
          let request: PageRequest | null = paginator.first();
          let url = urlOf(request);
          // Pages are told apart by the URL requested: the start URL reached again through a Link
          // is the first page, not a new one. Each page's key is made once.
          let key = pageKey(url);
          const made = new Set([key]);
          while (request && !queue.closed) {
            const page = await fetchPage(request, url, key);
            if (page.records.length === 0) {
              await queue.push(page, page.response.bytes);
              break;
            }
            let next: PageRequest | null;
            try {
              const result = { ...page, warn };
              next = paginator.next(result);
              if (next) {
                const nextUrl = urlOf(next);
                const nextKey = pageKey(nextUrl);
                checkAdvance(key, nextKey, made, next, where);
                url = nextUrl;
                key = nextKey;
                sendAhead(result, next, nextUrl, nextKey);
              }
            } catch (error) {
              // A page repeating the one before is left out: its records are in already.
              if (!(error instanceof PaginationError && error.repeatsPreviousPage)) await queue.push(page, page.response.bytes);
              throw error;
            }
            await queue.push(page, page.response.bytes);
            request = next;
          }
        };
        produce().then(
          () => queue.end(),
          (error: unknown) => queue.end(error),
        );
        try {
          for (let page = await queue.shift(); page; page = await queue.shift()) {
            ctx.stats.pages += 1;
            if (archive) await archive.add(page.response);
            if (page.records.length === 0) break;
            // After the archive, which keeps the body as the API sent it.
            const records = bigints ? page.records.map((record) => withBigints(record, bigints)) : page.records;
            if (incremental) {
              // Declared before the yield: the lake appends this page right after it, and may
              // commit it in the same step; declared after, a commit would lag one page behind.
              // Over the records the lake accepted only: a quarantined record's value ('pending'
              // where a date-time belongs) would otherwise become the cursor the API is sent next.
              ctx.checkpointAccepted((accepted) => {
                for (const record of accepted) {
                  const value = valueAtPath(record, incremental.cursorField);
                  if (value === undefined || value === null) continue;
                  if (cursor === undefined || compareCursor(value, cursor) > 0) cursor = value;
                  else if (ordered && compareCursor(value, cursor) < 0) {
                    // Records below the cursor already seen: the API does not sort by the cursor
                    // field, so records after this page may be older than it. A cursor saved now
                    // and a run that fails later would skip them for good.
                    ordered = false;
                    warn(`records do not come in "${incremental.cursorField}" order: the cursor is saved only when the source finishes (a failed run reads them again)`);
                  }
                }
                return cursor !== undefined && ordered ? cursor : undefined;
              });
            }
            yield records as T[];
          }
          // Every page read: now the cursor covers everything below it, in order or not.
          if (incremental && !ordered && cursor !== undefined) ctx.checkpoint(cursor);
        } finally {
          queue.close();
        }
      } finally {
        await archive?.close();
        await http.close();
      }
    },
  });
}

function itemsPicker(items: HttpSourceOptions['items']): (response: HttpResponse<unknown>, where: string) => unknown[] {
  return (response, where) => {
    const found = typeof items === 'function' ? items(response.body, response) : valueAtPath(response.body, items ?? '');
    // A last page that leaves the list out is an empty page, not an error.
    if (found === undefined || found === null) return [];
    if (!Array.isArray(found)) {
      const what = typeof items === 'function' ? 'the items function' : items ? `items path "${items}"` : 'the body (no items option)';
      throw new SourceError('HTTP_ITEMS', `${where}: ${redactString(response.url)}: ${what} gave ${typeof found}, not an array of records`);
    }
    return found;
  };
}

/**
 * Fails when the next page (its `pageKey`) was read already in this run, `made` holding the keys
 * of the pages read (the next one is added).
 */
function checkAdvance(current: string, key: string, made: Set<string>, request: PageRequest, where: string): void {
  if (key === current) {
    throw new SourceError('HTTP_PAGINATION', `${where}: the paginator asked for the same page again (${redactString(JSON.stringify(request))}); stopping instead of looping`);
  }
  // A page already read earlier in this run (cursors or links cycling a → b → a): following it
  // would go round for ever.
  if (made.has(key)) {
    throw new SourceError('HTTP_PAGINATION', `${where}: the paginator went back to a page already read in this run (${redactString(JSON.stringify(request))}): the API's pages cycle; stopping instead of looping`);
  }
  made.add(key);
}

/** The URL as the server sees it, its query in one order: `?a=1&b=2` and `?b=2&a=1` are one page. */
function pageKey(url: URL): string {
  const key = new URL(url);
  key.hash = '';
  key.searchParams.sort();
  return key.href;
}
