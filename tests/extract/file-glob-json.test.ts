/**
 * File sources run by a data engineer on real exports: a monthly glob whose later files gained
 * a column, NDJSON ids past 2^53, a JSON key that is the empty string.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvSource, jsonSource } from '../../src/extract/file-source.js';
import { defineSource, z } from '../../src/index.js';
import { quarantined } from '../helpers/quarantine.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';


describe('csvSource over a glob whose later files have more columns', () => {
  it('keeps the column the first file lacks (email) instead of silently dropping it', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'customers-2026-01.csv'), 'id,name\n1,ana\n2,bia\n');
    fs.writeFileSync(path.join(dir, 'customers-2026-02.csv'), 'id,name,email\n3,caio,caio@x.com\n4,davi,davi@x.com\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'customers', glob: path.join(dir, '*.csv') }));
    // Every record is somewhere: bronze or quarantine.
    const rejected = quarantined(lake.paths.root, 'shop', 'customers', result.runId);
    expect(result.sources[0]!.rows + rejected.length).toBe(4);
    const rows = await lake.query<{ id: number; email: string | null }>(
      `SELECT * FROM read_parquet('${lake.paths.bronze}/shop/customers/**/*.parquet', union_by_name = true) ORDER BY id`,
    );
    // The email of the February customers reached bronze (or their records went to quarantine, never dropped).
    const stored = rows.filter((r) => r.id >= 3);
    for (const r of stored) expect(r.email, `email of customer ${r.id}`).toMatch(/@x\.com$/);
    expect(stored.length + rejected.length).toBe(2);
  });
  it('with a schema that declares email, the February emails reach bronze instead of NULL', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'customers-2026-01.csv'), 'id,name\n1,ana\n');
    fs.writeFileSync(path.join(dir, 'customers-2026-02.csv'), 'id,name,email\n3,caio,caio@x.com\n');
    const lake = await tempLake();
    const schema = z.object({ id: z.number().int(), name: z.string(), email: z.string().nullable().optional() });
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'typed', glob: path.join(dir, '*.csv'), schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    const rows = await lake.query<{ id: number; email: string | null }>(`SELECT id, email FROM read_parquet('${lake.paths.bronze}/shop/typed/**/*.parquet') ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, email: null },
      { id: 3, email: 'caio@x.com' },
    ]);
  });
});

describe('jsonSource without a schema: integers past 2^53', () => {
  it('an NDJSON id of 19 digits is stored with every digit, as the README promises for inferred integer columns', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'events.ndjson');
    fs.writeFileSync(file, '{"id":1234567890123456789,"kind":"click"}\n{"id":2,"kind":"view"}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'events', path: file }));
    expect(quarantined(lake.paths.root, 'shop', 'events', result.runId).map((q) => q.reasons)).toEqual([]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    const rows = await lake.query<{ id: string }>(`SELECT CAST(id AS VARCHAR) AS id FROM read_parquet('${lake.paths.bronze}/shop/events/**/*.parquet') ORDER BY kind`);
    expect(rows.map((r) => r.id)).toEqual(['1234567890123456789', '2']);
  });
});

describe('a field named by the empty string', () => {
  it('jsonSource: an NDJSON key "" is refused naming the field and the file, not a Parquet parser error after the read', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'rows.ndjson');
    fs.writeFileSync(file, '{"":0,"id":1}\n{"":1,"id":2}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'rows', path: file }));
    const s = result.sources[0]!;
    expect(s.error ?? '').not.toMatch(/Parser Error|zero-length delimited identifier/);
    if (s.status !== 'success') expect(s.error).toContain(file);
  });

  it('defineSource: a schema key "" is refused when the source is defined, naming it', () => {
    expect(() =>
      defineSource({ source: 'shop', dataset: 'rows', schema: z.object({ '': z.number(), id: z.number() }), extract: () => [] }),
    ).toThrow(/""|empty/);
  });
});

describe('jsonSource over a glob that matches no file this run (the export has not landed yet)', () => {
  async function twoRuns() {
    const dir = tempDir();
    const inbox = path.join(dir, 'inbox');
    fs.mkdirSync(inbox);
    fs.writeFileSync(path.join(inbox, 'orders-1.ndjson'), '{"id":1,"total":9.5}\n');
    const lake = await tempLake();
    const source = jsonSource({ source: 'shop', dataset: 'orders', glob: path.join(inbox, '*.ndjson') });
    const first = await lake.extract(source);
    expect(first.sources[0]).toMatchObject({ status: 'success', rows: 1 });
    fs.rmSync(path.join(inbox, 'orders-1.ndjson')); // moved away by the exporter's rotation
    const second = await lake.extract(source);
    return { lake, second };
  }

  it('does not record every column as removed (a false schema drift) nor forget the recorded bronze columns', async () => {
    const { lake, second } = await twoRuns();
    const s = second.sources[0]!;
    expect(s.schemaChanges ?? []).toEqual([]);
    expect((second.alerts ?? []).filter((a) => a.kind === 'schema_drift')).toEqual([]);
    const recorded = JSON.parse(fs.readFileSync(path.join(lake.paths.root, 'state', 'schemas', 'shop.orders.json'), 'utf8')) as { columns: { name: string }[] };
    expect(recorded.columns.map((c) => c.name)).toEqual(['id', 'total']);
  });

  it('is not a silent success: like csvSource, it fails or at least warns that no file matched', async () => {
    const { second } = await twoRuns();
    const s = second.sources[0]!;
    const said = s.status !== 'success' || (s.warnings ?? []).some((w) => /no file|matche/i.test(w));
    expect(said, JSON.stringify(s)).toBe(true);
  });
});

describe('jsonSource with a schema: integers past 2^53', () => {
  it('a z.bigint() field takes small and huge integers exactly; a z.number() field refuses a huge one to quarantine with every digit', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'e.ndjson');
    fs.writeFileSync(file, '{"id":1234567890123456789,"n":5}\n{"id":2,"n":12345678901234567890}\n{"id":3,"n":1.5}\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'shop', dataset: 'big', path: file, schema: z.object({ id: z.bigint(), n: z.number() }) }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 1 });
    const rows = await lake.query(`SELECT CAST(id AS VARCHAR) AS id, n FROM read_parquet('${lake.paths.bronze}/shop/big/**/*.parquet') ORDER BY n`);
    expect(rows).toEqual([
      { id: '3', n: 1.5 },
      { id: '1234567890123456789', n: 5 },
    ]);
    const [q] = quarantined(lake.paths.root, 'shop', 'big', result.runId);
    expect(q!.record).toEqual({ id: '2', n: '12345678901234567890' });
  });
});

describe('csvSource with a schema naming a column the file does not have', () => {
  it('an optional field absent from the file is NULL, not a read error', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'c.csv'), 'id,name\n1,ana\n');
    const lake = await tempLake();
    const schema = z.object({ id: z.number().int(), name: z.string(), email: z.string().nullable().optional() });
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'one', path: path.join(dir, 'c.csv'), schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1 });
  });
});

describe('csvSource over a glob: names checked over every file', () => {
  it('a column whose name differs only in case between two files is refused, naming both files', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a-1.csv'), 'id,name\n1,ana\n');
    fs.writeFileSync(path.join(dir, 'a-2.csv'), 'ID,name\n2,bia\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'cased', glob: path.join(dir, '*.csv') }));
    expect(result.sources[0]!.status).toBe('failed');
    expect(result.sources[0]!.error).toContain(`fields "id" and "ID" of ${path.join(dir, 'a-1.csv')} and ${path.join(dir, 'a-2.csv')} differ only in case`);
  });
});

describe('jsonSource: a file holding one pretty-printed object (an API dump, JSON.stringify(o, null, 2))', () => {
  it('is one record, not one quarantined "invalid JSON" line per line of the object', async () => {
    const dir = tempDir();
    const pedido = { id: 9007199254740993n, cliente: { nome: 'João', cidade: 'São Paulo' }, total: 1234.56 };
    const text = JSON.stringify({ ...pedido, id: 0 }, null, 2).replace('"id": 0', `"id": ${pedido.id}`);
    fs.writeFileSync(path.join(dir, 'pedido.json'), `\n${text}\n`);
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'erp', dataset: 'pedido', path: path.join(dir, 'pedido.json') }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 1, rejected: 0 });
    const rows = await lake.query(`SELECT CAST(id AS VARCHAR) AS id, cliente->>'nome' AS nome, total FROM read_parquet('${lake.paths.bronze}/erp/pedido/**/*.parquet')`);
    expect(rows).toEqual([{ id: '9007199254740993', nome: 'João', total: 1234.56 }]);
  });

  it('a schema rejecting it quarantines it once, with the line it starts on; a broken one still goes line by line', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.json'), '\n\n{\n  "id": "x"\n}\n');
    fs.writeFileSync(path.join(dir, 'b.json'), '{\n  "id": 2,\n');
    const lake = await tempLake();
    const result = await lake.extract(jsonSource({ source: 'erp', dataset: 'pedido', glob: path.join(dir, '*.json'), schema: z.object({ id: z.number() }) }));
    expect(result.sources[0]).toMatchObject({ rows: 0, rejected: 3 });
    const q = quarantined(lake.paths.root, 'erp', 'pedido', result.runId);
    expect(q.map((e) => [path.basename(String(e.file)), e.line])).toEqual([
      ['a.json', 3],
      ['b.json', 1],
      ['b.json', 2],
    ]);
  });
});

/** An AppleDouble file as macOS writes `._<name>` beside every file on a USB stick or SMB share: binary, no CSV or JSON. */
function appleDouble(): Buffer {
  const header = Buffer.alloc(82);
  header.writeUInt32BE(0x00051607, 0); // AppleDouble magic
  header.writeUInt32BE(0x00020000, 4); // version 2
  header.write('Mac OS X        ', 8, 'latin1');
  header.writeUInt16BE(2, 24); // two entries
  return Buffer.concat([header, Buffer.from([0x00, 0xff, 0x0a, 0x2c, 0x22, 0x7b, 0x80, 0x0d, 0x00, 0x01]), Buffer.from('ATTR\u0000\u0000com.apple.quarantine\u0000q/0081;', 'latin1')]);
}

describe('file globs skip dotfiles (macOS AppleDouble ._ files, lock files), as bash, fast-glob and Python do', () => {
  it('csvSource: *.csv reads orders.csv and not the ._orders.csv beside it: nothing quarantined, the source a success', async () => {
    const dir = tempDir();
    const exports = path.join(dir, 'exports');
    fs.mkdirSync(exports);
    fs.writeFileSync(path.join(exports, 'orders.csv'), 'id,total\n1,9.5\n2,12\n');
    fs.writeFileSync(path.join(exports, '._orders.csv'), appleDouble());
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'orders', glob: path.join(exports, '*.csv') }));
    expect(result.sources[0], JSON.stringify(result.sources[0])).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    expect(quarantined(lake.paths.root, 'shop', 'orders', result.runId)).toEqual([]);
    expect((await lake.bronze('shop/orders')).map((r) => r.id).sort()).toEqual([1, 2]);
  });

  it('jsonSource: neither * nor ? nor ** match a leading dot (._a.ndjson, a .Trashes folder, a .~lock file); a pattern segment starting with "." does', async () => {
    const dir = tempDir();
    const inbox = path.join(dir, 'in');
    fs.mkdirSync(path.join(inbox, '2026'), { recursive: true });
    fs.mkdirSync(path.join(inbox, '.Trashes', '501'), { recursive: true });
    fs.writeFileSync(path.join(inbox, 'a.ndjson'), '{"id":1}\n');
    fs.writeFileSync(path.join(inbox, '2026', 'b.ndjson'), '{"id":2}\n');
    fs.writeFileSync(path.join(inbox, '._a.ndjson'), appleDouble());
    fs.writeFileSync(path.join(inbox, '2026', '._b.ndjson'), appleDouble());
    fs.writeFileSync(path.join(inbox, '.Trashes', '501', 'old.ndjson'), '{"id":99}\n');
    fs.writeFileSync(path.join(inbox, '.~lock.a.ndjson#'), 'helper,host,1;\n');
    fs.writeFileSync(path.join(inbox, '.hidden.ndjson'), '{"id":3}\n');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'deep', glob: path.join(inbox, '**', '*.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'any', glob: path.join(inbox, '*') }),
      jsonSource({ source: 'shop', dataset: 'one', glob: path.join(inbox, '?a.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'dotted', glob: path.join(inbox, '.h*.ndjson') }),
    ]);
    const [deep, any, one, dotted] = result.sources;
    expect(deep, JSON.stringify(deep)).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    expect((await lake.bronze('shop/deep')).map((r) => r.id).sort()).toEqual([1, 2]);
    expect(any, JSON.stringify(any)).toMatchObject({ status: 'success', rows: 1, rejected: 0 });
    expect((await lake.bronze('shop/any')).map((r) => r.id)).toEqual([1]);
    // `?a.ndjson` would match `._a.ndjson` only through its leading dot: no file matches.
    expect(one!.status).toBe('failed');
    expect(one!.error).toMatch(/no file matches/);
    expect(dotted, JSON.stringify(dotted)).toMatchObject({ status: 'success', rows: 1 });
    expect((await lake.bronze('shop/dotted')).map((r) => r.id)).toEqual([3]);
    for (const dataset of ['deep', 'any', 'dotted']) expect(quarantined(lake.paths.root, 'shop', dataset, result.runId), dataset).toEqual([]);
  });
});

describe('file globs with braces: {a,b} alternatives (as dlt, fsspec and bash write them)', () => {
  it('csvSource: {orders,payments}-*.csv reads those files, not refunds-*.csv; a file two alternatives match is read once', async () => {
    const dir = tempDir();
    const exports = path.join(dir, 'exports');
    fs.mkdirSync(exports);
    fs.writeFileSync(path.join(exports, 'orders-2026-01.csv'), 'id,amount\n1,10\n2,20\n');
    fs.writeFileSync(path.join(exports, 'payments-2026-01.csv'), 'id,amount\n3,30\n');
    fs.writeFileSync(path.join(exports, 'refunds-2026-01.csv'), 'id,amount\n4,-10\n');
    const lake = await tempLake();
    const result = await lake.extract([
      csvSource({ source: 'shop', dataset: 'money', glob: path.join(exports, '{orders,payments}-*.csv') }),
      csvSource({ source: 'shop', dataset: 'twice', glob: path.join(exports, '{orders-*,*-2026-01}.csv') }),
      jsonSource({ source: 'shop', dataset: 'none', glob: path.join(exports, '{orders,payments}-*.ndjson') }),
    ]);
    const [money, twice, none] = result.sources;
    expect(money, JSON.stringify(money)).toMatchObject({ status: 'success', rows: 3, rejected: 0 });
    expect((await lake.bronze('shop/money')).map((r) => r.id).sort()).toEqual([1, 2, 3]);
    expect(twice, JSON.stringify(twice)).toMatchObject({ status: 'success', rows: 4, rejected: 0 });
    expect((await lake.bronze('shop/twice')).map((r) => r.id).sort()).toEqual([1, 2, 3, 4]);
    // A brace glob matching nothing fails the source naming the pattern as given, as any empty glob does.
    expect(none!.status).toBe('failed');
    expect(none!.error).toContain(`no file matches ${JSON.stringify(path.join(exports, '{orders,payments}-*.ndjson'))}`);
  });

  it('jsonSource: alternatives may hold folders and wildcards; {x} without a comma and an unclosed { are literal', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'shop'));
    fs.mkdirSync(path.join(dir, 'erp', 'daily'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'shop', 'orders.ndjson'), '{"id":1}\n');
    fs.writeFileSync(path.join(dir, 'erp', 'daily', 'pedidos-1.ndjson'), '{"id":2}\n');
    fs.writeFileSync(path.join(dir, 'erp', 'other.ndjson'), '{"id":99}\n');
    fs.writeFileSync(path.join(dir, '{x}.ndjson'), '{"id":5}\n');
    fs.writeFileSync(path.join(dir, '{y.ndjson'), '{"id":6}\n');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'both', glob: path.join(dir, '{shop/*,erp/daily/pedidos-?}.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'literal', glob: path.join(dir, '{x}.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'unclosed', glob: path.join(dir, '{y.*') }),
    ]);
    expect(result.sources.map((s) => s.status), JSON.stringify(result.sources)).toEqual(['success', 'success', 'success']);
    expect((await lake.bronze('shop/both')).map((r) => r.id).sort()).toEqual([1, 2]);
    expect((await lake.bronze('shop/literal')).map((r) => r.id)).toEqual([5]);
    expect((await lake.bronze('shop/unclosed')).map((r) => r.id)).toEqual([6]);
  });
});

describe('file globs with [!…] classes (as bash, fast-glob and Python\'s fnmatch read them)', () => {
  it('jsonSource: [!abc] and [^abc] are any one character but a, b, c; never a "/" nor a leading "."', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'x'));
    fs.writeFileSync(path.join(dir, 'a1.ndjson'), '{"id":1}\n');
    fs.writeFileSync(path.join(dir, 'd1.ndjson'), '{"id":2}\n');
    fs.writeFileSync(path.join(dir, '!1.ndjson'), '{"id":3}\n');
    fs.writeFileSync(path.join(dir, '.1.ndjson'), '{"id":98}\n');
    fs.writeFileSync(path.join(dir, 'x', '1.ndjson'), '{"id":99}\n');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'bang', glob: path.join(dir, '[!abc]1.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'caret', glob: path.join(dir, '[^abc]1.ndjson') }),
      jsonSource({ source: 'shop', dataset: 'slash', glob: path.join(dir, 'x[!a]1.ndjson') }),
    ]);
    const [bang, caret, slash] = result.sources;
    for (const [s, dataset] of [[bang!, 'bang'], [caret!, 'caret']] as const) {
      expect(s, JSON.stringify(s)).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
      expect((await lake.bronze(`shop/${dataset}`)).map((r) => r.id).sort(), dataset).toEqual([2, 3]);
    }
    // x/1.ndjson would match only through the class matching its '/'.
    expect(slash!.status).toBe('failed');
    expect(slash!.error).toMatch(/no file matches/);
  });
});

describe('file globs with regex metacharacters and an unclosed [ (as bash reads them)', () => {
  it('jsonSource: ( ) | + ^ $ \\ ] and an unclosed [ are literal; a reversed range matches nothing; none is a regex SyntaxError', async () => {
    const dir = tempDir();
    const files: [string, number][] = [
      ['a(1).ndjson', 1], ['a|b.ndjson', 2], ['a+b.ndjson', 3], ['^a$.ndjson', 4], ['a\\b.ndjson', 5], ['[x.ndjson', 6], ['x].ndjson', 7],
      // What the patterns would match read as regexes (a+b, a|b, a(1), [x…) or with their metacharacters dropped.
      ['ab.ndjson', 8], ['aab.ndjson', 9], ['a1.ndjson', 10], ['x.ndjson', 11], ['b.ndjson', 12], ['a.ndjson', 13], ['ab.ndjson.bak', 14],
    ];
    for (const [name, id] of files) fs.writeFileSync(path.join(dir, name), `{"id":${id}}\n`);
    const cases: [string, number[]][] = [
      ['a(1).ndjson', [1]],
      ['a|b.ndjson', [2]],
      ['a+b.ndjson', [3]],
      ['^a$.ndjson', [4]],
      ['a\\b.ndjson', [5]],
      ['[x.ndjson', [6]],
      ['[*.ndjson', [6]],
      ['x].ndjson', [7]],
      ['a[+|]b.ndjson', [2, 3]],
      ['a[(]1).ndjson', [1]],
      ['[z-a]*.ndjson', []],
    ];
    const lake = await tempLake();
    const result = await lake.extract(cases.map(([glob], i) => jsonSource({ source: 'shop', dataset: `p${i}`, glob: path.join(dir, glob) })));
    for (const [i, [glob, ids]] of cases.entries()) {
      const s = result.sources[i]!;
      expect(s.error ?? '', glob).not.toMatch(/SyntaxError|regular expression/i);
      if (ids.length === 0) {
        expect(s.status, glob).toBe('failed');
        expect(s.error, glob).toContain(`no file matches ${JSON.stringify(path.join(dir, glob))}`);
      } else {
        expect(s, glob).toMatchObject({ status: 'success', rows: ids.length, rejected: 0 });
        expect((await lake.bronze(`shop/p${i}`)).map((r) => r.id).sort(), glob).toEqual(ids);
      }
    }
  });
});

describe('file globs ending in ** (exports/**), as fast-glob reads them', () => {
  it('jsonSource: reads every file below, at any depth, but no dotfile or file in a dot folder', async () => {
    const dir = tempDir();
    const inbox = path.join(dir, 'in');
    fs.mkdirSync(path.join(inbox, '2026', '01'), { recursive: true });
    fs.mkdirSync(path.join(inbox, '.git'));
    fs.mkdirSync(path.join(inbox, '2026', '.hidden'));
    fs.writeFileSync(path.join(inbox, 'a.ndjson'), '{"id":1}\n');
    fs.writeFileSync(path.join(inbox, '2026', 'b.ndjson'), '{"id":2}\n');
    fs.writeFileSync(path.join(inbox, '2026', '01', 'c.ndjson'), '{"id":3}\n');
    fs.writeFileSync(path.join(inbox, '._a.ndjson'), appleDouble());
    fs.writeFileSync(path.join(inbox, '2026', '01', '._c.ndjson'), appleDouble());
    fs.writeFileSync(path.join(inbox, '.git', 'x.ndjson'), '{"id":98}\n');
    fs.writeFileSync(path.join(inbox, '2026', '.hidden', 'y.ndjson'), '{"id":99}\n');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'all', glob: path.join(inbox, '**') }),
      jsonSource({ source: 'shop', dataset: 'year', glob: path.join(inbox, '2026', '**') }),
    ]);
    const [all, year] = result.sources;
    expect(all, JSON.stringify(all)).toMatchObject({ status: 'success', rows: 3, rejected: 0 });
    expect((await lake.bronze('shop/all')).map((r) => r.id).sort()).toEqual([1, 2, 3]);
    expect(year, JSON.stringify(year)).toMatchObject({ status: 'success', rows: 2, rejected: 0 });
    expect((await lake.bronze('shop/year')).map((r) => r.id).sort()).toEqual([2, 3]);
  });
});

describe('file globs with many brace groups', () => {
  it('more than 1,000 alternatives fail the source naming the glob; 1,000 are read', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'aaaaaaaaaaa.ndjson'), '{"id":1}\n');
    fs.writeFileSync(path.join(dir, '123.ndjson'), '{"id":2}\n');
    const digit = '{0,1,2,3,4,5,6,7,8,9}';
    const many = path.join(dir, `${'{a,b}'.repeat(11)}.ndjson`); // 2,048 alternatives
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'many', glob: many }),
      jsonSource({ source: 'shop', dataset: 'thousand', glob: path.join(dir, `${digit.repeat(3)}.ndjson`) }),
      // 2^40 alternatives: refused as soon as the count passes 1,000, never built.
      jsonSource({ source: 'shop', dataset: 'bomb', glob: path.join(dir, `${'{a,b}'.repeat(40)}.ndjson`) }),
    ]);
    const [tooMany, thousand, bomb] = result.sources;
    expect(bomb, JSON.stringify(bomb)).toMatchObject({ status: 'failed', rows: 0 });
    expect(bomb!.error).toMatch(/more than 1,000 (brace )?alternatives/);
    expect(tooMany, JSON.stringify(tooMany)).toMatchObject({ status: 'failed', rows: 0 });
    expect(tooMany!.error).toContain(`glob ${JSON.stringify(many)}`);
    expect(tooMany!.error).toMatch(/more than 1,000 (brace )?alternatives/);
    expect(thousand, JSON.stringify(thousand)).toMatchObject({ status: 'success', rows: 1 });
    expect((await lake.bronze('shop/thousand')).map((r) => r.id)).toEqual([2]);
  });
});

describe('a relative glob read from a working folder whose name holds [ ] or { , }', () => {
  it('the working folder is a path, not part of the pattern: exports/*.ndjson from "Clients [BR]/" or "{old,new} exports/" reads its files', async () => {
    const dir = tempDir();
    const projects = [path.join(dir, 'Clients [BR]', 'shop'), path.join(dir, '{old,new} exports', 'shop')];
    for (const project of projects) {
      fs.mkdirSync(path.join(project, 'exports'), { recursive: true });
      fs.writeFileSync(path.join(project, 'exports', 'orders.ndjson'), '{"id":1}\n{"id":2}\n');
    }
    const lake = await tempLake();
    const was = process.cwd();
    const results = [];
    try {
      for (const project of projects) {
        process.chdir(project);
        results.push((await lake.extract(jsonSource({ source: 'shop', dataset: 'orders', glob: 'exports/*.ndjson' }))).sources[0]!);
      }
    } finally {
      process.chdir(was);
    }
    for (const r of results) expect(r, JSON.stringify(r)).toMatchObject({ status: 'success', rows: 2, files: 1 });
  });
});

describe('a glob over a folder holding a dot folder it cannot read (macOS .Spotlight-V100 on a volume)', () => {
  it('**/*.ndjson reads the files and never opens the dot folder, which no wildcard matches (was: EACCES, the source failed)', () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const volume = path.join(dir, 'USB');
    fs.mkdirSync(path.join(volume, 'exports'), { recursive: true });
    fs.writeFileSync(path.join(volume, 'exports', 'orders.ndjson'), '{"id":1}\n{"id":2}\n');
    // As on a Mac volume: root's own, no one else may list it. Empty, so the cleanup can remove it.
    fs.mkdirSync(path.join(volume, '.Spotlight-V100'), { mode: 0o700 });
    const root = path.join(dir, 'lake');
    fs.mkdirSync(root);
    // Root reads any folder: the extract then runs as nobody; anyone else cannot read a 000 folder.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) fs.chownSync(root, 65534, 65534);
    else fs.chmodSync(path.join(volume, '.Spotlight-V100'), 0o000);
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'helpers', 'child-glob.ts'), root, path.join(volume, '**', '*.ndjson')], {
      cwd: path.join(__dirname, '..', '..'),
      encoding: 'utf8',
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    if (!asRoot) fs.chmodSync(path.join(volume, '.Spotlight-V100'), 0o700);
    expect(child.status, child.stderr).toBe(0);
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
    expect(result, child.stdout).toMatchObject({ status: 'success', rows: 2, files: 1 });
  }, 60_000);
});
