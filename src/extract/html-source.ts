/**
 * htmlSource: a website without an API as a source. Pages are fetched with the HTTP engine
 * (retries, per-host rate limit, circuit breaker, honest User-Agent), parsed with cheerio,
 * turned into records by a selector map or a function, and crawled by following links.
 *
 * The crawl frontier (pages done, links queued) is the source's cursor: declared with each
 * page's records and saved by the lake only once the bronze files holding them are committed,
 * so a killed crawl resumes where its last commit left it. Pages without records ride along
 * with the next commit. A crawl that finished leaves `{ finished: true }` and the next run
 * starts over from `startUrls`.
 *
 * What happens to a page that cannot be read:
 * - the site answered and the answer is wrong (404, 410, 500, a redirect loop, an empty or
 *   non-HTML page — refused from its headers, a PDF is not downloaded —, `extract` throwing): a
 *   quarantine entry with the URL and the reason, and the crawl goes on;
 * - a listing page repeating the records of a sibling (`?page=4` answered as `?page=3`, or
 *   `/page/4/` as `/page/3/`): a warning, its records not stored again and its links not followed;
 * - the site is not answering (connection refused or reset, timeouts, the circuit breaker open,
 *   429 or 503 after every retry): the source fails; the frontier committed so far stays, so
 *   the next run retries the page instead of skipping it. Another host not answering (an
 *   external page, a link redirecting off-site) is that page's quarantine entry.
 */
import { createHash } from 'node:crypto';
import type { CheerioAPI } from 'cheerio';
import { z } from 'zod';
import type { Limits } from '../config.js';
import { parseOptions } from '../config.js';
import { ConfigError, errorMessage } from '../errors.js';
import { escapeRegExp, isSecretName, REDACTED, redactString, registerSecret } from '../redact.js';
import { parseBrl, parseBrNumber, parsePackSize } from './brazil.js';
import { stringifyJsonExact } from './json-exact.js';
import type { HttpResponse } from './http/client.js';
import type { AuthStrategy } from './http/oauth.js';
import { createHttpContext } from './http/http-context.js';
import { CircuitOpenError, HttpContentTypeError, HttpError, HttpNetworkError, HttpStatusError, HttpTimeoutError } from './http/http-errors.js';
import { defineSource, lazyCursor, type ExtractContext, type PartitionBy, type Source, type SourceRecord } from './source.js';

/** The page being read, as `extract` and `follow` functions see it. */
export interface HtmlPage {
  /** The page's URL after redirects, normalized (no fragment nor `utm_*` parameters, query parameters sorted). */
  url: string;
  status: number;
}

/** How a field's text becomes a value. Missing elements and attributes give `undefined`. */
export type HtmlFieldParse =
  /** Whitespace collapsed and trimmed (the default). */
  | 'text'
  /** `R$ 1.234,56` → 1234.56 (null when it is not a price). */
  | 'brl'
  /** `1.234,5` → 1234.5. */
  | 'number'
  /** An integer written the Brazilian way (`1.200` → 1200); null otherwise. */
  | 'int'
  /** A link made absolute against the page URL (and its `<base href>`). */
  | 'url'
  /** `{ packQty, unit, netAmount }` from a name (`12x395g`); null when there is none. */
  | 'pack';

export interface HtmlFieldSpec {
  /** CSS selector relative to the item (its first match is used); none means the item itself. */
  selector?: string;
  /** Read this attribute instead of the element's text. */
  attr?: string;
  /** A parse kind, or a function of the value (whitespace collapsed) and the page. */
  parse?: HtmlFieldParse | ((value: string, page: HtmlPage) => unknown);
}

/** Records from selectors: one record per `items` match, one field per entry of `fields`. */
export interface HtmlSelectorMap {
  /** CSS selector of the records (product cards); none means one record per page. */
  items?: string;
  /** Field name → a selector (text, trimmed) or a full spec. */
  fields: Record<string, string | HtmlFieldSpec>;
}

export type HtmlExtractFunction = ($: CheerioAPI, page: HtmlPage) => unknown[] | Promise<unknown[]>;
export type HtmlFollowFunction = ($: CheerioAPI, page: HtmlPage) => Iterable<string>;

export interface HtmlSourceOptions<T extends SourceRecord = SourceRecord> {
  source: string;
  dataset: string;
  /** Where the crawl starts (absolute http(s) URLs). Their origins are the ones crawled. */
  startUrls: string[];
  /**
   * Links to crawl next: a CSS selector of elements with `href` (`'a.next, nav.categories a'`),
   * or a function returning URLs (relative ones are resolved against the page).
   */
  follow?: string | HtmlFollowFunction;
  /** Follow links to other origins too (default false: same origin as the start URLs). */
  followExternal?: boolean;
  /** A selector map or a function `($, page) => records`. */
  extract: HtmlSelectorMap | HtmlExtractFunction;
  /** One record; declare `_url: z.string()` to keep the URL of the page each record came from. */
  schema: z.ZodType<T>;
  partitionBy?: PartitionBy;
  primaryKey?: string[];
  /**
   * Over the lake's limits; `inFlight` is also how many pages are fetched at once, and
   * `flushRows` defaults to 1,000 (CRAWL_FLUSH_ROWS) so a killed crawl loses little.
   */
  limits?: Partial<Limits>;
  /** Pages fetched per crawl at most, over resumes (default 1,000). */
  maxPages?: number;
  /**
   * Sent with every request (`accept-language`…). Credentials (`cookie`, `authorization`, an API
   * key: a secret-looking name) go to the crawl's own origins only, never to an external link.
   */
  headers?: Record<string, string>;
}

const PARSE_KINDS = ['text', 'brl', 'number', 'int', 'url', 'pack'] as const;
const isFunction = (v: unknown): boolean => typeof v === 'function';
const selector = z.string().trim().min(1);

