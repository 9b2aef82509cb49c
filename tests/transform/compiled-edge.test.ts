import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isSecretName } from '../../src/redact.js';
import { projectLake } from '../helpers/models.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { tempDir } from '../helpers/temp-lake.js';

describe('compiled SQL in data/compiled', () => {
  it('is the SQL that ran: a cast of a column whose name ends in _token is not rewritten as a secret', async () => {
    const sql = `with t as (select 1 as next_page_token, 2 as signature) select next_page_token::VARCHAR as page_token, signature::INTEGER as sig from t`;
    const { lake } = await projectLake({ 'marts/m.sql': sql });
    const r = await lake.build();
    expect(r.models[0]).toMatchObject({ name: 'marts.m', status: 'success' });
    expect(await lake.query('select * from marts.m')).toEqual([{ page_token: '1', sig: 2 }]);
    const compiled = fs.readFileSync(path.join(lake.paths.compiled, 'marts', 'm.sql'), 'utf8').trim();
    // No secret in it: it must be the model's SQL as run (and runnable), not `next_page_token:[REDACTED]`.
    expect(compiled).toBe(sql);
  });
});

describe('compiled SQL of a model declaring column types in a struct literal', () => {
  // The README's scaling-out step runs these files elsewhere: a type name is not a secret.
  it("is the SQL that ran: `columns = {id: 'BIGINT', session_token: 'VARCHAR'}` is not rewritten as a secret", async () => {
    const file = path.join(tempDir(), 'sessions.json');
    fs.writeFileSync(file, '{"id": 1, "session_token": "s-1"}\n{"id": 2, "session_token": "s-2"}\n');
    const sql = `select id, session_token from read_json('${file}', format = 'newline_delimited', columns = {id: 'BIGINT', session_token: 'VARCHAR'})`;
    const { lake } = await projectLake({ 'staging/stg_sessions.sql': sql });
    const r = await lake.build();
    expect(r.models[0]).toMatchObject({ name: 'staging.stg_sessions', status: 'success' });
    expect(await lake.query('select count(*)::INTEGER as n from staging.stg_sessions')).toEqual([{ n: 2 }]);
    const compiled = fs.readFileSync(path.join(lake.paths.compiled, 'staging', 'stg_sessions.sql'), 'utf8').trim();
    expect(compiled).toBe(sql);
  });

  it('still loses the secrets it holds: a token in a URL, the password of a URL, a Bearer value', async () => {
    const sql = `select 'https://api.example.com/x?access_token=tok-compiled-111&page=2' as u, 'https://user:pw-compiled-222@host/x' as v, 'Bearer eyJcompiled.333' as h, {session_token: 'VARCHAR'} as s`;
    const { lake } = await projectLake({ 'marts/urls.sql': sql });
    expect((await lake.build()).status).toBe('success');
    const compiled = fs.readFileSync(path.join(lake.paths.compiled, 'marts', 'urls.sql'), 'utf8').trim();
    for (const secret of ['tok-compiled-111', 'pw-compiled-222', 'eyJcompiled.333']) expect(compiled).not.toContain(secret);
    expect(compiled).toContain(`access_token=[REDACTED]&page=2`);
    expect(compiled).toContain(`{session_token: 'VARCHAR'}`);
  });
});

/**
 * A model reading a credential the dbt way, from the environment. The variable's name says it is a
 * secret (the names `redact` treats as secret keys): its value must not be written to data/ (a
 * table model's rows do not hold it, and the catalog holds views over the table's Parquet files only).
 */
describe("compiled SQL of a model using a secret with env_var('…_TOKEN')", () => {
  const token = 'tok-hunt-env-var-export-3c9d1e';
  afterEach(() => {
    delete process.env.SHOP_EXPORT_TOKEN;
  });

  it('does not hold the value, nor do the logs, the metrics or the build result', async () => {
    process.env.SHOP_EXPORT_TOKEN = token;
    expect(isSecretName('SHOP_EXPORT_TOKEN')).toBe(true);
    const { lake, root } = await projectLake({
      // A table whose SQL uses the token, and a model reading an export URL signed with it (it fails offline).
      'marts/tagged.sql': `select 1 as id, '{{ env_var('SHOP_EXPORT_TOKEN') }}' <> '' as signed`,
      'marts/remote.sql': `from read_csv('http://127.0.0.1:9/e?sig={{ env_var('SHOP_EXPORT_TOKEN') }}')`,
    });
    const result = await lake.build();
    expect(result.models.find((m) => m.name === 'marts.tagged')!.status).toBe('success');
    expect(await lake.query('select signed from marts.tagged')).toEqual([{ signed: true }]);
    expect(JSON.stringify(result)).not.toContain(token);
    await lake.runs();
    await lake.close();
    const { hits, files } = await findSecrets(root, [token]);
    expect(files.some((f) => f.startsWith('compiled'))).toBe(true);
    expect(hits).toEqual([]);
  });
});

