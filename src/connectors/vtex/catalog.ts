/**
 * VTEX catalog connector: every product of a store's public catalog into `vtex/products`.
 *
 * The search API pages in windows of at most 50 (`_from`/`_to`, inclusive) and refuses anything
 * past index 2,500, so a category with more products cannot be read by paging alone. The crawl
 * splits such a query by subcategory (`fq=C:/d/c/s/`), then by price range (`fq=P:[a TO b]`),
 * recursively, until every part fits. The ranges leave no gap for prices with more than two
 * decimals (a weighed item's price per unitMultiplier): a range ends at its last cent's `.xx99`.
 * Products registered on the split category itself (on no subcategory) are read too: the
 * category is queried again by price range, and the ranges where the subcategories' totals add
 * up to the category's are skipped. When a part cannot shrink
 * (many products at one price) the first 2,500 are read and the rest is reported as unreachable
 * instead of looping. Without a `resources` header (a CDN may strip it) the total is unknown:
 * windows are read while the answer is 206 or comes back full, with a warning.
 * A price split is checked once its ranges are read: when their totals fall short of the query's
 * (a product whose price dropped, mid-crawl, into a range already read), the ranges that count
 * more products than when read are read again.
 * Products seen twice in one run (an item in two categories, a range read again) are kept once.
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
  /** Category paths, names or ids to crawl (department or deeper, e.g. `Bebidas/Vinhos`); all departments when absent. A name found in several places of the tree is refused: give its path. */
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
  /**
   * Set on the query that reads what sits directly on a split category: the `C:` filters of its
   * subcategories, whose products were read by their own queries (a range where they hold
   * every product of the category is skipped).
   */
  besides?: string[];
  /** The price split this range belongs to (a query with a known total split by price). */
  group?: SplitGroup;
}

/**
 * A query split by price, checked once its ranges are read: a product whose price moves during
 * the crawl from a range not yet read into one already read is in neither answer. The ranges'
 * totals then fall short of the query's; a range that counts more products now than when it was
 * read is read again (repeats are dropped by productId).
 */
interface SplitGroup {
  label: string;
  total: number;
  /** The ranges read, with the total each had when read. */
  ranges: { q: Query; read: number }[];
  checked: boolean;
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

      const searchUrl = `${base}/api/catalog_system/pub/products/search`;
      const search = async (q: Query, from: number, to: number) =>
        http.request<unknown[]>(searchUrl, {
          query: { ...sc, fq: q.fq, _from: from, _to: to, ...(q.price ? { O: 'OrderByPriceASC' } : {}) },
        });
      // Totals learnt in this run, by filter: a subcategory's total is known once its query ran.
      const totals = new Map<string, number>();
      const filterKey = (fq: string[]): string => fq.join('\n');
      /** The number of products matching `fq` now, from a one-product probe; undefined without `resources`. */
      const probeCount = async (fq: string[]): Promise<number | undefined> => {
        const probe = await http.request<unknown[]>(searchUrl, { query: { ...sc, fq, _from: 0, _to: 0 } });
        return vtexResources(probe.headers.resources)?.total;
      };
      /** The number of products matching `fq`, from this run's answers or a one-product probe; undefined without `resources`. */
      const countOf = async (fq: string[]): Promise<number | undefined> => {
        const known = totals.get(filterKey(fq));
        if (known !== undefined) return known;
        const total = await probeCount(fq);
        if (total !== undefined) totals.set(filterKey(fq), total);
        return total;
      };
      const groups: SplitGroup[] = [];
      /** How many products of `q` (in its price range) the subcategories hold; undefined when a total is unknown. */
      const inSubcategories = async (q: Query): Promise<number | undefined> => {
        let sum = 0;
        for (const child of q.besides ?? []) {
          const n = await countOf(q.fq.map((f) => (f.startsWith('C:') ? child : f)));
          if (n === undefined) return undefined;
          sum += n;
        }
        return sum;
      };
      let unknownTotals = 0;
      let unknownExample = '';