const fieldSchema = z.union([
  selector,
  z.strictObject({
    selector: selector.optional(),
    attr: z.string().min(1).optional(),
    parse: z.union([z.enum(PARSE_KINDS), z.custom<(value: string, page: HtmlPage) => unknown>(isFunction, 'must be a parse kind or a function')]).optional(),
  }),
]);

const optionsSchema = z.strictObject({
  source: z.unknown(),
  dataset: z.unknown(),
  startUrls: z.array(z.url({ protocol: /^https?$/ })).min(1),
  follow: z.union([selector, z.custom<HtmlFollowFunction>(isFunction, 'must be a CSS selector or a function')]).optional(),
  followExternal: z.boolean().default(false),
  extract: z.union([
    z.custom<HtmlExtractFunction>(isFunction, 'must be a selector map or a function'),
    z.strictObject({ items: selector.optional(), fields: z.record(z.string().min(1), fieldSchema) }),
  ]),
  schema: z.unknown(),
  partitionBy: z.unknown().optional(),
  primaryKey: z.unknown().optional(),
  limits: z.unknown().optional(),
  maxPages: z.number().int().positive().default(1_000),
  headers: z.record(z.string(), z.string()).optional(),
});

/** The frontier as saved in the cursor. */
const crawlStateSchema = z.object({
  v: z.literal(1),
  /** The start URLs it grew from: other start URLs (not the same in another order) start a new crawl. */
  start: z.array(z.string()),
  /** Origins crawled: the start URLs' and those their redirects led to. */
  origins: z.array(z.string()),
  /** Pages whose records and quarantine entries are committed (redirect targets included). */
  visited: z.array(z.string()),
  /** Links found and not committed yet, in crawl order; `from` is the page that linked it. */
  queue: z.array(z.object({ url: z.string(), from: z.string().optional() })),
  /** Pages fetched so far (the maxPages budget). */
  pages: z.number().int().nonnegative(),
});
type CrawlState = z.infer<typeof crawlStateSchema>;
type QueueEntry = CrawlState['queue'][number];

/**
 * A crawl commits every 1,000 records unless `limits.flushRows` says otherwise: at the lake's
 * 100,000 a typical crawl would commit once, at its end, and a killed one would start over.
 * At 5 pages/s and ~20 products a page that is a commit every ~10 s (compaction merges the files).
 */
export const CRAWL_FLUSH_ROWS = 1_000;

const ACCEPT_HTML = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.5';

type Cheerio = typeof import('cheerio');
let cheerioModule: Promise<Cheerio> | undefined;
/** cheerio (and its parser) cost ~0.5 s to load: only processes that scrape pay for it. */
function loadCheerio(): Promise<Cheerio> {
  cheerioModule ??= import('cheerio').catch((error: unknown) => {
    cheerioModule = undefined;
    throw error;
  });
  return cheerioModule;
}

/**
 * A URL as the crawler compares and requests it: absolute, http(s) only, without fragment,
 * `user:password@` or `utm_*` parameters, with percent-escapes upper-cased (those of unreserved characters decoded)
 * and query parameters sorted. Undefined for anything else
 * (`mailto:`, `javascript:`, garbage).
 * @example normalizeCrawlUrl('?sort=a&page=2#top', 'https://loja.com.br/c/x') // 'https://loja.com.br/c/x?page=2&sort=a'
 */
