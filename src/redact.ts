/**
 * Secret redaction for everything that leaves the process: logs, error messages, metrics rows,
 * compiled SQL and raw archives. Two layers: names that look secret (keys, query parameters,
 * form fields, Authorization headers) and the exact secret values the auth layer registered.
 */
export const REDACTED = '[REDACTED]';

// `sig`, `*-Signature`, `*-Credential`, `*-Security-Token`: signed URLs (Azure SAS, S3 presigned,
// GCS signed) grant access by their query alone. Their other parameters (sv, se, X-Amz-Date…) do not.
const SECRET_NAME =
  /^(?:.*[_-])?(?:token|secret|password|passwd|pwd|authorization|auth|api[_-]?key|apikey|app[_-]?key|app[_-]?token|cookie|set-cookie|session|sig|signature|credentials?|secret[_-]?(?:access[_-]?)?key|private[_-]?key)$/i;
/** dbt's own convention: an environment variable named `DBT_ENV_SECRET_…` is a secret, whatever follows. */
const DBT_SECRET_ENV = /^DBT_ENV_SECRET_/i;

/** True when a key, header, field or query parameter name is one whose value is a secret. */
export function isSecretName(name: string): boolean {
  // camelCase counts as words too: accessToken, clientSecret, userPassword, xApiKey, secretAccessKey.
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2');
  return SECRET_NAME.test(name) || SECRET_NAME.test(words) || DBT_SECRET_ENV.test(name) || /access_token|refresh_token|client_secret|id_token/i.test(words);
}

const knownSecrets = new Set<string>();
/** The length of the shortest form in `knownSecrets`: a shorter string cannot hold one. */
let shortestSecret = Infinity;
/** Matches any form in `knownSecrets`: one regex test per string is cheaper than an `includes` per form. */
let knownPattern: RegExp | undefined;

/**
 * Remember a secret value (a token, a client secret) so it is scrubbed from any string,
 * whatever the key it travels under. Values shorter than 6 characters are ignored:
 * scrubbing them would mangle ordinary text.
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < 6) return;
  // The forms it takes on the way out: in a URL or a form body, and inside JSON text.
  for (const form of [value, encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2), JSON.stringify(value).slice(1, -1)]) {
    knownSecrets.add(form);
    shortestSecret = Math.min(shortestSecret, form.length);
  }
  knownPattern = new RegExp([...knownSecrets].map(escapeRegExp).join('|'));
}

/** `text` matched literally inside a RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A message puts a `:` after a URL (`GET …?key=abc: HTTP 500`), a sentence a `.` or `)` (`(see
 * …?key=abc).`); the value patterns take those (a JWT has dots, a value may hold `:` or `(…)`), so
 * a value ending with a run of them before a space, a quote or the end gives the run back: a `)`
 * only when no `(` of the value is left open for it to close. Only on a match, so the lines
 * without a secret cost nothing more. `value` ends the match, which ends at `end` in `text`.
 */
function punctuationAfter(value: string, end: number, text: string): string {
  if (!TRAILING.has(value.charCodeAt(value.length - 1))) return '';
  // Whitespace, a control character or a quote next: the run ended the URL, it was not part of it.
  const next = text.charCodeAt(end);
  if (end < text.length && next > 32 && next !== 34 && next !== 39) return '';
  let start = value.length;
  // A value is never given back whole: at least its first character is redacted.
  while (start > 1 && TRAILING.has(value.charCodeAt(start - 1))) {
    if (value.charCodeAt(start - 1) === 41 && opensParen(value, start - 1)) break;
    start -= 1;
  }
  return value.slice(start);
}

/** `:`, `.`, `)`. */
const TRAILING = new Set([58, 46, 41]);

/** Whether `value` before `end` leaves a `(` open. */
function opensParen(value: string, end: number): boolean {
  let depth = 0;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === 40) depth += 1;
    else if (c === 41 && depth > 0) depth -= 1;
  }
  return depth > 0;
}

/** Query/form parameter names an apiKey travels under (`key`, `k`…): their values are scrubbed whatever their length. */
const secretParams = new Set<string>();
let secretParamPattern: RegExp | undefined;

/** Remember a parameter name whose value is a secret (an API key sent in the query). */
export function registerSecretParam(name: string): void {
  if (!name || secretParams.has(name)) return;
  secretParams.add(name);
  const names = [...secretParams].map(escapeRegExp).join('|');
  secretParamPattern = new RegExp(`([?&;#]|^)(${names})=([^&\\s"',;}#]*)`, 'g');
}

// `sig` only as a whole word (Azure SAS `&sig=`, `url_sig`, `%26sig%3D` in an encoded link), not as
// the end of one (`assig`): at the key's start (every pattern below puts a separator right before
// the key) or after `_` / `-`. Not a lookbehind: that made `redactString`, run on every log line,
// ~1.7× slower (200,000 typical log lines in a micro-run: 1.16–1.19 s against 0.67–0.75 s this way).
const SECRET_KEY =
  '(?:[a-z0-9_-]*?(?:access_token|refresh_token|client_secret|id_token|secret[_-]?(?:access[_-]?)?key|private[_-]?key|token|secret|password|passwd|api[_-]?key|apikey|app[_-]?token|app[_-]?key|signature|credentials?|sessid|session(?:[_-]?id)?|cookie)|(?:[a-z0-9_-]*?[_-])?sig)';
