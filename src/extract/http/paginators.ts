/**
 * Paginators: small strategy objects that say which page comes first and which comes next.
 * They keep no state of their own (the next request is derived from the previous request and
 * response; what a run has seen so far travels with the request objects it hands back), so one
 * paginator can serve many runs. The caller stops on an empty page; each paginator also stops
 * at its total when the API tells one, and fails instead of looping when the API repeats itself.
 */
import { z } from 'zod';
import { parseOptions } from '../../config.js';
import { ConfigError, SourceError } from '../../errors.js';
import type { HttpResponse } from './client.js';
import { stringifyJsonExact } from '../json-exact.js';
import { valueAtPath } from './json-path.js';

export interface PageRequest {
  /** An absolute URL replacing the source's URL and query (Link headers, next-page URLs). */
  url?: string;
  /** Query parameters set on top of the source's query. */
  query?: Record<string, string | number>;
}

export interface PageResult {
  request: PageRequest;
  response: HttpResponse<unknown>;
  /** The records found in this page. */
  records: unknown[];
  /** Notes a warning in the run's result (e.g. results an API will not page past). */
  warn(message: string): void;
}

export interface Paginator {
  readonly kind: string;
  first(): PageRequest;
  /** The request of the next page, or null when this was the last. */
  next(page: PageResult): PageRequest | null;
  /**
   * Requests that follow `next` (what `next(page)` just returned), in order, known without their
   * answers: pages the API's total says exist. The source sends up to `max` of them ahead, within
   * its in-flight limit, and uses each answer only if `next()` then asks for the same URL. Give
   * only what the total proves: each one is a request the API will answer.
   */
  ahead?(page: PageResult, next: PageRequest, max: number): PageRequest[];
}

const param = z.string().min(1);
const count = z.number().int().positive();