export function normalizeCrawlUrl(href: string, base?: string): string | undefined {
  let url: URL;
  try {
    url = new URL(href.trim(), base);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.hash = '';
  // A start URL's `user:password@` is sent as Basic auth to its origin (startCredentials), never
  // kept in a page's URL: `_url`, `url` fields, the frontier and errors would hold the password.
  url.username = '';
  url.password = '';
  // URL() upper-cases the escapes it writes but keeps those of the link: `%c3%a3` and `%C3%A3`
  // are one octet (RFC 3986 §6.2.2.1), and would otherwise be two pages fetched and stored twice.
  url.pathname = upperEscapes(url.pathname);
  // `/c/x?` is `/c/x`: an empty query would make it another page (crawled, and its records stored, twice).
  url.search = sortQuery(upperEscapes(url.search.slice(1)));
  return url.href;
}

/**
 * The key a page is known by in the crawl (visited, queued): its URL without a trailing slash
 * on the path (not the root's). `/c/x/` and `/c/x` are one page to the crawler, as to Crawlee (its
 * `uniqueKey` drops it): sites answer both, and the records would be stored twice. The page is
 * requested as the first link to it wrote it.
 * @example crawlKey('https://loja.com.br/c/x/?page=2') // 'https://loja.com.br/c/x?page=2'
 */
export function crawlKey(url: string): string {
  const at = url.search(/[?#]/);
  const end = at < 0 ? url.length : at;
  const head = url.slice(0, end);
  // `http://h/` keeps its slash: the path of an origin is `/`.
  return head.endsWith('/') && !/^[a-z][a-z0-9+.-]*:\/\/[^/]*\/$/i.test(head) ? head.slice(0, -1) + url.slice(end) : url;
}

/**
 * Percent-escapes upper-cased, and those of unreserved characters decoded (`%7E` is `~`, RFC 3986
 * §6.2.2.2: encoders such as old PHP's escaped it), so one page is one URL whichever way a link wrote it.
 */
const upperEscapes = (s: string): string =>
  s.replace(/%[0-9a-f]{2}/gi, (escape) => {
    const char = String.fromCharCode(Number.parseInt(escape.slice(1), 16));
    return /^[A-Za-z0-9._~-]$/.test(char) ? char : escape.toUpperCase();
  });

/**
 * Campaign parameters (`utm_source`, `utm_campaign`…): a banner's link and the menu's to one
 * category are one page, which would otherwise be fetched and stored twice. Crawlee drops them too.
 */
const TRACKING_PARAMETER = /^utm_/i;

/**
 * Parameters sorted by name in the order of `URLSearchParams.sort()`, each kept as written
 * (campaign parameters dropped): re-serializing would turn a bare `?x` into `?x=` (another
 * request) and re-encode values.
 */
function sortQuery(query: string): string {
  const name = (pair: string): string => {
    const raw = pair.split('=', 1)[0]!.replace(/\+/g, ' ');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  };
  const pairs = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => ({ pair, name: name(pair) }))
    .filter((p) => !TRACKING_PARAMETER.test(p.name));
  // Array sort is stable: repeated names keep their order, as in URLSearchParams.sort().
  return pairs
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => p.pair)
    .join('&');
}

/**
 * A source crawling HTML pages.
 * @example
 * const products = htmlSource({
 *   source: 'mercado', dataset: 'products',
 *   startUrls: ['https://www.mercado.com.br/'],
 *   follow: 'a.next, nav.categories a',
 *   extract: { items: 'li.product', fields: {
 *     sku: { attr: 'data-sku' }, name: '.title',
 *     price: { selector: '.price', parse: 'brl' },
 *     url: { selector: 'a', attr: 'href', parse: 'url' },
 *   } },
 *   schema: z.object({ sku: z.string(), name: z.string(), price: z.number(), url: z.string(), _url: z.string() }),
 *   partitionBy: { store: 'mercado' },
 * });
 */
export function htmlSource<T extends SourceRecord>(options: HtmlSourceOptions<T>): Source<T> {
  const where = `htmlSource(${JSON.stringify(String((options as { source?: unknown })?.source))}/${JSON.stringify(String((options as { dataset?: unknown })?.dataset))})`;
  const o = parseOptions(optionsSchema, options, where);
  const startUrls = [...new Set(o.startUrls.map((u) => normalizeCrawlUrl(u)!))];
  const fn = typeof o.extract === 'function' ? o.extract : undefined;
  const extractRecords: ($: CheerioAPI, page: HtmlPage, base: string, hide: (url: string) => string) => unknown[] | Promise<unknown[]> = fn
    ? ($, page) => fn($, page)
    : selectorMapExtractor(o.extract as HtmlSelectorMap);
  const follow = o.follow;
  const source = defineSource<T>({
    source: options.source,
    dataset: options.dataset,
    schema: options.schema,
    ...(options.partitionBy === undefined ? {} : { partitionBy: options.partitionBy }),
    ...(options.primaryKey === undefined ? {} : { primaryKey: options.primaryKey }),
    limits: { flushRows: CRAWL_FLUSH_ROWS, ...options.limits },
    extract: crawl,
  });
  // `_url` is added only when the schema has a place for it (a strict schema would refuse it).
  const keepUrl = source.columns.some((c) => c.name === '_url');

  async function* crawl(ctx: ExtractContext): AsyncGenerator<unknown[]> {
    const cheerio = await loadCheerio();
    checkSelectors(cheerio, o.extract, follow, where);
    const secrets = new UrlSecrets(startUrls);
    const frontier = new Frontier(startUrls, o.followExternal, await ctx.cursor(), ctx, secrets);
    const { plain, credentials } = splitHeaders(o.headers ?? {});
    const basic = startCredentials(o.startUrls);
    const auth = credentials || basic.size > 0 ? ownOriginsOnly(credentials ?? {}, basic, frontier) : undefined;
    // `ownOriginsOnly` picks the origins itself: every start URL's, and those their redirects led to.
    const http = createHttpContext(ctx, { headers: { accept: ACCEPT_HTML, ...plain }, ...(auth ? { auth, authOrigins: 'any' } : {}) });
    type Fetched = { entry: QueueEntry; response?: HttpResponse<string>; error?: unknown };
    const inFlight = new Map<string, Promise<Fetched>>();
    const truncated: string[] = [];
    /** The pages of this run with each list of records (by digest). */
    const pagesByRecords = new Map<string, string[]>();
    /**
     * The page of the same listing (`?page=3` for `?page=4`) already read with the same records
     * as `url`'s. Only such a sibling: two categories may well list the same products, and with
     * `_url` declared each says where it was listed.
     */
    const repeatOf = (records: unknown[], url: string): string | undefined => {
      if (records.length === 0) return undefined;
      let text: string;
      try {
        text = stringifyJsonExact(records);
      } catch {
        return undefined; // not JSON (a cycle): validation says so
      }
      const digest = createHash('sha256').update(text).digest('base64');
      const pages = pagesByRecords.get(digest) ?? [];
      const sibling = pages.find((page) => otherPageOf(page, url));
      if (sibling === undefined) pagesByRecords.set(digest, [...pages, url]);
      return sibling;
    };
    const fetchPage = (entry: QueueEntry): Promise<Fetched> =>
      http.request<string>(entry.url, { responseType: 'text', acceptContentType: (type) => type === '' || isPageType(type) }).then(
        (response) => ({ entry, response }),
        (error: unknown) => ({ entry, error }),
      );

    /** Reads one fetched page: its records, with its links queued. Throws only when the site is not answering. */
    const readPage = async ({ entry, response, error }: Fetched): Promise<unknown[]> => {
      // A redirect from another URL already brought this page.
      if (frontier.isVisited(entry.url)) return [];
      frontier.visit(entry.url);
      const reject = (reason: string, extra: Record<string, unknown> = {}): unknown[] => {
        ctx.reject({ url: redactString(entry.url), ...(entry.from ? { from: redactString(entry.from) } : {}), ...extra }, reason, { url: redactString(entry.url) });
        return [];
      };
      if (!response) {
        const extra = error instanceof HttpError && error.status !== undefined ? { status: error.status } : {};
        if (siteIsDown(error)) {
          // Another host not answering (a link of the shop redirecting to WhatsApp or a partner, an
          // external page) is that page's problem: the shop is answering, its crawl goes on.
          const host = error instanceof HttpError ? error.host : undefined;
          if (entry.from === undefined || host === undefined || frontier.isOwnHost(host)) throw error;
          return reject(`${host} is not answering: ${pageErrorReason(error)}`, extra);
        }
        if (error instanceof HttpContentTypeError) return reject(`not an HTML page (content-type ${error.contentType})`, extra);
        return reject(pageErrorReason(error), extra);
      }
      const url = normalizeCrawlUrl(response.url) ?? entry.url;
      // A redirect adding or dropping the trailing slash (`/c/x` → `/c/x/`) lands on the same page.
      if (crawlKey(url) !== crawlKey(entry.url)) {
        if (entry.from === undefined && !frontier.isOwn(new URL(url))) {
          frontier.allowOrigin(url); // a start URL moving to https or www
          // Its hop to the new origin went without the credential headers (a region cookie that
          // sets the prices): read the page again from there, with them.
          if (auth) {
            frontier.discover(url, url, entry.url);
            return [];
          }
        }
        if (!frontier.allows(url)) return reject(`redirected off-site to ${new URL(url).origin}`, { status: response.status, redirectedTo: redactString(url) });
        if (frontier.isVisited(url)) return [];
        frontier.arrived(url);
      }
      const page: HtmlPage = { url, status: response.status };
      const contentType = String(response.headers['content-type'] ?? '');
      if (contentType && !isPageType(contentType)) return reject(`not an HTML page (content-type ${contentType})`, { status: response.status });
      const $ = cheerio.load(response.body);
      if ($('body *').length === 0 && $('body').text().trim() === '') return reject('empty page: the HTML has no content', { status: response.status, bytes: response.bytes });
      if (looksTruncated(response.body)) {
        // Records before the cut are kept (a card cut in half fails validation); the rest are missing.
        truncated.push(redactString(url));
        ctx.logger.warn(`page ${redactString(url)} looks truncated (no closing </html>)`);
      }
      const base = normalizeCrawlUrl($('base[href]').first().attr('href') ?? '', url) ?? url;
      let linkError: unknown;
      let links: unknown[] = [];
      if (follow !== undefined) {
        try {
          // toArray, not cheerio's .map: that one concatenates its result array at each element,
          // quadratic in the links of a page (a sitemap-like listing of 80,000 took minutes).
          links = typeof follow === 'string' ? $(follow).toArray().map((el) => $(el).attr('href')) : [...follow($, page)];
        } catch (e) {
          linkError = e;
        }
      }
      let records: unknown[] = [];
      let extracted = false;
      try {
        const found = await extractRecords($, page, base, (u) => secrets.hide(u));
        if (Array.isArray(found)) {
          records = found;
          extracted = true;
        } else reject(`extract returned ${found === null ? 'null' : typeof found}, not an array of records`, { status: response.status });
      } catch (e) {
        reject(`extract failed: ${errorMessage(e)}`, { status: response.status });
      }
      if (extracted && records.length === 0 && entry.from !== undefined && nextPageOf(entry.from, url)) {
        // The page past a listing's last (`?page=7` of six: "no products found", with a next link
        // all the same): the listing ends here, as an HTTP paginator stops at its first empty page,
        // instead of walking empty pages until maxPages.
        ctx.logger.info(`page ${redactString(secrets.hide(url))} of the listing has no records: its links are not followed`);
        return [];
      }
      const repeated = repeatOf(records, url);
      if (repeated !== undefined) {
        // A site answering every page past the last with the last one again: its records are
        // stored already, and its next link leads to the same page once more.
        ctx.warn(`${ctx.source}/${ctx.dataset}: page ${redactString(secrets.hide(url))} has the same ${records.length} records as ${redactString(secrets.hide(repeated))}: not stored again, and its links not followed (a pagination past its last page?)`);
        return [];
      }
      for (const link of links) if (typeof link === 'string') frontier.discover(link, base, url);
      if (linkError !== undefined) reject(`follow failed: ${errorMessage(linkError)}`, { status: response.status });
      if (!keepUrl) return records;
      const shown = redactString(secrets.hide(url));
      return records.map((r) => (r !== null && typeof r === 'object' && !Array.isArray(r) && (r as SourceRecord)._url === undefined ? { ...r, _url: shown } : r));
    };

    try {
      const concurrency = ctx.limits.inFlight;
      for (;;) {
        while (inFlight.size < concurrency && frontier.queued > 0 && frontier.pages + inFlight.size < o.maxPages) {
          const entry = frontier.start();
          inFlight.set(entry.url, fetchPage(entry));
        }
        if (inFlight.size === 0) break;
        // Pages are read in the order they arrive: a slow page does not hold the others back.
        const fetched = await Promise.race(inFlight.values());
        inFlight.delete(fetched.entry.url);
        frontier.finish(fetched.entry);
        ctx.stats.pages += 1;
        const records = await readPage(fetched);
        // Declared before the yield: the lake commits these records and this frontier together.
        ctx.checkpoint(frontier.checkpoint());
        if (records.length > 0) yield records;
      }
      if (truncated.length > 0) {
        const which = truncated.length === 1 ? `page ${truncated[0]} looks` : `${truncated.length} pages look`;
        ctx.warn(`${ctx.source}/${ctx.dataset}: ${which} truncated (no closing </html>): records after the cut are missing${truncated.length > 1 ? ` (first: ${truncated[0]})` : ''}`);
      }
      if (frontier.queued > 0) {
        ctx.warn(`${ctx.source}/${ctx.dataset}: stopped at maxPages (${o.maxPages}); ${frontier.queued} links found were not crawled`);
      }
      ctx.checkpoint({ v: 1, finished: true, pages: frontier.pages, finishedAt: new Date().toISOString() });
    } finally {
      // Aborts what is still in flight; those pages stay in the committed queue for next time.
      await http.close();
    }
  }

  return source;
}

/**
 * A point of the crawl a checkpoint stands for: the lengths of the frontier's lists then (they only
 * grow) and the pages in flight, so that declaring one after every page costs no copy of the lists.
 */
interface FrontierMark {
  /** Which checkpoint this is (0, 1…): what a queued entry a redirect took later is compared with. */
  seq: number;
  visited: number;
  origins: number;
  /** `entries` queued so far, and the first not started. */
  entries: number;
  head: number;
  active: QueueEntry[];
  pages: number;
}

/** Visited pages, the queue, the pages in flight, and which links may join the queue. */
class Frontier {
  /** The pages committed, by `crawlKey`. */
  private readonly visited: Set<string>;
  /** `visited` in the order it grew (the cursor's order): a checkpoint keeps its length. */
  private readonly visitedOrder: string[] = [];
  /**
   * Every link ever queued, in crawl order: the queue is those from `head` on, less those a
   * redirect landed on (`taken`). Never shortened, so a checkpoint's positions stay meaningful.
   */
  private readonly entries: QueueEntry[];
  private head = 0;
  /** Index in `entries` → the number of checkpoints made before a redirect took it off the queue. */
  private readonly taken = new Map<number, number>();
  /**
   * `crawlKey` → index in `entries` of the link queued under it: a redirect finds the queued page it
   * landed on without scanning the queue (a scan per redirect is O(pages × queue) when, as on many
   * shops, every product link redirects to its canonical URL).
   */
  private readonly queuedAt = new Map<string, number>();
  /** A queue saved by a version before `crawlKey` may hold one page twice (`/c/x/`, `/c/x`): then redirects scan it. */
  private readonly scanQueue: boolean;
  /** Links queued and not started. */
  queued: number;
  pages: number;
  private readonly startUrls: string[];
  private readonly origins: Set<string>;
  /** `origins` in the order they were allowed. */
  private readonly originOrder: string[];
  private readonly active = new Map<string, QueueEntry>();
  /** Checkpoints made so far. */
  private marks = 0;
  /** Every page visited, queued or in flight, by `crawlKey`. */
  private readonly seen: Set<string>;
  /** The saved frontier's URLs (all, and those visited) by `legacyKey`: see there. */
  private readonly savedKeys = new Set<string>();
  private readonly savedVisitedKeys = new Set<string>();

  constructor(startUrls: string[], private readonly followExternal: boolean, saved: unknown, ctx: ExtractContext, private readonly secrets: UrlSecrets) {
    this.startUrls = startUrls;
    const state = crawlStateSchema.safeParse(saved);
    if (state.success) {
      // Saved with the start URLs' secrets redacted: the crawl requests (and compares) them with their values.
      const s = state.data;
      const reveal = (url: string): string => secrets.reveal(url);
      s.start = s.start.map(reveal);
      s.visited = s.visited.map(reveal);
      s.queue = s.queue.map((e) => ({ url: reveal(e.url), ...(e.from === undefined ? {} : { from: reveal(e.from) }) }));
    }
    const resumable = state.success && (sameSet(state.data.start, startUrls) || sameSet(state.data.start.map(legacyKey), startUrls.map(legacyKey)));
    if (state.success && !resumable) ctx.warn(`${ctx.source}/${ctx.dataset}: the start URLs changed since the unfinished crawl; starting a new crawl`);
    else if (saved !== undefined && !state.success && !isFinished(saved)) ctx.warn(`${ctx.source}/${ctx.dataset}: the saved crawl state is not readable; starting a new crawl`);
    if (resumable) {
      const s = state.data;
      this.visited = new Set();
      for (const url of s.visited) this.addVisited(crawlKey(url));
      this.entries = s.queue.filter((e) => !this.visited.has(crawlKey(e.url)));
      this.pages = s.pages;
      this.origins = new Set(s.origins);
      for (const url of s.visited) this.savedVisitedKeys.add(legacyKey(url));
      for (const url of [...s.visited, ...this.entries.map((e) => e.url)]) this.savedKeys.add(legacyKey(url));
      ctx.logger.info(`resuming the crawl: ${s.visited.length} pages done, ${this.entries.length} queued`);
    } else {
      this.visited = new Set();
      // `/c/x/` and `/c/x` both listed are one page: fetched once.
      const keys = new Set<string>();
      this.entries = startUrls.filter((url) => !keys.has(crawlKey(url)) && keys.add(crawlKey(url))).map((url) => ({ url }));
      this.pages = 0;
      this.origins = new Set(startUrls.map((u) => new URL(u).origin));
    }
    this.queued = this.entries.length;
    this.entries.forEach((e, i) => {
      const key = crawlKey(e.url);
      if (!this.queuedAt.has(key)) this.queuedAt.set(key, i);
    });
    this.scanQueue = this.queuedAt.size < this.entries.length;
    this.originOrder = [...this.origins];
    this.seen = new Set([...this.visited, ...this.entries.map((e) => crawlKey(e.url))]);
  }

  private addVisited(key: string): void {
    if (this.visited.has(key)) return;
    this.visited.add(key);
    this.visitedOrder.push(key);
  }

  /** Whether the page was committed (or brought by a redirect) in this crawl. */
  isVisited(url: string): boolean {
    return this.visited.has(crawlKey(url)) || (this.savedVisitedKeys.size > 0 && this.savedVisitedKeys.has(legacyKey(url)));
  }

  /** The page is read in this crawl (its records and quarantine entries go with the next commit). */
  visit(url: string): void {
    this.addVisited(crawlKey(url));
  }

  allows(url: string): boolean {
    return this.followExternal || this.origins.has(new URL(url).origin);
  }

  /** On the start URLs' origins or one their redirects led to (not an external link's). */
  isOwn(url: URL): boolean {
    return this.origins.has(url.origin);
  }

  /** Whether `host` (`name:port`) is that of one of the crawl's own origins. */
  isOwnHost(host: string): boolean {
    for (const origin of this.origins) if (new URL(origin).host === host) return true;
    return false;
  }

  allowOrigin(url: string): void {
    const origin = new URL(url).origin;
    if (this.origins.has(origin)) return;
    this.origins.add(origin);
    this.originOrder.push(origin);
  }

  /** Queues a link found on page `from`, unless it is off-site, not http(s), or already known. */
  discover(href: string, base: string, from: string): void {
    const url = normalizeCrawlUrl(href, base);
    if (url === undefined || this.seen.has(crawlKey(url)) || (this.savedKeys.size > 0 && this.savedKeys.has(legacyKey(url))) || !this.allows(url)) return;
    this.seen.add(crawlKey(url));
    this.queuedAt.set(crawlKey(url), this.entries.length);
    this.entries.push({ url, from });
    this.queued += 1;
  }

  /** Takes the next queued page and counts it in flight. */
  start(): QueueEntry {
    while (this.taken.has(this.head)) this.head += 1;
    const entry = this.entries[this.head]!;
    const key = crawlKey(entry.url);
    if (this.queuedAt.get(key) === this.head) this.queuedAt.delete(key);
    this.head += 1;
    this.queued -= 1;
    this.active.set(entry.url, entry);
    return entry;
  }

  finish(entry: QueueEntry): void {
    this.active.delete(entry.url);
    this.pages += 1;
  }

  /** A redirect landed on `url`: it counts as visited, and is not fetched again from the queue. */
  arrived(url: string): void {
    const key = crawlKey(url);
    this.addVisited(key);
    this.seen.add(key);
    let at = this.queuedAt.get(key);
    if (at === undefined && this.scanQueue) {
      for (let i = this.head; i < this.entries.length && at === undefined; i += 1) if (!this.taken.has(i) && crawlKey(this.entries[i]!.url) === key) at = i;
    }
    if (at === undefined) return;
    this.queuedAt.delete(key);
    this.taken.set(at, this.marks);
    this.queued -= 1;
  }

  /**
   * The state to resume from, as it is now, written out only when the lake saves it: after every
   * page this costs the pages in flight, not the whole frontier (see lazyCursor).
   */
  checkpoint(): object {
    const mark: FrontierMark = {
      seq: this.marks,
      visited: this.visitedOrder.length,
      origins: this.originOrder.length,
      entries: this.entries.length,
      head: this.head,
      active: [...this.active.values()],
      pages: this.pages,
    };
    this.marks += 1;
    return lazyCursor(() => this.stateAt(mark));
  }

  /** The state at `mark`: pages in flight go back to the front of the queue. */
  private stateAt(mark: FrontierMark): CrawlState {
    const hide = (url: string): string => this.secrets.hide(url);
    const queue: QueueEntry[] = [...mark.active];
    for (let i = mark.head; i < mark.entries; i += 1) {
      const takenAt = this.taken.get(i);
      // Taken off by a redirect after this checkpoint: still queued at it.
      if (takenAt === undefined || takenAt > mark.seq) queue.push(this.entries[i]!);
    }
    return {
      v: 1,
      start: this.startUrls.map(hide),
      origins: this.originOrder.slice(0, mark.origins),
      visited: this.visitedOrder.slice(0, mark.visited).map(hide),
      queue: queue.map((e) => ({ url: hide(e.url), ...(e.from === undefined ? {} : { from: hide(e.from) }) })),
      pages: mark.pages,
    };
  }
}

/**
 * The secret query parameters of the start URLs (`?token=…`, `api_key=…`: the names the logs
 * redact). Pages are requested with them; what is stored under data/ (`_url`, the frontier in
 * the cursor and in `source_batches`) holds them redacted as the logs do, and a resumed crawl
 * puts the values back from the start URLs.
 */
class UrlSecrets {
  /** `<origin> <name decoded>` → the value as the start URL writes it. */
  private readonly values = new Map<string, string>();
  /** `<origin> <name decoded>` → the value decoded: a link may encode it otherwise (`tok/x` for `tok%2Fx`, `%3a` for `%3A`). */
  private readonly decoded = new Map<string, string>();

  constructor(startUrls: string[]) {
    for (const href of startUrls) {
      const url = new URL(href);
      for (const pair of url.search.slice(1).split('&')) {
        const at = pair.indexOf('=');
        if (at <= 0) continue;
        const name = safeDecode(pair.slice(0, at));
        const value = pair.slice(at + 1);
        if (!isSecretName(name) && redactString(`?${pair}`) === `?${pair}`) continue;
        this.values.set(`${url.origin} ${name}`, value);
        this.decoded.set(`${url.origin} ${name}`, safeDecode(value));
        // A link or a record echoing the value under another name is scrubbed too.
        registerSecret(value);
        registerSecret(safeDecode(value));
      }
    }
  }

  /** The URL with the start URLs' secret parameters redacted, however encoded (what `reveal` can put back). */
  hide(url: string): string {
    if (this.decoded.size === 0) return url;
    const q = url.indexOf('?');
    if (q < 0) return url;
    // URLs here are absolute hrefs: their origin is what comes before the path (scheme and host lower-cased by URL()).
    const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)?.[0].toLowerCase();
    if (origin === undefined) return url;
    const hash = url.indexOf('#', q);
    const end = hash < 0 ? url.length : hash;
    let changed = false;
    const query = url
      .slice(q + 1, end)
      .split('&')
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) return pair;
        const secret = this.decoded.get(`${origin} ${safeDecode(pair.slice(0, at))}`);
        if (secret === undefined || safeDecode(pair.slice(at + 1)) !== secret) return pair;
        changed = true;
        return `${pair.slice(0, at)}=${REDACTED}`;
      });
    return changed ? `${url.slice(0, q + 1)}${query.join('&')}${url.slice(end)}` : url;
  }

  reveal(url: string): string {
    if (this.values.size === 0 || !url.includes(REDACTED)) return url;
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return url;
    }
    return url.replace(new RegExp(`([?&])([^=&#]+)=${escapeRegExp(REDACTED)}`, 'g'), (whole, pre: string, name: string) => {
      const value = this.values.get(`${origin} ${safeDecode(name)}`);
      return value === undefined ? whole : `${pre}${name}=${value}`;
    });
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The `headers` option split: credentials (a secret-looking name) apart from the rest. */
function splitHeaders(headers: Record<string, string>): { plain: Record<string, string>; credentials?: Record<string, string> } {
  const plain: Record<string, string> = {};
  const credentials: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) (isSecretName(name) ? credentials : plain)[name.toLowerCase()] = value;
  return Object.keys(credentials).length > 0 ? { plain, credentials } : { plain };
}

