/**
 * A second process crawling the loopback shop site (examples/fixtures/shop-site) into a lake,
 * for the kill-and-resume test. The test builds the same source in-process with
 * `shopSiteSource(config)`, so both runs crawl the same frontier.
 *
 * Run: `node --import tsx tests/helpers/child-crawl.ts '<json CrawlChildConfig>'`; prints the
 * ExtractResult as one JSON line on stdout.
 */
import { pathToFileURL } from 'node:url';
import { Lakehouse, z, type Source } from '../../src/index.js';
import { htmlSource } from '../../src/extract/html-source.js';
import { spawnHelper, type Child } from './child.js';

export interface CrawlChildConfig {
  root: string;
  /** The shop site's base URL (`http://127.0.0.1:<port>`). */
  baseUrl: string;
  /** Pages fetched at once (default: the lake's 4). */
  inFlight?: number;
  /** Rows per bronze commit (1: every page with products is its own commit). */
  flushRows?: number;
}

export const shopProductSchema = z.object({
  sku: z.string().min(1),
  name: z.string().min(1),
  price: z.number().positive(),
  url: z.string(),
  pack: z.object({ packQty: z.number().int(), unit: z.enum(['kg', 'l', 'un']), netAmount: z.number() }).nullable(),
  _url: z.string(),
});

/** The shop site as an htmlSource: categories and pagination crawled, product cards extracted. */
export function shopSiteSource(config: Omit<CrawlChildConfig, 'root'>): Source {
  return htmlSource({
    source: 'shop',
    dataset: 'products',
    startUrls: [`${config.baseUrl}/`],
    follow: 'a.next, nav.pagination a, nav.categories a',
    extract: {
      items: 'li.product',
      fields: {
        sku: { attr: 'data-sku' },
        name: '.title',
        price: { selector: '.price strong', parse: 'brl' },
        url: { selector: 'a.link', attr: 'href', parse: 'url' },
        pack: { selector: '.title', parse: 'pack' },
      },
    },
    schema: shopProductSchema,
    partitionBy: { store: 'exemplo' },
    primaryKey: ['sku'],
    limits: {
      requestsPerSecond: 1_000,
      burst: 100,
      backoffBaseMillis: 5,
      backoffMaxMillis: 50,
      ...(config.inFlight ? { inFlight: config.inFlight } : {}),
      ...(config.flushRows ? { flushRows: config.flushRows } : {}),
    },
  });
}

/** Starts the child crawl. */
export function spawnCrawl(config: CrawlChildConfig): Child {
  return spawnHelper('child-crawl.ts', [JSON.stringify(config)]);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as CrawlChildConfig;
  const lake = await Lakehouse.open({ root: config.root, log: { console: false } });
  try {
    const result = await lake.extract([shopSiteSource(config)]);
    process.stdout.write(`${JSON.stringify({ result })}\n`);
  } finally {
    await lake.close();
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
