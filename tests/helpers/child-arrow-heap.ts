/**
 * `lake.queryArrow` of a million rows (BIGINT, VARCHAR, DECIMAL) in a process whose heap is capped
 * by the test (`--max-old-space-size`). Prints `{ rows, batches }`; out of heap, Node aborts.
 * Usage: child-arrow-heap.ts <root>
 */
import { Lakehouse } from '../../src/index.js';

const [root] = process.argv.slice(2) as [string];
const lake = await Lakehouse.open({ root, log: { console: false }, progress: false });
try {
  const table = await lake.queryArrow('select i, i::VARCHAR as s, (i / 100)::DECIMAL(18,2) as price from range(1000000) r(i)');
  process.stdout.write(`${JSON.stringify({ rows: table.numRows, last: String(table.getChild('s')?.get(999_999)), price: table.getChild('price')?.get(123_456) })}\n`);
} finally {
  await lake.close();
}
