import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvSource, jsonSource } from '../../src/extract/file-source.js';
import { z } from '../../src/index.js';
import { quarantined } from '../helpers/quarantine.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

function bronze(lake: { paths: { bronze: string } }, s: string, d: string): string {
  return `read_parquet('${lake.paths.bronze}/${s}/${d}/**/*.parquet', hive_partitioning = true, union_by_name = true)`;
}


describe('csvSource', () => {
  it('infers and records types without a schema, and quarantines ragged and malformed rows with their line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'orders.csv');
    fs.writeFileSync(
      file,
      [
        'order_id,customer_id,price,paid,purchased_at,note',
        'o1,c1,10.50,true,2024-01-01 10:00:00,"hello, world"',
        'o2,c2,5.00,false,2024-01-02 11:30:00,"say ""hi"""',
        'o3,c3,7.25,true,2024-01-03 09:00:00',
        'o4,c4,1.00,true,2024-01-04 08:00:00,a,b,c',
        'o5,c5,2.00,false,2024-01-05 08:00:00,',
      ].join('\n') + '\n',
    );
    const lake = await tempLake();
    const result = await lake.extract([csvSource({ source: 'shop', dataset: 'orders', path: file })]);
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 2 });
    const rows = await lake.query(`SELECT order_id, price, paid, purchased_at, note FROM ${bronze(lake, 'shop', 'orders')} ORDER BY order_id`);
    expect(rows).toEqual([
      { order_id: 'o1', price: 10.5, paid: true, purchased_at: '2024-01-01 10:00:00', note: 'hello, world' },
      { order_id: 'o2', price: 5, paid: false, purchased_at: '2024-01-02 11:30:00', note: 'say "hi"' },
      { order_id: 'o5', price: 2, paid: false, purchased_at: '2024-01-05 08:00:00', note: null },
    ]);
    const q = quarantined(lake.paths.root, 'shop', 'orders', result.runId);
    expect(q.map((e) => e.line)).toEqual([4, 5]);
    expect((q[0]!.reasons as { message: string }[])[0]!.message).toMatch(/MISSING COLUMNS/);
    expect((q[1]!.reasons as { message: string }[])[0]!.message).toMatch(/TOO MANY COLUMNS/);
    expect(q[1]!.record).toBe('o4,c4,1.00,true,2024-01-04 08:00:00,a,b,c');
    const recorded = JSON.parse(fs.readFileSync(path.join(lake.paths.state, 'schemas', 'shop.orders.inferred.json'), 'utf8'));
    expect(recorded.columns.map((c: { name: string }) => c.name)).toEqual(['order_id', 'customer_id', 'price', 'paid', 'purchased_at', 'note']);
  });

  it('parses with the schema types: a value that is not a number is quarantined; zod rules apply', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'items.csv');
    fs.writeFileSync(file, 'sku;price;qty\nA;1,5;2\nB;abc;1\nC;-3;1\nD;4;x\n'.replace(/1,5/, '1.5'));
    const lake = await tempLake();
    const result = await lake.extract([
      csvSource({
        source: 'shop',
        dataset: 'items',
        path: file,
        csv: { delimiter: ';' },
        schema: z.object({ sku: z.string(), price: z.number().positive(), qty: z.number().int() }),
      }),
    ]);
    expect(result.sources[0]).toMatchObject({ rows: 1, rejected: 3 });
    expect(await lake.query(`SELECT sku, price, qty FROM ${bronze(lake, 'shop', 'items')}`)).toEqual([{ sku: 'A', price: 1.5, qty: 2 }]);
    const q = quarantined(lake.paths.root, 'shop', 'items', result.runId);
    const byLine = Object.fromEntries(q.filter((e) => e.line).map((e) => [e.line, e]));
    expect(Object.keys(byLine).map(Number).sort()).toEqual([3, 4, 5]);
    // Rejected by zod (price not positive), not by DuckDB: with its file and line all the same.
    expect(byLine[4]).toMatchObject({ file, record: { sku: 'C', price: -3 } });
  });

  it('a fraction in a schema integer field (z.number().int(), z.bigint()) is quarantined as zod would, not stored rounded by DuckDB\'s cast (2.7 as 3)', async () => {
    const file = path.join(tempDir(), 'items.csv');
    fs.writeFileSync(file, 'sku,qty,stock\nA,2.7,1\nB,3,1.5\nC, 4 ,98765432109876543210\nD,-1,+7\n');
    const lake = await tempLake();
    const schema = z.object({ sku: z.string(), qty: z.number().int(), stock: z.bigint() });
    const result = await lake.extract(csvSource({ source: 'shop', dataset: 'items', path: file, schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 2, rejected: 2 });
    expect(await lake.query(`SELECT sku, qty, stock::VARCHAR AS stock FROM ${bronze(lake, 'shop', 'items')} ORDER BY sku`)).toEqual([
      { sku: 'C', qty: 4, stock: '98765432109876543210' },
      { sku: 'D', qty: -1, stock: '7' },
    ]);
    const q = quarantined(lake.paths.root, 'shop', 'items', result.runId);
    expect(q.map((e) => [e.line, e.reasons[0]!.path])).toEqual([
      [2, 'qty'],
      [3, 'stock'],
    ]);
  });

  it('refuses bad options naming the field', () => {
    expect(() => csvSource({ source: 'a', dataset: 'b' })).toThrow(/exactly one of "path" or "glob"/);
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { delim: ',' } } as never)).toThrow(/unknown option "csv.delim"/);
  });

  it('refuses a NUL in the CSV dialect naming the option (the source failed with "a SQL literal cannot contain a NUL character")', () => {
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { delimiter: '\u0000' } })).toThrow(/option "csv.delimiter" must not hold a NUL character/);
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { quote: '\u0000' } })).toThrow(/option "csv.quote" must not hold a NUL character/);
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { escape: '\u0000' } })).toThrow(/option "csv.escape" must not hold a NUL character/);
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { nullStr: ['NA', '\u0000'] } })).toThrow(/option "csv.nullStr.1" must not hold a NUL character/);
  });

  it('fails the source (not the run) when the file is missing', async () => {
    const lake = await tempLake();
    const result = await lake.extract([csvSource({ source: 'a', dataset: 'b', path: '/nonexistent/file.csv' })]);
    expect(result.sources[0]).toMatchObject({ status: 'failed', rows: 0 });
    expect(result.sources[0]!.error).toMatch(/nonexistent\/file.csv" does not exist/);
  });
});

