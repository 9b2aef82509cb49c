import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mercadoLivreSeller } from '../../src/index.js';
import { buildMercadoLivreData } from '../../examples/fixtures/mercadolivre/data.js';
import { startMercadoLivreServer, type MercadoLivreServer } from '../../examples/fixtures/mercadolivre/server.js';
import { tempLake } from '../helpers/temp-lake.js';

// One Mercado Livre app (one clientId) serving two sellers: each seller authorised the app once
// and has a rotating refresh token of its own. Each seller is played by its own fixture server.
const CLIENT = 'agency-app';
const SECRET = 'client-secret-sellers-0001';
const servers: MercadoLivreServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

async function seller(refreshToken: string) {
  const data = buildMercadoLivreData({ orders: 20, items: 10, days: 5 });
  const server = await startMercadoLivreServer({ data, clientId: CLIENT, clientSecret: SECRET, initialRefreshToken: refreshToken });
  servers.push(server);
  const source = (auth: { refreshToken?: string } = { refreshToken }) =>
    mercadoLivreSeller({ sellerId: data.mainSellerId, baseUrl: server.url, auth: { clientId: CLIENT, clientSecret: SECRET, ...auth } });
  return { server, source };
}

const fast = { requestsPerSecond: 500, burst: 50, backoffBaseMillis: 5 };
const tokenFiles = (root: string) => fs.readdirSync(path.join(root, 'state', 'tokens')).filter((f) => f.endsWith('.json')).sort();

describe('Mercado Livre token stores: one per seller of an app', () => {
  it('two sellers of one app extract in turn without spending each other\'s refresh tokens', async () => {
    const a = await seller('TG-seller-a-initial-0001');
    const b = await seller('TG-seller-b-initial-0002');
    const lake = await tempLake({ limits: fast });
    for (let round = 0; round < 2; round++) {
      for (const s of [a, b]) {
        const result = await lake.extract([s.source()]);
        expect(result.sources[0]!.error).toBeUndefined();
        expect(result.status).toBe('success');
      }
    }
    // Each seller's server saw its tokens rotate and none presented twice.
    for (const s of [a, b]) {
      expect(s.server.refreshCount).toBe(1);
      expect(new Set(s.server.presentedRefreshTokens).size).toBe(s.server.presentedRefreshTokens.length);
    }
    expect(tokenFiles(lake.paths.root)).toHaveLength(2);
    for (const f of tokenFiles(lake.paths.root)) expect(f).toMatch(/^mercadolivre-agency-app-[0-9a-f]{12}\.json$/);
  }, 60_000);

  it('takes over a store named after the app alone (before stores were per seller), then finds it without a refreshToken option', async () => {
    const a = await seller('TG-seller-a-initial-0003');
    const lake = await tempLake({ limits: fast });
    expect((await lake.extract([a.source()])).status).toBe('success');
    // Make the store look like one written before per-seller stores: named after the app.
    const [file] = tokenFiles(lake.paths.root);
    expect(file).toMatch(/^mercadolivre-agency-app-[0-9a-f]{12}\.json$/);
    fs.renameSync(path.join(lake.paths.root, 'state', 'tokens', file!), path.join(lake.paths.root, 'state', 'tokens', 'mercadolivre-agency-app.json'));

    expect((await lake.extract([a.source()])).status).toBe('success');
    expect(tokenFiles(lake.paths.root)).toEqual([file]);
    expect(a.server.refreshCount).toBe(1); // the access token in the adopted store was still good
    a.server.expireAccessTokens();
    const again = await lake.extract([a.source({})]); // no refreshToken: the app's only store
    expect(again.sources[0]!.error).toBeUndefined();
    expect(a.server.refreshCount).toBe(2);
    expect(new Set(a.server.presentedRefreshTokens).size).toBe(a.server.presentedRefreshTokens.length);
  }, 60_000);

  it('without a refreshToken option and with two sellers\' stores, fails naming both instead of guessing', async () => {
    const a = await seller('TG-seller-a-initial-0004');
    const b = await seller('TG-seller-b-initial-0005');
    const lake = await tempLake({ limits: fast });
    expect((await lake.extract([a.source(), b.source()])).status).toBe('success');
    const result = await lake.extract([a.source({})]);
    expect(result.status).toBe('failed');
    const error = result.sources[0]!.error ?? '';
    expect(error).toMatch(/agency-app has 2 token stores/);
    expect(error).toMatch(/"refreshToken"/);
    for (const f of tokenFiles(lake.paths.root)) expect(error).toContain(f.slice(0, -'.json'.length));
  }, 60_000);
});
