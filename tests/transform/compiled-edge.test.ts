import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectLake } from '../helpers/models.js';

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