describe('jsonSource', () => {
  it('reads NDJSON, quarantines a broken line with its number, and infers nested values as JSON', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.ndjson');
    fs.writeFileSync(file, ['{"id":1,"name":"a","tags":["x"],"score":1}', '{"id":2,"name":"b","score":2.5}', '{"id":3,', '', '{"id":4,"name":null}'].join('\n'));
    const lake = await tempLake();
    const result = await lake.extract([jsonSource({ source: 'shop', dataset: 'customers', path: file })]);
    expect(result.sources[0]).toMatchObject({ rows: 3, rejected: 1 });
    const q = quarantined(lake.paths.root, 'shop', 'customers', result.runId);
    expect(q).toEqual([expect.objectContaining({ line: 3, record: '{"id":3,' })]);
    const rows = await lake.query(`SELECT id, name, score, tags FROM ${bronze(lake, 'shop', 'customers')} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, name: 'a', score: 1, tags: '["x"]' },
      { id: 2, name: 'b', score: 2.5, tags: null },
      { id: 4, name: null, score: null, tags: null },
    ]);
  });

  it('reads a JSON array with a schema and a glob over several files', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'in', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'in', 'a.json'), JSON.stringify([{ id: 1, at: '2026-01-01T00:00:00-03:00' }]));
    fs.writeFileSync(path.join(dir, 'in', 'sub', 'b.json'), JSON.stringify([{ id: 2, at: '2026-01-02T00:00:00Z' }, { id: 'x' }]));
    fs.writeFileSync(path.join(dir, 'in', 'ignored.txt'), 'nope');
    const lake = await tempLake();
    const result = await lake.extract([
      jsonSource({ source: 'shop', dataset: 'events', glob: path.join(dir, 'in', '**', '*.json'), schema: z.object({ id: z.number().int(), at: z.iso.datetime({ offset: true }) }) }),
    ]);
    expect(result.sources[0]).toMatchObject({ rows: 2, rejected: 1 });
    const rows = await lake.query(`SELECT id, "at" FROM ${bronze(lake, 'shop', 'events')} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, at: new Date('2026-01-01T03:00:00Z') },
      { id: 2, at: new Date('2026-01-02T00:00:00Z') },
    ]);
  });
});