/**
 * The credential headers as an auth strategy: the client then sends them to the crawl's own
 * origins only (a browser never sends a store's cookie to a partner site it links to), drops them
 * on a redirect to another origin, and their values are scrubbed wherever a secret would be.
 */
function ownOriginsOnly(credentials: Record<string, string>, basic: Map<string, string>, frontier: Frontier): AuthStrategy {
  for (const [name, value] of Object.entries(credentials)) for (const secret of credentialParts(name, value)) registerSecret(secret);
  return {
    apply({ url, headers }) {
      if (frontier.isOwn(url)) Object.assign(headers, credentials);
      const userinfo = basic.get(url.origin);
      if (userinfo !== undefined) headers.authorization ??= userinfo;
      return Promise.resolve(undefined);
    },
  };
}

/**
 * The secrets a credential header carries, as a site may echo them: the whole value; each cookie's
 * value of a `cookie` header (`sessionid=…; theme=dark`); the token after an `authorization`
 * scheme (`Bearer …`), and a Basic one's password.
 */
function credentialParts(name: string, value: string): string[] {
  const parts = [value];
  if (name === 'cookie') {
    for (const pair of value.split(';')) {
      const at = pair.indexOf('=');
      if (at > 0) parts.push(pair.slice(at + 1).trim());
    }
  } else if (name === 'authorization' || name === 'proxy-authorization') {
    const match = /^\s*([A-Za-z][\w.+-]*)\s+(\S+)\s*$/.exec(value);
    if (match) {
      parts.push(match[2]!);
      if (match[1]!.toLowerCase() === 'basic') {
        const decoded = Buffer.from(match[2]!, 'base64').toString('utf8');
        if (decoded.includes(':')) parts.push(decoded.slice(decoded.indexOf(':') + 1));
      }
    }
  }
  return parts;
}

