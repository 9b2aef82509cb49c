/**
 * Auth strategies: bearer token, API key (header or query), and OAuth2 `refresh_token` grant
 * with rotating single-use refresh tokens kept in a token store.
 *
 * Token store: `<root>/state/tokens/<name>.json`, mode 0600 in a 0700 folder, written
 * tmp-then-rename under a cross-process lock, the only place a token is ever written. Rules, in the order they bite:
 * - the store remembers a hash of the `refreshToken` option that seeded it; a different option
 *   value replaces the store (the way out of a dead token), unless the store already presented it;
 * - a refresh token is marked spent in the store BEFORE it is presented, so no process, not even
 *   one restarted after a crash mid-request, presents it twice; the mark is taken back when the
 *   request surely never went out or the answer refused the request, not the grant;
 * - the new refresh token is saved BEFORE the new access token is used;
 * - refresh on expiry (minus a skew) and once per 401.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../bronze/commit.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { registerSecretParam, registerSecret } from '../../redact.js';
import { acquireLock } from '../file-lock.js';
import type { HttpClient } from './client.js';
import { AuthError, HttpBodyError, HttpError, HttpRedirectError, surelyUnsent } from './http-errors.js';

/** What the HTTP client asks of an auth strategy. */
export interface AuthStrategy {
  /** Adds credentials to an outgoing request; returns the credential used (for `onUnauthorized`). */
  apply(request: { url: URL; headers: Record<string, string> }, client: HttpClient): Promise<string | undefined>;
  /** After a 401 sent with `credential`: true when fresh credentials make one more try worthwhile. */
  onUnauthorized?(credential: string | undefined, client: HttpClient): Promise<boolean>;
}

const secret = z.string().min(1);

export const authOptionsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token: secret }),
  z.strictObject({
    type: z.literal('apiKey'),
    /** Header or query parameter name, e.g. `X-VTEX-API-AppKey` or `api_key`. */
    name: z.string().min(1),
    value: secret,
    in: z.enum(['header', 'query']).default('header'),
  }),
  z.strictObject({
    type: z.literal('oauth2'),
    tokenUrl: z.url(),
    clientId: z.string().min(1),
    clientSecret: secret.optional(),
    /** Seeds the token store; a different value than the one that seeded it replaces the store. */
    refreshToken: secret.optional(),
    /** Token store name (`<root>/state/tokens/<store>.json`); default `<token host>-<clientId>`. */
    store: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/i, 'must be letters, digits, _ . - (at most 100)').optional(),
    scope: z.string().optional(),
    /** Refresh this long before the access token expires. Default 60 s. */
    skewMillis: z.number().int().nonnegative().default(60_000),
    /** Client credentials in the form body (default) or as HTTP Basic. */
    clientAuth: z.enum(['body', 'basic']).default('body'),
  }),
]);
export type AuthOptions = z.input<typeof authOptionsSchema>;
type ResolvedAuth = z.output<typeof authOptionsSchema>;
type OAuth2Options = Extract<ResolvedAuth, { type: 'oauth2' }>;

/**
 * Builds the strategy for (already validated) auth options. `lockTimeoutMillis` and `signal` bound
 * the wait for another process's lock on the OAuth2 token store.
 */
export function createAuth(options: AuthOptions, env: { root: string; logger?: Logger; lockTimeoutMillis?: number; signal?: AbortSignal }): AuthStrategy {
  const o = authOptionsSchema.parse(options);
  switch (o.type) {
    case 'bearer':
      return bearerAuth(o.token);
    case 'apiKey':
      return apiKeyAuth(o.name, o.value, o.in);
    case 'oauth2':
      return new OAuth2RefreshTokenAuth(o, env.root, env.logger, { timeoutMillis: env.lockTimeoutMillis, signal: env.signal });
  }
}

export function bearerAuth(token: string): AuthStrategy {
  registerSecret(token);
  return {
    async apply({ headers }) {
      headers.authorization = `Bearer ${token}`;
      return undefined;
    },
  };
}

export function apiKeyAuth(name: string, value: string, where: 'header' | 'query' = 'header'): AuthStrategy {
  registerSecret(value);
  // A key shorter than registerSecret scrubs still goes out of URLs by its parameter's name.
  if (where === 'query') registerSecretParam(name);
  return {
    async apply({ url, headers }) {
      if (where === 'header') headers[name.toLowerCase()] = value;
      else url.searchParams.set(name, value);
      return undefined;
    },
  };
}