// `name: value` but not SQL's `name::TYPE` cast (compiled SQL is scrubbed too).
const PARAM = new RegExp(`([?&;#\\s"'{,]|^)(${SECRET_KEY})(=|"\\s*:\\s*"|'\\s*:\\s*'|:(?!:)\\s*)([^&\\s"',;}]+)`, 'gi');
// A quoted value, whole (a passphrase has spaces): `"password": "a b c"`, `password='a b'`.
const PARAM_QUOTED = new RegExp(`([?&;#\\s"'{,]|^)(${SECRET_KEY})(["']?\\s*(?:=|:(?!:))\\s*)(["'])((?:\\\\.|(?!\\4)[^\\\\])*)\\4`, 'gi');
// The password of a URL's user info (`https://user:password@host/`), which got sends as Basic auth.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi;
const BEARER = /\b(Bearer|bearer|BEARER|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/g;
// Whatever follows an `Authorization:` header name is a credential, under any scheme and in any
// case (RFC 7235): `bearer …`, GitHub's `token …`, Salesforce's `OAuth …`, or a bare key.
const AUTHORIZATION = /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:([A-Za-z][\w.+-]*)[ \t]+)?[^\s"',;}&]+/gi;

/**
 * A secret-named parameter of a URL carried percent-encoded inside another URL (a page fetched
 * through a proxy, `?url=https%3A%2F%2Fapi%2Fx%3Faccess_token%3D…`; a `redirect_uri`), encoded
 * once or more (`%253D`): its value runs to the next encoded `&`, `#` or `;`, or to what ends the URL.
 */
const ENCODED_PARAM = new RegExp(`(%(?:25)*(?:3F|26|3B|23)${SECRET_KEY}%(?:25)*3D)(?:(?!%(?:25)*(?:26|23|3B))[^&\\s"',;}#<>])+`, 'gi');

/**
 * DuckDB's `CREATE SECRET name (TYPE s3, KEY_ID '…', SECRET '…', SESSION_TOKEN '…')`: its options
 * are `NAME 'value'`, with neither `=` nor `:` to go by. The list between the parentheses, quoted
 * values whole (a `)` or `''` in one).
 */
const CREATE_SECRET = /\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:PERSISTENT|TEMPORARY)\s+)?SECRET\b[^(;]*\(((?:'(?:[^']|'')*'|[^')])*)\)/gi;
const SECRET_OPTION = /(\b([A-Za-z_]+)\s+)'(?:[^']|'')*'/g;
/** Options of DuckDB secrets that hold one, besides those named like one (SECRET, SESSION_TOKEN, PASSWORD…). */
const SECRET_OPTIONS = new Set(['account_key', 'connection_string']);

function redactCreateSecret(text: string): string {
  if (!/secret/i.test(text)) return text;
  return text.replace(CREATE_SECRET, (statement: string, options: string) => {
    const clean = options.replace(SECRET_OPTION, (option: string, head: string, name: string) =>
      isSecretName(name) || SECRET_OPTIONS.has(name.toLowerCase()) ? `${head}'${REDACTED}'` : option,
    );
    return statement.slice(0, statement.length - options.length - 1) + clean + ')';
  });
}

/** Scrubs secrets out of free text: URLs, form bodies, JSON text, Authorization values. */
export function redactString(text: string): string {
  let out = redactCreateSecret(scrubKnownSecrets(text));
  if (secretParamPattern) out = out.replace(secretParamPattern, redactParamValue);
  out = out.replace(BEARER, `$1 ${REDACTED}`);
  out = out.replace(AUTHORIZATION, (_m, pre: string, scheme: string | undefined) => `${pre}${scheme ? `${scheme} ` : ''}${REDACTED}`);
  out = out.replace(URL_PASSWORD, `$1${REDACTED}@`);
  out = out.replace(PARAM_QUOTED, (_m, pre: string, name: string, sep: string, quote: string) => `${pre}${name}${sep}${quote}${REDACTED}${quote}`);
  out = out.replace(PARAM, (m: string, pre: string, name: string, sep: string, value: string, offset: number, all: string) => `${pre}${name}${sep}${REDACTED}${punctuationAfter(value, offset + m.length, all)}`);
  return out.includes('%') ? out.replace(ENCODED_PARAM, redactEncodedValue) : out;
}

/** `name=value` of `secretParamPattern` and `SQL_URL_PARAM`, the value redacted. */
function redactParamValue(m: string, pre: string, name: string, value: string, offset: number, all: string): string {
  return `${pre}${name}=${REDACTED}${punctuationAfter(value, offset + m.length, all)}`;
}

