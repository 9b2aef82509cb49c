/**
 * README.md as a user reads it: its TypeScript blocks type-check against the public surface,
 * every CLI option is in its command's row of the CLI table, every runtime export is named.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as duckhouse from '../../src/index.js';
import { buildProgram } from '../../src/cli.js';
import { limitsSchema, openOptionsSchema, qualitySchema } from '../../src/config.js';
import { reportOptionsSchema } from '../../src/report/report.js';
import { discoverProject } from '../../src/transform/project.js';
import { selectForTest, selectNodes } from '../../src/transform/select.js';
import { tempDir } from '../helpers/temp-lake.js';
import { projectLake } from '../helpers/models.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');

describe('README', () => {
  it("names every option of every CLI command in that command's row of the CLI table", () => {
    const rows = new Map<string, string>();
    for (const m of readme.matchAll(/^\| `([a-z-]+)( [^`]*)?` \|/gm)) rows.set(m[1]!, m[0]);
    const missing: string[] = [];
    for (const command of buildProgram(() => undefined).commands) {
      const row = rows.get(command.name());
      if (row === undefined) {
        missing.push(command.name());
        continue;
      }
      for (const option of command.options) if (!row.includes(option.long!) && !(option.short && row.includes(`${option.short} `))) missing.push(`${command.name()} ${option.long}`);
    }
    expect(missing).toEqual([]);
  });

  it('names every option of Lakehouse.open and of every lake method', () => {
    const named = (key: string) => readme.includes(`\`${key}\``) || readme.includes(`${key}: `) || readme.includes(`.${key}\``) || new RegExp(`[{,] ${key}\\??[,}]? `).test(readme);
    const keys = [openOptionsSchema, limitsSchema, qualitySchema, reportOptionsSchema].flatMap((s) => Object.keys(s.shape));
    // The lake methods check their option keys by name (checkOptionKeys) or with a strict schema.
    const lakehouse = fs.readFileSync(path.join(repo, 'src', 'lakehouse.ts'), 'utf8');
    for (const m of lakehouse.matchAll(/checkOptionKeys\(options, \[([^\]]*)\]/g)) keys.push(...[...m[1]!.matchAll(/'(\w+)'/g)].map((k) => k[1]!));
    // So do Lakehouse.open's nested options and defineSource's.
    for (const file of ['config.ts', 'extract/source.ts']) {
      const text = fs.readFileSync(path.join(repo, 'src', file), 'utf8');
      for (const m of text.matchAll(/^ {2}(\w+): z\./gm)) keys.push(m[1]!);
    }
    // And the option schemas of csvSource's `csv` and of the connectors, whose keys are lines of their own.
    // Observed: vtexCatalog's treeDepth, generateShopDataset's startDate and dirtyShare, csv's quote,
    // escape, nullStr and skip were in no line of the README.
    const schemaKeys = (file: string, name: string) => {
      const text = fs.readFileSync(path.join(repo, 'src', file), 'utf8');
      const start = text.indexOf(`const ${name} = `);
      if (start < 0) throw new Error(`${file} has no ${name}`);
      return [...text.slice(start, text.indexOf('\n}', start)).matchAll(/^ {2}(\w+):/gm)].map((m) => m[1]!);
    };
    for (const [file, name] of [
      ['extract/file-source.ts', 'csvOptionsSchema'],
      ['connectors/vtex/catalog.ts', 'optionsSchema'],
      ['connectors/mercadolivre/orders.ts', 'optionsSchema'],
      ['connectors/mercadolivre/common.ts', 'mlAuthSchema'],
      ['connectors/mercadolivre/common.ts', 'mlCommonFields'],
      ['connectors/shop/generate.ts', 'optionsSchema'],
    ] as const) {
      const found = schemaKeys(file, name);
      expect(found.length, `${file} ${name}`).toBeGreaterThan(2);
      keys.push(...found);
    }
    expect([...new Set(keys)].filter((k) => !named(k))).toEqual([]);
  });

  it("connectors table: each Mercado Livre marketplace dataset is listed with its partitions", () => {
    const auth = { clientId: 'app', clientSecret: 'secret', refreshToken: 'TG-1' };
    const row = readme.split('\n').find((l) => l.startsWith('| `mercadoLivreSeller`'))!;
    const sources = [
      duckhouse.mercadoLivreSeller({ sellerId: 1, auth }),
      duckhouse.mercadoLivreSearch({ site: 'MLB', query: 'x', auth }),
      duckhouse.mercadoLivreReviews({ itemIds: ['MLB1'], auth }),
      duckhouse.mercadoLivreTrends({ site: 'MLB', auth }),
    ];
    const listed = sources.map((s) => [s.dataset, s.partitionKeys.map((k) => k.name)] as const);
    // Observed: `trends` is partitioned by site= like `search`, but the row gave only search its `site=`.
    for (const [dataset, keys] of listed) {
      const entry = new RegExp(`\`${dataset}\`( \\(([^)]*)\\))?`).exec(row);
      expect(entry, dataset).not.toBeNull();
      expect([dataset, [...(entry![2] ?? '').matchAll(/`(\w+)=`/g)].map((m) => m[1])]).toEqual([dataset, keys]);
    }
  });

  it("bronze lifecycle: the vtex/products partition paths it shows follow that dataset's folders (a path filter is a prefix of them)", () => {
    const block = /```ts\n(const c = await lake\.compact\(\{ source: 'vtex'[\s\S]*?)```/.exec(readme)![1]!;
    const folders = [...duckhouse.vtexCatalog({ store: 'bistek', baseUrl: 'http://127.0.0.1:1' }).partitionKeys.map((k) => k.name), 'year', 'month', 'day'];
    const paths = [...block.matchAll(/'((?:[a-z_]+=[^/']*\/)*[a-z_]+=[^/']*)'/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(1);
    // Observed: 'store=bistek/year=2026' left out region=, so the compaction it shows matched no partition (a warning, nothing merged).
    const wrong = paths.filter((p) => {
      const keys = p.split('/').map((seg) => seg.slice(0, seg.indexOf('=')));
      return keys.some((k, i) => k !== folders[i]);
    });
    expect(wrong).toEqual([]);
  });

  it("compact --help's partition example follows the vtex/products folders, as the README's paths do", () => {
    const option = buildProgram(() => undefined).commands.find((c) => c.name() === 'compact')!.options.find((o) => o.long === '--partition')!;
    const example = /e\.g\. (\S+)/.exec(option.description)![1]!;
    const folders = [...duckhouse.vtexCatalog({ store: 'bistek', baseUrl: 'http://127.0.0.1:1' }).partitionKeys.map((k) => k.name), 'year', 'month', 'day'];
    // Observed: 'store=bistek/year=2026', which left out region= and so matched no vtex/products partition.
    expect(example.split('/').map((seg) => seg.slice(0, seg.indexOf('=')))).toEqual(folders.slice(0, example.split('/').length));
  });

  it('the incremental model it shows holds one row per unique_key when a day is extracted twice and built again', async () => {
    const sql = /```sql\n-- models\/trusted\/tru_price\.sql\n([\s\S]*?)```/.exec(readme)![1]!;
    const { lake } = await projectLake({
      'staging/stg_prices.sql': `select store, sku, price, _extracted_at as extracted_at, cast(timezone('America/Sao_Paulo', _extracted_at) as date) as price_date from {{ source('shop', 'prices') }}`,
      'trusted/tru_price.sql': sql,
    });
    const day = (price: number) =>
      duckhouse.defineSource({
        source: 'shop', dataset: 'prices', schema: duckhouse.z.object({ store: duckhouse.z.string(), sku: duckhouse.z.string(), price: duckhouse.z.number() }),
        extract: () => [[{ store: 'fort', sku: '1', price }, { store: 'fort', sku: '2', price: -1 }]],
      });
    await lake.extract([day(10)], { extractedAt: new Date('2026-11-02T12:00:00Z') });
    expect((await lake.build({ test: false })).status).toBe('success');
    // The same day extracted again (a second run that day), then an incremental build: it redoes the day.
    await lake.extract([day(12)], { extractedAt: new Date('2026-11-02T18:00:00Z') });
    expect((await lake.build({ test: false })).status).toBe('success');
    const rows = await lake.query<{ sku: string; price: number; n: number }>('select sku, price::DOUBLE as price, count(*) over (partition by sku) as n from trusted.tru_price');
    // Without its qualify line the day's two prices were both kept under one key.
    expect(rows).toEqual([{ sku: '1', price: 12, n: 1 }]);
    expect((await lake.query<{ n: number }>('select count(*)::INTEGER as n from audit.tru_price_rejected'))[0]!.n).toBeGreaterThan(0);
  });

  it('the selectors its TypeScript blocks pass to build, test and run match the models that ship', async () => {
    const project = await discoverProject(path.join(repo, 'models'));
    const calls = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].flatMap((b) => [...b[1]!.matchAll(/lake\.(build|test|run)\(\{([^)]*)\}\)/g)]);
    const words = calls.flatMap(([, method, args]) =>
      [...args!.matchAll(/\b(?:select|exclude): \[([^\]]*)\]/g)].flatMap((list) => [...list[1]!.matchAll(/'([^']+)'/g)].map((w) => [method!, w[1]!] as const)),
    );
    expect(words.length).toBeGreaterThan(3);
    // A selector that matches nothing is a ConfigError: a reader copying the call gets that, not a build.
    // Observed: `exclude: ['tag:slow']` named a tag no shipped model has.
    const unmatched = words.filter(([method, word]) => {
      try {
        if (method === 'test') selectForTest(project, [word]);
        else selectNodes(project, [word]);
        return false;
      } catch {
        return true;
      }
    });
    expect(unmatched).toEqual([]);
  });

  it('its zod → DuckDB table says the type sqlTypeOf gives each zod type', () => {
    const table = /\| zod \| DuckDB \|\n\|[-|]+\|\n((?:\|.*\|\n)+)/.exec(readme)![1]!;
    const { z, sqlTypeOf } = duckhouse;
    // One schema per zod type a row names; parametric rows hold a sample whose type the row spells out.
    const samples: Record<string, [duckhouse.z.ZodType, string?]> = {
      'string()': [z.string()], 'enum()': [z.enum(['a', 'b'])], 'string literal()': [z.literal('a')],
      'number()': [z.number()], 'number().int()': [z.number().int()], 'int()': [z.int()], 'integer literal()': [z.literal(1)],
      'bigint()': [z.bigint()], 'boolean()': [z.boolean()],
      'date()': [z.date()], 'iso.datetime()': [z.iso.datetime()], 'string().datetime()': [z.string().datetime()], 'iso.date()': [z.iso.date()],
      'object({...})': [z.object({ a: z.number() }), 'STRUCT("a" DOUBLE)'], 'array(T)': [z.array(z.boolean()), 'BOOLEAN[]'],
      'any()': [z.any()], 'unknown()': [z.unknown()], 'union()': [z.union([z.string(), z.number()])], 'record()': [z.record(z.string(), z.number())],
      'optional()': [z.number().optional(), 'DOUBLE'], 'nullable()': [z.number().nullable(), 'DOUBLE'], 'default()': [z.number().default(1), 'DOUBLE'],
      'transform(...)': [z.number().transform(String), 'DOUBLE'],
    };
    const said: string[] = [];
    const wrong: string[] = [];
    for (const row of table.trim().split('\n')) {
      const [zodCell, duckCell] = row.split(' | ').map((c) => c.replace(/^\| |\|$/g, '').trim());
      const type = /^`([^`]+)`/.exec(duckCell!)?.[1];
      for (const m of zodCell!.matchAll(/(string |integer )?`([^`]+)`/g)) {
        const name = `${m[1] ?? ''}${m[2]}`;
        said.push(name);
        const sample = samples[name];
        if (!sample) wrong.push(`${name}: no sample in this test`);
        else if (sqlTypeOf(sample[0]) !== (sample[1] ?? type)) wrong.push(`${name}: README ${sample[1] ? duckCell : type}, sqlTypeOf ${sqlTypeOf(sample[0])}`);
      }
    }
    expect(said.length).toBeGreaterThan(20);
    expect(wrong).toEqual([]);
  });

  it("the Brazilian text helpers give what 'Other exports' says they give", () => {
    const line = readme.split('\n').find((l) => l.startsWith('- Brazilian text:'))! + readme.split('\n')[readme.split('\n').findIndex((l) => l.startsWith('- Brazilian text:')) + 1];
    const claims = [...line.matchAll(/`(parse\w+)\('([^']*)'\)` → (`\{[^`]*\}`|[\d.]+)/g)];
    expect(claims.map((c) => c[1])).toEqual(['parseBrl', 'parsePackSize']);
    for (const [, fn, arg, result] of claims) {
      const expected: unknown = result!.startsWith('`') ? JSON.parse(result!.slice(1, -1).replace(/(\w+):/g, '"$1":').replaceAll("'", '"')) : Number(result);
      expect((duckhouse as unknown as Record<string, (s: string) => unknown>)[fn!]!(arg!), `${fn}('${arg}')`).toEqual(expected);
    }
  });

  it('names every function, class and value the package exports', () => {
    const unnamed = Object.keys(duckhouse).filter((name) => !new RegExp(`\\b${name}\\b`).test(readme));
    expect(unnamed).toEqual([]);
  });

  it('has TypeScript blocks that type-check against the public exports', () => {
    const dir = tempDir('duckhouse-readme-');
    const values = Object.keys(duckhouse);
    // The free names the blocks lean on, as a reader's own code would have them.
    const context: Record<string, string> = {
      lake: 'declare const lake: Lakehouse;',
      sources: 'declare const sources: AnySource[];',
      clientId: 'declare const clientId: string;',
      clientSecret: 'declare const clientSecret: string;',
      refreshToken: 'declare const refreshToken: string;',
      path: 'declare const path: string;',
      schema: 'declare const schema: z.ZodObject<{ id: z.ZodString }>;',
      store: 'declare const store: string;',
      vtex: 'declare const vtex: { baseUrlFor(store: string): string };',
    };
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(5);
    blocks.forEach((block, i) => {
      const declared = (name: string) => new RegExp(`(const|let) (\\[|\\{)?[^=]*\\b${name}\\b[^=]*=`).test(block);
      const prelude = [
        `import { ${values.join(', ')}, type AnySource } from 'duckhouse';`,
        ...Object.entries(context).filter(([name]) => !declared(name)).map(([, d]) => d),
      ];
      fs.writeFileSync(path.join(dir, `block${i}.ts`), `${prelude.join('\n')}\n${block.replace(/^import .* from 'duckhouse';$/gm, '')}\nexport {};\n`);
    });
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', lib: ['ES2023', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, noEmit: true, types: ['node'], typeRoots: [path.join(repo, 'node_modules', '@types')], baseUrl: '.', paths: { duckhouse: [path.join(repo, 'src', 'index.ts')] } },
        include: ['*.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
  }, 120_000);
});
