/** What every Mercado Livre connector shares: the API base, OAuth2 with rotating refresh tokens. */
import { z } from 'zod';
import { limitsOverrideSchema } from '../../config.js';
import type { ExtractContext } from '../../extract/source.js';
import { createHttpContext, type HttpContext } from '../../extract/http/http-context.js';

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

/** An HTTP context authenticated with the app's OAuth2 token store (shared by every ML source of the app). */
export function mlHttp(ctx: ExtractContext, o: { baseUrl: string; auth: z.output<typeof mlAuthSchema> }): HttpContext {
  const base = o.baseUrl.replace(/\/+$/, '');
  return createHttpContext(ctx, {
    auth: {
      type: 'oauth2',
      tokenUrl: `${base}/oauth/token`,
      clientId: o.auth.clientId,
      clientSecret: o.auth.clientSecret,
      ...(o.auth.refreshToken ? { refreshToken: o.auth.refreshToken } : {}),
      store: `mercadolivre-${o.auth.clientId.replace(/[^a-z0-9_.-]/gi, '_').slice(0, 80)}`,
    },
  });
}

export function apiBase(o: { baseUrl: string }): string {
  return o.baseUrl.replace(/\/+$/, '');
}
