/**
 * export-ddl edge cases: stray files in bronze (`.DS_Store`), string literals per engine (Spark and
 * Hive/Athena read backslash escapes, Trino doubles quotes), and quoted struct field names.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineSource, z } from '../../src/index.js';
import { bronzeTables, ddlFor, mapType, type DdlTable } from '../../src/scale/ddl.js';
import { prices } from '../helpers/models.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'src', 'cli.ts');
const tsx = pathToFileURL(path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

describe('export-ddl: stray files under bronze', () => {
  it('skips files directly under bronze and under a source folder (lake.exportDdl and bronzeTables)', async () => {
    const lake = await tempLake();
    await lake.extract([prices([['a', '1', 1]])]);
    const bronze = path.join(lake.paths.root, 'bronze');
    fs.writeFileSync(path.join(bronze, '.DS_Store'), '');
    fs.writeFileSync(path.join(bronze, 'README'), 'notes');
    fs.writeFileSync(path.join(bronze, 'shop', '.DS_Store'), '');
    fs.symlinkSync(path.join(bronze, 'gone'), path.join(bronze, 'dangling'));
    expect(bronzeTables(lake.paths.root).map((t) => `${t.source}/${t.dataset}`)).toEqual(['shop/prices']);
    for (const engine of ['spark', 'trino', 'athena'] as const) {
      const ddl = await lake.exportDdl({ engine });
      expect(ddl).toMatch(/CREATE (EXTERNAL )?TABLE IF NOT EXISTS (hive\."bronze"\."shop_prices"|`bronze`\.`shop_prices`) \(/);
      expect(ddl.match(/CREATE /g)).toHaveLength(1);
    }
  }, 60_000);

  it('`duckhouse export-ddl` exits 0 with a .DS_Store in bronze', async () => {
    const dir = tempDir('duckhouse-cli-ddl-');
    const root = path.join(dir, 'data');
    const lake = await tempLake({ root });
    await lake.extract([prices([['a', '1', 1]])]);
    await lake.close();
    fs.writeFileSync(path.join(root, 'bronze', '.DS_Store'), '');
    const r = spawnSync(process.execPath, ['--import', tsx, cli, 'export-ddl', '--engine', 'spark', '--root', root], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('CREATE TABLE IF NOT EXISTS `bronze`.`shop_prices` (');
  }, 60_000);
});

describe('export-ddl: string literals per engine', () => {
  it("a quote in the lake's path: \\' on Spark and Athena, '' on Trino", async () => {
    const dir = path.join(tempDir(), "o'brien");
    const lake = await tempLake({ root: path.join(dir, 'data') });
    await lake.extract([prices([['a', '1', 1]])]);
    const location = path.join(dir, 'data', 'bronze', 'shop', 'prices');
    const spark = await lake.exportDdl({ engine: 'spark' });
    expect(spark).not.toContain("o''brien");
    expect(spark).toContain(`LOCATION '${location.replace(/'/g, "\\'")}';`);
    const athena = await lake.exportDdl({ engine: 'athena' });
    expect(athena).not.toContain("o''brien");
    expect(athena).toContain(`LOCATION '${location.replace(/'/g, "\\'")}/';`);
    const trino = await lake.exportDdl({ engine: 'trino' });
    expect(trino).toContain(`external_location = '${location.replace(/'/g, "''")}'`);
    expect(trino).not.toContain("\\'");
  }, 60_000);

  it('a backslash is doubled on Spark and Athena (they read it as an escape), kept as is on Trino', () => {
    const root = '/lake';
    const table: DdlTable = { source: 's', dataset: 'd', location: "/lake/bronze/a\\b'c", columns: [{ name: 'x', type: 'VARCHAR' }], partitionKeys: ["it's"] };
    expect(ddlFor([table], 'spark', { root })).toContain("LOCATION '/lake/bronze/a\\\\b\\'c';");
    expect(ddlFor([table], 'athena', { root })).toContain("LOCATION '/lake/bronze/a\\\\b\\'c/';");
    const trino = ddlFor([table], 'trino', { root });
    expect(trino).toContain("external_location = '/lake/bronze/a\\b''c'");
    expect(trino).toContain("partitioned_by = ARRAY['it''s']");
    expect(trino).toContain('"it\'s" VARCHAR');
    // a location prefix is a literal too
    expect(ddlFor([{ ...table, location: '/lake/bronze/s/d' }], 'spark', { root, locationPrefix: "s3://b/it's" })).toContain("LOCATION 's3://b/it\\'s/bronze/s/d';");
  });
});

describe('export-ddl: struct field names', () => {
  it('doubles backticks in Spark/Athena STRUCT fields and double quotes in Trino ROW fields', () => {
    const t = 'STRUCT("a`b" VARCHAR, "c""d" INTEGER, "plain" STRUCT("e`" DOUBLE)[])';
    expect(mapType(t, 'spark')).toBe('STRUCT<`a``b`: STRING, `c"d`: INT, `plain`: ARRAY<STRUCT<`e```: DOUBLE>>>');
    expect(mapType(t, 'athena')).toBe('STRUCT<`a``b`: string, `c"d`: int, `plain`: ARRAY<STRUCT<`e```: double>>>');
    expect(mapType(t, 'trino')).toBe('ROW("a`b" VARCHAR, "c""d" INTEGER, "plain" ARRAY(ROW("e`" DOUBLE)))');
  });
});

describe('export-ddl: partition values outside ASCII', () => {
  it('warns that Hive-style engines read "São José" from its percent-encoded folder as "SÃ£o JosÃ©" (each %XX one character)', async () => {
    const lake = await tempLake();
    const stores = (rows: { store: string; sku: string }[]) => defineSource({ source: 'shop', dataset: 'prices', partitionBy: ['store'], schema: z.object({ store: z.string(), sku: z.string() }), extract: () => [rows] });
    await lake.extract(stores([{ store: 'São José', sku: '1' }, { store: 'bistek', sku: '2' }]), { extractedAt: new Date('2026-03-05T15:00:00Z') });
    expect(fs.readdirSync(path.join(lake.paths.bronze, 'shop', 'prices')).sort()).toEqual(['store=S%C3%A3o%20Jos%C3%A9', 'store=bistek']);
    // Spark's ExternalCatalogUtils.unescapePathName (as Hive's and Trino's): each %XX becomes the char of that code.
    const hiveUnescape = (text: string): string => text.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    expect(hiveUnescape('S%C3%A3o%20Jos%C3%A9')).toBe('SÃ£o JosÃ©');
    expect(await lake.exportDdl({ engine: 'spark' })).toMatch(
      /^-- warning: bronze\.shop_prices partition folders percent-encode values outside ASCII byte by byte \(UTF-8\), and spark decodes each byte as one character: store "São José" reads as "SÃ£o JosÃ©"; decode\(encode\(store, 'ISO-8859-1'\), 'UTF-8'\) gives the text back\nCREATE TABLE/,
    );
    for (const engine of ['trino', 'athena'] as const) expect(await lake.exportDdl({ engine })).toContain(`and ${engine} decodes each byte as one character: store "São José" reads as "SÃ£o JosÃ©"\n`);
    // ASCII values (spaces, '/', '=' are decoded right by every engine) need no warning.
    const ascii = await tempLake();
    await ascii.extract(stores([{ store: 'Sao Jose/Centro', sku: '1' }]), { extractedAt: new Date('2026-03-05T15:00:00Z') });
    expect(await ascii.exportDdl({ engine: 'spark' })).not.toContain('warning');
  }, 60_000);
});