/** Origin → the `Authorization: Basic` of the `user:password@` a start URL was written with. */
function startCredentials(urls: string[]): Map<string, string> {
  const basic = new Map<string, string>();
  for (const href of urls) {
    const url = new URL(href);
    if (url.username === '' && url.password === '') continue;
    const password = decodeURIComponent(url.password);
    const header = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${password}`).toString('base64')}`;
    registerSecret(password);
    registerSecret(header.slice('Basic '.length));
    basic.set(url.origin, header);
  }
  return basic;
}

function isFinished(saved: unknown): boolean {
  return typeof saved === 'object' && saved !== null && (saved as { finished?: unknown }).finished === true;
}

/**
 * A URL as versions before links kept their query as written saved it in the frontier, escapes upper-cased: they
 * re-encoded the query (`?map=c,c` saved as `?map=c%2Cc`, a bare `?x` as `?x=`) and kept an empty
 * `?`. Compared as saved, a crawl those versions left unfinished looked like one of other start
 * URLs and started over, and its pages done were fetched and stored again. Without `utm_*`
 * parameters, which earlier versions kept: a page done saved with them is the page linked without.
 */
function legacyKey(url: string): string {
  try {
    const u = new URL(url);
    for (const name of [...u.searchParams.keys()]) if (TRACKING_PARAMETER.test(name)) u.searchParams.delete(name);
    if (u.search) u.searchParams.sort();
    else u.search = '';
    return crawlKey(upperEscapes(u.href));
  } catch {
    return url;
  }
}

