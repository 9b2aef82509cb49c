/**
 * Errors of the HTTP layer. Whether a request is repeated is decided by `retryable`, set by the
 * error's class (and, for statuses, by the status). Messages name the method, the URL with
 * secrets redacted, the status and the attempt count; they never carry a token.
 */
import { SourceError } from '../../errors.js';
import { redactString } from '../../redact.js';
import { MAX_RETRY_AFTER_MILLIS, parseRetryAfterMillis } from './backoff.js';

export interface HttpErrorDetails {
  method: string;
  /** The request URL; redacted before it reaches the message or the `url` field. */
  url: string;
  /** 1-based attempt that produced this error. */
  attempts: number;
  /** The host that failed or answered: the URL's, unless a redirect led to another. */
  host?: string;
  cause?: unknown;
}

/** Base class: every error the HTTP client throws. */
export class HttpError extends SourceError {
  readonly method: string;
  /** The URL with secrets redacted. */
  readonly url: string;
  readonly attempts: number;
  readonly status: number | undefined;
  /** The host that failed or answered: the URL's, or the one a redirect led to. */
  readonly host: string | undefined;

  constructor(code: string, what: string, details: HttpErrorDetails & { status?: number; retryable: boolean }) {
    const url = redactString(details.url);
    const tries = `after ${details.attempts} attempt${details.attempts === 1 ? '' : 's'}`;
    super(code, redactString(`${details.method} ${url}: ${what} (${tries})`), { cause: details.cause, retryable: details.retryable });
    this.method = details.method;
    this.url = url;
    this.attempts = details.attempts;
    this.status = details.status;
    this.host = details.host ?? hostOf(details.url);
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/** Statuses worth repeating (408, 425, 429, 5xx): the server may answer differently next time. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * The server answered with a status we do not accept. Retryable for 408, 425, 429 and 5xx, unless
 * its `Retry-After` asks for a longer wait than a retry makes (MAX_RETRY_AFTER_MILLIS): retrying
 * sooner than the server allows would only be refused again (got's `maxRetryAfter` gives up so too).
 */
export class HttpStatusError extends HttpError {
  /** `Retry-After` of the response, if any (the next delay honours it). */
  readonly retryAfter: string | undefined;
  /** `Date` of the response, if any: a `Retry-After` date is read against it, the server's clock. */
  readonly date: string | undefined;

  constructor(details: HttpErrorDetails & { status: number; statusText?: string; retryAfter?: string; date?: string; hint?: string }) {
    const text = details.statusText ? ` ${details.statusText}` : '';
    const asked = details.retryAfter === undefined ? undefined : parseRetryAfterMillis(details.retryAfter, Date.now(), details.date);
    const tooLong = asked !== undefined && asked > MAX_RETRY_AFTER_MILLIS && isRetryableStatus(details.status);
    const hint = tooLong
      ? `the server asks to wait ${Math.ceil(asked / 1000)} s (Retry-After), longer than the ${MAX_RETRY_AFTER_MILLIS / 1000} s a retry waits: not retried, run it again later`
      : details.hint;
    super('HTTP_STATUS', `HTTP ${details.status}${text}${hint ? ` — ${hint}` : ''}`, { ...details, retryable: isRetryableStatus(details.status) && !tooLong });
    this.retryAfter = details.retryAfter;
    this.date = details.date;
  }
}

/** Errno codes of failures that may pass: resets, refusals, DNS hiccups, timeouts. */
const RETRYABLE_CODES = new Set([
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'EADDRINUSE',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** The connection failed, was reset, or the response could not be read whole. */
export class HttpNetworkError extends HttpError {
  readonly errno: string | undefined;

  constructor(details: HttpErrorDetails & { errno?: string; message: string; readFailed?: boolean }) {
    // HPE_*: llhttp could not parse the response (garbled by a proxy, cut mid-header): like a bad body.
    const retryable = details.readFailed === true || (details.errno !== undefined && (RETRYABLE_CODES.has(details.errno) || details.errno.startsWith('HPE_')));
    super('HTTP_NETWORK', `${details.errno ?? 'network error'}: ${details.message}`, { ...details, retryable });
    this.errno = details.errno;
  }
}

/** No response within `requestTimeoutMillis`. Retryable. */
export class HttpTimeoutError extends HttpError {
  constructor(details: HttpErrorDetails & { timeoutMillis: number }) {
    super('HTTP_TIMEOUT', `no response within ${details.timeoutMillis} ms`, { ...details, retryable: true });
  }
}

/** A 2xx whose body is not the JSON it should be (truncated JSON, an HTML page). Retryable. */
export class HttpBodyError extends HttpError {
  constructor(details: HttpErrorDetails & { status: number; contentType: string | undefined; bytes: number; reason: string }) {
    super('HTTP_BAD_BODY', `HTTP ${details.status} body is not valid JSON (${details.reason}; content-type ${details.contentType ?? 'none'}, ${details.bytes} bytes)`, {
      ...details,
      retryable: true,
    });
  }
}

/**
 * A body past `limits.maxResponseBytes` (announced in its Content-Length, received, or once decoded):
 * the request is ended there, the rest not downloaded. Not retryable: the same URL would send it again.
 */
export class HttpTooLargeError extends HttpError {
  readonly limit: number;

  constructor(details: HttpErrorDetails & { status: number; limit: number; what: string }) {
    super('HTTP_TOO_LARGE', `HTTP ${details.status} body ${details.what} is over ${details.limit} bytes (limits.maxResponseBytes): not read further`, { ...details, retryable: false });
    this.limit = details.limit;
  }
}

/**
 * A body in a Content-Encoding this client cannot decode (`zstd`, which Node 20's zlib lacks, or a
 * misspelt one): it was not asked for (`Accept-Encoding`), and the same URL would send it so again.
 * Not retryable: read as it is, it would only fail as a body that is not the JSON it claims to be.
 */
export class HttpEncodingError extends HttpError {
  /** The coding not decoded, as the response named it (lower case). */
  readonly encoding: string;

  constructor(details: HttpErrorDetails & { status: number; encoding: string; decodes: string }) {
    super('HTTP_ENCODING', `HTTP ${details.status} body is in Content-Encoding "${details.encoding}", which this client cannot decode (it asks for ${details.decodes}): not retried`, {
      ...details,
      retryable: false,
    });
    this.encoding = details.encoding;
  }
}

/**
 * A 2xx whose Content-Type the request does not take (a PDF where a page was wanted): refused from
 * its headers, its body not downloaded. Not retryable: the host answered.
 */
export class HttpContentTypeError extends HttpError {
  readonly contentType: string;

  constructor(details: HttpErrorDetails & { status: number; contentType: string }) {
    super('HTTP_CONTENT_TYPE', `HTTP ${details.status} is ${details.contentType || 'of no content-type'}, not a type taken: not downloaded`, { ...details, retryable: false });
    this.contentType = details.contentType;
  }
}

/**
 * A redirect to another origin that the request does not follow (`redirect: 'same-origin'`): its
 * body would go there again. Not retryable: the server will redirect it again.
 */
export class HttpRedirectError extends HttpError {
  /** The origin the redirect leads to. */
  readonly to: string;

  constructor(details: HttpErrorDetails & { status: number; to: string }) {
    super('HTTP_REDIRECT', `HTTP ${details.status} redirects to another origin (${details.to}): not followed, the request's body is for this origin only`, { ...details, retryable: false });
    this.to = details.to;
  }
}

/** The host failed too often in a row: it is skipped until the cooldown ends. Not retryable. */
export class CircuitOpenError extends HttpError {
  override readonly host: string;
  readonly retryAtMillis: number;

  constructor(details: HttpErrorDetails & { host: string; retryAtMillis: number; failures: number }) {
    const seconds = Math.max(0, Math.ceil((details.retryAtMillis - Date.now()) / 1000));
    super('HTTP_CIRCUIT_OPEN', `host ${details.host} is skipped for ${seconds} s more after ${details.failures} consecutive failures (circuit breaker open)`, {
      ...details,
      retryable: false,
    });
    this.host = details.host;
    this.retryAtMillis = details.retryAtMillis;
  }
}

/** Credentials were refused, or a token could not be refreshed. Not retryable: a person must act. */
export class AuthError extends SourceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('HTTP_AUTH', redactString(message), { ...options, retryable: false });
  }
}

/** Errno codes that prove the request never left: safe to repeat even a single-use request. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** True when `error` proves the server never processed the request (so a single-use token is intact). */
export function surelyUnsent(error: unknown): boolean {
  if (error instanceof CircuitOpenError) return true;
  if (error instanceof HttpNetworkError) return error.errno !== undefined && UNSENT_CODES.has(error.errno);
  return error instanceof HttpStatusError && error.status === 429;
}
