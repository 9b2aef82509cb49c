/**
 * # A Mercado Livre seller's orders
 *
 * Run it with `npx tsx examples/02-mercadolivre-orders.ts`.
 *
 * OAuth2 with rotating refresh tokens: the connector keeps them in `data/state/tokens/` (0600)
 * and never logs them. Here the API is a loopback copy; for the real one drop `baseUrl` and pass
 * your app's credentials from the environment:
 *   auth: { clientId: process.env.ML_CLIENT_ID!, clientSecret: process.env.ML_CLIENT_SECRET!, refreshToken: process.env.ML_REFRESH_TOKEN! }
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lakehouse, mercadoLivreItems, mercadoLivreOrders, mercadoLivreSeller } from '../src/index.js';
import { buildMercadoLivreData } from './fixtures/mercadolivre/data.js';
import { startMercadoLivreServer } from './fixtures/mercadolivre/server.js';
import { dropOldTokenStores } from './fixtures/mercadolivre/token-stores.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const data = buildMercadoLivreData();
// A new loopback server each run, so a new refresh token: it starts a new token store, and the
// last run's is deleted once this one works (dropOldTokenStores below).
const auth = { clientId: 'example-app', clientSecret: 'example-secret', refreshToken: `TG-example-${randomUUID()}` };
const server = await startMercadoLivreServer({ data, clientId: auth.clientId, clientSecret: auth.clientSecret, initialRefreshToken: auth.refreshToken });
const lake = await Lakehouse.open({ root: process.env.DUCKHOUSE_ROOT ?? 'data', models: path.join(here, '..', 'models'), limits: { requestsPerSecond: 200, burst: 20 } });
try {
  const common = { baseUrl: server.url, auth };
  // ## 1. Orders, incrementally: the next run starts where this one committed.
  const orders = await lake.extract([mercadoLivreOrders({ sellerId: data.mainSellerId, ...common, from: data.startDate }), mercadoLivreSeller({ sellerId: data.mainSellerId, ...common })]);
  // ## 2. The listings of those orders (price history when run every day).
  const items = await lake.extract([mercadoLivreItems({ fromOrders: true, ...common })]);
  console.log(`orders: ${orders.sources[0]!.rows}, items: ${items.sources[0]!.rows}`);
  if (orders.status === 'success' && items.status === 'success') dropOldTokenStores(lake.paths.root, auth);

  // ## 3. Build the marketplace models
  const build = await lake.build({ select: ['tag:marketplace'] });
  console.log(`build ${build.status}: ${build.models.length} models`);

  // ## 4. Revenue per week and the best-selling brands
  console.table(await lake.query(`select date_trunc('week', date_created_date)::DATE as week, count(*) as orders, sum(revenue_amount) as revenue from marts.fct_orders group by 1 order by 1 limit 10`));
  console.table(
    await lake.query(`select i.brand, sum(oi.quantity) as units from trusted.tru_order_item oi join trusted.tru_item i using (item_id) group by 1 order by 2 desc limit 5`),
  );
  console.table(await lake.query(`select seller_id, nickname, orders_count, paid_revenue, average_ticket, reputation_level from marts.dim_sellers`));
} finally {
  await lake.close();
  await server.close();
}