/**
 * Whether two URLs are pages of one listing: one path, the same parameters, one of them a different
 * number (`page=3`, `page=4`); or the same parameters and a path one numeric segment apart
 * (`/c/x/page/3/`, `/c/x/page/4/`: WordPress and WooCommerce paginate so).
 */
function otherPageOf(a: string, b: string): boolean {
  const x = new URL(a);
  const y = new URL(b);
  if (x.origin !== y.origin) return false;
  if (x.pathname !== y.pathname) return x.search === y.search && numericSegmentApart(pathSegments(x.pathname), pathSegments(y.pathname));
  const px = [...x.searchParams];
  const py = [...y.searchParams];
  if (px.length !== py.length) return false;
  const differing = px.filter(([name, value], i) => name !== py[i]![0] || value !== py[i]![1]);
  return differing.length === 1 && px.every(([name], i) => name === py[i]![0]) && differing.every(([name, value]) => /^\d+$/.test(value) && /^\d+$/.test(y.searchParams.get(name) ?? ''));
}

/**
 * Whether `url` is a next page of the listing `from` links from: one path, the same parameters but
 * one whose value is a number (`?page=4` from `?page=3`, or `?page=2` from the listing's first
 * page without it).
 */
function nextPageOf(from: string, url: string): boolean {
  const x = new URL(from);
  const y = new URL(url);
  if (x.origin !== y.origin) return false;
  if (crawlKey(x.pathname) !== crawlKey(y.pathname)) {
    // In the path: `/c/x/page/4/` from `/c/x/page/3/`, or `/c/x/page/2/` from the listing's first page `/c/x/`.
    if (x.search !== y.search) return false;
    const before = pathSegments(x.pathname);
    const after = pathSegments(y.pathname);
    if (numericSegmentApart(before, after)) return true;
    return (
      after.length === before.length + 2 &&
      PAGE_SEGMENT.test(after[before.length]!) &&
      /^\d+$/.test(after[before.length + 1]!) &&
      before.every((segment, i) => segment === after[i])
    );
  }
  const before = new Map([...x.searchParams].map(([name, value]) => [name, value] as const));
  const after = [...y.searchParams];
  if (after.length !== before.size && after.length !== before.size + 1) return false;
  const changed = after.filter(([name, value]) => before.get(name) !== value);
  return changed.length === 1 && /^\d+$/.test(changed[0]![1]) && after.every(([name]) => before.has(name) || name === changed[0]![0]);
}

