import { describe, expect, it } from 'vitest';
import { renderModel, trimSqlTail } from '../../../src/transform/render.js';
import { caught, ctx, memoryDb, project } from './helpers.js';

const norm = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('renderModel', () => {
  it('renders refs through ctx.relation and sources through ctx.sourceRelation', async () => {
    const p = await project({
      'staging/stg.sql': "select * from {{ source('vtex', 'products') }} union all select * from {{ source('vtex', 'products', as_of_run=var('run')) }}",
      'marts/m.sql': "select * from {{ ref('stg') }} s join {{ ref('seeds', 'stores') }} using (store);\n\n",
      'seeds/stores.csv': 'store\nx\n',
    }, { vars: { run: 'r1' } });
    const stg = p.nodes.get('staging.stg')!;
    expect(stg.sources).toEqual([{ source: 'vtex', dataset: 'products' }, { source: 'vtex', dataset: 'products', asOfRun: 'r1' }]);
    expect(renderModel(p, stg, ctx({ vars: { run: 'r2' } })).sql).toBe(
      'select * from bronze(vtex/products) union all select * from bronze(vtex/products@r2)',
    );
    const calls: string[] = [];
    const out = renderModel(p, p.nodes.get('marts.m')!, ctx({ relation: (id) => (calls.push(id), `<${id}>`) }));
    expect(out.sql).toBe('select * from <staging.stg> s join <seeds.stores> using (store)');
    expect(calls).toEqual(['staging.stg', 'seeds.stores']);
  });

  it('var and env_var: values, defaults, errors naming the var and the file', async () => {
    const p = await project(
      { 'marts/m.sql': "select '{{ var('as_of', '2026-01-01') }}' as d, {{ var('n') }} as n, '{{ env_var('SHOP', 'none') }}' as shop, '{{ env_var('REGION') }}' as r" },
      { vars: { n: 1 }, env: { REGION: 'sc' } },
    );
    const node = p.nodes.get('marts.m')!;
    expect(renderModel(p, node, ctx({ vars: { n: 7 }, env: { REGION: 'sp' } })).sql).toBe("select '2026-01-01' as d, 7 as n, 'none' as shop, 'sp' as r");
    expect(renderModel(p, node, ctx({ vars: { n: 7, as_of: '2026-03-05' }, env: { REGION: 'rs', SHOP: 'bistek' } })).sql).toBe(
      "select '2026-03-05' as d, 7 as n, 'bistek' as shop, 'rs' as r",
    );
    const noVar = await caught(() => renderModel(p, node, ctx({ env: { REGION: 'sp' } })));
    expect(noVar.code).toBe('VAR_UNDEFINED');
    expect(noVar.message).toMatch(/^model marts\.m \(models\/marts\/m\.sql\): var\('n'\) is not set and has no default/);
    const noEnv = await caught(() => renderModel(p, node, ctx({ vars: { n: 1 } })));
    expect(noEnv.code).toBe('ENV_VAR_UNDEFINED');
    expect(noEnv.message).toContain("env_var('REGION')");
    // parse mode checks too
    const parse = await caught(() => project({ 'marts/m.sql': "select {{ var('missing') }}" }));
    expect(parse.code).toBe('VAR_UNDEFINED');
  });

  it("env_var reads only the environment's own variables: 'constructor' or 'toString' is unset, not a property every object inherits", async () => {
    const p = await project({ 'marts/m.sql': "select '{{ env_var('constructor', 'none') }}' as a, '{{ env_var('toString', 'none') }}' as b" }, { env: {} });
    expect(renderModel(p, p.nodes.get('marts.m')!, ctx({ env: {} })).sql).toBe("select 'none' as a, 'none' as b");
    const unset = await caught(() => project({ 'marts/m.sql': "select '{{ env_var('hasOwnProperty') }}'" }, { env: {} }));
    expect(unset.code).toBe('ENV_VAR_UNDEFINED');
  });

  it('macros from models/macros are available everywhere, can call built-ins and each other', async () => {
    const p = await project({
      'macros/money.sql': '{% macro cents_to_brl(col) %}round({{ col }} / 100.0, 2){% endmacro %}',
      'macros/util.sql': "{% macro price_of(col) %}{{ cents_to_brl(col) }}::DECIMAL(18,2){% endmacro %}\n{% macro stores() %}{{ ref('stores') }}{% endmacro %}",
      'seeds/stores.csv': 'store\nx\n',
      'marts/m.sql': 'select {{ price_of("price_cents") }} as price from {{ stores() }}',
    });
    expect(renderModel(p, p.nodes.get('marts.m')!, ctx()).sql).toBe('select round(price_cents / 100.0, 2)::DECIMAL(18,2) as price from "seeds"."stores"');
    expect(p.nodes.get('marts.m')!.refs).toEqual(['seeds.stores']);
  });

  it('set, loops, whitespace control and explicit imports work as in Jinja', async () => {
    const p = await project({
      'macros/cols.sql': "{% macro pick(cols) %}{% for c in cols %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}{% endmacro %}",
      'marts/m.sql': [
        "{% set metrics = ['price', 'list_price'] %}",
        "{% import 'macros/cols.sql' as cols %}",
        'select',
        '{%- for m in metrics %}',
        '  max({{ m }}) as max_{{ m }},',
        '{%- endfor %}',
        '  {{ cols.pick(["store", "sku"]) }}',
        'from t',
      ].join('\n'),
    });
    expect(norm(renderModel(p, p.nodes.get('marts.m')!, ctx()).sql)).toBe('select max(price) as max_price, max(list_price) as max_list_price, store, sku from t');
  });

  it('config() renders to nothing and is recorded in parse mode', async () => {
    const p = await project({ 'marts/m.sql': "{{ config(materialized='view') }}select 1" });
    expect(p.nodes.get('marts.m')!.config.materialized).toBe('view');
    expect(renderModel(p, p.nodes.get('marts.m')!, ctx()).sql).toBe('select 1');
  });

  it('inlines ephemeral refs as parenthesised subqueries, recursively, and the SQL runs', async () => {
    const p = await project({
      'staging/base.sql': "{{ config(materialized='ephemeral') }}select 1 as id, 10 as v union all select 2, -5 -- trailing comment",
      'staging/positive.sql': "{{ config(materialized='ephemeral') }}select * from {{ ref('base') }} where {{ reject_if('v <= 0', 'non_positive') }};",
      'marts/m.sql': "select count(*) as n, sum(v) as total from {{ ref('positive') }}",
    });
    const sql = renderModel(p, p.nodes.get('marts.m')!, ctx({ relation: () => { throw new Error('no relation for ephemerals'); } })).sql;
    expect(sql).toContain('(select * from (select 1 as id');
    const db = await memoryDb();
    expect(await db.all(sql)).toEqual([{ n: 1n, total: 10n }]);
    // the ephemeral's reject_if filters, and is not reported as the outer model's rule
    expect(renderModel(p, p.nodes.get('marts.m')!, ctx({ rejectMode: { kind: 'audit', rule: 'x', earlier: [] } })).rejectRules).toEqual([]);
  });

  it('is_incremental() and this', async () => {
    const p = await project({
      'marts/events.sql': [
        "{{ config(materialized='incremental', unique_key='id') }}",
        'select * from {{ ref("src") }}',
        '{% if is_incremental() %}where ts > (select max(ts) from {{ this }}){% endif %}',
      ].join('\n'),
      'staging/src.sql': 'select 1 as id',
      'macros/m.sql': '{% macro me() %}{{ this }}{% endmacro %}',
      'marts/who.sql': 'select {{ me() }}',
    });
    const node = p.nodes.get('marts.events')!;
    expect(norm(renderModel(p, node, ctx()).sql)).toBe('select * from "staging"."src"');
    expect(norm(renderModel(p, node, ctx({ isIncremental: true, thisRelation: '"marts"."events__tmp"' })).sql)).toBe(
      'select * from "staging"."src" where ts > (select max(ts) from "marts"."events__tmp")',
    );
    // a macro sees the `this` of the model being rendered
    expect(renderModel(p, p.nodes.get('marts.who')!, ctx({ thisRelation: '"marts"."who"' })).sql).toBe('select "marts"."who"');
  });

  it('reject_if: keep mode, and audit mode selecting exactly the rows each rule rejects (first match wins)', async () => {
    const p = await project({
      'trusted/tru_price.sql': [
        'select * from {{ ref("prices") }}',
        "where {{ reject_if('price <= 0', 'non_positive_price') }}",
        "  and {{ reject_if('list_price < price', 'list_below_price') }}",
        "  and {{ reject_if('sku is null', 'missing_sku') }}",
      ].join('\n'),
      'staging/prices.sql': 'select 1',
    });
    const node = p.nodes.get('trusted.tru_price')!;
    const rules = ['non_positive_price', 'list_below_price', 'missing_sku'];
    expect(node.rejectRules).toEqual([
      { condition: 'price <= 0', rule: 'non_positive_price' },
      { condition: 'list_price < price', rule: 'list_below_price' },
      { condition: 'sku is null', rule: 'missing_sku' },
    ]);
    const keep = renderModel(p, node, ctx());
    expect(keep.rejectRules.map((r) => r.rule)).toEqual(rules);
    expect(keep.sql).toContain('where (NOT coalesce((price <= 0), false))');
    const audit = renderModel(p, node, ctx({ rejectMode: { kind: 'audit', rule: 'list_below_price', earlier: ['non_positive_price'] } }));
    expect(norm(audit.sql)).toBe(
      'select * from "staging"."prices" where (NOT coalesce((price <= 0), false)) and coalesce((list_price < price), false) and TRUE',
    );

    const db = await memoryDb();
    await db.run('create schema staging');
    await db.run(`create table staging.prices as select * from (values
      (1, 'a', 10.0, 12.0),   -- good
      (2, 'b', 0.0, 12.0),    -- non_positive_price
      (3, 'c', -1.0, -5.0),   -- non_positive_price and list_below_price: first rule wins
      (4, 'd', 10.0, 8.0),    -- list_below_price
      (5, null, 10.0, null),  -- missing_sku (list_price null: the condition is null → not rejected)
      (6, null, 5.0, 1.0)     -- list_below_price and missing_sku
    ) v(id, sku, price, list_price)`);
    const ids = async (sql: string) => (await db.all(`select id from (${sql}) order by id`)).map((r) => r.id);
    expect(await ids(keep.sql)).toEqual([1]);
    const byRule: Record<string, unknown[]> = {};
    for (const [i, rule] of rules.entries()) {
      byRule[rule] = await ids(renderModel(p, node, ctx({ rejectMode: { kind: 'audit', rule, earlier: rules.slice(0, i) } })).sql);
    }
    expect(byRule).toEqual({ non_positive_price: [2, 3], list_below_price: [4, 6], missing_sku: [5] });
  });

  it('reject_if rule names are checked', async () => {
    const bad = await caught(() => project({ 'trusted/t.sql': "select 1 where {{ reject_if('x', 'Bad Rule') }}" }));
    expect(bad.code).toBe('REJECT_RULE_INVALID');
    const dup = await caught(() => project({ 'trusted/t.sql': "select 1 where {{ reject_if('x', 'r') }} and {{ reject_if('y', 'r') }}" }));
    expect(dup.code).toBe('REJECT_RULE_DUPLICATE');
  });

  it('renders assertions; refuses seeds', async () => {
    const p = await project({ 'assertions/a.sql': "select * from {{ ref('s') }} where x < 0", 'seeds/s.csv': 'x\n1\n' });
    expect(renderModel(p, p.nodes.get('assertions.a')!, ctx()).sql).toBe('select * from "seeds"."s" where x < 0');
    const err = await caught(() => renderModel(p, p.nodes.get('seeds.s')!, ctx()));
    expect(err.code).toBe('MODEL_NOT_RENDERABLE');
  });

  it('projects do not share state: macros of one are unknown to another', async () => {
    const a = await project({ 'macros/m.sql': '{% macro only_a() %}1{% endmacro %}', 'marts/x.sql': 'select {{ only_a() }}' });
    const err = await caught(() => project({ 'marts/x.sql': 'select {{ only_a() }}' }));
    expect(err.code).toBe('JINJA_ERROR');
    expect(renderModel(a, a.nodes.get('marts.x')!, ctx()).sql).toBe('select 1');
  });
});