function numberAt(body: unknown, path: string | undefined): number | undefined {
  if (path === undefined) return undefined;
  const value = valueAtPath(body, path);
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function queryNumber(request: PageRequest, name: string): number {
  return Number(request.query?.[name] ?? 0);
}

/**
 * What one run has seen so far, carried from a request to the next one the paginator hands back
 * (the caller passes that same object back in `PageResult.request`). A caller that copies
 * requests loses it: the paginator then falls back to what the request and response alone tell.
 */
interface Trail {
  /** Records received up to and including the page of this request's predecessor. */
  received: number;
  /** The previous page's records, to tell a page that repeats them. */
  records?: unknown[];
  /** Cursor tokens already followed in this run. */
  cursors?: Set<string>;
  /** The previous page's URL (Link headers: to name the parameters the API seems to ignore). */
  url?: string;
}

const trails = new WeakMap<PageRequest, Trail>();

function carry(next: PageRequest, trail: Trail): PageRequest {
  trails.set(next, trail);
  return next;
}

/**
 * Whether two pages hold the same records, as JSON text. The first and last records are compared
 * first: pages of different records differ there, and the JSON of every whole page with a hash of
 * it (as this was) cost 40–80 µs a page of 50 records, against 3–6 µs. (The consumer may have
 * turned integers into bigints in place since: their JSON is the same digits.)
 */
function sameRecords(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  const last = a.length - 1;
  if (stringifyJsonExact(a[0]) !== stringifyJsonExact(b[0]) || stringifyJsonExact(a[last]) !== stringifyJsonExact(b[last])) return false;
  return stringifyJsonExact(a) === stringifyJsonExact(b);
}

/** The page's URL without its query (which may carry an API key), for error messages. */
function where(response: HttpResponse<unknown>): string {
  try {
    const url = new URL(response.url);
    return `${url.origin}${url.pathname}`;
  } catch {
    return 'the API';
  }
}

/**
 * Fails when a page holds exactly the records of the page before it: an API that ignores the
 * paging parameter would otherwise be read forever (or up to its total, in copies).
 */
function checkNotRepeated(kind: string, what: string | (() => string), page: PageResult, previous: Trail | undefined): unknown[] | undefined {
  if (page.records.length === 0) return undefined;
  if (previous?.records && sameRecords(previous.records, page.records)) {
    throw new PaginationError(`${kind}: ${where(page.response)} answered ${typeof what === 'string' ? what : what()} with the same ${page.records.length} records as the page before; the API seems to ignore the parameter, stopping instead of looping`, {
      repeatsPreviousPage: true,
    });
  }
  return page.records;
}

/** A single request, no pagination. */
export function singlePage(): Paginator {
  return { kind: 'single', first: () => ({}), next: () => null };
}

const offsetSchema = z.strictObject({
  limit: count,
  offsetParam: param.default('offset'),
  limitParam: param.default('limit'),
  /** Where the body tells the total number of records, e.g. `paging.total`. */
  totalPath: z.string().min(1).optional(),
  start: z.number().int().nonnegative().default(0),
});

/**
 * `?offset=0&limit=50`, then `offset=50`… The offset advances by the records received (not by
 * `limit`), so an API that serves fewer than asked is not skipped over.
 * @example offsetPaginator({ limit: 50, totalPath: 'paging.total' })
 */
export function offsetPaginator(options: z.input<typeof offsetSchema>): Paginator {
  const o = parseOptions(offsetSchema, options, 'offsetPaginator');
  return {
    kind: 'offset',
    first: () => ({ query: { [o.offsetParam]: o.start, [o.limitParam]: o.limit } }),
    next(page) {
      const { request, response, records } = page;
      const trail = trails.get(request);
      const recent = checkNotRepeated('offsetPaginator', `"${o.offsetParam}=${String(request.query?.[o.offsetParam] ?? o.start)}"`, page, trail);
      const offset = queryNumber(request, o.offsetParam) + records.length;
      const total = numberAt(response.body, o.totalPath);
      if (total !== undefined && offset >= total) return null;
      return carry({ query: { [o.offsetParam]: offset, [o.limitParam]: o.limit } }, { received: offset, ...(recent ? { records: recent } : {}) });
    },
    ahead({ response, records }, next, max) {
      // The offsets after `next` hold only if every page is full: a page that came back short
      // (an API capping `limit`) says they may not be.
      const total = numberAt(response.body, o.totalPath);
      if (total === undefined || records.length < o.limit) return [];
      const out: PageRequest[] = [];
      for (let offset = queryNumber(next, o.offsetParam) + o.limit; offset < total && out.length < max; offset += o.limit) {
        out.push({ query: { [o.offsetParam]: offset, [o.limitParam]: o.limit } });
      }
      return out;
    },
  };
}

const pageSchema = z.strictObject({
  pageParam: param.default('page'),
  /** Number of the first page. */
  start: z.number().int().nonnegative().default(1),
  /** Page size to ask for (sent as `sizeParam`), and to reckon pages from `totalPath`. */
  size: count.optional(),
  sizeParam: param.default('per_page'),
  /** Where the body tells the number of pages, e.g. `meta.pages`. */
  totalPagesPath: z.string().min(1).optional(),
  /** Where the body tells the number of records (needs `size`). */
  totalPath: z.string().min(1).optional(),
});

/**
 * `?page=1`, `page=2`… until an empty page, the last page by `totalPagesPath`, or the total.
 * The total is compared with the records received, not with pages × `size`: an API that serves
 * fewer per page than asked (its own maximum) is read to the end.
 * @example pageNumberPaginator({ size: 100, totalPagesPath: 'meta.total_pages' })
 */
export function pageNumberPaginator(options: z.input<typeof pageSchema> = {}): Paginator {
  const o = parseOptions(pageSchema, options, 'pageNumberPaginator');
  if (o.totalPath && o.size === undefined) throw new ConfigError('pageNumberPaginator: option "totalPath" needs option "size" (records per page)');
  const query = (page: number): Record<string, number> => ({ [o.pageParam]: page, ...(o.size === undefined ? {} : { [o.sizeParam]: o.size }) });
  return {
    kind: 'page',
    first: () => ({ query: query(o.start) }),
    next(result) {
      const { request, response, records } = result;
      const trail = trails.get(request);
      const page = queryNumber(request, o.pageParam);
      const recent = checkNotRepeated('pageNumberPaginator', `"${o.pageParam}=${page}"`, result, trail);
      const seen = page - o.start + 1;
      // Records received so far; without the run's trail, earlier pages are reckoned as full
      // pages of this one's length when it came back short of `size` (an API capping the size).
      const before = trail?.received ?? (seen - 1) * (o.size !== undefined && records.length < o.size ? records.length : (o.size ?? records.length));
      const received = before + records.length;
      const pages = numberAt(response.body, o.totalPagesPath);
      if (pages !== undefined && seen >= pages) return null;
      const total = numberAt(response.body, o.totalPath);
      if (total !== undefined && received >= total) return null;
      return carry({ query: query(page + 1) }, { received, ...(recent ? { records: recent } : {}) });
    },
    ahead({ response, records }, next, max) {
      const first = queryNumber(next, o.pageParam);
      const received = trails.get(next)?.received;
      const pages = numberAt(response.body, o.totalPagesPath);
      const total = numberAt(response.body, o.totalPath);
      // A full page holds `size` records, or more when the API serves more than asked (it ignores
      // `sizeParam`): reckoned at `size`, the pages past its last one would look missing.
      const full = o.size === undefined ? undefined : Math.max(o.size, records.length);
      // next() stops at the page count or at the record total, whichever comes first: a page is
      // known only when each one given lets it through.
      const byTotal = total !== undefined && received !== undefined && full !== undefined;
      if (pages === undefined && !byTotal) return [];
      const out: PageRequest[] = [];
      for (let page = first + 1; out.length < max; page += 1) {
        const known =
          // the page count says so…
          (pages === undefined || page - o.start + 1 <= pages) &&
          // …and the records still missing do though every page before this one came back full
          (!byTotal || received + (page - first) * full < total);
        if (!known) break;
        out.push({ query: query(page) });
      }
      return out;
    },
  };
}

const cursorSchema = z.strictObject({
  /** Where the body carries the next-page token, e.g. `paging.next_cursor`. */
  cursorPath: z.string().min(1),
  /** Query parameter that sends it back. */
  cursorParam: param,
  /** Optional flag in the body that says whether more pages exist, e.g. `has_more`. */
  hasMorePath: z.string().min(1).optional(),
});

/**
 * Next-page token in the body, sent back as a query parameter; stops when the token is
 * missing or empty (or `hasMorePath` is false). A token repeated twice in a row, or one already
 * followed earlier in the run (tokens cycling a → b → a), is an error, not an endless loop; so is
 * a page holding the records of the one before (an API ignoring the parameter, minting fresh tokens).
 * @example cursorPaginator({ cursorPath: 'next', cursorParam: 'cursor' })
 */
export function cursorPaginator(options: z.input<typeof cursorSchema>): Paginator {
  const o = parseOptions(cursorSchema, options, 'cursorPaginator');
  return {
    kind: 'cursor',
    first: () => ({}),
    next(page) {
      const { request, response, records } = page;
      const trail = trails.get(request);
      const current = request.query?.[o.cursorParam];
      // Records first: a copy of the page before is left out, whatever its token says.
      const recent = checkNotRepeated('cursorPaginator', `"${o.cursorParam}" (cursor "${String(current).slice(0, 40)}")`, page, trail);
      if (o.hasMorePath !== undefined && valueAtPath(response.body, o.hasMorePath) === false) return null;
      const found = valueAtPath(response.body, o.cursorPath);
      // A numeric token past ±2^53 arrives as a bigint: sent back with every digit.
      const token = typeof found === 'bigint' ? String(found) : found;
      if (token === undefined || token === null || token === '' || token === false) return null;
      if (typeof token !== 'string' && typeof token !== 'number') throw new PaginationError(`cursorPaginator: "${o.cursorPath}" is a ${typeof token}, not a string or number`);
      if (current === token) throw new PaginationError(`cursorPaginator: the API returned the same cursor twice (${String(token).slice(0, 40)}); stopping instead of looping`);
      // One set per run, shared along the chain of requests (a run's pages come one after another).
      const followed = trail?.cursors ?? new Set<string>();
      if (current !== undefined) followed.add(`${typeof current}:${current}`);
      const key = `${typeof token}:${token}`;
      if (followed.has(key)) {
        throw new PaginationError(
          `cursorPaginator: ${where(response)} returned cursor "${String(token).slice(0, 40)}" for "${o.cursorParam}", already followed earlier in this run (the cursors cycle); stopping instead of looping`,
        );
      }
      return carry({ query: { [o.cursorParam]: token } }, { received: (trail?.received ?? 0) + records.length, cursors: followed, ...(recent ? { records: recent } : {}) });
    },
  };
}

/**
 * RFC 8288 `Link: <https://…?page=2>; rel="next"` headers (GitHub style). The next URL is used
 * as given, resolved against the page's URL. A page holding the records of the one before (an API
 * ignoring its own page parameter) is an error, not an endless loop.
 * @example linkHeaderPaginator()
 */
export function linkHeaderPaginator(options: { rel?: string } = {}): Paginator {
  const rel = parseOptions(z.strictObject({ rel: param.default('next') }), options, 'linkHeaderPaginator').rel;
  return {
    kind: 'link',
    first: () => ({}),
    next(page) {
      const { request, response, records } = page;
      const trail = trails.get(request);
      const recent = checkNotRepeated('linkHeaderPaginator', () => `its rel="${rel}" link${changedParams(trail?.url, response.url)}`, page, trail);
      const header = response.headers.link;
      const target = linkTarget(Array.isArray(header) ? header.join(', ') : header, rel);
      if (target === undefined) return null;
      const url = new URL(target, response.url).href;
      if (url === response.url) throw new PaginationError('linkHeaderPaginator: rel="next" points at the page itself; stopping instead of looping');
      return carry({ url }, { received: (trail?.received ?? 0) + records.length, url: response.url, ...(recent ? { records: recent } : {}) });
    },
  };
}

/** ` (changing "page")`: the query parameters that differ between two page URLs, by name only (values may be keys). */
function changedParams(before: string | undefined, after: string): string {
  if (before === undefined) return '';
  try {
    const a = new URL(before).searchParams;
    const b = new URL(after).searchParams;
    const names = [...new Set([...a.keys(), ...b.keys()])].filter((name) => a.getAll(name).join('\0') !== b.getAll(name).join('\0'));
    return names.length === 0 ? '' : ` (changing ${names.map((name) => `"${name}"`).join(', ')})`;
  } catch {
    return '';
  }
}

/** The URL of `rel` in a Link header, or undefined. */
export function linkTarget(header: string | undefined, rel: string): string | undefined {
  if (!header) return undefined;
  const wanted = rel.toLowerCase();
  return parseLinks(header).find((link) => link.rels.includes(wanted))?.url;
}

/** One `; name=value` parameter of a link; a quoted value may hold `,` `;` `<` and `\"`. */
const LINK_PARAM = /\s*;\s*([^\s=;,]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;,]*)))?/y;

