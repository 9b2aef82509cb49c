import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverProject, topoOrder } from '../../../src/transform/project.js';
import { caught, project, writeModels } from './helpers.js';

describe('discoverProject: layout', () => {
  it('reads schemas from the first folder, names from files, and the reserved folders', async () => {
    const dir = writeModels({
      'staging/vtex/stg_vtex__products.sql': "select * from {{ source('vtex', 'products') }}",
      'trusted/tru_product.sql': "select * from {{ ref('stg_vtex__products') }} join {{ ref('stores') }} using (store)",
      'seeds/stores.csv': 'store,region\nbistek,sc\n',
      'seeds/README.md': 'ignored',
      'macros/money.sql': '{% macro cents(c) %}({{ c }} / 100.0){% endmacro %}',
      'assertions/no_free_products.sql': "select * from {{ ref('tru_product') }} where price = 0",
      'README.md': 'not a model',
      '.hidden/x.sql': 'skipped',
    });
    const p = await discoverProject(dir);
    expect([...p.nodes.keys()]).toEqual(['assertions.no_free_products', 'seeds.stores', 'staging.stg_vtex__products', 'trusted.tru_product']);
    const stg = p.nodes.get('staging.stg_vtex__products')!;
    expect(stg).toMatchObject({
      schema: 'staging',
      name: 'stg_vtex__products',
      kind: 'model',
      relFile: 'staging/vtex/stg_vtex__products.sql',
      displayPath: 'models/staging/vtex/stg_vtex__products.sql',
      file: path.join(dir, 'staging', 'vtex', 'stg_vtex__products.sql'),
      sources: [{ source: 'vtex', dataset: 'products' }],
      refs: [],
    });
    expect(stg.config.materialized).toBe('view');
    const tru = p.nodes.get('trusted.tru_product')!;
    expect(tru.refs).toEqual(['seeds.stores', 'staging.stg_vtex__products']);
    expect(tru.dependsOn).toEqual(tru.refs);
    expect(tru.config.materialized).toBe('table');
    expect(p.nodes.get('seeds.stores')).toMatchObject({ kind: 'seed', schema: 'seeds', rawSql: '', relFile: 'seeds/stores.csv' });
    expect(p.nodes.get('assertions.no_free_products')).toMatchObject({ kind: 'assertion', refs: ['trusted.tru_product'] });
    expect(p.macroFiles).toEqual(['models/macros/money.sql']);
    expect(topoOrder(p)).toEqual(['seeds.stores', 'staging.stg_vtex__products', 'trusted.tru_product', 'assertions.no_free_products']);
    expect(p.tests.map((t) => [t.name, t.kind, t.model])).toEqual([['no_free_products', 'singular', 'assertions.no_free_products']]);
  });

  it('is an empty project when the models folder does not exist', async () => {
    const p = await discoverProject(path.join(writeModels({}), 'nope'));
    expect(p.nodes.size).toBe(0);
    expect(topoOrder(p)).toEqual([]);
  });

  it('orders deterministically: dependencies first, ties by id', async () => {
    const p = await project({
      'marts/z.sql': "select * from {{ ref('b') }} join {{ ref('a') }} using (k)",
      'staging/b.sql': 'select 1 as k',
      'staging/a.sql': 'select 1 as k',
      'marts/c.sql': "select * from {{ ref('staging', 'a') }}",
      'marts/d.sql': 'select 1 as k',
    });
    expect(topoOrder(p)).toEqual(['marts.d', 'staging.a', 'marts.c', 'staging.b', 'marts.z']);
  });
});

