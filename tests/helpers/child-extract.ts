/**
 * A child process that extracts a synthetic source into a lake, for crash and concurrency
 * tests. Usage: node --import tsx child-extract.ts <root> <source> <batches> <rowsPerBatch> <delayMs>
 * Every batch is flushed as its own bronze commit (flushRows = rowsPerBatch). Prints one JSON
 * line per committed batch count and the final result.
 */
import { Lakehouse, defineSource, z } from '../../src/index.js';

const [root, name, batchesArg, rowsArg, delayArg] = process.argv.slice(2);
const batches = Number(batchesArg);
const rowsPerBatch = Number(rowsArg);
const delayMs = Number(delayArg);

const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: rowsPerBatch } });
try {
  const source = defineSource({
    source: name!,
    dataset: 'items',
    partitionBy: ['store'],
    schema: z.object({ id: z.number().int(), store: z.string(), price: z.number() }),
    async *extract() {
      for (let b = 0; b < batches; b++) {
        yield Array.from({ length: rowsPerBatch }, (_, i) => ({ id: b * rowsPerBatch + i, store: `s${i % 3}`, price: (i % 100) + 0.5 }));
        process.stdout.write(`${JSON.stringify({ yielded: b + 1 })}\n`);
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      }
    },
  });
  const result = await lake.extract([source]);
  process.stdout.write(`${JSON.stringify({ result })}\n`);
} finally {
  await lake.close();
}