/**
 * The links of an RFC 8288 header, each with the relations of its first `rel` (later ones are
 * ignored, as the RFC says). Parameters are read as tokens and quoted strings: splitting on
 * commas and semicolons would cut a `title="Items 1-50, <b>first</b>"` into a link to `b`.
 */
function parseLinks(header: string): { url: string; rels: string[] }[] {
  const links: { url: string; rels: string[] }[] = [];
  let at = 0;
  for (;;) {
    const open = header.indexOf('<', at);
    const close = open < 0 ? -1 : header.indexOf('>', open);
    if (close < 0) return links;
    let rels: string[] | undefined;
    LINK_PARAM.lastIndex = close + 1;
    for (let m = LINK_PARAM.exec(header); m; m = LINK_PARAM.exec(header)) {
      at = LINK_PARAM.lastIndex;
      if (rels === undefined && m[1]!.toLowerCase() === 'rel') {
        const value = m[2] === undefined ? (m[3] ?? '') : m[2].replace(/\\(.)/g, '$1');
        rels = value.toLowerCase().split(/\s+/).filter((name) => name !== '');
      }
    }
    at = Math.max(at, close + 1);
    links.push({ url: header.slice(open + 1, close), rels: rels ?? [] });
    // The next link starts after the comma that ends this one.
    const comma = header.indexOf(',', at);
    if (comma < 0) return links;
    at = comma + 1;
  }
}