      for (;;) {
        while (queue.length > 0) {
          const q = queue.shift()!;
          // Products directly on a split category: known when every total is.
          let direct: number | undefined;
          // A price split already found impossible (one price): not asked twice.
          let unsplittable = false;
          if (q.besides) {
            const all = await countOf(q.fq);
            const inChildren = all === undefined ? undefined : await inSubcategories(q);
            // More in the subcategories than in the category: a product counted twice; read to be sure.
            if (all !== undefined && inChildren !== undefined && inChildren <= all) {
              direct = all - inChildren;
              if (direct === 0) {
                ctx.logger.debug(`vtex ${o.store}: ${q.label}: its subcategories hold all ${all} products`);
                continue;
              }
              // Over the cap, or cheaper to narrow the price range down to those products than to
              // read every product of the range again: split by price. Splitting costs two probes of
              // the category and its subcategories; it saves reading a half where none of the
              // `direct` products sits, about `pages / 2^direct` windows.
              if (all > VTEX_MAX_INDEX || Math.ceil(all / VTEX_WINDOW) / 2 ** direct > 2 * (1 + q.besides.length)) {
                const parts = await split(q, all);
                if (parts) {
                  queue.unshift(...parts);
                  continue;
                }
                unsplittable = true;
              }
            }
          }
          const first = await search(q, 0, VTEX_WINDOW - 1);
          const known = vtexResources(first.headers.resources)?.total;
          if (known !== undefined) totals.set(filterKey(q.fq), known);
          else if (unknownTotals++ === 0) unknownExample = q.label;
          if (known !== undefined && known > VTEX_MAX_INDEX) {
            const parts = unsplittable ? undefined : await split(q, known);
            if (parts) {
              queue.unshift(...parts);
              continue;
            }
            const missing = Math.min(known - VTEX_MAX_INDEX, direct ?? Number.POSITIVE_INFINITY);
            unreachable += missing;
            ctx.warn(`vtex ${o.store}: ${direct === undefined ? '' : 'up to '}${missing} products of ${q.label} cannot be reached (${known} share one price; the API stops at ${VTEX_MAX_INDEX})`);
          }
          if (q.group && known !== undefined) q.group.ranges.push({ q, read: known });
          // Without a total, the API's 206 (or a full window) says more remain.
          const reachable = known === undefined ? VTEX_MAX_INDEX : Math.min(known, VTEX_MAX_INDEX);
          let response = first;
          let moreAtCap = false;
          for (let from = 0; ; ) {
            ctx.stats.pages += 1;
            const page = Array.isArray(response.body) ? response.body : [];
            const fresh = page.filter((p) => {
              const id = (p as { productId?: unknown })?.productId;
              if (typeof id !== 'string') return true; // no productId: let validation quarantine it
              if (seen.has(id)) return false;
              seen.add(id);
              return true;
            });
            if (fresh.length > 0) yield fresh;
            from += VTEX_WINDOW;
            const more = known !== undefined ? from < known : response.status === 206 || page.length >= VTEX_WINDOW;
            if (page.length === 0 || !more) break;
            if (from >= reachable) {
              moreAtCap = known === undefined;
              break;
            }
            response = await search(q, from, Math.min(from + VTEX_WINDOW, reachable) - 1);
          }
          if (moreAtCap) {
            // Unknown total, and still more at the cap: split as for a known one (what was read is deduplicated).
            const parts = await split(q, undefined);
            if (parts) {
              queue.unshift(...parts);
              continue;
            }
            ctx.warn(`vtex ${o.store}: products of ${q.label} past the first ${VTEX_MAX_INDEX} cannot be reached (they share one price; the API stops at ${VTEX_MAX_INDEX}; how many is unknown without a resources header)`);
          }
        }
        // Every query read: check each price split once (see SplitGroup); the ranges that gained
        // products since they were read are read again.
        for (const g of groups) {
          if (g.checked) continue;
          g.checked = true;
          const read = g.ranges.reduce((sum, r) => sum + r.read, 0);
          if (read === g.total) continue;
          ctx.logger.debug(`vtex ${o.store}: ${g.label}: its price ranges held ${read} products when read, the query ${g.total}: counting them again`);
          for (const r of g.ranges) {
            const now = await probeCount(r.q.fq);
            if (now !== undefined && now > r.read) {
              ctx.logger.debug(`vtex ${o.store}: ${r.q.label} now has ${now} products (${r.read} when read): reading it again`);
              queue.push({ fq: r.q.fq, label: r.q.label, children: [], ...(r.q.price ? { price: r.q.price } : {}) });
            }
          }
        }
        if (queue.length === 0) break;
      }
      if (unknownTotals > 0) {
        ctx.warn(
          `vtex ${o.store}: the API sent no resources header for ${unknownTotals} ${unknownTotals === 1 ? 'search' : 'searches'} (first: ${unknownExample}): the total was unknown, windows were read until one came back short without 206`,
        );
      }
      if (unreachable > 0) ctx.logger.warn(`vtex ${o.store}: ${unreachable} products unreachable in total`);