interface TokenStoreFile {
  version: 1;
  /** sha256 of the `refreshToken` option that seeded this store. */
  seedHash: string;
  refreshToken: string;
  accessToken?: string;
  tokenType?: string;
  /** ms since the epoch. */
  expiresAt?: number;
  /** Lifetime the provider gave the access token, in ms (bounds the refresh skew). */
  lifetimeMillis?: number;
  /** sha256 of every refresh token presented (most recent last), so none is presented twice. */
  spent: string[];
  updatedAt: string;
}

const SPENT_KEPT = 50;

/**
 * RFC 6749 5.2 error codes that refuse the request, not the grant (only `invalid_grant` does),
 * with what to fix. Any other code, or none, may have consumed the refresh token.
 */
const REQUEST_REFUSALS = new Map([
  ['invalid_client', 'check "clientId" and "clientSecret"'],
  ['unauthorized_client', 'check "clientId" and "clientSecret"'],
  ['invalid_scope', 'check "scope"'],
  ['invalid_request', 'check "tokenUrl", "clientAuth" and "scope"'],
  ['unsupported_grant_type', 'check "tokenUrl"'],
]);

const hash = (value: string): string => createHash('sha256').update(value).digest('hex');

/** What a token store records of the `refreshToken` option that seeded it (the hash, never the token). */
export const seedHashOf = hash;

/** The seed hash a token store file records; undefined when there is none or it cannot be read. */
export function storeSeedHash(file: string): string | undefined {
  try {
    const seedHash = (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<TokenStoreFile>).seedHash;
    return typeof seedHash === 'string' ? seedHash : undefined;
  } catch {
    return undefined;
  }
}

/** OAuth2 refresh_token grant with rotating, single-use refresh tokens. */
export class OAuth2RefreshTokenAuth implements AuthStrategy {
  /** Absolute path of the token store file. */
  readonly file: string;
  private readonly where: string;
  private access: { token: string; expiresAt: number; lifetimeMillis: number } | undefined;

  constructor(
    private readonly o: OAuth2Options,
    root: string,
    private readonly logger?: Logger,
    private readonly lockWait: { timeoutMillis?: number; signal?: AbortSignal } = {},
  ) {
    const name = o.store ?? `${new URL(o.tokenUrl).host}-${o.clientId}`.replace(/[^a-z0-9_.-]/gi, '_').slice(0, 100);
    this.file = path.join(root, 'state', 'tokens', `${name}.json`);
    this.where = `OAuth2 token store ${name}`;
    registerSecret(o.clientSecret);
    registerSecret(o.refreshToken);
  }

  async apply({ headers }: { headers: Record<string, string> }, client: HttpClient): Promise<string> {
    const token = await this.accessToken(client);
    headers.authorization = `Bearer ${token}`;
    return token;
  }

  async onUnauthorized(credential: string | undefined, client: HttpClient): Promise<boolean> {
    this.access = undefined;
    await this.withStore(async (store) => {
      // Another source or process may have refreshed since this credential was sent.
      if (store.accessToken && store.accessToken !== credential && this.fresh(store)) return this.adopt(store);
      return this.refresh(store, client);
    });
    return true;
  }

  /**
   * Still usable, refreshing `skewMillis` early — but never more than a quarter of the token's
   * lifetime early: with short-lived tokens a fixed skew would refresh on every request, and
   * every refresh burns a single-use token.
   */
  private usable(expiresAt: number | undefined, lifetimeMillis: number | undefined): boolean {
    if (expiresAt === undefined) return false;
    const skew = Math.min(this.o.skewMillis, (lifetimeMillis ?? Number.POSITIVE_INFINITY) / 4);
    return expiresAt - skew > Date.now();
  }

  private fresh(store: TokenStoreFile): boolean {
    return this.usable(store.expiresAt, store.lifetimeMillis);
  }

  private async accessToken(client: HttpClient): Promise<string> {
    if (this.access && this.usable(this.access.expiresAt, this.access.lifetimeMillis)) return this.access.token;
    return this.withStore(async (store) => (store.accessToken && this.fresh(store) ? this.adopt(store) : this.refresh(store, client)));
  }

  private adopt(store: TokenStoreFile): string {
    const token = store.accessToken!;
    this.access = { token, expiresAt: store.expiresAt!, lifetimeMillis: store.lifetimeMillis ?? Number.POSITIVE_INFINITY };
    return token;
  }

