import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSecretName, redact, redactSql, redactString, registerSecret, registerSecretParam, REDACTED, scrubSecretValues } from '../../src/redact.js';
import { createLogger } from '../../src/log.js';
import { registerCleanup, tempDir, tempLake } from '../helpers/temp-lake.js';
import { createHttpContext, defineSource, httpSource, z } from '../../src/index.js';
import { linkHeaderPaginator } from '../../src/extract/http/paginators.js';
import { FAST_LIMITS, sendJson, startFaultyServer } from '../helpers/faulty-server.js';
import { findSecrets } from '../helpers/secret-scan.js';

describe('redaction', () => {
  it('scrubs secrets from URLs, form bodies, JSON text and Authorization values', () => {
    expect(redactString('https://api.x/orders?seller=1&access_token=APP_USR-123&limit=50')).toBe(`https://api.x/orders?seller=1&access_token=${REDACTED}&limit=50`);
    expect(redactString('grant_type=refresh_token&client_id=42&client_secret=s3cr3t&refresh_token=TG-abc')).toBe(
      `grant_type=refresh_token&client_id=42&client_secret=${REDACTED}&refresh_token=${REDACTED}`,
    );
    expect(redactString('{"access_token":"APP_USR-1","user_id":7}')).toBe(`{"access_token":"${REDACTED}","user_id":7}`);
    expect(redactString('Authorization: Bearer eyJhbGciOi.xyz')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactString('?X-VTEX-API-AppToken=abc123&an=1')).toBe(`?X-VTEX-API-AppToken=${REDACTED}&an=1`);
    expect(redactString('password=hunter2')).toBe(`password=${REDACTED}`);
    expect(redactString('nothing secret here: price=10&store=bistek')).toBe('nothing secret here: price=10&store=bistek');
  });

  it('scrubs session ids and cookies in URLs and text, as isSecretName counts those names secret (a 503 on /down?session=… put the id in the log and runs)', () => {
    expect(redactString('GET https://loja.x/down?session=S3SS10N&page=2: HTTP 503')).toBe(`GET https://loja.x/down?session=${REDACTED}&page=2: HTTP 503`);
    expect(redactString('https://x/?PHPSESSID=abc1&sessionid=abc2&JSESSIONID=abc3&session_id=abc4')).toBe(
      `https://x/?PHPSESSID=${REDACTED}&sessionid=${REDACTED}&JSESSIONID=${REDACTED}&session_id=${REDACTED}`,
    );
    expect(redactString('{"cookie":"region=sc; sid=77"}')).toBe(`{"cookie":"${REDACTED}"}`);
    expect(redactString('3 sessions: 12 pages each; store=bistek')).toBe('3 sessions: 12 pages each; store=bistek');
  });

  it('scrubs secret and private keys by name: AWS_SECRET_ACCESS_KEY, secretKey, private_key, in keys and URL parameters', () => {
    expect(redact({ aws_secret_access_key: 'wJalrXUtnFEMI', secretKey: 'abc123', private_key: '-----BEGIN', access_key_id: 'AKIA1' })).toEqual({
      aws_secret_access_key: REDACTED, secretKey: REDACTED, private_key: REDACTED, access_key_id: 'AKIA1',
    });
    expect(redactString('s3://b/x.csv?s3_secret_access_key=wJalrXUtnFEMI&region=sa-east-1')).toBe(`s3://b/x.csv?s3_secret_access_key=${REDACTED}&region=sa-east-1`);
  });

  it('scrubs secret-named keys in nested objects and registered secret values anywhere', () => {
    registerSecret('TG-very-secret-refresh');
    const out = redact({
      url: 'https://x/y?token=abc',
      headers: { Authorization: 'Bearer abc', 'x-api-key': 'k-123' },
      body: { client_secret: 'shh', nested: [{ refresh_token: 'r' }] },
      message: 'refresh failed for TG-very-secret-refresh',
      price: 10,
    });
    expect(out).toEqual({
      url: `https://x/y?token=${REDACTED}`,
      headers: { Authorization: REDACTED, 'x-api-key': REDACTED },
      body: { client_secret: REDACTED, nested: [{ refresh_token: REDACTED }] },
      message: `refresh failed for ${REDACTED}`,
      price: 10,
    });
  });

  it('scrubs registered secret values, and only those, from records: a copy of the ones holding one', () => {
    registerSecret('rec-secret/value=1');
    const clean = { id: 1, session_token: 'st-data', tags: ['a'] };
    const echoing = { id: 2, url: `https://x/cb?k=${encodeURIComponent('rec-secret/value=1')}`, nested: { list: ['rec-secret/value=1 and more'] }, at: new Date(0) };
    const records = [clean, echoing];
    const out = scrubSecretValues(records);
    expect(out).toEqual([clean, { id: 2, url: `https://x/cb?k=${REDACTED}`, nested: { list: [`${REDACTED} and more`] }, at: new Date(0) }]);
    expect(out[0]).toBe(clean);
    expect(echoing.nested.list[0]).toBe('rec-secret/value=1 and more');
    const untouched = [clean];
    expect(scrubSecretValues(untouched)).toBe(untouched);
  });

  it('never writes a secret to the log file, and every line is JSON with its runId', async () => {
    const file = path.join(tempDir(), 'logs', 'duckhouse.log');
    const logger = createLogger({ level: 'debug', file, console: false, maxSizeBytes: 1024 * 1024, maxFiles: 2 });
    const child = logger.child({ runId: 'r-1', source: 'ml' });
    registerSecret('APP_USR-registered-token-value');
    child.info('calling https://api/orders?access_token=APP_USR-inline&seller=1', { headers: { authorization: 'Bearer zzz' } });
    child.error('failed with APP_USR-registered-token-value', { body: 'client_secret=abc&x=1' });
    child.debug('debug line', { password: 'p' });
    await logger.close();
    const text = fs.readFileSync(file, 'utf8');
    for (const secret of ['APP_USR-inline', 'zzz', 'APP_USR-registered-token-value', 'client_secret=abc', '"p"']) expect(text).not.toContain(secret);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatchObject({ runId: 'r-1', source: 'ml' });
    expect(lines.map((l) => l.level)).toEqual(['info', 'error', 'debug']);
  });

  it('rotates the log file at the size limit', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'duckhouse.log');
    const logger = createLogger({ level: 'info', file, console: false, maxSizeBytes: 2000, maxFiles: 3 });
    for (let i = 0; i < 200; i++) logger.info(`line ${i} ${'x'.repeat(50)}`);
    await logger.close();
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('duckhouse'));
    expect(files.length).toBeGreaterThan(1);
    expect(files.length).toBeLessThanOrEqual(3);
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(2000 + 200);
  });
});