const vtexSchema = z.strictObject({
  /** Records per page: VTEX refuses windows over 50. */
  pageSize: z.number().int().min(1).max(50).default(50),
  fromParam: param.default('_from'),
  toParam: param.default('_to'),
  /** VTEX serves the first 2,500 results of a search and no more. */
  maxResults: count.default(2500),
});

/**
 * VTEX catalog windows: `_from`/`_to` inclusive, at most 50 per page; the answer carries
 * `resources: <from>-<to>/<total>` and is HTTP 206 while more remain, 200 on the last window.
 * The total in `resources` decides when it is there (some stores answer 200 on every window);
 * 206-vs-200 only when the header is missing.
 * A search larger than `maxResults` stops there with a warning (narrow it with `fq`).
 * @example vtexWindowPaginator()
 */
export function vtexWindowPaginator(options: z.input<typeof vtexSchema> = {}): Paginator {
  const o = parseOptions(vtexSchema, options, 'vtexWindowPaginator');
  const windowAt = (from: number): PageRequest => ({ query: { [o.fromParam]: from, [o.toParam]: Math.min(from + o.pageSize, o.maxResults) - 1 } });
  return {
    kind: 'vtex',
    first: () => windowAt(0),
    next(page) {
      const { request, response, records, warn } = page;
      const total = vtexResources(response.headers.resources)?.total;
      if (total === undefined && response.status !== 206) return null;
      const recent = checkNotRepeated('vtexWindowPaginator', `"${o.fromParam}=${queryNumber(request, o.fromParam)}"`, page, trails.get(request));
      const to = queryNumber(request, o.toParam);
      const from = to + 1;
      if (total !== undefined && from >= total) return null;
      if (from >= o.maxResults) {
        // Without a resources header the 206 says only that more exist, not how many.
        const missed = total === undefined ? 'more exist, an unknown number not reached' : `${total} exist and ${total - from} were not reached`;
        warn(`VTEX serves only the first ${o.maxResults} results of a search; ${missed} (narrow the search with fq)`);
        return null;
      }
      if (records.length === 0) return null;
      return carry(windowAt(from), { received: from, ...(recent ? { records: recent } : {}) });
    },
    ahead({ response }, next, max) {
      // The windows the total in `resources` says exist, up to the search's reach.
      const total = vtexResources(response.headers.resources)?.total;
      if (total === undefined) return [];
      const out: PageRequest[] = [];
      for (let from = queryNumber(next, o.toParam) + 1; from < Math.min(total, o.maxResults) && out.length < max; from += o.pageSize) out.push(windowAt(from));
      return out;
    },
  };
}

/** Parses `resources: 0-49/5024`. */
export function vtexResources(header: string | string[] | undefined): { from: number; to: number; total: number } | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  const match = text ? /^\s*(\d+)-(\d+)\/(\d+)\s*$/.exec(text) : null;
  if (!match) return undefined;
  return { from: Number(match[1]), to: Number(match[2]), total: Number(match[3]) };
}

export function isPaginator(value: unknown): value is Paginator {
  const p = value as Paginator | null;
  return typeof p === 'object' && p !== null && typeof p.first === 'function' && typeof p.next === 'function';
}

/** A paginator could not go on without looping or guessing. */
export class PaginationError extends SourceError {
  /**
   * The page given to `next()` holds the same records as the page before it (the API ignores
   * the paging parameter): a copy, not new data.
   */
  readonly repeatsPreviousPage: boolean;

  constructor(message: string, options: { repeatsPreviousPage?: boolean } = {}) {
    super('HTTP_PAGINATION', message);
    this.repeatsPreviousPage = options.repeatsPreviousPage ?? false;
  }
}