describe('discoverProject: errors', () => {
  it('a .sql file directly under models/ names the file', async () => {
    const err = await caught(() => project({ 'orders.sql': 'select 1' }));
    expect(err.code).toBe('MODEL_OUTSIDE_SCHEMA');
    expect(err.message).toContain('models/orders.sql');
  });

  it('schema and model names must be lowercase identifiers, naming the file', async () => {
    const bad = await caught(() => project({ 'Staging/x.sql': 'select 1' }));
    expect(bad.code).toBe('MODEL_NAME_INVALID');
    expect(bad.message).toContain('models/Staging/x.sql');
    const badName = await caught(() => project({ 'staging/stg-orders.sql': 'select 1' }));
    expect(badName.code).toBe('MODEL_NAME_INVALID');
    expect(badName.message).toContain('models/staging/stg-orders.sql');
    const reserved = await caught(() => project({ 'audit/x.sql': 'select 1' }));
    expect(reserved.message).toMatch(/schema "audit" is reserved/);
  });

  it('a duplicate model name lists both paths', async () => {
    const err = await caught(() => project({ 'staging/orders.sql': 'select 1', 'marts/sub/orders.sql': 'select 2' }));
    expect(err.code).toBe('MODEL_DUPLICATE');
    expect(err.message).toContain('models/marts/sub/orders.sql');
    expect(err.message).toContain('models/staging/orders.sql');
    // seeds and assertions share the namespace
    const seed = await caught(() => project({ 'staging/stores.sql': 'select 1', 'seeds/stores.csv': 'a\n1\n' }));
    expect(seed.code).toBe('MODEL_DUPLICATE');
  });

  it('an unknown ref names the model, its file and the closest model', async () => {
    const err = await caught(() =>
      project({ 'staging/stg_orders.sql': 'select 1 as id', 'marts/orders.sql': "select * from {{ ref('stg_ordrs') }}" }),
    );
    expect(err.code).toBe('REF_UNKNOWN');
    expect(err.message).toBe("model marts.orders (models/marts/orders.sql): ref('stg_ordrs') not found — did you mean stg_orders?");
    const two = await caught(() => project({ 'staging/stg_orders.sql': 'select 1', 'marts/o.sql': "select * from {{ ref('stagin', 'stg_orders') }}" }));
    expect(two.message).toContain("ref('stagin', 'stg_orders') not found — did you mean staging.stg_orders?");
    // A model is never told to read itself (here the only name close to the typo is its own).
    const self = await caught(() => project({ 'marts/child.sql': "select * from {{ ref('chil') }}" }));
    expect(self.code).toBe('REF_UNKNOWN');
    expect(self.message).not.toMatch(/did you mean/);
  });

  it('a seed must name its columns, each once: an empty file, a repeated or an empty name is an error naming the file', async () => {
    const cases: [string, RegExp][] = [
      ['', /models\/seeds\/s\.csv: the seed has no header/],
      ['\n1\n', /models\/seeds\/s\.csv: the seed has no header/],
      ['a,b,a\n1,2,3\n', /models\/seeds\/s\.csv: the header names column "a" twice/],
      ['"id",Name,"NAME"\n1,x,y\n', /column "NAME" twice \(as "Name"; DuckDB ignores case\)/],
      ['a,,c\n1,2,3\n', /column 2 of the header has no name/],
    ];
    for (const [csv, message] of cases) {
      const err = await caught(() => project({ 'seeds/s.csv': csv }));
      expect(err.code, JSON.stringify(csv)).toBe('SEED_HEADER');
      expect(err.message).toMatch(message);
    }
    // Quoted names may hold commas and line breaks; a BOM is not part of the first name.
    await expect(project({ 'seeds/s.csv': '\ufeff"a,1","b\nc",d\n1,2,3\n' })).resolves.toBeDefined();
  });

  it('assertions cannot be ref-ed', async () => {
    const err = await caught(() => project({ 'assertions/check.sql': 'select 1 where false', 'marts/m.sql': "select * from {{ ref('check') }}" }));
    expect(err.code).toBe('REF_UNKNOWN');
  });

  it('a cycle prints the whole cycle in data-flow order', async () => {
    const err = await caught(() =>
      project({
        'staging/a.sql': "select * from {{ ref('c') }}",
        'trusted/b.sql': "select * from {{ ref('a') }}",
        'marts/c.sql': "select * from {{ ref('b') }}",
        'marts/free.sql': 'select 1',
      }),
    );
    expect(err.code).toBe('CYCLE');
    expect(err.message).toBe('cycle: marts.c → staging.a → trusted.b → marts.c');
    const self = await caught(() => project({ 'staging/a.sql': "select * from {{ ref('a') }}" }));
    expect(self.message).toBe('cycle: staging.a → staging.a');
  });

  it('a Jinja syntax error names the file and the line', async () => {
    const err = await caught(() => project({ 'marts/orders.sql': 'select *\nfrom t\nwhere {{ x( }}\n' }));
    expect(err.code).toBe('JINJA_ERROR');
    expect(err.message).toMatch(/^model marts\.orders \(models\/marts\/orders\.sql\): Jinja error at line 3: unexpected token/);
    const unclosed = await caught(() => project({ 'marts/o.sql': 'select 1\n{% if true %}\n' }));
    expect(unclosed.message).toContain('models/marts/o.sql');
    expect(unclosed.message).toMatch(/expected elif, else, or endif/);
  });

  it('a block never closed names the tag and the line it opens at (the end of the file had no line)', async () => {
    const message = async (sql: string) => (await caught(() => project({ 'marts/o.sql': sql }))).message;
    expect(await message('select 1\n{% if true %}\nx\n')).toBe('model marts.o (models/marts/o.sql): Jinja error at line 2: {% if %} is not closed: parseIf: expected elif, else, or endif, got end of file');
    expect(await message('select 1\n{% for x in [1] %}\n{% if x %}{{ x }}{% endif %}\n')).toBe('model marts.o (models/marts/o.sql): Jinja error at line 2: {% for %} is not closed: unexpected end of file');
  });

  it('a Jinja runtime error names the file and the (1-based) line', async () => {
    const call = await caught(() => project({ 'marts/orders.sql': 'select 1\n\n{{ nope(1) }}' }));
    expect(call.code).toBe('JINJA_ERROR');
    expect(call.message).toBe('model marts.orders (models/marts/orders.sql): Jinja error at line 3: Unable to call `nope`, which is undefined or falsey');
    const undef = await caught(() => project({ 'marts/orders.sql': 'select 1\n{{ missing_value }}' }));
    expect(undef.message).toBe("model marts.orders (models/marts/orders.sql): Jinja error at line 2: 'missing_value' is undefined");
  });

  it('an undefined name, attribute or item output by {{ }} is named, as Jinja does (not "attempted to output null or undefined value")', async () => {
    const message = async (files: Record<string, string>) => (await caught(() => project(files))).message;
    expect(await message({ 'marts/o.sql': 'select 1,\n\n{{ tgt.name }}' })).toBe("model marts.o (models/marts/o.sql): Jinja error at line 3: 'tgt.name' is undefined");
    // dbt's target, which duckhouse does not have, says so (still with its line).
    expect(await message({ 'marts/o.sql': 'select 1,\n\n{{ target.name }}' })).toMatch(/^model marts\.o \(models\/marts\/o\.sql\): Jinja error at line 3: target is not available in duckhouse: /);
    expect(await message({ 'marts/o.sql': "{% set cols = ['a'] %}select {{ cols[1] }}" })).toBe("model marts.o (models/marts/o.sql): Jinja error at line 1: 'cols[1]' is undefined");
    expect(await message({ 'macros/m.sql': '{% macro cols(rel) %}\n{{ rel.columns }}{% endmacro %}', 'marts/o.sql': 'select {{ cols(this) }}' })).toBe(
      "model marts.o (models/marts/o.sql): Jinja error in macro cols at models/macros/m.sql line 2: 'rel.columns' is undefined",
    );
  });

  it('an unknown filter names its line (it had none), in a model and in a macro', async () => {
    const message = async (files: Record<string, string>) => (await caught(() => project(files))).message;
    expect(await message({ 'marts/o.sql': "select 1,\n\n{{ ['a'] | as_columns | join(', ') }}" })).toBe('model marts.o (models/marts/o.sql): Jinja error at line 3: filter not found: as_columns');
    expect(await message({ 'macros/m.sql': '{% macro j(x) %}\n\n{{ x | to_sql }}{% endmacro %}', 'marts/o.sql': 'select {{ j(1) }}' })).toBe(
      'model marts.o (models/marts/o.sql): Jinja error in macro j at models/macros/m.sql line 3: filter not found: to_sql',
    );
    // On line 1, and under another filter: one clean message.
    expect(await message({ 'marts/o.sql': "select {{ ['a'] | as_columns | join(', ') }}" })).toBe('model marts.o (models/marts/o.sql): Jinja error at line 1: filter not found: as_columns');
  });

  it('a Jinja error in a macro file names that file', async () => {
    const err = await caught(() => project({ 'macros/m.sql': '{% macro a() %}\n{{ 1 + }}\n{% endmacro %}', 'marts/x.sql': 'select 1' }));
    expect(err.code).toBe('JINJA_ERROR');
    expect(err.message).toMatch(/^macro file models\/macros\/m\.sql: Jinja error at line 2/);
  });

  it('two macros with one name list both files; a macro cannot shadow a built-in', async () => {
    const dup = await caught(() => project({ 'macros/a.sql': '{% macro m() %}1{% endmacro %}', 'macros/b.sql': '{% macro m() %}2{% endmacro %}' }));
    expect(dup.code).toBe('MACRO_DUPLICATE');
    expect(dup.message).toBe('macro m is defined twice: models/macros/a.sql and models/macros/b.sql');
    const reserved = await caught(() => project({ 'macros/a.sql': '{% macro ref(x) %}1{% endmacro %}' }));
    expect(reserved.code).toBe('MACRO_RESERVED');
  });
});