describe("compiled SQL of a model using env_var('…SECRET…_KEY'), a private key, or dbt's DBT_ENV_SECRET_ prefix", () => {
  const names = ['AWS_SECRET_ACCESS_KEY', 'SHOP_SECRET_KEY', 'GCP_PRIVATE_KEY', 'DBT_ENV_SECRET_S3_KEY'];
  afterEach(() => {
    for (const name of names) delete process.env[name];
  });

  it.each(names)('%s: the value is in no file under data/', async (name) => {
    const value = `val-${name.toLowerCase().replace(/_/g, '-')}-8e1f`;
    process.env[name] = value;
    expect(isSecretName(name)).toBe(true);
    const { lake, root } = await projectLake({
      'marts/tagged.sql': `select 1 as id, '{{ env_var('${name}') }}' <> '' as signed`,
      'marts/remote.sql': `from read_csv('http://127.0.0.1:9/export.csv?credential={{ env_var('${name}') }}')`,
    });
    const result = await lake.build();
    expect(result.models.find((m) => m.name === 'marts.tagged')!.status).toBe('success');
    expect(result.models.find((m) => m.name === 'marts.remote')!.status).toBe('error');
    expect(JSON.stringify(result)).not.toContain(value);
    await lake.runs();
    await lake.close();
    const { hits, files } = await findSecrets(root, [value]);
    expect(files.some((f) => f.startsWith('compiled'))).toBe(true);
    expect(hits).toEqual([]);
  });
});

describe('compiled SQL of a model deleted from the project', () => {
  it('goes away with the model: data/compiled holds the models that exist', async () => {
    const { lake, models } = await projectLake({
      'seeds/src.csv': 'a\n1\n',
      'trusted/old.sql': `select a from {{ ref('src') }}`,
      'trusted/kept.sql': `select a from {{ ref('src') }}`,
    });
    await lake.build();
    expect(fs.existsSync(path.join(lake.paths.compiled, 'trusted', 'old.sql'))).toBe(true);
    fs.rmSync(path.join(models, 'trusted', 'old.sql'));
    const r = await lake.build();
    expect(r.status).toBe('success');
    expect(await lake.query(`select count(*) as n from duckdb_views() where schema_name = 'trusted' and view_name = 'old'`)).toEqual([{ n: 0 }]);
    // A reader of data/compiled (the README's scaling-out step 3) sees only the models that exist.
    expect(fs.existsSync(path.join(lake.paths.compiled, 'trusted', 'old.sql'))).toBe(false);
    expect(fs.existsSync(path.join(lake.paths.compiled, 'trusted', 'kept.sql'))).toBe(true);
  });
});

describe('compiled SQL of an ephemeral model', () => {
  it('is written to data/compiled/<schema>/<model>.sql like every other model', async () => {
    const { lake } = await projectLake({
      'seeds/src.csv': 'a\n1\n',
      'staging/eph.sql': `{{ config(materialized='ephemeral') }} select a from {{ ref('src') }} where a > 0`,
      'marts/m.sql': `select count(*) as n from {{ ref('eph') }}`,
    });
    expect((await lake.build()).status).toBe('success');
    expect(fs.existsSync(path.join(lake.paths.compiled, 'marts', 'm.sql'))).toBe(true);
    const file = path.join(lake.paths.compiled, 'staging', 'eph.sql');
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toContain('"seeds"."src"');
  });
});

describe('files a build rewrites', () => {
  it('leaves the lineage and a compiled model it would write the same as they are (no fsync for nothing), and rewrites the ones that change', async () => {
    const { lake, models } = await projectLake({ 'staging/a.sql': `select 1 as x`, 'marts/b.sql': `select x from {{ ref('a') }}` });
    expect((await lake.build()).status).toBe('success');
    const files = {
      lineage: path.join(lake.paths.root, 'lineage.json'),
      mermaid: path.join(lake.paths.root, 'lineage.mmd'),
      a: path.join(lake.paths.compiled, 'staging', 'a.sql'),
      b: path.join(lake.paths.compiled, 'marts', 'b.sql'),
    };
    const inode = (f: string): number => fs.statSync(f).ino;
    const before = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, inode(f)]));
    // A full refresh writes every model again: the same SQL, so the same files.
    expect((await lake.build({ fullRefresh: true })).models.map((m) => m.status)).toEqual(['success', 'success']);
    expect(Object.fromEntries(Object.entries(files).map(([k, f]) => [k, inode(f)]))).toEqual(before);
    // A changed model: its compiled SQL is the new one; the lineage gains the new edge.
    fs.writeFileSync(path.join(models, 'marts', 'b.sql'), `select x, y from {{ ref('a') }}, {{ ref('c') }}`);
    fs.writeFileSync(path.join(models, 'staging', 'c.sql'), `select 2 as y`);
    expect((await lake.build()).status).toBe('success');
    expect(fs.readFileSync(files.b, 'utf8')).toContain('select x, y from');
    expect(inode(files.b)).not.toBe(before.b);
    expect(inode(files.a)).toBe(before.a);
    expect(fs.readFileSync(files.lineage, 'utf8')).toContain('staging.c');
    expect(inode(files.lineage)).not.toBe(before.lineage);
  });
});
