/**
 * VTEX catalog connector: every product of a store's public catalog into `vtex/products`.
 *
 * The search API pages in windows of at most 50 (`_from`/`_to`, inclusive) and refuses anything
 * past index 2,500, so a category with more products cannot be read by paging alone. The crawl
 * splits such a query by subcategory (`fq=C:/d/c/s/`), then by price range (`fq=P:[a TO b]`),
 * recursively, until every part fits. When a part cannot shrink (many products at one price) the
 * first 2,500 are read and the rest is reported as unreachable instead of looping.
 * Products seen twice in one run (an item in two categories, overlapping ranges) are kept once.
 */
import { z } from 'zod';
import type { Limits } from '../../config.js';
import { limitsOverrideSchema, parseOptions } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { defineSource, type AnySource, type ExtractContext } from '../../extract/source.js';
import { createHttpContext, type HttpContext } from '../../extract/http/http-context.js';
import { vtexResources } from '../../extract/http/paginators.js';
import { vtexProductSchema } from './schema.js';

/** The API's own limits. */
export const VTEX_WINDOW = 50;
export const VTEX_MAX_INDEX = 2_500;

const optionsSchema = z.strictObject({
  store: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must match ^[a-z][a-z0-9_]*$ (it names the partition)'),
  baseUrl: z.url(),
  /** Region (partition value); defaults to `sc<salesChannel>` or `default`. */
  region: z.string().min(1).max(64).optional(),
  /** Sales channel (`sc` parameter): prices and availability per channel. */
  salesChannel: z.number().int().positive().optional(),
  /** Category names or ids to crawl (department or deeper, e.g. `Bebidas/Vinhos`); all departments when absent. */
  categories: z.array(z.union([z.string().min(1), z.number().int()])).min(1).optional(),
  /** Depth of the category tree to read (1–5). */
  treeDepth: z.number().int().min(1).max(5).default(3),
  limits: limitsOverrideSchema.optional(),
});

export type VtexCatalogOptions = z.input<typeof optionsSchema>;

interface CategoryNode {
  id: number;
  name: string;
  children?: CategoryNode[];
}

interface Query {
  /** `fq` values, ANDed. */
  fq: string[];
  label: string;
  /** Children to split into first (a category's subcategories). */
  children: { node: CategoryNode; path: number[]; names: string[] }[];
  /** Price range, when split by price. */
  price?: [number, number];
}

const cents = (n: number): number => Math.round(n * 100);
const money = (c: number): string => (c / 100).toFixed(2);

/**
 * @example
 * await lake.extract([vtexCatalog({ store: 'bistek', baseUrl: 'https://www.bistek.com.br' })]);
 */
