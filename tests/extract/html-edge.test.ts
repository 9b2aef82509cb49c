/**
 * Crawler edges: a link with an empty query, or with its percent-escapes in another case, is the
 * same page; a bare query key stays bare; a page with a comment or a script after </html> is whole,
 * and one cut before it is warned about whatever its prolog (BOM, XML declaration, comments).
 * A crawl an earlier version left unfinished (its frontier saved with queries re-encoded) resumes.
 * Quarantine edges: camelCase secret names, records too big for one write.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { crawlKey, htmlSource, normalizeCrawlUrl } from '../../src/extract/html-source.js';
import { QuarantineWriter } from '../../src/extract/quarantine.js';
import { isSecretName } from '../../src/redact.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const FAST = { requestsPerSecond: 1_000, burst: 100, backoffBaseMillis: 5, backoffMaxMillis: 50 };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A loopback site: path (with query) → html; counts hits per path+query. */
async function siteOf(pages: Record<string, string>): Promise<{ url: string; hits: Record<string, number> }> {
  const hits: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    const key = req.url!;
    hits[key] = (hits[key] ?? 0) + 1;
    const body = pages[key] ?? pages[new URL(key, 'http://x').pathname];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body ?? '<html><body>no</body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}
const html = (body: string): string => `<!doctype html><html><body>${body}</body></html>`;

/** A loopback server answering by path with `answer`; returns its URL and hits per path. */
async function serve(answer: (path: string, base: string, req: http.IncomingMessage) => { status?: number; type?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ url: string; hits: Record<string, number> }> {
  const hits: Record<string, number> = {};
  let base = '';
  const server = http.createServer((req, res) => {
    hits[req.url!] = (hits[req.url!] ?? 0) + 1;
    const a = answer(req.url!, base, req);
    res.writeHead(a.status ?? 200, { 'content-type': a.type ?? 'text/html; charset=utf-8', ...a.headers });
    res.end(a.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url: base, hits };
}

describe('htmlSource edges', () => {
  it('a link written with an empty query ("/c/x?", "/c/x?#top") is the page "/c/x": crawled once, its records read once', async () => {
    expect(normalizeCrawlUrl('/c/x?', 'http://h/')).toBe('http://h/c/x');
    expect(normalizeCrawlUrl('/c/x?#top', 'http://h/')).toBe('http://h/c/x');
    expect(normalizeCrawlUrl('/c/x?b=2&a=1', 'http://h/')).toBe('http://h/c/x?a=1&b=2');
    const s = await siteOf({
      '/': html('<a class="n" href="/c/x">x</a> <a class="n" href="/c/x?">x again</a> <a class="n" href="/c/x?#top">x again</a>'),
      '/c/x': html('<li class="p" data-sku="A">A</li>'),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'q', startUrls: [`${s.url}/`], follow: 'a.n', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect((s.hits['/c/x'] ?? 0) + (s.hits['/c/x?'] ?? 0)).toBe(1);
  });

  it('links to a category written "/c/pão", "/c/p%C3%A3o" and "/c/p%c3%a3o" are one page: fetched once, its records stored once', async () => {
    // RFC 3986 §6.2.2.1: percent-escapes are case-insensitive; URL() upper-cases the escapes it
    // writes itself but keeps those written in the link.
    expect(normalizeCrawlUrl('/c/p%c3%a3o', 'http://h/')).toBe('http://h/c/p%C3%A3o');
    expect(normalizeCrawlUrl('/c/pão', 'http://h/')).toBe('http://h/c/p%C3%A3o');
    expect(normalizeCrawlUrl('/busca?q=p%c3%a3o', 'http://h/')).toBe('http://h/busca?q=p%C3%A3o');
    const s = await siteOf({
      '/': html('<a class="n" href="/c/pão">pão</a> <a class="n" href="/c/p%C3%A3o">pão</a> <a class="n" href="/c/p%c3%a3o">pão</a>'),
      '/c/p%C3%A3o': html('<li class="p" data-sku="PAO-1">Pão francês</li>'),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'pct', startUrls: [`${s.url}/`], follow: 'a.n', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(s.hits).toEqual({ '/': 1, '/c/p%C3%A3o': 1 });
    expect(await lake.bronze('edge/pct')).toHaveLength(1);
  });

  it('a link with an unreserved character escaped ("/c/%7Eofertas", "/c/caf%2De") is the page written plainly ("/c/~ofertas"): fetched once (RFC 3986 §6.2.2.2)', async () => {
    expect(normalizeCrawlUrl('/c/%7eofertas?sort=pre%C3%A7o%2Dasc', 'http://h/')).toBe('http://h/c/~ofertas?sort=pre%C3%A7o-asc');
    // Reserved characters stay escaped: "%2F" is not a path separator, "%26" not a parameter separator.
    expect(normalizeCrawlUrl('/c/a%2Fb?q=a%26b', 'http://h/')).toBe('http://h/c/a%2Fb?q=a%26b');
    const s = await siteOf({
      '/': html('<a class="n" href="/c/~ofertas">1</a> <a class="n" href="/c/%7Eofertas">2</a> <a class="n" href="/c/%7eofertas">3</a>'),
      '/c/~ofertas': html('<li class="p" data-sku="OF-1">Oferta</li>'),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'unres', startUrls: [`${s.url}/`], follow: 'a.n', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(s.hits).toEqual({ '/': 1, '/c/~ofertas': 1 });
  });

  it('a link with campaign parameters ("/c/x?utm_source=home&utm_campaign=natal") is the page "/c/x": fetched once, its records stored once (Crawlee drops them too)', async () => {
    expect(normalizeCrawlUrl('/c/x?utm_source=home&page=2&UTM_Medium=banner#top', 'http://h/')).toBe('http://h/c/x?page=2');
    expect(normalizeCrawlUrl('/c/x?utm_source=home', 'http://h/')).toBe('http://h/c/x');
    const s = await siteOf({
      '/': html('<a class="n" href="/c/x?utm_source=home&utm_campaign=natal">banner</a> <a class="n" href="/c/x">menu</a>'),
      '/c/x': html('<li class="p" data-sku="A">A</li>'),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'utm', startUrls: [`${s.url}/`], follow: 'a.n', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string(), _url: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(s.hits).toEqual({ '/': 1, '/c/x': 1 });
    expect(((await lake.bronze('edge/utm')) as { _url: string }[]).map((r) => r._url)).toEqual([`${s.url}/c/x`]);
  });

  it('a link with a bare query key ("/q?x") is requested as written, not as "/q?x="; parameters are sorted as written', async () => {
    expect(normalizeCrawlUrl('/q?x', 'http://h/')).toBe('http://h/q?x');
    expect(normalizeCrawlUrl('/q?x&b=2&&a=1', 'http://h/')).toBe('http://h/q?a=1&b=2&x');
    expect(normalizeCrawlUrl('/q?b=1&a=2&b=0', 'http://h/')).toBe('http://h/q?a=2&b=1&b=0'); // a repeated name keeps its order
    const s = await siteOf({
      '/': html('<a class="n" href="/q?x">x</a>'),
      '/q?x': html('<li class="p" data-sku="X">X</li>'),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'bare', startUrls: [`${s.url}/`], follow: 'a.n', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(s.hits).toEqual({ '/': 1, '/q?x': 1 });
  });

  it('credential headers (cookie, authorization, an API key) go to the crawl\'s own origin only: not to an external link, nor through a redirect to another origin', async () => {
    const partnerSaw: Record<string, http.IncomingHttpHeaders> = {};
    const partner = http.createServer((req, res) => {
      partnerSaw[req.url!] = req.headers;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html('<li class="p" data-sku="P">P</li>'));
    });
    await new Promise<void>((r) => partner.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => partner.close(() => r())));
    const partnerUrl = `http://127.0.0.1:${(partner.address() as { port: number }).port}`;
    const shopSaw: Record<string, http.IncomingHttpHeaders> = {};
    const shop = http.createServer((req, res) => {
      shopSaw[req.url!] = req.headers;
      if (req.url === '/go') {
        res.writeHead(302, { location: `${partnerUrl}/via-redirect` });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html(`<li class="p" data-sku="A">A</li><a class="n" href="${partnerUrl}/linked">parceiro</a><a class="n" href="/go">oferta</a>`));
    });
    await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => shop.close(() => r())));
    const shopUrl = `http://127.0.0.1:${(shop.address() as { port: number }).port}`;
    const headers = { Cookie: 'session=loja-sess-5f2a9c', Authorization: 'Basic bG9qYTpzZWNyZXQ=', 'X-Api-Key': 'loja-key-77e1d0', 'Accept-Language': 'pt-BR' };
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'creds', startUrls: [`${shopUrl}/`], follow: 'a.n', followExternal: true, headers, extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3 });
    expect(shopSaw['/']).toMatchObject({ cookie: headers.Cookie, authorization: headers.Authorization, 'x-api-key': headers['X-Api-Key'], 'accept-language': 'pt-BR' });
    expect(shopSaw['/go']).toMatchObject({ cookie: headers.Cookie, 'x-api-key': headers['X-Api-Key'] });
    expect(Object.keys(partnerSaw).sort()).toEqual(['/linked', '/via-redirect']);
    for (const seen of Object.values(partnerSaw)) {
      expect(seen['accept-language']).toBe('pt-BR');
      expect(seen.cookie).toBeUndefined();
      expect(seen.authorization).toBeUndefined();
      expect(seen['x-api-key']).toBeUndefined();
    }
  });

  it('a page with a byte order mark is read in its charset whatever the header or <meta> says; a charset label no decoder knows gives way to the <meta>', async () => {
    const item = (sku: string): string => `<li class="p" data-sku="${sku}"><span class="t">Feijão Preto</span><span class="v">R$&nbsp;1.234,56</span></li>`;
    const utf8Bom = (text: string): Buffer => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    const pages: Record<string, { type: string; body: Buffer }> = {
      // An editor's UTF-8 BOM on a server labelling every page ISO-8859-1 (Apache's AddDefaultCharset).
      '/bom-header': { type: 'text/html; charset=ISO-8859-1', body: utf8Bom(html(item('A'))) },
      '/bom-meta': { type: 'text/html', body: utf8Bom(`<!doctype html><html><head><meta charset="iso-8859-1"></head><body>${item('B')}</body></html>`) },
      '/utf16': { type: 'text/html', body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(html(item('C')), 'utf16le')]) },
      '/none': { type: 'text/html; charset=None', body: Buffer.from(`<!doctype html><html><head><meta charset="windows-1252"></head><body>${item('D')}</body></html>`, 'latin1') },
    };
    const server = http.createServer((req, res) => {
      const page = pages[req.url!]!;
      res.writeHead(200, { 'content-type': page.type });
      res.end(page.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({
        source: 'edge',
        dataset: 'bom',
        startUrls: Object.keys(pages).map((p) => base + p),
        extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' }, name: '.t', price: { selector: '.v', parse: 'brl' } } },
        schema: z.object({ sku: z.string(), name: z.string(), price: z.number() }),
        limits: FAST,
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 4, rejected: 0 });
    const rows = (await lake.bronze('edge/bom')) as { sku: string; name: string; price: number }[];
    expect(rows.map((r) => [r.sku, r.name, r.price]).sort()).toEqual([
      ['A', 'Feijão Preto', 1234.56],
      ['B', 'Feijão Preto', 1234.56],
      ['C', 'Feijão Preto', 1234.56],
      ['D', 'Feijão Preto', 1234.56],
    ]);
  });

  it('a start URL moving to another origin (http to https, to www) is read there with the credential headers its redirect hop went without', async () => {
    const cookie = 'regiao=sp-capital-0921';
    const served: { url: string; cookie?: string }[] = [];
    const moved = http.createServer((req, res) => {
      served.push({ url: req.url!, cookie: req.headers.cookie });
      res.writeHead(200, { 'content-type': 'text/html' });
      // A store showing another region's prices to a request without the region cookie.
      res.end(html(`<li class="p" data-sku="A" data-preco="${req.headers.cookie === cookie ? '8,99' : '11,49'}">A</li>`));
    });
    await new Promise<void>((r) => moved.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => moved.close(() => r())));
    const movedUrl = `http://127.0.0.1:${(moved.address() as { port: number }).port}`;
    const old = http.createServer((_req, res) => {
      res.writeHead(301, { location: `${movedUrl}/` });
      res.end();
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => old.close(() => r())));
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({
        source: 'edge',
        dataset: 'moved',
        startUrls: [`http://127.0.0.1:${(old.address() as { port: number }).port}/`],
        headers: { cookie },
        extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' }, price: { attr: 'data-preco', parse: 'brl' } } },
        schema: z.object({ sku: z.string(), price: z.number() }),
        limits: FAST,
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 0 });
    expect(await lake.bronze('edge/moved')).toMatchObject([{ sku: 'A', price: 8.99 }]);
    expect(served.at(-1)).toEqual({ url: '/', cookie });
  });

  it('a start URL\'s user:password@ is sent as Basic auth to its origin only, never kept in _url, url fields, the frontier or the metrics', async () => {
    const password = 's3nh4-Forte-91';
    const expected = `Basic ${Buffer.from(`comprador:${password}`).toString('base64')}`;
    const partnerSaw: http.IncomingHttpHeaders[] = [];
    const partner = http.createServer((req, res) => {
      partnerSaw.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html('<p>parceiro</p>'));
    });
    await new Promise<void>((r) => partner.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => partner.close(() => r())));
    const partnerUrl = `http://127.0.0.1:${(partner.address() as { port: number }).port}`;
    const refused: string[] = [];
    const shop = http.createServer((req, res) => {
      if (req.headers.authorization !== expected) {
        refused.push(req.url!);
        res.writeHead(401, { 'www-authenticate': 'Basic realm="loja"', 'content-type': 'text/html' });
        res.end(html('<p>login</p>'));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      const sku = req.url === '/' ? 'A' : 'B';
      res.end(html(`<li class="p" data-sku="${sku}"><a href="/p/${sku}">${sku}</a></li><a class="n" href="/c/2">2</a><a class="n" href="${partnerUrl}/">parceiro</a>`));
    });
    await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => shop.close(() => r())));
    const host = `127.0.0.1:${(shop.address() as { port: number }).port}`;
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({
        source: 'edge',
        dataset: 'userinfo',
        startUrls: [`http://comprador:${password}@${host}/`],
        follow: 'a.n',
        followExternal: true,
        extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' }, url: { selector: 'a', attr: 'href', parse: 'url' } } },
        schema: z.object({ sku: z.string(), url: z.string(), _url: z.string() }),
        limits: FAST,
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    expect(refused).toEqual([]);
    expect(partnerSaw).toHaveLength(1);
    expect(partnerSaw[0]!.authorization).toBeUndefined();
    const rows = (await lake.bronze('edge/userinfo')) as { sku: string; url: string; _url: string }[];
    expect(rows.map((r) => [r.sku, r.url, r._url]).sort()).toEqual([
      ['A', `http://${host}/p/A`, `http://${host}/`],
      ['B', `http://${host}/p/B`, `http://${host}/c/2`],
    ]);
    await lake.close();
    for (const file of fs.readdirSync(lake.paths.root, { recursive: true }) as string[]) {
      const full = path.join(lake.paths.root, file);
      if (fs.statSync(full).isFile()) expect(fs.readFileSync(full).toString('latin1'), file).not.toContain(password);
    }
  });

  it('a start URL with ?token= / api_key= is requested as given but never stored under data/ (_url, frontier, metrics), nor after a crawl stopped midway resumes', async () => {
    const token = 'tok-Zq81xP';
    const apiKey = 'k3y-99aa';
    let down = true;
    const server = http.createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (u.searchParams.get('token') !== token || u.searchParams.get('api_key') !== apiKey) {
        res.writeHead(401, { 'content-type': 'text/html' });
        return res.end(html('<p>no</p>'));
      }
      if (u.pathname === '/c/2' && down) {
        res.writeHead(503, { 'retry-after': '0' });
        return res.end('down');
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      const at = u.pathname === '/' ? 'home' : u.pathname.slice(3);
      res.end(html(`<li class="p" data-sku="${at}">x</li><a class="n" href="/c/1?token=${token}&api_key=${apiKey}">1</a><a class="n" href="/c/2?token=${token}&api_key=${apiKey}">2</a>`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const lake = await tempLake();
    const source = htmlSource({
      source: 'sec',
      dataset: 'p',
      startUrls: [`${url}/?token=${token}&api_key=${apiKey}`],
      follow: 'a.n',
      extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } },
      schema: z.object({ sku: z.string(), _url: z.string() }),
      limits: { ...FAST, inFlight: 1, retries: 1, flushRows: 1 },
    });
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'partial', rows: 2 });
    expect((await findSecrets(lake.paths.root, [token, apiKey])).hits).toEqual([]);
    down = false;
    const second = await lake.extract(source);
    expect(second.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(((await lake.bronze('sec/p')) as { sku: string }[]).map((r) => r.sku).sort()).toEqual(['1', '2', 'home']);
    expect(((await lake.bronze('sec/p')) as { _url: string }[]).every((r) => r._url.startsWith(url))).toBe(true);
    await lake.close();
    expect((await findSecrets(lake.paths.root, [token, apiKey])).hits).toEqual([]);
  });

  it('?page=N past the last page answered with the last page again: its records are stored once, the pagination stops there with a warning', async () => {
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(req.url!);
      const n = Math.min(Number(new URL(req.url!, 'http://x').searchParams.get('page') ?? 1), 3);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html(`<li class="p" data-sku="s${n}a">a</li><li class="p" data-sku="s${n}b">b</li><a class="next" href="?page=${Number(new URL(req.url!, 'http://x').searchParams.get('page') ?? 1) + 1}">next</a>`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const lake = await tempLake();
    const result = await lake.extract(
      htmlSource({
        source: 'pg',
        dataset: 'p',
        startUrls: [`${url}/list?page=1`],
        follow: 'a.next',
        extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } },
        schema: z.object({ sku: z.string(), _url: z.string() }),
        maxPages: 20,
        limits: { ...FAST, inFlight: 1 },
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 6, rejected: 0 });
    expect(hits.length).toBe(4);
    expect((result.sources[0]!.warnings ?? []).join(' ')).toMatch(/page=4.*same.*page=3|same.*page=3/);
  });

  it('a link to an SVG image or an RSS feed (XML, but not a page) is quarantined as not HTML; XHTML and XML pages are read', async () => {
    const served: Record<string, { type: string; body: string }> = {
      '/img/logo.svg': { type: 'image/svg+xml', body: '<svg xmlns="http://www.w3.org/2000/svg"><a href="/x"><text>Oferta</text></a></svg>' },
      '/feed': { type: 'application/rss+xml; charset=utf-8', body: '<?xml version="1.0"?><rss><channel><item><link>/y</link></item></channel></rss>' },
      '/xhtml': { type: 'application/xhtml+xml', body: `<?xml version="1.0"?>${html('<li class="p" data-sku="X">X</li>')}` },
      '/xml': { type: 'text/xml', body: html('<li class="p" data-sku="Y">Y</li>') },
    };
    const requested: string[] = [];
    const server = http.createServer((req, res) => {
      requested.push(req.url!);
      const page = req.url === '/' ? { type: 'text/html', body: html(Object.keys(served).map((p) => `<a href="${p}">${p}</a>`).join(' ')) } : served[req.url!];
      if (page === undefined) {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end(html('no'));
        return;
      }
      res.writeHead(200, { 'content-type': page.type });
      res.end(page.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'types', startUrls: [`${base}/`], follow: 'a', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 2 });
    const lines = fs
      .readFileSync(path.join(lake.paths.root, 'quarantine', 'edge', 'types', `${result.runId}.ndjson`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { url: string; reasons: { message: string }[] });
    expect(Object.fromEntries(lines.map((l) => [l.url.replace(base, ''), l.reasons[0]!.message]))).toEqual({
      '/img/logo.svg': 'not an HTML page (content-type image/svg+xml)',
      '/feed': 'not an HTML page (content-type application/rss+xml; charset=utf-8)',
    });
    // The image's link is not a page's link: not followed.
    expect(requested.sort()).toEqual(['/', ...Object.keys(served)].sort());
  });

  it('a page ending "</html>" then a comment is whole (no truncation warning); one without </html> still warns', async () => {
    const s = await siteOf({
      '/': '<!doctype html><html><body><li class="p" data-sku="A">A</li></body></html>\n<!-- generated in 0.02s by cache -->\n',
      '/cut': '<!doctype html><html><body><li class="p" data-sku="B">B</li>',
    });
    const lake = await tempLake();
    const extract = { items: 'li.p', fields: { sku: { attr: 'data-sku' } } };
    const schema = z.object({ sku: z.string() });
    const [whole, cut] = (
      await lake.extract([
        htmlSource({ source: 'edge', dataset: 'whole', startUrls: [`${s.url}/`], extract, schema, limits: FAST }),
        htmlSource({ source: 'edge', dataset: 'cut', startUrls: [`${s.url}/cut`], extract, schema, limits: FAST }),
      ])
    ).sources;
    expect(whole).toMatchObject({ status: 'success', rows: 1 });
    expect(whole!.warnings ?? []).toEqual([]);
    expect(cut!.warnings?.join(' ')).toMatch(/looks truncated/);
  });

  it('a page with its closing </html> followed by a script the host appended is whole: no truncation warning', async () => {
    const s = await siteOf({
      '/': '<!doctype html><html><body><li class="p" data-sku="A">A</li></body></html>\n<script type="text/javascript">var _hit = 1;</script>\n',
    });
    const lake = await tempLake();
    const [whole] = (
      await lake.extract([
        htmlSource({ source: 'edge', dataset: 'tail', startUrls: [`${s.url}/`], extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
      ])
    ).sources;
    expect(whole).toMatchObject({ status: 'success', rows: 1 });
    expect(whole!.warnings ?? []).toEqual([]);
  });

  it('a page opening with a BOM, an XML declaration or a comment before its doctype, and cut before </html>, is warned about as truncated', async () => {
    const s = await siteOf({
      '/xml': '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml"><body><li class="p" data-sku="A">A</li><li class="p" data-sku',
      '/comment': '<!-- saved by the store CMS -->\n<!doctype html><html><body><li class="p" data-sku="B">B</li><li class="p" data-s',
      '/bom': '\uFEFF<html><body><li class="p" data-sku="C">C</li><li class="p" data-s',
      '/fragment': '<li class="p" data-sku="D">D</li>', // not a document: nothing to be cut from
    });
    const lake = await tempLake();
    const extract = { items: 'li.p', fields: { sku: { attr: 'data-sku' } } };
    const schema = z.object({ sku: z.string() });
    const sources = (
      await lake.extract(['xml', 'comment', 'bom', 'fragment'].map((page) => htmlSource({ source: 'edge', dataset: page, startUrls: [`${s.url}/${page}`], extract, schema, limits: FAST })))
    ).sources;
    expect(sources.map((c) => [c.dataset, /looks truncated/.test((c.warnings ?? []).join(' '))])).toEqual([
      ['xml', true],
      ['comment', true],
      ['bom', true],
      ['fragment', false],
    ]);
  });
});

describe('htmlSource and other hosts', () => {
  /** A loopback port nothing listens on. */
  async function deadOrigin(): Promise<string> {
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    return `http://127.0.0.1:${port}`;
  }
  const source = (startUrls: string[], extra: Record<string, unknown> = {}) =>
    htmlSource({ source: 'edge', dataset: 'hosts', startUrls, follow: 'a', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: { ...FAST, retries: 2 }, ...extra });

  it('a link of the shop redirecting to another host that does not answer is quarantined; the crawl goes on and finishes', async () => {
    const dead = await deadOrigin();
    const s = await serve((p) =>
      p === '/'
        ? { body: html('<a href="/whatsapp">fale conosco</a> <a href="/c/a">a</a> <a href="/c/b">b</a>') }
        : p === '/whatsapp'
          ? { status: 302, headers: { location: `${dead}/send?phone=55` } }
          : { body: html(`<li class="p" data-sku="${p}">x</li>`) },
    );
    const lake = await tempLake();
    const result = await lake.extract([source([`${s.url}/`], { limits: { ...FAST, retries: 2, inFlight: 1 } })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    const q = fs.readFileSync(path.join(lake.paths.root, 'quarantine', 'edge', 'hosts', `${result.runId}.ndjson`), 'utf8');
    const line = JSON.parse(q.trim()) as { record: unknown; reasons: { message: string }[] };
    expect(line.record).toMatchObject({ url: `${s.url}/whatsapp`, from: `${s.url}/` });
    expect(line.reasons[0]!.message).toMatch(new RegExp(`^${new URL(dead).host} is not answering: `));
  });

  it('an external page (followExternal) whose host does not answer is quarantined; the shop\'s own pages are all read', async () => {
    const dead = await deadOrigin();
    const s = await serve((p) => (p === '/' ? { body: html(`<a href="${dead}/parceiro">parceiro</a> <a href="/c/a">a</a>`) } : { body: html(`<li class="p" data-sku="${p}">x</li>`) }));
    const lake = await tempLake();
    const result = await lake.extract([source([`${s.url}/`], { followExternal: true })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 1 });
  });

  it('a link to a PDF (an offers leaflet) is quarantined as not HTML from its headers, without downloading it', async () => {
    // The leaflet's body never ends: a crawler reading it whole would wait for the request timeout.
    const leaflet = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/pdf' });
      res.write(Buffer.alloc(64 * 1024, 0x25));
    });
    await new Promise<void>((r) => leaflet.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => { leaflet.closeAllConnections(); leaflet.close(() => r()); }));
    const leafletUrl = `http://127.0.0.1:${(leaflet.address() as { port: number }).port}/encarte.pdf`;
    const site = await serve((p) => (p === '/' ? { body: html(`<a href="${leafletUrl}">encarte</a> <a href="/c/a">a</a>`) } : { body: html(`<li class="p" data-sku="${p}">x</li>`) }));
    const lake = await tempLake();
    const result = await lake.extract([source([`${site.url}/`], { followExternal: true, limits: { ...FAST, retries: 0, requestTimeoutMillis: 15_000 } })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 1 });
    const q = fs.readFileSync(path.join(lake.paths.root, 'quarantine', 'edge', 'hosts', `${result.runId}.ndjson`), 'utf8');
    expect((JSON.parse(q.trim()) as { reasons: { message: string }[] }).reasons[0]!.message).toBe('not an HTML page (content-type application/pdf)');
  }, 30_000);

  it('the shop itself not answering still fails the source (the next run retries)', async () => {
    const dead = await deadOrigin();
    const lake = await tempLake();
    const result = await lake.extract([source([`${dead}/`])]);
    expect(result.sources[0]).toMatchObject({ status: 'failed' });
  });
});

describe('quarantine edges', () => {
  it('secret-named fields in camelCase (accessToken, clientSecret, refreshToken, userPassword, xApiKey) are redacted', async () => {
    expect(['accessToken', 'clientSecret', 'refreshToken', 'userPassword', 'xApiKey', 'APIKey'].every(isSecretName)).toBe(true);
    expect(['author', 'authorId', 'sessionId', 'tokenizer', 'secretary'].some(isSecretName)).toBe(false);
    const lake = await tempLake();
    const source = defineSource({
      source: 'edge',
      dataset: 'sec',
      schema: z.object({ id: z.number() }),
      extract: () => [[{ id: 'bad', accessToken: 'AT-visible-111', clientSecret: 'CS-visible-222', refreshToken: 'RT-visible-333', userPassword: 'PW-visible-444' }]],
    });
    const result = await lake.extract([source]);
    expect(result.sources[0]).toMatchObject({ rejected: 1 });
    const text = fs.readFileSync(path.join(lake.paths.quarantine, 'edge', 'sec', `${result.runId}.ndjson`), 'utf8');
    for (const secret of ['AT-visible-111', 'CS-visible-222', 'RT-visible-333', 'PW-visible-444']) expect(text).not.toContain(secret);
    expect(JSON.parse(text).record).toMatchObject({ id: 'bad', accessToken: '[REDACTED]', userPassword: '[REDACTED]' });
  });

  it('big rejected records are written in bounded writes as they come (not one string of every line), each line whole', () => {
    const root = tempDir();
    const q = new QuarantineWriter(root, 'edge', 'wide', 'r1');
    const page = 'x'.repeat(1_000_000);
    // 17 records of ~1 MB pass 16 M characters: written before any explicit flush.
    for (let i = 0; i < 17; i++) q.add({ runId: 'r1', source: 'edge', dataset: 'wide', position: i + 1, reasons: [{ path: 'id', message: 'bad' }], record: { id: `bad-${i}`, html: page } });
    expect(fs.existsSync(q.file)).toBe(true);
    for (let i = 17; i < 40; i++) q.add({ runId: 'r1', source: 'edge', dataset: 'wide', position: i + 1, reasons: [{ path: 'id', message: 'bad' }], record: { id: `bad-${i}`, html: page } });
    q.flush();
    const lines = fs.readFileSync(q.file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(40);
    expect(lines.map((l) => (JSON.parse(l) as { position: number }).position)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(q.count).toBe(40);
  });
});

describe('an unfinished crawl', () => {
  it('resumes when its start URLs are listed in another order (the same crawl): its pages done are not fetched again', async () => {
    const s = await siteOf({
      '/c/a': html('<a href="/p/1">1</a> <a href="/p/2">2</a>'),
      '/c/b': html('<a href="/p/3">3</a>'),
      '/p/1': html('<li class="p" data-sku="1">1</li>'),
      '/p/2': html('<li class="p" data-sku="2">2</li>'),
      '/p/3': html('<li class="p" data-sku="3">3</li>'),
    });
    const lake = await tempLake();
    // Saved by a crawl of [/c/a, /c/b] killed after /c/a, /c/b and /p/1.
    const cursor = {
      v: 1,
      start: [`${s.url}/c/a`, `${s.url}/c/b`],
      origins: [s.url],
      visited: [`${s.url}/c/a`, `${s.url}/c/b`, `${s.url}/p/1`],
      queue: [
        { url: `${s.url}/p/2`, from: `${s.url}/c/a` },
        { url: `${s.url}/p/3`, from: `${s.url}/c/b` },
      ],
      pages: 3,
    };
    fs.mkdirSync(path.join(lake.paths.state, 'cursors'), { recursive: true });
    fs.writeFileSync(path.join(lake.paths.state, 'cursors', 'edge.order.json'), JSON.stringify({ cursor, runId: '20261101T000000000Z-aaaaaa', savedAt: '2026-11-01T00:00:00.000Z' }));
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'order', startUrls: [`${s.url}/c/b`, `${s.url}/c/a`], follow: 'a', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(result.sources[0]!.warnings ?? []).toEqual([]);
    expect(s.hits).toEqual({ '/p/2': 1, '/p/3': 1 });
  });
});

describe('a crawl an earlier version left unfinished', () => {
  it('with pages done saved with their utm_* parameters: those pages, linked without them, are not fetched again', async () => {
    const s = await siteOf({
      '/c/y': html('<a href="/c/x">x</a> <a href="/c/x?utm_source=menu">x</a>'),
      '/c/x': html('<li class="p" data-sku="x">x</li>'),
    });
    const lake = await tempLake();
    const cursor = { v: 1, start: [`${s.url}/`], origins: [s.url], visited: [`${s.url}/`, `${s.url}/c/x?utm_source=home`], queue: [{ url: `${s.url}/c/y`, from: `${s.url}/` }], pages: 2 };
    fs.mkdirSync(path.join(lake.paths.state, 'cursors'), { recursive: true });
    fs.writeFileSync(path.join(lake.paths.state, 'cursors', 'edge.utm.json'), JSON.stringify({ cursor, runId: '20261101T000000000Z-aaaaaa', savedAt: '2026-11-01T00:00:00.000Z' }));
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'utm', startUrls: [`${s.url}/`], follow: 'a', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 0 });
    expect(s.hits).toEqual({ '/c/y': 1 });
  });

  /** How versions before links kept their query as written saved a URL: `URLSearchParams.sort()` re-encodes it (`,` → `%2C`, `?new` → `?new=`). */
  function savedByOldVersion(url: string): string {
    const u = new URL(url);
    u.searchParams.sort();
    return u.href;
  }

  it('resumes where it stopped: its committed pages are not fetched again, nor is the crawl started over', async () => {
    const s = await siteOf({
      '/c': html('<a href="/p?id=1,a">1</a> <a href="/p?new">new</a> <a href="/p?id=2,b">2</a>'),
      '/p': html('<li class="p" data-sku="x">x</li>'),
    });
    const lake = await tempLake();
    const start = `${s.url}/c?map=c,c`;
    // Its frontier: the start page and two products done, one product queued.
    const cursor = {
      v: 1,
      start: [savedByOldVersion(start)],
      origins: [s.url],
      visited: [start, `${s.url}/p?id=1,a`, `${s.url}/p?new`].map(savedByOldVersion),
      queue: [{ url: savedByOldVersion(`${s.url}/p?id=2,b`), from: savedByOldVersion(start) }],
      pages: 3,
    };
    fs.mkdirSync(path.join(lake.paths.state, 'cursors'), { recursive: true });
    fs.writeFileSync(path.join(lake.paths.state, 'cursors', 'edge.old.json'), JSON.stringify({ cursor, runId: '20261101T000000000Z-aaaaaa', savedAt: '2026-11-01T00:00:00.000Z' }));

    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'old', startUrls: [start], follow: 'a', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    expect(s.hits).toEqual({ '/p?id=2%2Cb': 1 });
  });
});

describe('htmlSource leftovers', () => {
  /** A listing crawl following `a.next`, one page at a time, reading each `li.p`'s sku. */
  const listingSource = (dataset: string, startUrls: string[]) =>
    htmlSource({ source: 'pg', dataset, startUrls, follow: 'a.next', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string() }), maxPages: 30, limits: { ...FAST, inFlight: 1 } });

  it('links to "/c/x/" and "/c/x" are one page (Crawlee\'s uniqueKey drops a trailing slash): fetched once, its records stored once', async () => {
    const s = await siteOf({
      '/': html('<a class="n" href="/c/x/">x</a> <a class="n" href="/c/x">x again</a> <a class="n" href="/c/y">y</a> <a class="n" href="/c/y/">y again</a>'),
      '/c/x/': html('<li class="p" data-sku="X">X</li>'),
      '/c/x': html('<li class="p" data-sku="X">X</li>'),
      '/c/y/': html('<li class="p" data-sku="Y">Y</li>'),
      '/c/y': html('<li class="p" data-sku="Y">Y</li>'),
    });
    const lake = await tempLake();
    const result = await lake.extract([
      htmlSource({ source: 'edge', dataset: 'slash', startUrls: [`${s.url}/`], follow: 'a.n', extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string(), _url: z.string() }), limits: FAST }),
    ]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    // Each page requested as its first link wrote it; the root keeps its slash.
    expect(crawlKey(`${s.url}/c/x/?page=2`)).toBe(`${s.url}/c/x?page=2`);
    expect(crawlKey(`${s.url}/`)).toBe(`${s.url}/`);
    expect(s.hits).toEqual({ '/': 1, '/c/x/': 1, '/c/y': 1 });
    expect(((await lake.bronze('edge/slash')) as { _url: string }[]).map((r) => r._url).sort()).toEqual([`${s.url}/c/x/`, `${s.url}/c/y`]);
  });

  it('a listing paginated in its path ("/c/ofertas/page/2/", WordPress and WooCommerce style) stops at its first empty page, and at a page repeating the last one, as "?page=N" does', async () => {
    // /a: two pages of products, then empty pages; /b: two pages, then every page past them repeats the second.
    const { url, hits } = await serve((p) => {
      const [, list, , page] = /^\/c\/(\w+)\/(page\/(\d+)\/)?$/.exec(p) ?? [];
      const n = Number(page ?? 1);
      const shown = list === 'b' ? Math.min(n, 2) : n;
      const items = shown <= 2 ? `<li class="p" data-sku="${list}${shown}a">a</li><li class="p" data-sku="${list}${shown}b">b</li>` : '<p>Nenhum produto encontrado</p>';
      return { body: html(`${items}<a class="next" href="/c/${list}/page/${n + 1}/">next</a>`) };
    });
    const lake = await tempLake();
    const result = await lake.extract(listingSource('paths', [`${url}/c/a/`, `${url}/c/b/`]));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 8, rejected: 0 });
    expect(Object.keys(hits).sort()).toEqual(['/c/a/', '/c/a/page/2/', '/c/a/page/3/', '/c/b/', '/c/b/page/2/', '/c/b/page/3/']);
    expect((result.sources[0]!.warnings ?? []).join(' ')).toMatch(/page\/3.*same 2 records as .*page\/2/);
  });

  it('a paginated listing stops at its first empty page (as the HTTP paginators do), not at maxPages (an empty page past the last is how listings end: no warning)', async () => {
    const hits: Record<string, number> = {};
    // /a has two pages of products, /b one; every page (empty ones too) links to the next.
    const last: Record<string, number> = { '/a': 2, '/b': 1 };
    const { url } = await serve((p) => {
      const u = new URL(p, 'http://x');
      hits[u.pathname] = (hits[u.pathname] ?? 0) + 1;
      const n = Number(u.searchParams.get('page') ?? 1);
      const items = n <= last[u.pathname]! ? `<li class="p" data-sku="${u.pathname.slice(1)}${n}a">a</li><li class="p" data-sku="${u.pathname.slice(1)}${n}b">b</li>` : '<p>Nenhum produto encontrado</p>';
      return { body: html(`${items}<a class="next" href="${u.pathname}?page=${n + 1}">next</a>`) };
    });
    const lake = await tempLake();
    const result = await lake.extract(listingSource('empty', [`${url}/a?page=1`, `${url}/b`]));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 6, rejected: 0 });
    expect(hits).toEqual({ '/a': 3, '/b': 2 });
    expect(result.sources[0]!.warnings ?? []).toEqual([]);
  });

  it('a start URL\'s secret written another way in a link ("tok/x" for "tok%2Fx", "%3a" for "%3A") is never stored under data/, and the resumed crawl still sends it', async () => {
    const token = 'tok/Zq81:xP';
    const written = encodeURIComponent(token); // tok%2FZq81%3AxP
    const lowerEscapes = (s: string): string => s.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
    let down = true;
    const server = http.createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (u.searchParams.get('token') !== token) {
        res.writeHead(401, { 'content-type': 'text/html' });
        return res.end(html('<p>no</p>'));
      }
      if (u.pathname === '/c/2' && down) {
        res.writeHead(503, { 'retry-after': '0' });
        return res.end('down');
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      const at = u.pathname === '/' ? 'home' : u.pathname.slice(3);
      // The links write the token raw, and with lower-case escapes.
      res.end(html(`<li class="p" data-sku="${at}"><a class="u" href="/p/${at}?token=${token.replace(':', '%3a')}">x</a></li><a class="n" href="/c/1?token=${token}">1</a><a class="n" href="/c/2?token=${lowerEscapes(written)}">2</a><a class="n" href="/c/3?token=${token.replace(':', '%3a')}">3</a>`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const lake = await tempLake();
    const source = htmlSource({
      source: 'sec',
      dataset: 'enc',
      startUrls: [`${url}/?token=${written}`],
      follow: 'a.n',
      extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' }, link: { selector: 'a.u', attr: 'href', parse: 'url' } } },
      schema: z.object({ sku: z.string(), link: z.string(), _url: z.string() }),
      limits: { ...FAST, inFlight: 1, retries: 1, flushRows: 1 },
    });
    const forms = [token, written, lowerEscapes(written), token.replace(':', '%3a'), token.replace(':', '%3A'), token.replace('/', '%2F'), token.replace('/', '%2f')];
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'partial' });
    expect((await findSecrets(lake.paths.root, forms)).hits).toEqual([]);
    down = false;
    const second = await lake.extract(source);
    expect(second.sources[0]).toMatchObject({ status: 'success', rejected: 0 });
    const rows = (await lake.bronze('sec/enc')) as { sku: string; link: string; _url: string }[];
    expect(rows.map((r) => r.sku).sort()).toEqual(['1', '2', '3', 'home']);
    expect(rows.find((r) => r.sku === 'home')).toMatchObject({ link: `${url}/p/home?token=[REDACTED]`, _url: `${url}/?token=[REDACTED]` });
    await lake.close();
    expect((await findSecrets(lake.paths.root, forms)).hits).toEqual([]);
  });
  it('a credential header\'s value echoed by the site in a link with other escapes ("k3y/99%2Baa" for "k3y/99+aa") is scrubbed from _url and the metrics', async () => {
    const key = 'k3y/99+aa';
    const server = http.createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      res.writeHead(200, { 'content-type': 'text/html' });
      if (u.pathname === '/') return res.end(html('<a class="n" href="/c/w?ref=k3y/99%2Baa">w</a> <a class="n" href="/c/q?ref=k3y%2f99%2baa">q</a>'));
      res.end(html(`<li class="p" data-sku="${u.pathname}">x</li>`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const lake = await tempLake();
    const result = await lake.extract(
      htmlSource({ source: 'sec', dataset: 'hdr', startUrls: [`${url}/`], follow: 'a.n', headers: { 'x-api-key': key }, extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' } } }, schema: z.object({ sku: z.string(), _url: z.string() }), limits: { ...FAST, inFlight: 1 } }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    expect(((await lake.bronze('sec/hdr')) as { _url: string }[]).map((r) => r._url).sort()).toEqual([`${url}/c/q?ref=[REDACTED]`, `${url}/c/w?ref=[REDACTED]`]);
    await lake.close();
    expect((await findSecrets(lake.paths.root, [key, 'k3y/99%2Baa', 'k3y%2F99%2Baa', 'k3y%2F99+aa'])).hits).toEqual([]);
  });

  it('a cookie\'s value and an Authorization header\'s token, echoed by the site in links and records, reach neither bronze nor the metrics (only the whole header value was scrubbed)', async () => {
    const sid = 'AbCdEf123456XyZ';
    const bearer = 'tokQWERTY98765';
    const seen: { url: string; cookie?: string; authorization?: string }[] = [];
    const { url } = await serve((p, _base, req) => {
      const u = new URL(p, 'http://x');
      seen.push({ url: p, cookie: req.headers.cookie, authorization: req.headers.authorization });
      if (u.pathname === '/') return { body: html(`<a class="n" href="/c/q?sess=${sid}">q</a> <a class="n" href="/c/b?t=${bearer}">b</a>`) };
      return { body: html(`<li class="p" data-sku="${u.pathname}" data-s="${sid} ${bearer}">x</li>`) };
    });
    const lake = await tempLake();
    const result = await lake.extract(
      htmlSource({
        source: 'sec',
        dataset: 'ck',
        startUrls: [`${url}/`],
        follow: 'a.n',
        headers: { cookie: `sessionid=${sid}; theme=dark`, authorization: `Bearer ${bearer}` },
        extract: { items: 'li.p', fields: { sku: { attr: 'data-sku' }, s: { attr: 'data-s' } } },
        schema: z.object({ sku: z.string(), s: z.string(), _url: z.string() }),
        limits: { ...FAST, inFlight: 1, flushRows: 1 },
      }),
    );
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2 });
    // Sent as given, to the pages that carry them.
    expect(seen.map((r) => r.url).sort()).toEqual(['/', `/c/b?t=${bearer}`, `/c/q?sess=${sid}`]);
    expect(seen.every((r) => r.cookie === `sessionid=${sid}; theme=dark` && r.authorization === `Bearer ${bearer}`)).toBe(true);
    await lake.close();
    expect((await findSecrets(lake.paths.root, [sid, bearer])).hits).toEqual([]);
  });
});