/** The word before a page number in a listing's path (`/page/2/`, Portuguese `/pagina/2/`). */
const PAGE_SEGMENT = /^(page|pagina|pag|p)$/i;

/** A path's segments, a trailing slash dropped (`/c/x/` is `/c/x`). */
function pathSegments(pathname: string): string[] {
  return crawlKey(pathname).split('/');
}

/** Whether two paths differ in one segment only, a number in both (`page/3`, `page/4`). */
function numericSegmentApart(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  let differing = 0;
  for (let i = 0; i < a.length; i += 1) {
    if (a[i] === b[i]) continue;
    differing += 1;
    if (differing > 1 || !/^\d+$/.test(a[i]!) || !/^\d+$/.test(b[i]!)) return false;
  }
  return differing === 1;
}

/** The same start URLs, in any order: listing them in another order is the same crawl. */
function sameSet(a: string[], b: string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((u) => y.has(u));
}

/**
 * Errors that say the site is not answering, rather than that one page is bad: the crawl stops
 * (and resumes from its last commit next run) instead of writing off page after page.
 */
function siteIsDown(error: unknown): boolean {
  if (error instanceof CircuitOpenError || error instanceof HttpTimeoutError) return true;
  if (error instanceof HttpNetworkError) return error.retryable;
  if (error instanceof HttpStatusError) return error.status === 429 || error.status === 503;
  return !(error instanceof HttpError); // aborted, closed: not about the page
}