describe('renderModel: dependencies hidden behind is_incremental()', () => {
  it('a ref or source seen only in an incremental render is an error with the fix; declaring it with set works', async () => {
    const p = await project({
      'staging/a.sql': 'select 1 as id',
      'staging/b.sql': 'select 1 as id',
      'marts/hidden.sql': "select * from {{ ref('a') }}{% if is_incremental() %} join {{ ref('b') }} using (id){% endif %}",
      'marts/hidden_source.sql': "select 1{% if is_incremental() %} from {{ source('vtex', 'products') }}{% endif %}",
      'marts/declared.sql': "{% set _ = ref('b') %}select * from {{ ref('a') }}{% if is_incremental() %} join {{ ref('b') }} using (id){% endif %}",
    });
    const ref = await caught(() => renderModel(p, p.nodes.get('marts.hidden')!, ctx({ isIncremental: true })));
    expect(ref.code).toBe('REF_NOT_DECLARED');
    expect(ref.message).toContain("{% set _ = ref('b') %}");
    const source = await caught(() => renderModel(p, p.nodes.get('marts.hidden_source')!, ctx({ isIncremental: true })));
    expect(source.code).toBe('SOURCE_NOT_DECLARED');
    const declared = p.nodes.get('marts.declared')!;
    expect(declared.dependsOn).toEqual(['staging.a', 'staging.b']);
    expect(renderModel(p, declared, ctx({ isIncremental: true })).sql).toBe('select * from "staging"."a" join "staging"."b" using (id)');
  });
});

describe('trimSqlTail', () => {
  it.each([
    ['select 1;', 'select 1'],
    ['select 1 ;; \n', 'select 1'],
    ['select 1 -- done', 'select 1'],
    ['select 1; -- done\n', 'select 1'],
    ['select 2 as n; /* done */', 'select 2 as n'],
    ['select 1 /* a */ + 2 -- b\n-- c\n', 'select 1 /* a */ + 2'],
    ["select ';--' as x", "select ';--' as x"],
    ["select 'it''s; -- not a comment'", "select 'it''s; -- not a comment'"],
    ['select 1 as "a;--b"  ;', 'select 1 as "a;--b"'],
    ["select e'\\'; --' as x;", "select e'\\'; --' as x"],
    ["select e'\\\\'; -- \\ ends the string", "select e'\\\\'"],
    ['select $$ ; -- $$ as x -- c', 'select $$ ; -- $$ as x'],
    ['select 1; select 2; -- two', 'select 1; select 2'],
    ['-- only a comment', ''],
  ])('%j → %j', (sql, trimmed) => {
    expect(trimSqlTail(sql)).toBe(trimmed);
  });
});
