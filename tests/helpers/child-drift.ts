/**
 * A child process that reads pages of items (`{ data, more }`) into a lake, their `price` typed as
 * the run says (`number`: DOUBLE, `string`: VARCHAR): a schema drift between runs, for tests that
 * kill it at a chosen step. Each page is a batch of its own.
 *   tsx child-drift.ts <root> <url> <number|string> [lockTimeoutMillis]   (default 120000)
 * Prints `{"result":…}` when it finishes.
 */
import { pathToFileURL } from 'node:url';
import { defineSource, Lakehouse, z } from '../../src/index.js';

/** The source the child runs; the test runs the same one in-process. */
export function driftSource(url: string, price: 'number' | 'string'): ReturnType<typeof defineSource> {
  return defineSource({
    source: 'shop',
    dataset: 'items',
    schema: z.object({ id: z.number().int(), price: price === 'number' ? z.number() : z.string() }),
    limits: { flushRows: 2 },
    async *extract() {
      for (let page = 1; ; page++) {
        const response = await fetch(`${url}?p=${page}&price=${price}`);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const body = (await response.json()) as { data: unknown[]; more: boolean };
        yield body.data;
        if (!body.more) return;
      }
    },
  });
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [root, url, price, lockTimeoutMillis] = process.argv.slice(2) as [string, string, 'number' | 'string', string | undefined];
  const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: Number(lockTimeoutMillis ?? 120_000) });
  try {
    const result = await lake.extract([driftSource(url, price)]);
    process.stdout.write(`${JSON.stringify({ result })}\n`);
  } finally {
    await lake.close();
  }
}