/** An `ENCODED_PARAM` match, its value redacted. */
function redactEncodedValue(m: string, head: string, offset: number, all: string): string {
  return `${head}${REDACTED}${punctuationAfter(m.slice(head.length), offset + m.length, all)}`;
}

function scrubKnownSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out.includes('%') ? scrubEscapedSecrets(out) : out;
}

/** Runs of percent-escapes decoded (as UTF-8 where they form it); `+` is left alone, a secret may hold one. */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** A URL component: what lies between `?`, `&`, `=`, `#`, `;`, quotes, brackets and whitespace. */
const ESCAPED_TOKEN = /[^\s?&=#;"'`,{}()<>[\]]*%[0-9A-Fa-f]{2}[^\s?&=#;"'`,{}()<>[\]]*/g;

/**
 * A secret written with escapes other than its registered forms: a page linking `?ref=k3y/99%2Baa`
 * for the key `k3y/99+aa` (registered raw and fully encoded, `k3y%2F99%2Baa`). Each component
 * holding an escape is compared decoded, and redacted whole when it holds one.
 */
function scrubEscapedSecrets(text: string): string {
  if (!knownPattern || !knownPattern.test(percentDecode(text))) return text;
  return text.replace(ESCAPED_TOKEN, (token) => (knownPattern!.test(percentDecode(token)) ? REDACTED : token));
}

// A secret-named parameter of a URL or form body inside a SQL string literal: `?access_token=…`, `'password=…`.
const SQL_URL_PARAM = new RegExp(`([?&#'"])(${SECRET_KEY})=([^&\\s"',;}#]*)`, 'gi');

/**
 * Scrubs secrets out of SQL text (compiled models) without rewriting the SQL itself: registered
 * secret values, secret query parameters of URLs, the password of a URL's user info and Bearer
 * values. Not the `key: 'value'` shapes `redactString` scrubs: in SQL they are struct literals
 * (`columns = {session_token: 'VARCHAR'}`) and prefix aliases, and the compiled file must stay the
 * SQL that ran.
 */
export function redactSql(sql: string): string {
  let out = redactCreateSecret(scrubKnownSecrets(sql));
  if (secretParamPattern) out = out.replace(secretParamPattern, redactParamValue);
  out = out.replace(BEARER, `$1 ${REDACTED}`);
  out = out.replace(URL_PASSWORD, `$1${REDACTED}@`);
  out = out.replace(SQL_URL_PARAM, redactParamValue);
  return out.includes('%') ? out.replace(ENCODED_PARAM, redactEncodedValue) : out;
}

/**
 * Valid records as bronze stores them: the registered secret values (in any of their forms)
 * scrubbed from their strings, as when an API echoes the caller's key in a callback URL. Only
 * registered values, never by key name: a `session_token` column is data. This is on the
 * extraction hot path: free while no secret is registered, otherwise one test of a regex of every
 * registered form per string long enough to hold one. A record holding one is copied, never changed in place (it may be
 * the source's own object).
 * @example writer.append(scrubSecretValues(valid))
 */
export function scrubSecretValues<T>(records: T[]): T[] {
  if (!knownPattern) return records;
  let out = records;
  for (let i = 0; i < records.length; i++) {
    const clean = scrubValue(records[i]);
    if (clean === records[i]) continue;
    if (out === records) out = records.slice();
    out[i] = clean as T;
  }
  return out;
}

/** `value` itself when it holds no registered secret, else a scrubbed copy. */
function scrubValue(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value.length < shortestSecret) return value;
    return knownPattern!.test(value) || (value.includes('%') && knownPattern!.test(percentDecode(value))) ? scrubKnownSecrets(value) : value;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const clean = scrubValue(value[i]);
      if (clean !== value[i]) (copy ??= value.slice())[i] = clean;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    const clean = scrubValue(v);
    if (clean !== v) (copy ??= { ...(value as Record<string, unknown>) })[key] = clean;
  }
  return copy ?? value;
}

/** Deep copy of a value with secret-named keys and secret-looking strings redacted. */
export function redact<T>(value: T, depth = 0): T {
  if (depth > 20) return redactDeep(value);
  if (typeof value === 'string') return redactString(value) as T;
  if (value instanceof Error) {
    const copy = new Error(redactString(value.message));
    copy.name = value.name;
    if (value.stack) copy.stack = redactString(value.stack);
    return copy as T;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = isSecretName(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redact(v, depth + 1);
    }
    return out as T;
  }
  return value;
}

/**
 * Below the depth `redact` walks, a value is scrubbed as JSON text (registered secrets,
 * `key=value` and `"key":"value"` shapes): returned as it was, a secret nested 21 levels deep
 * in a quarantined record would reach the disk.
 */
function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactString(value) as T;
  if (value === null || typeof value !== 'object') return value;
  try {
    return JSON.parse(redactString(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))) as T;
  } catch (error) {
    // Too deep for JSON.stringify: the caller's own serialisation would fail the same way, and says so (the quarantine cuts the record).
    if (error instanceof RangeError) throw error;
    return '[unserialisable value]' as T; // circular
  }
}