describe('discoverProject: YAML properties', () => {
  it('reads descriptions, columns and tests (tests and data_tests)', async () => {
    const p = await project({
      'trusted/tru_product.sql': 'select 1 as sku_id',
      'seeds/stores.csv': 'store\nbistek\n',
      'trusted/_trusted.yml': [
        'version: 2',
        'models:',
        '  - name: tru_product',
        '    description: one row per product',
        '    columns:',
        '      - name: sku_id',
        '        description: the SKU',
        '        tests: [not_null]',
        '        data_tests: [unique]',
        '      - name: price',
        'seeds:',
        '  - name: stores',
        '    config: { column_types: { store: VARCHAR } }',
        '',
      ].join('\n'),
    });
    const tru = p.nodes.get('trusted.tru_product')!;
    expect(tru.description).toBe('one row per product');
    expect(tru.propertiesFile).toBe('models/trusted/_trusted.yml');
    expect(tru.columns.map((c) => [c.name, c.description, c.tests.map((t) => [t.spec, t.line])])).toEqual([
      ['sku_id', 'the SKU', [['not_null', 8], ['unique', 9]]],
      ['price', undefined, []],
    ]);
    expect(p.nodes.get('seeds.stores')!.config.column_types).toEqual({ store: 'VARCHAR' });
    expect(p.propertyFiles).toEqual(['models/trusted/_trusted.yml']);
  });

  it('bad YAML names the file and the line', async () => {
    const err = await caught(() =>
      project({ 'marts/m.sql': 'select 1', 'marts/schema.yml': 'version: 2\nmodels:\n  - name: m\n    columns: [\n' }),
    );
    expect(err.code).toBe('YAML_INVALID');
    expect(err.message).toMatch(/^models\/marts\/schema\.yml line \d+: /);
  });

  it('a wrong structure names the file, the line and the key', async () => {
    const err = await caught(() =>
      project({
        'marts/m.sql': 'select 1',
        'marts/schema.yml': 'version: 2\nmodels:\n  - name: m\n    columns:\n      - name: a\n        descripton: typo\n',
      }),
    );
    expect(err.code).toBe('YAML_INVALID');
    expect(err.message).toBe('models/marts/schema.yml line 5: unknown key "models.0.columns.0.descripton"');
    const top = await caught(() => project({ 'marts/m.sql': 'select 1', 'marts/schema.yml': 'version: 2\nsources: []\n' }));
    expect(top.message).toContain('unknown key "sources"');
  });

  it('an entry for an unknown model names the yml file and the closest model', async () => {
    const err = await caught(() =>
      project({ 'staging/stg_orders.sql': 'select 1', 'staging/_s.yml': 'models:\n  - name: stg_order\n' }),
    );
    expect(err.code).toBe('YAML_UNKNOWN_MODEL');
    expect(err.message).toBe('models/staging/_s.yml line 2: models: model "stg_order" does not exist — did you mean stg_orders?');
  });

  it('a model described twice names both files', async () => {
    const err = await caught(() =>
      project({ 'staging/a.sql': 'select 1', 'staging/x.yml': 'models: [{ name: a }]', 'staging/y.yml': 'models: [{ name: a }]' }),
    );
    expect(err.code).toBe('YAML_DUPLICATE');
    expect(err.message).toContain('models/staging/x.yml');
    expect(err.message).toContain('models/staging/y.yml');
  });
});
