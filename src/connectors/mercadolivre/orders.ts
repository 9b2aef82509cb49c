/**
 * `mercadoLivreOrders`: a seller's orders into `mercadolivre/orders`, one row per order as
 * returned, partitioned `seller_id=` + date.
 *
 * Incremental by `date_created`: the cursor is the last `date_created` committed and the ids
 * seen at that instant, so a re-run (even after a kill) starts there and neither skips nor
 * repeats. `from` is only the first run's start. The search refuses `offset + limit` past its
 * cap, so a date window with more orders than that is split in halves until each fits, and the
 * last page before the cap asks only for what is left under it (a cap that is not a multiple
 * of the page size).
 * `last: N` fetches the latest N orders instead (newest first), without touching the cursor.
 */
import { z } from 'zod';
import { startOfDay } from '../../bronze/partition.js';
import { parseOptions } from '../../config.js';
import { defineSource, type AnySource, type ExtractContext } from '../../extract/source.js';
import { apiBase, ML_ORDERS_OFFSET_CAP, ML_PAGE, mlCommonFields, mlHttp } from './common.js';
import { mlOrderSchema } from './schemas.js';

const optionsSchema = z.strictObject({
  sellerId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]),
  ...mlCommonFields,
  /** First run's start (ISO date-time or date); default 30 days ago. */
  from: z.union([z.iso.datetime({ offset: true }), z.iso.date()]).optional(),
  /** End of the window, inclusive (a date is the whole day, São Paulo time); default now. */
  to: z.union([z.iso.datetime({ offset: true }), z.iso.date()]).optional(),
  /** Fetch only the latest N orders (e.g. 100, 500, 5,000). */
  last: z.number().int().positive().optional(),
  /**
   * Also re-read orders updated in the last N days (`order.date_last_updated.from`), so later
   * status changes (cancellations, refunds) reach bronze as new versions; the models keep the latest.
   */
  updatedWithinDays: z.number().positive().optional(),
  /** The API's offset cap (tests use a small one). */
  offsetCap: z.number().int().positive().default(ML_ORDERS_OFFSET_CAP),
});

export type MercadoLivreOrdersOptions = z.input<typeof optionsSchema>;

interface OrdersCursor {
  /** ISO instant of the last committed `date_created`. */
  from: string;
  /** Order ids already committed at exactly that instant. */
  ids: number[];
}

