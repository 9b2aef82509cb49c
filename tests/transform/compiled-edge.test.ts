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
