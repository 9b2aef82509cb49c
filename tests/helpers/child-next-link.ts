/**
 * A child process that reads a Graph-style API (`{ data, paging: { next } }`) into a lake, its
 * cursor the next-page link the API gave (which carries `access_token=`, as Mercado Livre's and
 * Graph's do): the run goes on from that link. For tests that kill it at a chosen step.
 *   tsx child-next-link.ts <root> <first page url> <pages a run reads at most>
 * Prints `{"result":…}` when it finishes.
 */
import { pathToFileURL } from 'node:url';
import { defineSource, Lakehouse, z } from '../../src/index.js';

/** The source the child runs; the test builds the same one to resume from the saved link. */
export function nextLinkSource(firstUrl: string, maxPages = Infinity): ReturnType<typeof defineSource> {
  return defineSource({
    source: 'graph',
    dataset: 'posts',
    schema: z.object({ id: z.number().int(), text: z.string() }),
    limits: { flushRows: 1_000 },
    async *extract(ctx) {
      const saved = (await ctx.cursor()) as { next: string | null } | undefined;
      let url = saved ? saved.next : firstUrl;
      for (let pages = 0; url && pages < maxPages; pages++) {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const body = (await response.json()) as { data: unknown[]; paging?: { next?: string } };
        url = body.paging?.next ?? null;
        // The link covers the page yielded with it: saved only once its records are committed.
        ctx.checkpoint({ next: url });
        yield body.data;
      }
    },
  });
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [root, first, pagesArg] = process.argv.slice(2) as [string, string, string];
  const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 120_000 });
  try {
    const result = await lake.extract([nextLinkSource(first, Number(pagesArg))]);
    process.stdout.write(`${JSON.stringify({ result })}\n`);
  } finally {
    await lake.close();
  }
}
