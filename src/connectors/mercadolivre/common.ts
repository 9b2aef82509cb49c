/** What every Mercado Livre connector shares: the API base, OAuth2 with rotating refresh tokens. */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { limitsOverrideSchema } from '../../config.js';
import { ConfigError } from '../../errors.js';
import type { ExtractContext } from '../../extract/source.js';
import { createHttpContext, type HttpContext } from '../../extract/http/http-context.js';
import { seedHashOf, storeSeedHash } from '../../extract/http/oauth.js';

export const ML_API = 'https://api.mercadolibre.com';
/** The real API refuses `offset + limit` above these. */
export const ML_ORDERS_OFFSET_CAP = 10_000;
export const ML_SEARCH_OFFSET_CAP = 1_000;
export const ML_PAGE = 50;

export const mlAuthSchema = z.strictObject({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Seeds the token store; a different value later replaces the store (a way out of a dead token). */
  refreshToken: z.string().min(1).optional(),
});

export const mlCommonFields = {
  baseUrl: z.url().default(ML_API),
  auth: mlAuthSchema,
  limits: limitsOverrideSchema.optional(),
};

export type MlAuth = z.input<typeof mlAuthSchema>;

/**
 * An HTTP context authenticated with the app's OAuth2 token store (shared by every ML source of
 * the app). The seller's token goes to the API's origin only: a URL elsewhere (a picture on a CDN)
 * is fetched without it.
 */
export function mlHttp(ctx: ExtractContext, o: { baseUrl: string; auth: z.output<typeof mlAuthSchema> }): HttpContext {
  const base = o.baseUrl.replace(/\/+$/, '');
  return createHttpContext(ctx, {
    authOrigins: [new URL(base).origin],
    auth: {
      type: 'oauth2',
      tokenUrl: `${base}/oauth/token`,
      clientId: o.auth.clientId,
      clientSecret: o.auth.clientSecret,
      ...(o.auth.refreshToken ? { refreshToken: o.auth.refreshToken } : {}),
      store: mlTokenStore(ctx.root, o.auth),
    },
  });
}

/**
 * The token store of one seller's grant: `mercadolivre-<clientId>-<12 hex of the seed's sha256>`.
 * One app serves many sellers, each with a rotating refresh token of its own; a store per app
 * would have each seller's seed replace the other's store, and then present a spent token.
 * A store named after the app alone (before this) is taken over by the seed that made it.
 * Without a `refreshToken` option the app's only store is used; with several, the seed must say which.
 */
export function mlTokenStore(root: string, auth: { clientId: string; refreshToken?: string | undefined }): string {
  const app = `mercadolivre-${auth.clientId.replace(/[^a-z0-9_.-]/gi, '_').slice(0, 80)}`;
  const dir = path.join(root, 'state', 'tokens');
  if (auth.refreshToken !== undefined) {
    const seedHash = seedHashOf(auth.refreshToken);
    const name = `${app}-${seedHash.slice(0, 12)}`;
    const legacy = path.join(dir, `${app}.json`);
    const target = path.join(dir, `${name}.json`);
    if (!fs.existsSync(target) && storeSeedHash(legacy) === seedHash) {
      try {
        fs.renameSync(legacy, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // another process took it over first
      }
    }
    return name;
  }
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const mine = new RegExp(`^${app.replace(/[.]/g, '\\.')}(-[0-9a-f]{12})?\\.json$`);
  const stores = names.filter((n) => mine.test(n)).map((n) => n.slice(0, -'.json'.length)).sort();
  if (stores.length > 1) {
    throw new ConfigError(
      `mercadolivre: auth.refreshToken is missing and client ${auth.clientId} has ${stores.length} token stores in ${dir} (${stores.join(', ')}), one per seller or per refresh token that seeded one: pass the seller's "refreshToken" option to pick its store`,
    );
  }
  return stores[0] ?? app;
}

export function apiBase(o: { baseUrl: string }): string {
  return o.baseUrl.replace(/\/+$/, '');
}