/**
 * Whether a Content-Type is a page: HTML, XHTML, or XML (old sites serve their XHTML so). Not any
 * `…+xml`: an SVG image or an RSS feed is no page, and its links are not the site's.
 */
function isPageType(contentType: string): boolean {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'text/html' || type === 'application/xhtml+xml' || type === 'text/xml' || type === 'application/xml';
}

/** What may come before `<html>`: a BOM, whitespace, an XML declaration, doctypes and comments. */
const HTML_PROLOG = /^\uFEFF?(?:\s|<\?xml[^>]*>|<!--[\s\S]*?-->|<!doctype[^>]*>)*/i;

/**
 * An HTML document (by its doctype or its `<html>` tag, after the prolog) without a closing
 * `</html>` anywhere: the connection ended early. Not only at the end: hosts append analytics
 * scripts and comments after it.
 */
function looksTruncated(body: string): boolean {
  const prolog = HTML_PROLOG.exec(body)![0];
  const isDocument = /<!doctype\s+html/i.test(prolog) || /^<html[\s>]/i.test(body.slice(prolog.length));
  return isDocument && !/<\/html\s*>/i.test(body);
}

function pageErrorReason(error: unknown): string {
  if (error instanceof HttpStatusError) return `HTTP ${error.status}`;
  if (error instanceof HttpNetworkError && error.errno === 'ERR_TOO_MANY_REDIRECTS') return `redirect loop (too many redirects): ${error.message}`;
  return errorMessage(error);
}

/** Fails the run before any request when a selector cannot be parsed, naming the option. */
function checkSelectors(cheerio: Cheerio, extract: HtmlSelectorMap | HtmlExtractFunction, follow: string | HtmlFollowFunction | undefined, where: string): void {
  const $ = cheerio.load('');
  const check = (option: string, sel: string | undefined): void => {
    if (sel === undefined) return;
    try {
      $(sel);
    } catch (error) {
      throw new ConfigError(`${where}: option "${option}" is not a valid CSS selector (got ${JSON.stringify(sel)}): ${errorMessage(error)}`);
    }
  };
  if (typeof follow === 'string') check('follow', follow);
  if (typeof extract === 'function') return;
  check('extract.items', extract.items);
  for (const [name, spec] of Object.entries(extract.fields)) check(`extract.fields.${name}${typeof spec === 'string' ? '' : '.selector'}`, typeof spec === 'string' ? spec : spec.selector);
}

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

function selectorMapExtractor(map: HtmlSelectorMap): ($: CheerioAPI, page: HtmlPage, base: string, hide: (url: string) => string) => SourceRecord[] {
  const fields = Object.entries(map.fields).map(([name, spec]) => [name, typeof spec === 'string' ? { selector: spec } : spec] as const);
  return ($, page, base, hide) => {
    const items = map.items === undefined ? $.root() : $(map.items);
    return items.toArray().map((element) => {
      const item = $(element);
      const record: SourceRecord = {};
      for (const [name, spec] of fields) {
        const el = spec.selector === undefined ? item : item.find(spec.selector).first();
        if (el.length === 0) continue;
        const raw = spec.attr === undefined ? el.text() : el.attr(spec.attr);
        if (raw === undefined) continue;
        record[name] = parseValue(raw, spec.parse ?? 'text', page, base, hide);
      }
      return record;
    });
  };
}

function parseValue(raw: string, parse: NonNullable<HtmlFieldSpec['parse']>, page: HtmlPage, base: string, hide: (url: string) => string): unknown {
  const text = collapse(raw);
  if (typeof parse === 'function') return parse(text, page);
  switch (parse) {
    case 'text':
      return text;
    case 'brl':
      return parseBrl(text);
    case 'number':
      return parseBrNumber(text);
    case 'int': {
      const n = parseBrNumber(text);
      return n !== null && Number.isInteger(n) ? n : null;
    }
    case 'url':
      if (text === '') return null;
      try {
        // A start URL's secret parameter, however the link encodes it, is stored redacted as in `_url`.
        return hide(new URL(text, base).href);
      } catch {
        return null;
      }
    case 'pack':
      return parsePackSize(text);
  }
}