/**
 * An Authorization value is one whatever the case of its scheme (RFC 7235: clients send `bearer`)
 * and whatever the scheme (`token` for GitHub, `OAuth` for Salesforce).
 */
describe('Authorization values in free text', () => {
  const lines = [
    'GET /orders failed; request headers: authorization: bearer eyJhbGciOiJIUzI1NiJ9.hunt-lower-bearer',
    'GET /repos failed; request headers: Authorization: token ghp_huntGithubStyleToken0123456789',
    'GET /sobjects failed; request headers: Authorization: OAuth 00Dhunt!SalesforceSessionToken',
  ];
  const secrets = ['eyJhbGciOiJIUzI1NiJ9.hunt-lower-bearer', 'ghp_huntGithubStyleToken0123456789', '00Dhunt!SalesforceSessionToken'];

  it('are redacted whatever the case or name of the scheme, keeping the scheme and what follows the value', () => {
    for (const [i, line] of lines.entries()) expect(redactString(line)).not.toContain(secrets[i]!);
    expect(redactString('Authorization: OAuth 00Dhunt!SalesforceSessionToken')).toBe(`Authorization: OAuth ${REDACTED}`);
    expect(redactString('{"authorization":"token ghp_x1","page":2}')).toBe(`{"authorization":"token ${REDACTED}","page":2}`);
    expect(redactString('authorization=k-123456&page=2')).toBe(`authorization=${REDACTED}&page=2`);
    expect(redactString('authorization failed for user 7')).toBe('authorization failed for user 7');
  });

  it('never reach the log file', async () => {
    const file = path.join(tempDir(), 'logs', 'duckhouse.log');
    const logger = createLogger({ level: 'debug', file, console: false, maxSizeBytes: 1024 * 1024, maxFiles: 2 });
    for (const line of lines) logger.child({ runId: 'r-1', source: 'api' }).warn(line);
    await logger.close();
    const text = fs.readFileSync(file, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(3);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe('a secret-named parameter of a URL carried percent-encoded inside another URL', () => {
  it('never reaches the log, the run history or the report (a page fetched through a proxy, `?url=` the link with its access_token)', async () => {
    const token = 'EAAG-encoded-link-token-3c9d51';
    const server = await startFaultyServer({ '/proxy': (_req, res) => sendJson(res, 502, { error: 'upstream failed' }) });
    registerCleanup(() => server.close());
    const target = `https://graph.example/v19/me/posts?limit=25&access_token=${token}&after=QVFI`;
    const lake = await tempLake();
    const posts = defineSource({
      source: 'graph',
      dataset: 'posts',
      schema: z.object({ id: z.number().int() }),
      limits: { ...FAST_LIMITS, retries: 0 },
      async *extract(ctx) {
        const http = createHttpContext(ctx);
        try {
          yield (await http.getJson<{ data: { id: number }[] }>(`${server.url}/proxy?url=${encodeURIComponent(target)}`)).data;
        } finally {
          await http.close();
        }
      },
    });
    const result = await lake.extract(posts);
    expect(result.sources[0]!.status).toBe('failed');
    expect(result.sources[0]!.error).toContain('502');
    await lake.report();
    await lake.close();
    const { hits, files } = await findSecrets(lake.paths.root, [token]);
    expect(files).toContain(path.join('logs', 'duckhouse.log'));
    expect(hits).toEqual([]);
  });

  it('is redacted encoded once or twice, up to the next encoded &, in text and in SQL, the rest of the link kept', () => {
    const once = `https://proxy.example/?url=${encodeURIComponent('https://api.x/p?a=1&access_token=APP_USR-9+z/w&b=2')}`;
    expect(redactString(once)).toBe(`https://proxy.example/?url=https%3A%2F%2Fapi.x%2Fp%3Fa%3D1%26access_token%3D${REDACTED}%26b%3D2`);
    const twice = `https://a.example/?next=${encodeURIComponent(once)}`;
    expect(redactString(twice)).not.toContain('APP_USR');
    expect(redactString(twice)).toContain('b%253D2');
    expect(redactSql(`select * from read_json('${once}')`)).toBe(`select * from read_json('https://proxy.example/?url=https%3A%2F%2Fapi.x%2Fp%3Fa%3D1%26access_token%3D${REDACTED}%26b%3D2')`);
    expect(redactString('100%25 of orders; store%3Dbistek%26page%3D2')).toBe('100%25 of orders; store%3Dbistek%26page%3D2');
  });
});

describe('the text after a redacted value', () => {
  it('keeps the `:` that ends a URL in a message (`…?key=…: HTTP 500`), and still redacts a value holding `:`', () => {
    registerSecretParam('qkey');
    registerSecret('qkey-value-0123456789');
    for (const value of ['qkey-value-0123456789', 'short1']) {
      expect(redactString(`GET https://api.x/p?page=2&qkey=${value}: HTTP 200 is text/html`)).toBe(`GET https://api.x/p?page=2&qkey=${REDACTED}: HTTP 200 is text/html`);
      expect(redactSql(`-- GET https://api.x/p?qkey=${value}: HTTP 500`)).toBe(`-- GET https://api.x/p?qkey=${REDACTED}: HTTP 500`);
      expect(redactString(`GET https://api.x/p?qkey=${value}:`)).toBe(`GET https://api.x/p?qkey=${REDACTED}:`);
    }
    // Secret-named parameters, plain and inside another URL, the same.
    expect(redactString('GET https://api.x/o?access_token=APP_USR-77: HTTP 401')).toBe(`GET https://api.x/o?access_token=${REDACTED}: HTTP 401`);
    expect(redactSql("-- GET https://api.x/o?access_token=APP_USR-77: HTTP 401")).toBe(`-- GET https://api.x/o?access_token=${REDACTED}: HTTP 401`);
    expect(redactString(`GET https://p.x/?url=${encodeURIComponent('https://a.x/o?access_token=APP_USR-77')}: HTTP 502`)).toBe(`GET https://p.x/?url=https%3A%2F%2Fa.x%2Fo%3Faccess_token%3D${REDACTED}: HTTP 502`);
    // A `:` inside the value, or one the value ends with before more of the URL, is the value's.
    expect(redactString('x?qkey=abc:def: HTTP 500')).toBe(`x?qkey=${REDACTED}: HTTP 500`);
    expect(redactString('x?qkey=abc:&page=2 ok')).toBe(`x?qkey=${REDACTED}&page=2 ok`);
    expect(redactString('x?access_token=abc:def ok')).toBe(`x?access_token=${REDACTED} ok`);
  });
});

describe('sentence punctuation after a redacted value', () => {
  it('keeps a `.` or `)` that ends a sentence after a URL (`…?token=abc123).`), and still redacts the whole value', () => {
    registerSecretParam('pkey');
    expect(redactString('GET https://h/x?token=abc123).')).toBe(`GET https://h/x?token=${REDACTED}).`);
    expect(redactString('failed: https://h/x?pkey=abc123.')).toBe(`failed: https://h/x?pkey=${REDACTED}.`);
    expect(redactString('(see https://h/x?access_token=abc123) and retry.')).toBe(`(see https://h/x?access_token=${REDACTED}) and retry.`);
    expect(redactString('"GET https://h/x?access_token=abc123."')).toBe(`"GET https://h/x?access_token=${REDACTED}."`);
    expect(redactString('(GET https://h/x?access_token=abc123): HTTP 500')).toBe(`(GET https://h/x?access_token=${REDACTED}): HTTP 500`);
    expect(redactSql('-- read https://h/x?access_token=abc123).')).toBe(`-- read https://h/x?access_token=${REDACTED}).`);
    expect(redactString(`proxied (https://p.x/?url=${encodeURIComponent('https://a.x/o?access_token=APP_USR-77')}).`)).toBe(
      `proxied (https://p.x/?url=https%3A%2F%2Fa.x%2Fo%3Faccess_token%3D${REDACTED}).`,
    );
    // A `)` closing a `(` of the value is the value's; a `.` before more of the URL is too.
    expect(redactString('x?access_token=abc(1)')).toBe(`x?access_token=${REDACTED}`);
    expect(redactString('(x?access_token=abc(1)).')).toBe(`(x?access_token=${REDACTED}).`);
    expect(redactString('x?access_token=abc.&page=2 ok')).toBe(`x?access_token=${REDACTED}&page=2 ok`);
  });

  it('redacts a JWT-like value whole: its inner dots are the value\'s, only a last one before a space or the end is not', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXBhcnQ';
    for (const [text, expected] of [
      [`GET https://h/x?access_token=${jwt} failed`, `GET https://h/x?access_token=${REDACTED} failed`],
      [`GET https://h/x?access_token=${jwt}.`, `GET https://h/x?access_token=${REDACTED}.`],
      [`GET https://h/x?id_token=${jwt}). Retrying`, `GET https://h/x?id_token=${REDACTED}). Retrying`],
      [`GET https://h/x?pkey=${jwt}.`, `GET https://h/x?pkey=${REDACTED}.`],
    ]) {
      const out = redactString(text!);
      expect(out).toBe(expected);
      for (const part of jwt.split('.')) expect(out).not.toContain(part);
    }
  });
});

describe('a token in a URL fragment (an OAuth implicit-flow redirect: #access_token=…)', () => {
  it('is redacted in text and in SQL, plain or percent-encoded inside another URL, the rest kept (was: kept in clear, # not a separator)', () => {
    const link = 'https://app.example/cb#access_token=frag-tok-1&token_type=bearer&state=x';
    expect(redactString(`redirected to ${link}`)).toBe(`redirected to https://app.example/cb#access_token=${REDACTED}&token_type=bearer&state=x`);
    expect(redactSql(`select * from read_json('${link}')`)).toBe(`select * from read_json('https://app.example/cb#access_token=${REDACTED}&token_type=bearer&state=x')`);
    const encoded = `https://proxy.example/?url=${encodeURIComponent(link)}`;
    expect(redactString(encoded)).not.toContain('frag-tok-1');
    expect(redactString(encoded)).toContain('token_type%3Dbearer');
    expect(redactString('see https://docs.example/page#section and #42')).toBe('see https://docs.example/page#section and #42');
  });
});

describe('signed URLs (Azure SAS, S3 presigned, GCS signed)', () => {
  const sasSig = 'huntAzureSasSig7Fq2Lm';
  const amzSignature = 'hunt0amz0signature0c0ffee';
  const amzCredential = 'AKIAHUNTEXAMPLE7Q';
  const amzToken = 'huntAmzSessionTokenFQoGZX';
  const googSignature = 'hunt0goog0signature0beef';
  const googCredential = 'hunt-gcs-svc-4e1';
  const sas = `sv=2022-11-02&se=2026-12-31T00%3A00%3A00Z&sp=r&sig=${sasSig}`;
  const s3 = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${amzCredential}%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=${amzToken}&X-Amz-Signature=${amzSignature}`;
  const gcs = `X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${googCredential}%40proj.iam.gserviceaccount.com%2F20261207%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20261207T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=${googSignature}`;
  const secrets = [sasSig, amzSignature, amzCredential, amzToken, googSignature, googCredential];

  it('count sig, signature and the *-Signature, *-Credential, *-Security-Token parameters secret, in any case, and not the others', () => {
    for (const name of ['sig', 'SIG', 'signature', 'X-Amz-Signature', 'x-amz-credential', 'X-Amz-Security-Token', 'X-Goog-Signature', 'X-Goog-Credential']) expect(isSecretName(name), name).toBe(true);
    for (const name of ['sv', 'se', 'sp', 'sr', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Goog-Date', 'X-Goog-Expires', 'signed', 'design', 'assig']) expect(isSecretName(name), name).toBe(false);
    expect(redactString(`https://acct.blob.core.windows.net/c/f.csv?${sas}`)).toBe(`https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&se=2026-12-31T00%3A00%3A00Z&sp=r&sig=${REDACTED}`);
    expect(redactString(`https://b.s3.amazonaws.com/k?${s3}`)).toBe(
      `https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${REDACTED}&X-Amz-Date=20261207T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=${REDACTED}&X-Amz-Signature=${REDACTED}`,
    );
    expect(redactSql(`select * from read_csv('https://storage.googleapis.com/b/o?${gcs}')`)).toBe(
      `select * from read_csv('https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${REDACTED}&X-Goog-Date=20261207T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=${REDACTED}')`,
    );
    expect(redactString(`https://proxy.example/?url=${encodeURIComponent(`https://a.example/f?${sas}`)}`)).not.toContain(sasSig);
    expect(redactString('?design=flat&assig=3&signed=yes&sigma=2')).toBe('?design=flat&assig=3&signed=yes&sigma=2');
  });

  it('in next-page links never reach the logs, the run history, the raw archive, source_batches or the report', async () => {
    const pageOf = (p: number) => [{ id: p * 2 - 1 }, { id: p * 2 }];
    const query = [sas, s3, gcs];
    // Each page links the next with another cloud's signature; the fourth refuses it (an expired link), so the error names it.
    const link = (route: string, p: number) => `${server.url}${route}?p=${p + 1}&${query[p - 1]}`;
    const server = await startFaultyServer({
      '/files': (_req, res, hit) => {
        const p = Number(hit.url.searchParams.get('p') ?? '1');
        if (p === 4) return sendJson(res, 403, { error: 'AuthenticationFailed', url: hit.url.href });
        sendJson(res, 200, { data: pageOf(p), next: link('/files', p) }, { link: `<${link('/files', p)}>; rel="next"` });
      },
      // The same links as a source's own cursor: recorded per batch in source_batches; the last page links nothing.
      '/posts': (_req, res, hit) => {
        const p = Number(hit.url.searchParams.get('p') ?? '1');
        sendJson(res, 200, { data: pageOf(p), next: p < 3 ? link('/posts', p) : null });
      },
    });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const schema = z.object({ id: z.number().int() });
    const files = httpSource({ source: 'signed', dataset: 'files', url: `${server.url}/files`, paginate: linkHeaderPaginator(), items: 'data', schema, archiveRaw: true, limits: { ...FAST_LIMITS, retries: 0 } });
    const posts = defineSource({
      source: 'signed',
      dataset: 'posts',
      schema,
      limits: { flushRows: 1 },
      async *extract(ctx) {
        const http = createHttpContext(ctx);
        try {
          for (let url: string | null = `${server.url}/posts`; url; ) {
            const body: { data: { id: number }[]; next: string | null } = await http.getJson(url);
            url = body.next;
            ctx.checkpoint({ next: url });
            yield body.data;
          }
        } finally {
          await http.close();
        }
      },
    });
    const result = await lake.extract([files, posts]);
    expect(result.sources.map((s) => [s.dataset, s.status, s.rows])).toEqual([
      ['files', 'partial', 6],
      ['posts', 'success', 6],
    ]);
    // The error names the link, its harmless parameters kept.
    expect(result.sources[0]!.error).toContain('403');
    expect(result.sources[0]!.error).toContain('X-Goog-Date=20261207T000000Z&X-Goog-Expires=900');
    const batches = await lake.metrics.select(`SELECT cursor::VARCHAR AS cursor FROM source_batches WHERE dataset = 'posts' ORDER BY batch_no`);
    expect(batches.map((b) => JSON.parse(String(b.cursor)).next)).toEqual([expect.stringContaining(`sig=${REDACTED}`), expect.stringContaining(`X-Amz-Signature=${REDACTED}`), null]);
    await lake.report();
    await lake.runs();
    await lake.close();
    const { hits, files: scanned } = await findSecrets(lake.paths.root, secrets);
    const top = new Set(scanned.map((f) => f.split(path.sep)[0]));
    for (const dir of ['bronze', 'raw', 'metrics', 'logs', 'state', 'report.html']) expect(top, dir).toContain(dir);
    expect(hits).toEqual([]);
    // The scanner finds what is there: the raw archive keeps the links' harmless parameters.
    expect((await findSecrets(lake.paths.root, ['X-Amz-Expires=900'])).hits.map((h) => h.file.split(path.sep)[0])).toContain('raw');
  });
});
