/**
 * `mercadoLivreItems`: listings by id into `mercadolivre/items` (price, stock, attributes), via
 * the `/items?ids=` multiget, 20 ids per call. An id the API answers with an error (404…) goes to
 * quarantine with the API's message. Run it every day and the rows are a price history.
 * `fromOrders: true` takes the ids from the orders already in bronze.
 */
import { z } from 'zod';
import { parseOptions } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { defineSource, type AnySource, type ExtractContext } from '../../extract/source.js';
import { quoteLiteral } from '../../db/quote.js';
import { readerRows } from '../../db/values.js';
import { apiBase, mlCommonFields, mlHttp } from './common.js';
import { mlItemSchema } from './schemas.js';

export const ML_MULTIGET = 20;

const optionsSchema = z
  .strictObject({
    ids: z.array(z.string().regex(/^[A-Z]{3}\d+$/, 'must look like MLB123456')).min(1).optional(),
    fromOrders: z.literal(true).optional(),
    ...mlCommonFields,
  })
  .refine((o) => Boolean(o.ids) !== Boolean(o.fromOrders), { message: 'give exactly one of "ids" or "fromOrders: true"', path: ['ids'] });

export type MercadoLivreItemsOptions = z.input<typeof optionsSchema>;

async function idsFromOrders(ctx: ExtractContext): Promise<string[]> {
  // The committed files, as models read them: a glob would also read pruned partitions waiting
  // for deletion, compaction outputs not switched in (or still being written), another extract's
  // unrecorded batch.
  const files = await ctx.bronzeFiles('mercadolivre', 'orders');
  if (files.length === 0) return [];
  const c = await ctx.connect();
  const rows = readerRows(
    await c.runAndReadAll(
      `SELECT DISTINCT oi.item.id AS id FROM (SELECT unnest(order_items) AS oi FROM read_parquet([${files.map(quoteLiteral).join(', ')}], union_by_name = true)) ORDER BY 1`,
    ),
  );
  return rows.map((r) => String(r.id));
}

/**
 * @example
 * mercadoLivreItems({ fromOrders: true, auth })
 */
export function mercadoLivreItems(options: MercadoLivreItemsOptions): AnySource {
  const o = parseOptions(optionsSchema, options, 'mercadoLivreItems');
  const base = apiBase(o);

  async function* extract(ctx: ExtractContext): AsyncGenerator<unknown[]> {
    const ids = o.ids ?? (await idsFromOrders(ctx));
    if (ids.length === 0) {
      ctx.warn(o.fromOrders ? 'mercadolivre items: no orders in bronze yet, so no item ids' : 'mercadolivre items: no ids');
      return;
    }
    const http = mlHttp(ctx, o);
    try {
      for (let i = 0; i < ids.length; i += ML_MULTIGET) {
        const batch = ids.slice(i, i + ML_MULTIGET);
        const entries = await http.getJson<{ code: number; body: Record<string, unknown> }[]>(`${base}/items`, { query: { ids: batch.join(',') } });
        if (!Array.isArray(entries)) throw new ConfigError(`mercadolivre items: the multiget answered ${typeof entries}, not a list`);
        ctx.stats.pages += 1;
        const found: unknown[] = [];
        entries.forEach((entry, k) => {
          if (entry?.code === 200) found.push(entry.body);
          else ctx.reject({ id: batch[k], code: entry?.code, body: entry?.body }, `HTTP ${entry?.code ?? '?'} for ${batch[k]}: ${String(entry?.body?.message ?? entry?.body?.error ?? 'no message')}`);
        });
        if (found.length > 0) yield found;
      }
    } finally {
      await http.close();
    }
  }

  return defineSource({ source: 'mercadolivre', dataset: 'items', schema: mlItemSchema, primaryKey: ['id'], ...(o.limits ? { limits: o.limits } : {}), extract });
}