interface SearchPage {
  results: { id: number; date_created: string; last_updated: string }[];
  paging: { total: number; offset: number; limit: number };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isDate = (value: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(value);
/**
 * A date is São Paulo's day (Mercado Livre Brasil's zone): `from` its first millisecond, `to` its
 * last, at the offset São Paulo had that day (−02:00 in the summers before 2019, which also had
 * days of 23 and 25 hours), not a fixed −03:00.
 */
const SAO_PAULO = 'America/Sao_Paulo';
const instant = (value: string): number => (isDate(value) ? startOfDay(value, SAO_PAULO) : Date.parse(value));
const endInstant = (value: string): number => {
  if (!isDate(value)) return Date.parse(value);
  const next = new Date(Date.parse(`${value}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  // 9999-12-31 has no next date to begin at: its end is a day after its start.
  return isDate(next) ? startOfDay(next, SAO_PAULO) - 1 : instant(value) + 86_400_000 - 1;
};

/**
 * @example
 * mercadoLivreOrders({ sellerId: 123, auth: { clientId, clientSecret, refreshToken }, from: '2026-01-01' })
 */
export function mercadoLivreOrders(options: MercadoLivreOrdersOptions): AnySource {
  const o = parseOptions(optionsSchema, options, 'mercadoLivreOrders');
  const seller = String(o.sellerId);
  const base = apiBase(o);

  async function* extract(ctx: ExtractContext): AsyncGenerator<unknown[]> {
    const http = mlHttp(ctx, o);
    const search = (query: Record<string, string | number>) =>
      http.getJson<SearchPage>(`${base}/orders/search`, { query: { seller, limit: ML_PAGE, ...query } });
    /** The page size to ask for at `offset`: never past `want` records nor past the cap (offset + limit ≤ cap). */
    const limitAt = (offset: number, want = Number.POSITIVE_INFINITY): number => Math.min(ML_PAGE, want - offset, o.offsetCap - offset);
    try {
      if (o.last) {
        // Newest first: a sale made while paging moves the rest down one place, so the last order
        // of a page comes again on the next; it is kept once and one more is read in its stead.
        const got = new Set<number>();
        for (let offset = 0; got.size < o.last; ) {
          const limit = limitAt(offset, offset + o.last - got.size);
          if (limit <= 0) {
            ctx.warn(`mercadolivre orders: last ${o.last} asked, the API stops at ${o.offsetCap}`);
            break;
          }
          const page = await search({ sort: 'date_desc', offset, limit });
          ctx.stats.pages += 1;
          if (page.results.length === 0) break;
          const fresh = page.results.filter((r) => !got.has(r.id)).slice(0, o.last - got.size);
          for (const r of fresh) got.add(r.id);
          if (fresh.length > 0) yield fresh;
          offset += page.results.length;
          if (offset >= page.paging.total) break;
        }
        return;
      }
      /**
       * Pages through a date window of one filter field, splitting it when it passes the offset
       * cap. The field is the search filter's name (`order.<field>.from`/`.to`), not the order's
       * (`last_updated`): the API ignores a filter it does not know and answers every order.
       */
      async function* sweep(field: 'date_created' | 'date_last_updated', start: number, end: number, onPage: (results: SearchPage['results']) => SearchPage['results']): AsyncGenerator<unknown[]> {
        const windows: [number, number][] = [[start, end]];
        while (windows.length > 0) {
          const [from, to] = windows.shift()!;
          /**
           * `id@last_updated` of every order this window yielded (a step back re-reads only its own
           * window; an order updated into a later window comes with another last_updated): at most
           * the offset cap, not every order of the sweep.
           */
          const taken = new Set<string>();
          const range = { [`order.${field}.from`]: iso(from), [`order.${field}.to`]: iso(to), sort: 'date_asc' };
          let page = await search({ ...range, offset: 0, limit: limitAt(0) });
          if (page.paging.total > o.offsetCap) {
            if (to - from >= 2) {
              const mid = from + Math.floor((to - from) / 2);
              windows.unshift([from, mid], [mid + 1, to]);
              continue;
            }
            ctx.warn(`mercadolivre orders: ${page.paging.total - o.offsetCap} orders at ${iso(from)} (${field}) cannot be reached (offset cap ${o.offsetCap})`);
          }
          let total = page.paging.total;
          for (let offset = 0; ; ) {
            ctx.stats.pages += 1;
            // An order read twice in one version (after a step back, below) is kept once.
            const fresh = page.results.filter((r) => !taken.has(`${r.id}@${r.last_updated}`));
            for (const r of fresh) taken.add(`${r.id}@${r.last_updated}`);
            const kept = onPage(fresh);
            if (kept.length > 0) yield kept;
            // By what came back, not by what was asked: a short page is not skipped over.
            offset += page.results.length;
            if (page.results.length === 0 || offset >= Math.min(page.paging.total, o.offsetCap)) break;
            page = await search({ ...range, offset, limit: limitAt(offset) });
            // Orders that left the search since the last page (updated past the window's end while
            // it was paged) moved the rest up as many places: step back as many and read again.
            while (page.paging.total < total && offset > 0) {
              offset = Math.max(0, offset - (total - page.paging.total));
              total = page.paging.total;
              page = await search({ ...range, offset, limit: limitAt(offset) });
            }
            total = page.paging.total;
          }
        }
      }

      const cursor = (await ctx.cursor()) as OrdersCursor | undefined;
      const start = cursor ? Date.parse(cursor.from) : o.from ? instant(o.from) : Date.now() - 30 * 86_400_000;
      const end = o.to ? endInstant(o.to) : Date.now();
      let last: OrdersCursor = cursor ?? { from: iso(start), ids: [] };
      // Orders committed at exactly the cursor's instant were already taken: the window starts there again.
      const skip = new Set(cursor?.ids ?? []);
      const skipAt = cursor ? Date.parse(cursor.from) : Number.NaN;
      yield* sweep('date_created', start, end, (results) => {
        const fresh = results.filter((r) => !(skip.has(r.id) && Date.parse(r.date_created) === skipAt));
        for (const r of fresh) {
          const at = Date.parse(r.date_created);
          last = at === Date.parse(last.from) ? { from: last.from, ids: [...last.ids, r.id] } : { from: iso(at), ids: [r.id] };
        }
        // Everything yielded so far is covered: saved once these orders are committed.
        if (fresh.length > 0) ctx.checkpoint(last);
        return fresh;
      });
      if (o.updatedWithinDays && cursor) {
        // Orders created before this run's window but changed since: new versions, cursor untouched.
        // Those at the cursor's own instant that an earlier run took (its `ids`, skipped by the
        // date_created sweep) count as before it: the newest order is the likeliest to change next.
        const createdBefore = Date.parse(cursor.from);
        const before = (r: SearchPage['results'][number]): boolean => {
          const at = Date.parse(r.date_created);
          return at < createdBefore || (at === createdBefore && skip.has(r.id));
        };
        yield* sweep('date_last_updated', Date.now() - o.updatedWithinDays * 86_400_000, end, (results) => results.filter(before));
      }
    } finally {
      await http.close();
    }
  }

  return defineSource({
    source: 'mercadolivre',
    dataset: 'orders',
    schema: mlOrderSchema,
    // Not `seller=`: the order's own `seller` struct would clash with it when read with hive_partitioning.
    partitionBy: { seller_id: seller },
    primaryKey: ['id'],
    ...(o.limits ? { limits: o.limits } : {}),
    extract,
  });
}
