import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { discoverProject, ignoredConfigWarnings } from '../../../src/transform/project.js';
import { caught, project } from './helpers.js';

describe('model config', () => {
  it('defaults: view in staging, table elsewhere, append, append_new_columns, enabled', async () => {
    const p = await project({ 'staging/s.sql': 'select 1', 'marts/m.sql': 'select 1' });
    expect(p.nodes.get('staging.s')!.config).toEqual({
      materialized: 'view',
      incremental_strategy: 'append',
      on_schema_change: 'append_new_columns',
      tags: [],
      enabled: true,
    });
    expect(p.nodes.get('marts.m')!.config.materialized).toBe('table');
  });

  it('merges defaults < YAML < SQL, and unions tags', async () => {
    const p = await project({
      'marts/orders.sql': "{{ config(materialized='incremental', unique_key=['order_id', 'item_id'], tags=['sql']) }}\nselect 1",
      'marts/other.sql': 'select 1',
      'marts/_marts.yml': [
        'models:',
        '  - name: orders',
        '    config: { materialized: view, on_schema_change: fail, tags: [yaml, sql], description: from yaml config }',
        '  - name: other',
        '    description: described',
        '    config: { materialized: ephemeral, tags: nightly }',
      ].join('\n'),
    });
    const orders = p.nodes.get('marts.orders')!;
    expect(orders.config).toEqual({
      materialized: 'incremental',
      unique_key: ['order_id', 'item_id'],
      incremental_strategy: 'merge',
      on_schema_change: 'fail',
      tags: ['yaml', 'sql'],
      enabled: true,
      description: 'from yaml config',
    });
    expect(orders.description).toBe('from yaml config');
    const other = p.nodes.get('marts.other')!;
    expect(other.config.materialized).toBe('ephemeral');
    expect(other.config.tags).toEqual(['nightly']);
    expect(other.description).toBe('described');
  });

  it('a single unique_key becomes a list; strategy may be set explicitly', async () => {
    const p = await project({
      'marts/a.sql': "{{ config(materialized='incremental', unique_key='id', incremental_strategy='delete+insert') }}select 1 as id",
      'marts/b.sql': "{{ config(materialized='incremental') }}select 1 as id",
    });
    expect(p.nodes.get('marts.a')!.config).toMatchObject({ unique_key: ['id'], incremental_strategy: 'delete+insert' });
    expect(p.nodes.get('marts.b')!.config).toMatchObject({ incremental_strategy: 'append' });
    expect(p.nodes.get('marts.b')!.config.unique_key).toBeUndefined();
  });

  it('an unknown materialization names the model file and the field', async () => {
    const err = await caught(() => project({ 'marts/m.sql': "{{ config(materialized='tabel') }}select 1" }));
    expect(err.code).toBe('MODEL_CONFIG_INVALID');
    expect(err.message).toBe(
      'model marts.m (models/marts/m.sql): config "materialized" expected one of "view"|"table"|"ephemeral"|"incremental" (got "tabel")',
    );
  });

  it('a bad value in YAML config names the yml file', async () => {
    const err = await caught(() => project({ 'marts/m.sql': 'select 1', 'marts/s.yml': 'models: [{ name: m, config: { on_schema_change: explode } }]' }));
    expect(err.code).toBe('MODEL_CONFIG_INVALID');
    expect(err.message).toMatch(/^model marts\.m \(models\/marts\/s\.yml\): config "on_schema_change" expected one of/);
  });

  it('an unknown config key is an error with a suggestion', async () => {
    const err = await caught(() => project({ 'marts/m.sql': "{{ config(materialised='table') }}select 1" }));
    expect(err.message).toBe('model marts.m (models/marts/m.sql): unknown config "materialised" — did you mean materialized?');
  });

  it("dbt's documentation configs meta and docs are accepted in SQL and YAML config and change nothing; configs that would change the build stay errors", async () => {
    const p = await project({
      'marts/m.sql': "{{ config(materialized='table', meta={'owner': 'ana', 'pii': false}, docs={'show': false}) }}select 1",
      'marts/n.sql': 'select 1',
      'assertions/a.sql': "{{ config(meta={'owner': 'ana'}) }}select 1 where false",
      'seeds/s.csv': 'a\n1\n',
      'marts/_m.yml': 'models: [{ name: n, config: { meta: { owner: bruno }, docs: { node_color: red } } }]\nseeds: [{ name: s, config: { meta: { source: erp } } }]',
    });
    const plain = await project({ 'marts/m.sql': 'select 1', 'marts/n.sql': 'select 1' });
    expect(p.nodes.get('marts.m')!.config).toEqual(plain.nodes.get('marts.m')!.config);
    expect(p.nodes.get('marts.n')!.config).toEqual(plain.nodes.get('marts.n')!.config);
    expect(p.nodes.get('seeds.s')!.config.materialized).toBe('table');
    expect(p.nodes.get('assertions.a')!.config.severity).toBeUndefined();
    for (const cfg of ["alias='x'", "schema='other'", "post_hook=['select 1']", "contract={'enforced': true}", "meta='owner'"]) {
      const err = await caught(() => project({ 'marts/m.sql': `{{ config(${cfg}) }}select 1` }));
      expect(err.code).toBe('MODEL_CONFIG_INVALID');
      expect(err.message).toMatch(/^model marts\.m \(models\/marts\/m\.sql\): /);
    }
  });

  it('merge or delete+insert without unique_key is an error', async () => {
    const merge = await caught(() => project({ 'marts/m.sql': "{{ config(materialized='incremental', incremental_strategy='merge') }}select 1" }));
    expect(merge.code).toBe('MODEL_CONFIG_INVALID');
    expect(merge.message).toBe("model marts.m (models/marts/m.sql): incremental_strategy 'merge' needs a unique_key (one column or a list)");
    const del = await caught(() =>
      project({ 'marts/m.sql': 'select 1', 'marts/s.yml': "models: [{ name: m, config: { materialized: incremental, incremental_strategy: 'delete+insert' } }]" }),
    );
    expect(del.message).toContain("incremental_strategy 'delete+insert' needs a unique_key");
  });

  it('keys a materialization does not read are recorded with the file that set them, not errors', async () => {
    const p = await project({
      'staging/v.sql': "{{ config(partition_by='day', tags=['x']) }}select 1",
      'staging/_s.yml': 'models: [{ name: v, config: { unique_key: id, on_schema_change: fail } }]',
      'marts/t.sql': "{{ config(incremental_strategy='delete+insert', partition_by='day') }}select 1",
      'marts/i.sql': "{{ config(materialized='incremental', unique_key='id', partition_by='day', on_schema_change='fail') }}select 1",
    });
    expect(p.nodes.get('staging.v')!.ignoredConfig).toEqual([
      { key: 'partition_by', file: 'models/staging/v.sql' },
      { key: 'unique_key', file: 'models/staging/_s.yml' },
      { key: 'on_schema_change', file: 'models/staging/_s.yml' },
    ]);
    expect(p.nodes.get('marts.t')!.ignoredConfig).toEqual([{ key: 'incremental_strategy', file: 'models/marts/t.sql' }]);
    expect(p.nodes.get('marts.i')!.ignoredConfig).toBeUndefined();
  });

  it('the bundled models set no key their materialization ignores (the demo build has no such warning)', async () => {
    const p = await discoverProject(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models'));
    expect(p.nodes.size).toBeGreaterThan(20);
    expect(ignoredConfigWarnings(p, p.nodes.keys())).toEqual([]);
  });

  it('seeds and assertions accept only their own keys', async () => {
    const p = await project({
      'assertions/a.sql': "{{ config(severity='warn') }}select 1 where false",
      'seeds/s.csv': 'a\n1\n',
      'seeds/_seeds.yml': 'seeds: [{ name: s, config: { enabled: false } }]',
    });
    expect(p.nodes.get('assertions.a')!.config.severity).toBe('warn');
    expect(p.tests[0]).toMatchObject({ kind: 'singular', severity: 'warn' });
    expect(p.nodes.get('seeds.s')!.config.enabled).toBe(false);
    const err = await caught(() => project({ 'seeds/s.csv': 'a\n1\n', 'seeds/_seeds.yml': 'seeds: [{ name: s, config: { materialized: view } }]' }));
    expect(err.message).toContain('unknown config "materialized"');
  });

  it("an assertion's config(severity=...) is read in any case, as dbt and a YAML test's severity read it", async () => {
    const p = await project({
      'assertions/a.sql': "{{ config(severity='WARN') }}select 1 where false",
      'assertions/b.sql': "{{ config(severity='Error') }}select 1 where false",
    });
    expect(p.tests.map((t) => [t.name, t.severity])).toEqual([
      ['a', 'warn'],
      ['b', 'error'],
    ]);
    const err = await caught(() => project({ 'assertions/a.sql': "{{ config(severity='fatal') }}select 1" }));
    expect(err.message).toMatch(/models\/assertions\/a\.sql.*severity/);
  });

  it('ref to a disabled model is an error; a disabled model itself is kept but flagged', async () => {
    const p = await project({ 'staging/old.sql': "{{ config(enabled=false) }}select 1", 'marts/m.sql': 'select 1' });
    expect(p.nodes.get('staging.old')!.config.enabled).toBe(false);
    const err = await caught(() => project({ 'staging/old.sql': '{{ config(enabled=false) }}select 1', 'marts/m.sql': "select * from {{ ref('old') }}" }));
    expect(err.code).toBe('REF_DISABLED');
    expect(err.message).toBe("model marts.m (models/marts/m.sql): ref('old') points to model staging.old, which is disabled (enabled: false)");
  });
});
