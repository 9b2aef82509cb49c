/**
 * README (options): `lockTimeoutMillis` (default 30 000) is "how long to wait for another
 * process's lock on a database or state file". The OAuth token store is a state file
 * (`data/state/tokens/`, DESIGN: "written tmp-then-rename under a cross-process lock file").
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse, z } from '../../src/index.js';
import { httpSource } from '../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../src/extract/http/paginators.js';
import { FAST_LIMITS, makeRecords, oauthProvider, pages, startFaultyServer } from '../helpers/faulty-server.js';
import { holdLock } from '../helpers/lock-holder.js';
import { registerCleanup, tempDir } from '../helpers/temp-lake.js';

/**
 * An OAuth2 source of a loopback server, in a lake whose token store `ml` another live process
 * holds locked (say, stuck in a slow refresh).
 */
async function lockedStore(names: { clientId: string; clientSecret: string; seed: string }, lockTimeoutMillis: number) {
  const { clientId, clientSecret, seed } = names;
  const oauth = oauthProvider({ refreshToken: seed, clientId, clientSecret });
  const server = await startFaultyServer({ '/oauth/token': oauth.token, '/orders': oauth.guard(pages.pageNumber(makeRecords(5), 1)) });
  registerCleanup(() => server.close());
  const root = path.join(tempDir(), 'data');
  const { holder } = holdLock(path.join(root, 'state', 'tokens', 'ml.json.lock'));
  const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis });
  const source = httpSource({
    source: 'ml',
    dataset: 'orders',
    url: `${server.url}/orders`,
    paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
    items: 'data',
    schema: z.object({ id: z.number().int(), name: z.string(), price: z.number() }),
    auth: { type: 'oauth2', tokenUrl: `${server.url}/oauth/token`, clientId, clientSecret, refreshToken: seed, store: 'ml', skewMillis: 0 },
    limits: FAST_LIMITS,
  });
  return { lake, source, holder };
}

describe('the token store lock and lockTimeoutMillis', () => {
  it("an extract waiting for another live process's token store lock gives up after lockTimeoutMillis, not after a fixed 60 s", async () => {
    const { lake, source, holder } = await lockedStore({ clientId: 'app-lock', clientSecret: 'cs-lock-hunt-secret', seed: 'rt-lock-hunt-seed-0001' }, 1_000);
    try {
      const started = Date.now();
      const outcome = await Promise.race([
        lake.extract(source).then((r) => ({ settled: true as const, result: r })),
        new Promise<{ settled: false }>((resolve) => setTimeout(() => resolve({ settled: false }), 12_000)),
      ]);
      expect(outcome.settled, 'the extract gave up within 12 s with lockTimeoutMillis 1000').toBe(true);
      if (outcome.settled) {
        expect(outcome.result.sources[0]!.status).toBe('failed');
        expect(outcome.result.sources[0]!.error).toMatch(/in use by another process/);
        expect(Date.now() - started).toBeLessThan(12_000);
      }
    } finally {
      holder.kill('SIGKILL');
      await lake.close();
    }
  }, 90_000);
});

describe('the token store lock and the run signal', () => {
  it("lake.close() stops an extract waiting for another live process's token store lock", async () => {
    const { lake, source, holder } = await lockedStore({ clientId: 'app-close', clientSecret: 'cs-lock-close-secret', seed: 'rt-lock-close-seed-0001' }, 25_000);
    const extract = lake.extract(source);
    extract.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    try {
      await lake.close();
      expect(Date.now() - started, 'close() returned within 5 s').toBeLessThan(5_000);
    } finally {
      holder.kill('SIGKILL');
    }
  }, 60_000);
});
