/**
 * A child process that extracts a synthetic source into a lake, for crash and concurrency
 * tests. Usage: node --import tsx child-extract.ts <root> <source> <batches> <rowsPerBatch> <delayMs>
 * Every batch is flushed as its own bronze commit (flushRows = rowsPerBatch). Prints one JSON
 * line per committed batch count and the final result.
 */
import { Lakehouse } from '../../src/index.js';
import { syntheticItems } from './synthetic-source.js';

const [root, name, batchesArg, rowsArg, delayArg] = process.argv.slice(2);
const batches = Number(batchesArg);
const rowsPerBatch = Number(rowsArg);
const delayMs = Number(delayArg);

const lake = await Lakehouse.open({ root, log: { console: false }, limits: { flushRows: rowsPerBatch } });
try {
  const source = syntheticItems({
    source: name!,
    batches,
    rowsPerBatch,
    delayMs,
    onBatch: (yielded) => process.stdout.write(`${JSON.stringify({ yielded })}\n`),
  });
  const result = await lake.extract([source]);
  process.stdout.write(`${JSON.stringify({ result })}\n`);
} finally {
  await lake.close();
}