describe('csvSource: a decimal comma (csv: { decimal: "," }), as Brazilian ERPs and Excel pt-BR export', () => {
  const pedidos = 'pedido;valor;frete;cep\nP1;1.234,56;1.500;01310\nP2;10,50;12,00;20040\nP3;-7;0,5;30130\n';

  it('a schema number field reads 1.234,56 as 1234.56 and 1.500 as 1500; a value that is no such number is quarantined with its text', async () => {
    const file = path.join(tempDir(), 'pedidos.csv');
    fs.writeFileSync(file, `${pedidos}P4;1,234.56;1;40000\n`);
    const lake = await tempLake();
    const schema = z.object({ pedido: z.string(), valor: z.number(), frete: z.number(), cep: z.string() });
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'pedidos', path: file, csv: { delimiter: ';', decimal: ',' }, schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 1 });
    expect(await lake.query(`SELECT pedido, valor, frete, cep FROM ${bronze(lake, 'erp', 'pedidos')} ORDER BY pedido`)).toEqual([
      { pedido: 'P1', valor: 1234.56, frete: 1500, cep: '01310' },
      { pedido: 'P2', valor: 10.5, frete: 12, cep: '20040' },
      { pedido: 'P3', valor: -7, frete: 0.5, cep: '30130' },
    ]);
    const q = quarantined(lake.paths.root, 'erp', 'pedidos', result.runId);
    expect(q).toMatchObject([{ line: 5, record: { pedido: 'P4', valor: '1,234.56' } }]);
  });

  it('a schema integer field (z.number().int(), z.bigint()) reads 1.500 as 1500, not DuckDB\'s 1.5 rounded to 2; a fraction is quarantined with its text', async () => {
    const file = path.join(tempDir(), 'itens.csv');
    fs.writeFileSync(file, 'item;qtd;estoque\nI1;1.500;12.345.678.901.234.567.890\nI2;2;7\nI3;3,000;1\nI4;1,5;1\n');
    const lake = await tempLake();
    const schema = z.object({ item: z.string(), qtd: z.number().int(), estoque: z.bigint() });
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'itens', path: file, csv: { delimiter: ';', decimal: ',' }, schema }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 1 });
    expect(await lake.query(`SELECT item, qtd, estoque::VARCHAR AS estoque FROM ${bronze(lake, 'erp', 'itens')} ORDER BY item`)).toEqual([
      { item: 'I1', qtd: 1500, estoque: '12345678901234567890' },
      { item: 'I2', qtd: 2, estoque: '7' },
      { item: 'I3', qtd: 3, estoque: '1' },
    ]);
    const q = quarantined(lake.paths.root, 'erp', 'itens', result.runId);
    expect(q).toMatchObject([{ line: 5, record: { item: 'I4', qtd: '1,5' } }]);
  });

  it('without a schema, such columns are inferred and recorded as DOUBLE (1.500 is 1500, not 1.5); a column of digit codes stays text', async () => {
    const file = path.join(tempDir(), 'pedidos.csv');
    fs.writeFileSync(file, pedidos);
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'pedidos', path: file, csv: { delimiter: ';', decimal: ',' } }));
    expect(result.sources[0]).toMatchObject({ status: 'success', rows: 3, rejected: 0 });
    expect(await lake.query(`SELECT pedido, valor, frete, cep FROM ${bronze(lake, 'erp', 'pedidos')} ORDER BY pedido`)).toEqual([
      { pedido: 'P1', valor: 1234.56, frete: 1500, cep: '01310' },
      { pedido: 'P2', valor: 10.5, frete: 12, cep: '20040' },
      { pedido: 'P3', valor: -7, frete: 0.5, cep: '30130' },
    ]);
    const recorded = JSON.parse(fs.readFileSync(path.join(lake.paths.state, 'schemas', 'erp.pedidos.inferred.json'), 'utf8'));
    expect(recorded.columns).toEqual([
      { name: 'pedido', type: 'VARCHAR' },
      { name: 'valor', type: 'DOUBLE' },
      { name: 'frete', type: 'DOUBLE' },
      { name: 'cep', type: 'VARCHAR' },
    ]);
  });

  it('without the option, a column of 1.500-like values (read as 1.5) is named in a warning that points to it; an ordinary decimal column is not', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'pedidos.csv'), 'pedido;valor;peso\nP1;1.500;1.5\nP2;12.345;0.25\nP3;7;2\n');
    const lake = await tempLake();
    const result = await lake.extract(csvSource({ source: 'erp', dataset: 'pedidos', path: path.join(dir, 'pedidos.csv') }));
    const s = result.sources[0]!;
    expect(s).toMatchObject({ status: 'success', rows: 3 });
    expect(s.warnings ?? []).toHaveLength(1);
    expect(s.warnings![0]).toContain('"valor"');
    expect(s.warnings![0]).toContain(path.join(dir, 'pedidos.csv'));
    expect(s.warnings![0]).toContain("csv: { decimal: ',' }");
  });

  it('refuses a decimal comma with a comma delimiter, naming the option', () => {
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { delimiter: ',', decimal: ',' } })).toThrow(/option "csv.decimal" must not be ","/);
    expect(() => csvSource({ source: 'a', dataset: 'b', path: 'x.csv', csv: { decimal: ';' } } as never)).toThrow(/csv.decimal/);
  });
});