      /** A query too big for the API, split into parts that may fit; undefined when it cannot shrink. */
      async function split(q: Query, total: number | undefined): Promise<Query[] | undefined> {
        if (q.children.length > 0) {
          // The subcategories, then whatever sits directly in this category (VTEX allows products
          // on any level): the category again, without its subcategories, so split by price;
          // ranges the subcategories cover entirely are skipped, repeats dropped by productId.
          const direct: Query = {
            fq: q.fq,
            label: `${q.label} (not in a subcategory)`,
            children: [],
            besides: q.children.map((c) => `C:/${c.path.join('/')}/`),
          };
          return [...q.children.map((c) => categoryQuery(c.node, c.path, c.names)), direct];
        }
        let [lo, hi] = q.price ?? [0, 0];
        if (!q.price) {
          const dearest = await http.request<unknown[]>(`${base}/api/catalog_system/pub/products/search`, { query: { ...sc, fq: q.fq, _from: 0, _to: 0, O: 'OrderByPriceDESC' } });
          lo = 0; // unavailable products come with price 0
          // The dearest product's highest offer: at or above any price the search sorts by.
          hi = cents(highestPriceOf(dearest.body[0]) ?? 0);
        }
        if (hi <= lo) return undefined;
        const mid = Math.floor((lo + hi) / 2);
        let group = q.group;
        if (!group && total !== undefined && !q.besides) {
          group = { label: q.label, total, ranges: [], checked: false };
          groups.push(group);
        }
        ctx.logger.debug(`vtex ${o.store}: ${q.label} has ${total ?? `over ${VTEX_MAX_INDEX}`} products, splitting by price ${money(lo)}–${money(hi)}`);
        // A range of cents a..b asks for prices from a up to b's last sub-cent (`P:[20.46 TO 40.9099]`):
        // a product sold by weight is priced per unitMultiplier, unrounded (0.25 kg at R$ 81,82/kg is
        // 20.455), and would otherwise fall between two ranges (…20.45] and [20.46…) and be lost.
        const withPrice = (a: number, b: number): Query => ({
          fq: [...q.fq.filter((f) => !f.startsWith('P:')), `P:[${money(a)} TO ${money(b)}99]`],
          label: `${q.label.replace(/ price .*/, '')} price ${money(a)}–${money(b)}`,
          children: [],
          price: [a, b],
          ...(q.besides ? { besides: q.besides } : {}),
          ...(group ? { group } : {}),
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

/**
 * An upper bound of the price the search knows `product` by: its highest offer over every SKU
 * and seller. The search prices a product by an offer it sells at, not by `items[0]`'s default
 * seller, whose SKU may be sold out (`Price: 0`) while the others sell; unavailable offers (0,
 * null) are skipped. Undefined when no offer has a price.
 */
function highestPriceOf(product: unknown): number | undefined {
  const items = (product as { items?: { sellers?: { commertialOffer?: { Price?: number | null } }[] }[] } | undefined)?.items ?? [];
  const prices = items.flatMap((i) => (i.sellers ?? []).map((s) => s.commertialOffer?.Price ?? 0)).filter((p) => p > 0);
  return prices.length === 0 ? undefined : Math.max(...prices);
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
    // A path (`Bebidas/Vinhos`) names one category; a bare name may sit in several departments
    // (`Vinhos` under Bebidas and under Presentes): crawling the first alone would lose the others.
    const byPath = typeof w === 'string' ? all.filter((e) => e.names.join('/').toLowerCase() === w.toLowerCase()) : [];
    const found = byPath.length > 0 ? byPath : all.filter((e) => (typeof w === 'number' ? e.node.id === w : e.node.name.toLowerCase() === w.toLowerCase()));
    if (found.length === 0) throw new ConfigError(`vtexCatalog: option "categories" names ${JSON.stringify(w)}, which is not in the store's category tree`);
    const places = [...new Set(found.map((e) => e.path.join('/')))];
    if (places.length > 1) {
      throw new ConfigError(
        `vtexCatalog: option "categories" names ${JSON.stringify(w)}, which is in ${places.length} places of the store's category tree (${found.map((e) => `${e.names.join('/')} (id ${e.node.id})`).join(', ')}): give its path or its id`,
      );
    }
    return found[0]!;
  });
}