export function vtexCatalog(options: VtexCatalogOptions): AnySource {
  const o = parseOptions(optionsSchema, options, `vtexCatalog(${JSON.stringify(String((options as { store?: unknown })?.store))})`);
  const base = o.baseUrl.replace(/\/+$/, '');
  const region = o.region ?? (o.salesChannel ? `sc${o.salesChannel}` : 'default');
  // Polite defaults (DESIGN): the lake's limits unless the caller sets them.
  const limits: Partial<Limits> = { ...(o.limits ?? {}) };

  async function* extract(ctx: ExtractContext): AsyncGenerator<unknown[]> {
    const http = createHttpContext(ctx);
    const seen = new Set<string>();
    let unreachable = 0;
    const sc = o.salesChannel === undefined ? {} : { sc: o.salesChannel };
    try {
      const tree = await http.getJson<CategoryNode[]>(`${base}/api/catalog_system/pub/category/tree/${o.treeDepth}`, { query: sc });
      const roots = selectRoots(tree, o.categories);
      const queue: Query[] = roots.map((r) => categoryQuery(r.node, r.path, r.names));

      const search = async (q: Query, from: number, to: number) =>
        http.request<unknown[]>(`${base}/api/catalog_system/pub/products/search`, {
          query: { ...sc, fq: q.fq, _from: from, _to: to, ...(q.price ? { O: 'OrderByPriceASC' } : {}) },
        });

      while (queue.length > 0) {
        const q = queue.shift()!;
        const first = await search(q, 0, VTEX_WINDOW - 1);
        const total = vtexResources(first.headers.resources)?.total ?? (Array.isArray(first.body) ? first.body.length : 0);
        if (total > VTEX_MAX_INDEX) {
          const parts = await split(q, total);
          if (parts) {
            queue.unshift(...parts);
            continue;
          }
          unreachable += total - VTEX_MAX_INDEX;
          ctx.warn(`vtex ${o.store}: ${total - VTEX_MAX_INDEX} products of ${q.label} cannot be reached (${total} share one price; the API stops at ${VTEX_MAX_INDEX})`);
        }
        const reachable = Math.min(total, VTEX_MAX_INDEX);
        let page = first.body;
        for (let from = 0; ; ) {
          ctx.stats.pages += 1;
          const fresh = (Array.isArray(page) ? page : []).filter((p) => {
            const id = (p as { productId?: unknown })?.productId;
            if (typeof id !== 'string') return true; // no productId: let validation quarantine it
            if (seen.has(id)) return false;
            seen.add(id);
            return true;
          });
          if (fresh.length > 0) yield fresh;
          from += VTEX_WINDOW;
          if (!Array.isArray(page) || page.length === 0 || from >= reachable) break;
          page = (await search(q, from, Math.min(from + VTEX_WINDOW, reachable) - 1)).body;
        }
      }
      if (unreachable > 0) ctx.logger.warn(`vtex ${o.store}: ${unreachable} products unreachable in total`);

      /** A query too big for the API, split into parts that may fit; undefined when it cannot shrink. */
      async function split(q: Query, total: number): Promise<Query[] | undefined> {
        if (q.children.length > 0) {
          // The subcategories, then whatever sits directly in this category (by price, excluding none: dedup catches repeats).
          return q.children.map((c) => categoryQuery(c.node, c.path, c.names));
        }
        let [lo, hi] = q.price ?? [0, 0];
        if (!q.price) {
          const dearest = await http.request<unknown[]>(`${base}/api/catalog_system/pub/products/search`, { query: { ...sc, fq: q.fq, _from: 0, _to: 0, O: 'OrderByPriceDESC' } });
          lo = 0; // unavailable products come with price 0
          hi = cents(priceOf(dearest.body[0]) ?? 0);
        }
        if (hi <= lo) return undefined;
        const mid = Math.floor((lo + hi) / 2);
        ctx.logger.debug(`vtex ${o.store}: ${q.label} has ${total} products, splitting by price ${money(lo)}–${money(hi)}`);
        const withPrice = (a: number, b: number): Query => ({
          fq: [...q.fq.filter((f) => !f.startsWith('P:')), `P:[${money(a)} TO ${money(b)}]`],
          label: `${q.label.replace(/ price .*/, '')} price ${money(a)}–${money(b)}`,
          children: [],
          price: [a, b],
        });
        return [withPrice(lo, mid), withPrice(mid + 1, hi)];
      }
    } finally {
      await http.close();
    }
  }

  return defineSource({
    source: 'vtex',
    dataset: 'products',
    schema: vtexProductSchema,
    partitionBy: { store: o.store, region },
    primaryKey: ['productId'],
    limits,
    extract,
  });
}

function priceOf(product: unknown): number | undefined {
  const items = (product as { items?: { sellers?: { sellerDefault?: boolean; commertialOffer?: { Price?: number } }[] }[] })?.items ?? [];
  const sellers = items[0]?.sellers ?? [];
  const seller = sellers.find((s) => s.sellerDefault) ?? sellers[0];
  return seller?.commertialOffer?.Price;
}

function categoryQuery(node: CategoryNode, path: number[], names: string[]): Query {
  return {
    fq: [`C:/${path.join('/')}/`],
    label: names.join('/'),
    children: (node.children ?? []).map((c) => ({ node: c, path: [...path, c.id], names: [...names, c.name] })),
  };
}

function selectRoots(tree: CategoryNode[], wanted: (string | number)[] | undefined): { node: CategoryNode; path: number[]; names: string[] }[] {
  const all: { node: CategoryNode; path: number[]; names: string[] }[] = [];
  const walk = (nodes: CategoryNode[], path: number[], names: string[]): void => {
    for (const n of nodes) {
      const entry = { node: n, path: [...path, n.id], names: [...names, n.name] };
      all.push(entry);
      walk(n.children ?? [], entry.path, entry.names);
    }
  };
  walk(tree, [], []);
  if (!wanted) return all.filter((e) => e.path.length === 1);
  return wanted.map((w) => {
    const found = all.find((e) => (typeof w === 'number' ? e.node.id === w : e.names.join('/').toLowerCase() === w.toLowerCase() || e.node.name.toLowerCase() === w.toLowerCase()));
    if (!found) throw new ConfigError(`vtexCatalog: option "categories" names ${JSON.stringify(w)}, which is not in the store's category tree`);
    return found;
  });
}
