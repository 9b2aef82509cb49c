/**
 * The smaller Mercado Livre connectors: a seller's profile and reputation, category-based
 * discovery through the site search, item reviews and search trends.
 */
import { z } from 'zod';
import { parseOptions } from '../../config.js';
import { defineSource, type AnySource, type ExtractContext } from '../../extract/source.js';
import { apiBase, ML_PAGE, ML_SEARCH_OFFSET_CAP, mlCommonFields, mlHttp } from './common.js';
import type { HttpContext } from '../../extract/http/http-context.js';
import { mlReviewsSchema, mlSearchResultSchema, mlTrendSchema, mlUserSchema } from './schemas.js';

const site = z.string().regex(/^[A-Z]{3}$/, 'must be a site id such as MLB');

/** A Mercado Livre source whose `fetch` reads with an authenticated HTTP context, closed afterwards. */
function mlSource(
  o: { baseUrl: string; auth: z.output<typeof mlCommonFields.auth>; limits?: z.output<NonNullable<typeof mlCommonFields.limits>> },
  def: { dataset: string; schema: z.ZodType<Record<string, unknown>>; primaryKey?: string[]; partitionBy?: Record<string, string> },
  fetch: (http: HttpContext, ctx: ExtractContext) => AsyncGenerator<unknown[]>,
): AnySource {
  return defineSource({
    source: 'mercadolivre',
    ...def,
    ...(o.limits ? { limits: o.limits } : {}),
    async *extract(ctx: ExtractContext) {
      const http = mlHttp(ctx, o);
      try {
        yield* fetch(http, ctx);
      } finally {
        await http.close();
      }
    },
  });
}

/** `/users/{id}`: the seller with its reputation, one row per run, into `mercadolivre/sellers`. */
export function mercadoLivreSeller(options: { sellerId: number | string } & z.input<z.ZodObject<typeof mlCommonFields>>): AnySource {
  const o = parseOptions(z.strictObject({ sellerId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]), ...mlCommonFields }), options, 'mercadoLivreSeller');
  return mlSource(o, { dataset: 'sellers', schema: mlUserSchema, primaryKey: ['id'] }, async function* (http) {
    yield [await http.getJson(`${apiBase(o)}/users/${o.sellerId}`)];
  });
}

const searchSchema = z
  .strictObject({ site, category: z.string().min(1).optional(), query: z.string().min(1).optional(), ...mlCommonFields, offsetCap: z.number().int().positive().default(ML_SEARCH_OFFSET_CAP) })
  .refine((o) => o.category || o.query, { message: 'give "category" or "query"', path: ['category'] });

/**
 * `/sites/{site}/search` by category or query into `mercadolivre/search` (partition `site=`). The
 * search shows at most 1,000 results per query: the rest is reported as unreachable.
 */
export function mercadoLivreSearch(options: z.input<typeof searchSchema>): AnySource {
  const o = parseOptions(searchSchema, options, 'mercadoLivreSearch');
  return mlSource(o, { dataset: 'search', schema: mlSearchResultSchema, partitionBy: { site: o.site }, primaryKey: ['id'] }, async function* (http, ctx) {
    const query = { ...(o.category ? { category: o.category } : {}), ...(o.query ? { q: o.query } : {}) };
    for (let offset = 0; ; ) {
      // offset + limit never past the window: the last page asks only for what is left under it.
      const limit = Math.min(ML_PAGE, o.offsetCap - offset);
      const page = await http.getJson<{ results: unknown[]; paging: { total: number } }>(`${apiBase(o)}/sites/${o.site}/search`, { query: { ...query, offset, limit } });
      ctx.stats.pages += 1;
      if (page.results.length > 0) yield page.results;
      // By what came back, not by what was asked: a short page is not skipped over.
      offset += page.results.length;
      const reachable = Math.min(page.paging.total, o.offsetCap);
      if (page.results.length === 0 || offset >= reachable) {
        if (page.paging.total > o.offsetCap) ctx.warn(`mercadolivre search ${JSON.stringify(query)}: ${page.paging.total - o.offsetCap} of ${page.paging.total} results are past the search's ${o.offsetCap} window`);
        break;
      }
    }
  });
}

const reviewsSchema = z.strictObject({ itemIds: z.array(z.string().min(1)).min(1), ...mlCommonFields });

/**
 * `/reviews/item/{id}` for each item into `mercadolivre/reviews`: one row per item with all its
 * reviews nested. The API answers 5 reviews per call unless asked for more, so each item is
 * paged with `offset`/`limit` until `paging.total`.
 */
export function mercadoLivreReviews(options: z.input<typeof reviewsSchema>): AnySource {
  const o = parseOptions(reviewsSchema, options, 'mercadoLivreReviews');
  return mlSource(o, { dataset: 'reviews', schema: mlReviewsSchema, primaryKey: ['item_id'] }, async function* (http, ctx) {
    for (const id of o.itemIds) {
      const url = `${apiBase(o)}/reviews/item/${encodeURIComponent(id)}`;
      let first: Record<string, unknown> | undefined;
      const reviews: unknown[] = [];
      // Newest first: a review published while paging shifts the rest by one, so one may come twice.
      const seen = new Set<unknown>();
      for (let offset = 0; ; ) {
        const page = await http.getJson<{ reviews?: unknown[]; paging?: { total?: number } }>(url, { query: { offset, limit: ML_PAGE } });
        ctx.stats.pages += 1;
        first ??= page;
        const got = Array.isArray(page.reviews) ? page.reviews : [];
        for (const r of got) {
          const reviewId = (r as { id?: unknown } | null)?.id;
          if (reviewId !== undefined && seen.has(reviewId)) continue;
          seen.add(reviewId);
          reviews.push(r);
        }
        // By what came back, not by what was asked; without a total, the first page is all there is.
        offset += got.length;
        if (got.length === 0 || offset >= (page.paging?.total ?? 0)) break;
      }
      yield [{ item_id: id, ...first, reviews }];
    }
  });
}

const trendsSchema = z.strictObject({ site, category: z.string().min(1).optional(), ...mlCommonFields });

/** `/trends/{site}[/{category}]` into `mercadolivre/trends`: keywords with their position. */
export function mercadoLivreTrends(options: z.input<typeof trendsSchema>): AnySource {
  const o = parseOptions(trendsSchema, options, 'mercadoLivreTrends');
  return mlSource(o, { dataset: 'trends', schema: mlTrendSchema, partitionBy: { site: o.site } }, async function* (http) {
    const list = await http.getJson<{ keyword: string; url: string }[]>(`${apiBase(o)}/trends/${o.site}${o.category ? `/${encodeURIComponent(o.category)}` : ''}`);
    yield list.map((t, i) => ({ ...t, position: i + 1, category_id: o.category ?? null }));
  });
}
