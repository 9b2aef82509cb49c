/**
 * A synthetic `items` source (`{ id, store, price }`, partitioned by store) for crash,
 * concurrency and reliability tests: `batches` batches of `rowsPerBatch` rows, ids from 0.
 * Child processes (child-extract.ts, child-build.ts) and in-process re-runs share it, so both
 * sides write the same dataset with the same columns.
 */
import { defineSource, z, type Source } from '../../src/index.js';

export const itemSchema = z.object({ id: z.number().int(), store: z.string(), price: z.number() });
export type Item = z.output<typeof itemSchema>;

export interface SyntheticItemsOptions {
  source: string;
  dataset?: string;
  batches: number;
  rowsPerBatch: number;
  /** Pause after each batch (lets a test kill the process between commits). */
  delayMs?: number;
  /** Called after each batch was consumed by the lake, with the number of batches so far. */
  onBatch?: (yielded: number) => void;
  /** Added to every price, so a later run changes values without changing keys. */
  priceShift?: number;
}

export function syntheticItems(o: SyntheticItemsOptions): Source<Item> {
  return defineSource({
    source: o.source,
    dataset: o.dataset ?? 'items',
    partitionBy: ['store'],
    schema: itemSchema,
    async *extract() {
      for (let b = 0; b < o.batches; b++) {
        yield Array.from({ length: o.rowsPerBatch }, (_, i) => ({ id: b * o.rowsPerBatch + i, store: `s${i % 3}`, price: (i % 100) + 0.5 + (o.priceShift ?? 0) }));
        o.onBatch?.(b + 1);
        if (o.delayMs && o.delayMs > 0) await new Promise((r) => setTimeout(r, o.delayMs));
      }
    },
  });
}

/**
 * An incremental source of ids: each run yields the `rows` ids after its cursor (from 0) and
 * checkpoints at the last of them.
 */
export function counterSource(source: string, rows = 1): Source<{ id: number }> {
  return defineSource({
    source,
    dataset: 'items',
    schema: z.object({ id: z.number() }),
    async *extract(ctx) {
      const from = Number((await ctx.cursor()) ?? 0);
      yield Array.from({ length: rows }, (_, i) => ({ id: from + i + 1 }));
      ctx.checkpoint(from + rows);
    },
  });
}