  /** Runs `fn` on the store under its cross-process lock, seeding or replacing it first if needed. */
  private async withStore<T>(fn: (store: TokenStoreFile) => Promise<T>): Promise<T> {
    // Before the lock, which would create the folder with the default mode (group and others may
    // not even list which apps and sellers have stores); a folder made so before is tightened.
    const dir = path.dirname(this.file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((fs.statSync(dir).mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
    const lock = await acquireLock(this.file, { what: this.where, ...this.lockWait });
    try {
      return await fn(this.load());
    } finally {
      lock.release();
    }
  }

  private load(): TokenStoreFile {
    let store: TokenStoreFile | undefined;
    let text: string | undefined;
    try {
      text = fs.readFileSync(this.file, 'utf8');
      store = JSON.parse(text) as TokenStoreFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') store = this.salvage(text, error as Error);
    }
    if (store) {
      registerSecret(store.refreshToken);
      registerSecret(store.accessToken);
    }
    const seed = this.o.refreshToken;
    if (seed === undefined) {
      if (!store) throw new ConfigError(`${this.where}: no token store at ${this.file} and no "refreshToken" option to seed it`);
      return store;
    }
    const seedHash = hash(seed);
    if (store && store.seedHash === seedHash) return store;
    if (store?.spent.includes(seedHash)) {
      // A stale config passing a token this store already presented: it is sure to be refused, and
      // replacing the store would throw away the live refresh token the store holds.
      throw new ConfigError(
        `${this.where}: the "refreshToken" option is an old one, already presented and replaced; ${this.file} holds the live refresh token — pass the "refreshToken" that seeded the store last, or a newly authorized one`,
      );
    }
    if (store) this.logger?.info(`${this.where}: a different "refreshToken" option was given; it replaces the store`);
    // Spent hashes carry over: a token presented once stays refused even through a re-seed.
    const fresh: TokenStoreFile = { version: 1, seedHash, refreshToken: seed, spent: store?.spent ?? [], updatedAt: new Date().toISOString() };
    this.save(fresh);
    this.access = undefined;
    return fresh;
  }

  /**
   * A store cut short (an editor, a full disk) may be the only copy of the live refresh token, so
   * only a `refreshToken` option it shows was not its seed replaces it: what is left of the text
   * must still say which one was. The stub returned carries that seed hash and the spent hashes
   * left, for load() to replace.
   */
  private salvage(text: string | undefined, error: Error): TokenStoreFile {
    const seedHash = text === undefined ? undefined : /"seedHash"\s*:\s*"([0-9a-f]{64})"/.exec(text)?.[1];
    if (text === undefined || seedHash === undefined || this.o.refreshToken === undefined || hash(this.o.refreshToken) === seedHash) {
      throw new AuthError(
        `${this.where}: ${this.file} is unreadable (${error.message}); repair it, or delete it and pass a newly authorized refresh token as option "refreshToken"`,
      );
    }
    const spentAt = text.indexOf('"spent"');
    const spent = spentAt < 0 ? [] : [...text.slice(spentAt).matchAll(/"([0-9a-f]{64})"/g)].map((m) => m[1]!);
    return { version: 1, seedHash, refreshToken: '', spent, updatedAt: '' };
  }

  private save(store: TokenStoreFile): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify({ ...store, updatedAt: new Date().toISOString() }), 0o600);
  }

  private async refresh(store: TokenStoreFile, client: HttpClient): Promise<string> {
    const presented = store.refreshToken;
    const presentedHash = hash(presented);
    const fix = `authorize the app again and pass the new refresh token as option "refreshToken" (it replaces ${this.file})`;
    if (store.spent.includes(presentedHash)) {
      throw new AuthError(`${this.where}: its refresh token was already presented once and no new tokens came back (the answer was lost, timed out or a server error); it cannot be used again — ${fix}`);
    }
    this.save({ ...store, spent: [...store.spent, presentedHash].slice(-SPENT_KEPT) });
    const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: presented };
    const headers: Record<string, string> = {};
    if (this.o.clientAuth === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(this.o.clientId)}:${encodeURIComponent(this.o.clientSecret ?? '')}`).toString('base64')}`;
    } else {
      form.client_id = this.o.clientId;
      if (this.o.clientSecret !== undefined) form.client_secret = this.o.clientSecret;
    }
    if (this.o.scope !== undefined) form.scope = this.o.scope;
    // The client counts a request only once it has its in-flight slot and rate-limit token, as it
    // goes out: a refresh stopped while it waited for those (lake.close()) left no trace there.
    const host = new URL(this.o.tokenUrl).host;
    const sentSoFar = (): number => client.stats().find((s) => s.host === host)?.requests ?? 0;
    const before = sentSoFar();
    let answer: { status: number; body: Record<string, unknown> | undefined };
    try {
      // The form holds the refresh token and the client secret: a redirect elsewhere is not followed.
      answer = await client.request<Record<string, unknown>>(this.o.tokenUrl, { method: 'POST', form, headers, auth: false, retry: 'unsent-only', redirect: 'same-origin', acceptStatuses: [400, 401] });
    } catch (error) {
      // Most servers refuse client authentication with a bare 401 (and WWW-Authenticate), no JSON.
      if (error instanceof HttpBodyError && error.status === 401) answer = { status: 401, body: undefined };
      else if (error instanceof HttpRedirectError) {
        // A redirect issues no token: the grant was not redeemed.
        this.save(store);
        throw new AuthError(
          `${this.where}: token refresh failed: ${error.message}; check "tokenUrl" (set it to the provider's endpoint itself); the refresh token was not used and stays in the store`,
          { cause: error },
        );
      } else {
        // Never reached the server: the token is still good. Other requests to the token host may
        // have gone out meanwhile; they only make a refresh that was never sent stay spent.
        const unsent = surelyUnsent(error) || sentSoFar() === before;
        if (unsent) this.save(store);
        const why = error instanceof HttpError ? error.message : String(error);
        // Sent, it stays spent: say so now, not only at the next run that finds it spent.
        const left = unsent ? '' : `; the refresh token went out and may have been used, so it is never presented again — ${fix}`;
        throw new AuthError(`${this.where}: token refresh failed: ${why}${left}`, { cause: error instanceof HttpError ? error : undefined });
      }
    }
    const body = answer.body ?? {};
    if (answer.status !== 200 && answer.status !== 201) {
      // A 401 without an error code is the client refused: RFC 6749 5.2 answers invalid_client so.
      const code = typeof body.error === 'string' ? body.error : answer.status === 401 ? 'invalid_client' : 'rejected';
      const check = REQUEST_REFUSALS.get(code);
      if (check) {
        // No token was issued and the grant was not redeemed (RFC 6749 5.2): the refresh token was
        // not consumed and stays good for the corrected option.
        this.save(store);
        const what = code === 'invalid_client' || code === 'unauthorized_client' ? 'the client' : 'the request';
        const why = typeof body.error_description === 'string' && body.error_description !== '' ? `: ${body.error_description.slice(0, 200)}` : '';
        throw new AuthError(
          `${this.where}: ${new URL(this.o.tokenUrl).origin} refused ${what} (HTTP ${answer.status} ${code}${why}): ${check}; the refresh token was not used and stays in the store`,
        );
      }
      throw new AuthError(`${this.where}: the refresh token was refused by ${new URL(this.o.tokenUrl).origin} (HTTP ${answer.status} ${code}) — ${fix}`);
    }
    const accessToken = body.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') throw new AuthError(`${this.where}: the token endpoint answered without an access_token`);
    // Some providers (HubSpot; QuickBooks within a day) answer with the very token presented:
    // that is no rotation, and the token stays valid.
    const rotated = typeof body.refresh_token === 'string' && body.refresh_token !== '' && body.refresh_token !== presented ? body.refresh_token : undefined;
    registerSecret(accessToken);
    registerSecret(rotated);
    const expiresIn = expiresInSeconds(body.expires_in) ?? 3600;
    const next: TokenStoreFile = {
      ...store,
      refreshToken: rotated ?? presented,
      accessToken,
      tokenType: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
      expiresAt: Date.now() + expiresIn * 1000,
      lifetimeMillis: expiresIn * 1000,
      // A provider that does not rotate keeps the old refresh token valid: it is not spent.
      spent: rotated ? [...store.spent, presentedHash].slice(-SPENT_KEPT) : store.spent,
      updatedAt: new Date().toISOString(),
    };
    // Saved before the access token is used: the new refresh token must survive a crash.
    this.save(next);
    this.access = { token: accessToken, expiresAt: next.expiresAt!, lifetimeMillis: expiresIn * 1000 };
    return accessToken;
  }
}

/**
 * The access token's lifetime in seconds from `expires_in`: a number, or a numeric string (Azure
 * AD v1 sends `"3599"`); undefined when absent, zero, negative or unreadable.
 */
function expiresInSeconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}
