import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import nunjucks from 'nunjucks';
import { renderModel } from '../../src/transform/render.js';
import { projectLake } from '../helpers/models.js';
import { ctx, project } from './compile/helpers.js';

/** What model marts.m renders to (its SQL, or the files of a project holding it), or the error's message. */
async function rendered(sql: string | Record<string, string>): Promise<string> {
  try {
    const p = await project(typeof sql === 'string' ? { 'marts/m.sql': sql } : sql);
    return renderModel(p, p.nodes.get('marts.m')!, ctx()).sql;
  } catch (error) {
    return `ERROR: ${(error as Error).message}`;
  }
}

describe('Jinja as dbt models write it', () => {
  it('config(enabled=False) disables the model (Jinja True/False/None are not silently undefined)', async () => {
    // In Jinja (and dbt) True/False/None are the same constants as true/false/none. Here they are
    // undefined names: config(enabled=False) passes undefined and the model stays enabled.
    const p = await project({ 'marts/m.sql': `{{ config(enabled=False) }} select 1 as x`, 'marts/n.sql': `{{ config(enabled=false) }} select 1 as x` });
    expect(p.nodes.get('marts.n')!.config.enabled).toBe(false);
    expect(p.nodes.get('marts.m')!.config.enabled).toBe(false);
    expect(await rendered(`select {{ 1 if True else 0 }} as t, {{ 1 if None is none else 0 }} as n`)).toBe('select 1 as t, 1 as n');
  });

  it('dict and list methods dbt macros use: .items(), .get(), .append()', async () => {
    expect(await rendered(`{% set cols = {'a': 1, 'b': 2} %}select {% for k, v in cols.items() %}{{ v }} as {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}`)).toBe(
      'select 1 as a, 2 as b',
    );
    expect(await rendered(`{% set d = {'a': 1} %}select {{ d.get('a', 0) }} as a, {{ d.get('z', 9) }} as z`)).toBe('select 1 as a, 9 as z');
    expect(await rendered(`{% set l = [] %}{% set _ = l.append('x') %}select {{ l | length }} as n`)).toBe('select 1 as n');
  });

  it('leaves the nunjucks module as it found it for the host application', async () => {
    const runtime = nunjucks.runtime as unknown as { memberLookup: unknown };
    const compiler = (nunjucks as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } }).compiler.Compiler.prototype;
    const before = runtime.memberLookup;
    const compileFor = compiler.compileFor;
    const compileAdd = compiler.compileAdd;
    expect(await rendered(`select {{ 1 if True else 0 }} as t`)).toBe('select 1 as t');
    expect(runtime.memberLookup).toBe(before);
    expect(compiler.compileFor).toBe(compileFor);
    expect(compiler.compileAdd).toBe(compileAdd);
    // A host's own nunjucks still sees True as an undefined name (plain nunjucks).
    expect(new nunjucks.Environment().renderString('{{ 1 if True else 0 }}', {})).toBe('0');
  });
});

/** Constructs of Jinja (and so dbt) that plain nunjucks reads differently or refuses. */
describe('Jinja constructs of dbt projects', () => {
  it('a nested dict literal builds: its closing "}}" does not end a {{ … }} tag', async () => {
    // nunjucks' lexer took the final `}}` of `{'sul': {'uf': 'SC'}}` for a variable-end token.
    const { lake } = await projectLake({
      'marts/m.sql': [
        `{% set regions = {'sul': {'uf': 'SC', 'capital': 'Florianopolis'}, 'sudeste': {'uf': 'SP', 'capital': 'Sao Paulo'}} %}`,
        `{% for name, r in regions.items() %}select '{{ name }}' as region, '{{ r['uf'] }}' as uf, '{{ r.capital }}' as capital{% if not loop.last %} union all {% endif %}{% endfor %}`,
      ].join('\n'),
    });
    const result = await lake.build();
    expect(result.models.map((m) => [m.name, m.status, m.error ?? null])).toEqual([['marts.m', 'success', null]]);
    expect(await lake.query('select region, uf, capital from marts.m order by region')).toEqual([
      { region: 'sudeste', uf: 'SP', capital: 'Sao Paulo' },
      { region: 'sul', uf: 'SC', capital: 'Florianopolis' },
    ]);
    expect(await rendered(`select {{ var('thresholds', {'price': {'max': 1000}})['price']['max'] }} as max_price`)).toBe('select 1000 as max_price');
    expect(await rendered(`select {{ {'a': {'b': '}}'}}['a']['b'] }} as x{# {'c': {'d': 1}} #}`)).toBe("select }} as x");
    // No line break is added: an error after the dict keeps its line.
    expect(await rendered(`{% set d = {'a': {'b': 1}} %}\nselect 1\n{{ nope() }}`)).toMatch(/Jinja error at line 3: /);
    // A file read by {% import %} (nunjucks' loader, not the project's compile) is spaced the same way.
    expect(
      await rendered({
        'macros/regions.sql': `{% macro uf_of(name) %}{% set r = {'sul': {'uf': 'SC'}, 'sudeste': {'uf': 'SP'}} %}'{{ r[name]['uf'] }}'{% endmacro %}`,
        'marts/m.sql': `{% import 'macros/regions.sql' as regions %}select {{ regions.uf_of('sul') }} as uf`,
      }),
    ).toBe("select 'SC' as uf");
  });

  it('{% for key in a_dict %} iterates the keys, as in Jinja, instead of running zero times', async () => {
    // nunjucks ran no iteration for a one-name loop over an object and took the {% else %}.
    const { lake } = await projectLake({
      'macros/rename.sql': `{% macro renamed(mapping) -%}
{%- for old in mapping %}{{ old }} as {{ mapping[old] }}{% if not loop.last %}, {% endif %}{% else %}'nothing to rename' as oops{% endfor -%}
{%- endmacro %}`,
      'marts/m.sql': `select {{ renamed({'a': 'order_id', 'b': 'total'}) }} from (select 1 as a, 2.5 as b) t`,
    });
    const result = await lake.build();
    expect(result.models.map((m) => [m.name, m.status])).toEqual([['marts.m', 'success']]);
    expect(await lake.query('select * from marts.m')).toEqual([{ order_id: 1, total: 2.5 }]);
    // Two names still take key and value; lists, strings and an empty dict are as before.
    expect(await rendered(`{% for k, v in {'a': 1, 'b': 2} %}{{ k }}={{ v }} {% endfor %}{% for x in [3, 4] %}{{ x }}{% endfor %}{% for ch in 'ab' %}{{ ch }}{% endfor %}{% for k in {} %}x{% else %}empty{% endfor %}`)).toBe('a=1 b=2 34abempty');
  });

  it('dict.get(missing) is none, as in Jinja, and dict.get(missing, default) the default', async () => {
    // nunjucks' get gave undefined: `is none` was false, the macro took the "has an override"
    // branch and output the missing value.
    const files = {
      'macros/typed.sql': `{% macro typed(cols, overrides) -%}
{%- for c in cols %}{% set t = overrides.get(c) %}{% if t is none %}{{ c }}{% else %}{{ c }}::{{ t }} as {{ c }}{% endif %}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}`,
      'marts/m.sql': `select {{ typed(['sku', 'price'], {'price': 'DECIMAL(18,2)'}) }} from t`,
    };
    expect(await rendered(files)).toBe('select sku, price::DECIMAL(18,2) as price from t');
    expect(await rendered(`{% set d = {'a': none, 'b': 0} %}select {{ d.get('z', 7) }}, {{ d.get('a') is none }}, {{ d.get('b', 7) }}, {{ d.get('items') is none }}`)).toBe('select 7, True, 0, True');
  });

  it('{% do list.append(x) %} runs the expression and outputs nothing (dbt enables jinja2.ext.do)', async () => {
    // It was refused: "unknown block tag: do".
    const files = {
      'macros/cols.sql': `{% macro money_cols(names) -%}
{%- set out = [] -%}
{%- for n in names %}{% do out.append(n ~ '::DECIMAL(18,2) as ' ~ n) %}{% endfor -%}
{{ out | join(', ') }}
{%- endmacro %}`,
      'marts/m.sql': `select {{ money_cols(['price', 'list_price']) }} from (select 1.5 as price, 2 as list_price) t`,
    };
    expect(await rendered(files)).toBe('select price::DECIMAL(18,2) as price, list_price::DECIMAL(18,2) as list_price from (select 1.5 as price, 2 as list_price) t');
    expect(await rendered(`{% set d = {} %}{%- do d.update({'a': 1}) -%}\nselect {{ d.a }} as a`)).toBe('select 1 as a');
    expect(await rendered(`select 1\n{% do nope() %}`)).toMatch(/Jinja error at line 2: /);
  });

  it('list + list is one list, as in Jinja, instead of the lists\' text glued (JavaScript\'s +)', async () => {
    // The loop over `keys + measures` ran over the characters of "store,skuprice".
    expect(await rendered(`{% set keys = ['store', 'sku'] %}{% set measures = ['price'] %}{% set cols = keys + measures %}select {% for c in cols %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %} from t`)).toBe(
      'select store, sku, price from t',
    );
    expect(await rendered(`{% set a = [1] %}{% set b = a + [2] %}select {{ a | length }}, {{ b | length }}, {{ 1 + 2 * 3 }}, {{ (1 + 2) * 3 }}, {{ 'x' + 'y' }}, {{ 1.5 + 1 }}`)).toBe('select 1, 2, 7, 9, xy, 2.5');
  });

  it("{{ this.schema }}, this.name, this.identifier and ref('x').schema/.name/.identifier name the relation, as dbt's Relation does", async () => {
    // `this` and ref() were plain strings: this.schema was undefined and the model failed.
    const { lake } = await projectLake({
      'marts/m.sql': `select '{{ this.schema }}' as s, '{{ this.name }}' as n, '{{ this.identifier }}' as i`,
    });
    const result = await lake.build();
    expect(result.models.map((m) => [m.name, m.status, m.error ?? null])).toEqual([['marts.m', 'success', null]]);
    expect(await lake.query('select * from marts.m')).toEqual([{ s: 'marts', n: 'm', i: 'm' }]);

    const files = {
      'staging/stg_a.sql': `select 1 as x`,
      'staging/eph.sql': `{{ config(materialized='ephemeral') }} select 2 as y`,
      'marts/m.sql': `{% set a = ref('stg_a') %}{% set e = ref('eph') %}{% set s = source('vtex', 'products') %}select {{ a.schema }}.{{ a.name }}.{{ a.identifier }}, {{ e.schema }}.{{ e.name }}, {{ s.schema }}.{{ s.name }} from {{ a }}, {{ e }}, {{ s }}`,
    };
    expect(await rendered(files)).toBe('select staging.stg_a.stg_a, staging.eph, vtex.products from "staging"."stg_a", ( select 2 as y\n), bronze(vtex/products)');
    // They are still text: tests, comparisons and filters see the relation's SQL, as before.
    expect(await rendered(`select '{{ this is string }} {{ this == '"x"."this"' }} {{ this | replace('"', '') }} {{ this | length }}', {{ 'abc'.name is undefined }}`)).toBe(
      `select 'True True x.this 10', True`,
    );
  });
});

describe("Python's str methods, as dbt macros call them", () => {
  it("replace changes every match and split() splits on whitespace, as in Python (JavaScript's change the first match, split nothing)", async () => {
    expect(await rendered(`select '{{ 'a_b_c'.replace('_', '-') }}' as r, '{{ 'a_b_c'.replace('_', '-', 1) }}' as r1`)).toBe("select 'a-b-c' as r, 'a-b_c' as r1");
    expect(await rendered(`select '{{ ' a  b\tc '.split() | join('|') }}' as s, '{{ 'a,b,c'.split(',', 1) | join('|') }}' as s1`)).toBe("select 'a|b|c' as s, 'a|b,c' as s1");
  });

  it('lower, upper, strip, startswith, endswith and join work on strings, and on the text a macro returns', async () => {
    expect(
      await rendered({
        'macros/m.sql': `{% macro col() %}  Price_BRL {% endmacro %}`,
        'marts/m.sql': `select {{ col().strip().lower() }}, '{{ 'sku'.upper() }}', {{ 1 if 'int_x'.startswith(['int_', 'stg_']) else 0 }}, {{ 1 if 'x_at'.endswith('_at') else 0 }}, '{{ ', '.join(['a', 'b']) }}', '{{ 'xxaxx'.strip('x') }}'`,
      }),
    ).toBe("select price_brl, 'SKU', 1, 1, 'a, b', 'a'");
  });
});

describe('loop filters: {% for x in items if cond %}', () => {
  it('keeps the items that pass, and loop.last, loop.index and {% else %} count only those (the loop ran zero times)', async () => {
    expect(
      await rendered(`select {% for c in ['id', '_loaded_at', 'price', '_run_id'] if not c.startswith('_') %}{{ loop.index }} as {{ c }}{% if not loop.last %}, {% endif %}{% endfor %}`),
    ).toBe('select 1 as id, 2 as price');
    expect(await rendered(`select {% for k, v in {'a': 1, 'b': 2, 'c': 3}.items() if v != 2 %}{{ v }} as {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}`)).toBe(
      'select 1 as a, 3 as c',
    );
    expect(await rendered(`select {% for x in [1, 2] if x > 5 %}{{ x }}{% else %}0{% endfor %} as none_kept`)).toBe('select 0 as none_kept');
    expect(
      await rendered(`select {% for row in [[1, 2], [3]] %}{% for x in row if x != 2 %}{{ x }}{% if not loop.last %} + {% endif %}{% endfor %}{% if not loop.last %}, {% endif %}{% endfor %}`),
    ).toBe('select 1, 3');
    // An inline if with an else is still an expression to iterate.
    expect(await rendered(`select {% for x in ([1] if false else [2, 3]) %}{{ x }}{% endfor %} as n`)).toBe('select 23 as n');
  });
});

describe('tuples', () => {
  it("('a', 'b') is a tuple of both, as in Jinja, not the last item alone (JavaScript's comma operator)", async () => {
    expect(await rendered(`select {{ 1 if 'sku' in ('sku', 'store') else 0 }} as hit, {{ ('a', 'b') | length }} as n, {{ 1 if 'int_x'.startswith(('int_', 'stg_')) else 0 }} as p`)).toBe(
      'select 1 as hit, 2 as n, 1 as p',
    );
    expect(await rendered(`select {% for c in ('store', 'sku') %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}, {{ (1 + 2) * 3 }} as g`)).toBe('select store, sku, 9 as g');
  });
});

describe('macro arguments', () => {
  const macros = { 'macros/money.sql': `{% macro cents(col, scale=2) %}round({{ col }} / 100, {{ scale }}){% endmacro %}\n{% macro price(col) %}{{ cents(col, scael=4) }}{% endmacro %}` };

  it('an unknown keyword argument is an error naming the macro and the argument, as in Jinja (the macro ran with its default)', async () => {
    const out = await rendered({ ...macros, 'marts/m.sql': `select\n{{ cents('p', scal=4) }} as price` });
    expect(out).toMatch(/^ERROR: model marts\.m \(models\/marts\/m\.sql\): Jinja error at line 2: macro cents\(col, scale\) has no argument scal= — did you mean scale\?/);
    expect(await rendered({ ...macros, 'marts/m.sql': `select {{ price('p') }} as price` })).toMatch(/macro cents\(col, scale\) has no argument scael=/);
  });

  it('more positional arguments than the macro has is an error, as in Jinja (the extra ones were dropped)', async () => {
    expect(await rendered({ ...macros, 'marts/m.sql': `select {{ cents('p', 4, 5) }} as price` })).toMatch(/macro cents\(col, scale\) takes 2 arguments, got 3/);
  });

  it('defaults, keywords for positional arguments and {% call %} blocks still work', async () => {
    expect(
      await rendered({
        ...macros,
        'macros/wrap.sql': `{% macro wrap(fn='coalesce') %}{{ fn }}({{ caller() }}, 0){% endmacro %}`,
        'marts/m.sql': `select {{ cents('p') }}, {{ cents('p', 3) }}, {{ cents(col='q', scale=1) }}, {% call wrap() %}x{% endcall %}`,
      }),
    ).toBe('select round(p / 100, 2), round(p / 100, 3), round(q / 100, 1), coalesce(x, 0)');
  });
});

describe("dbt's {{ return(x) }} in macros", () => {
  it('a macro returns the value (a list, a string) instead of its text, and leaves at the first return', async () => {
    expect(
      await rendered({
        'macros/cols.sql': [
          `{% macro key_cols() %}{{ return(['store', 'sku']) }}{% endmacro %}`,
          `{% macro pick(x) %}{% if x %}{{ return('yes') }}{% endif %}{{ return('no') }}{% endmacro %}`,
          // The caller's loop goes on after each inner return: loop.index and loop.last are its own.
          `{% macro flags() %}{% for c in key_cols() %}[{{ pick(c == 'store') }}{{ loop.index }}{{ 'L' if loop.last }}]{% endfor %}{% endmacro %}`,
        ].join('\n'),
        'marts/m.sql': `select {{ key_cols() | join(', ') }}, '{{ pick(true) }}{{ pick(false) }}' as p, '{{ flags() }}' as f`,
      }),
    ).toBe("select store, sku, 'yesno' as p, '[yes1][no2L]' as f");
  });

  it('return() outside a macro is an error saying so', async () => {
    expect(await rendered(`select {{ return(1) }}`)).toBe('ERROR: model marts.m (models/marts/m.sql): Jinja error at line 1: return() is only allowed inside a macro');
  });
});

describe('trailing commas', () => {
  it("a list, dict or tuple may end with a comma, as in Jinja (nunjucks refused `['a', 'b',]`)", async () => {
    expect(await rendered(`{% set cols = [\n  'store',\n  'sku',\n] -%}\n{% set types = {'price': 'DECIMAL(18,2)',} -%}\nselect {{ cols | join(', ') }}, {{ types.price }}, {{ ('one',) | length }}, {{ ('a', 'b',) | length }}`)).toBe(
      'select store, sku, DECIMAL(18,2), 1, 2',
    );
    // Slices and an unclosed list are read as before.
    expect(await rendered(`{% set l = [1, 2, 3] %}select {{ l[1:] | join(',') }}, {{ l[:1] | join(',') }}`)).toBe('select 2,3, 1');
    expect(await rendered(`select\n{{ [1, 2 }}`)).toMatch(/^ERROR: model marts\.m \(models\/marts\/m\.sql\): Jinja error at line 2: /);
  });
});

describe('negative indexes', () => {
  it("cols[-1] is the last item, as in Python (it was undefined), and 'abc'[-1] the last character", async () => {
    expect(await rendered(`{% set cols = ['store', 'sku', 'price'] %}select {{ cols[-1] }}, {{ cols[-3] }}, '{{ 'abc'[-1] }}', {{ cols[1] }}`)).toBe("select price, store, 'c', sku");
    expect(await rendered(`{% set cols = ['store'] %}select {{ cols[-2] }}`)).toBe("ERROR: model marts.m (models/marts/m.sql): Jinja error at line 1: 'cols[…]' is undefined");
    // A slice from a negative start, cols[-2:], is a slice (it was taken for cols[-2]).
    expect(await rendered(`{{ [1, 2, 3, 4][-2:] }}|{{ [1, 2, 3, 4][-3:-1] }}|{{ [1, 2, 3, 4][:-1] }}|{{ [1, 2][-1] }}`)).toBe('[3, 4]|[2, 3]|[1, 2, 3]|2');
    // A slice of a string is a string (it was a list of its characters).
    expect(await rendered(`{% set col = 'price_cents' %}select {{ col[:-6] }}, '{{ 'abcdef'[-2:] }}', '{{ 'abcdef'[::-1] }}', '{{ col[:5].upper() }}'`)).toBe("select price, 'ef', 'fedcba', 'PRICE'");
  });
});

describe('namespace()', () => {
  it("{% set ns.x = … %} changes the namespace's attribute, inside loops too, as in Jinja (it failed: \"reading 'charAt'\")", async () => {
    expect(
      await rendered(
        `{% set ns = namespace(found=false, n=0) %}{% for c in ['store', 'sku'] %}{% if c == 'sku' %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}select {{ ns.found }} as found, {{ ns.n }} as n`,
      ),
    ).toBe('select True as found, 2 as n');
    expect(await rendered(`{% set x = 1 %}select\n{% set x.y = 2 %}1`)).toBe('ERROR: model marts.m (models/marts/m.sql): Jinja error at line 2: set: only a namespace() or a dict has attributes to set');
  });
});

describe('printing a list, tuple or dict', () => {
  it("prints it as Jinja (Python) does: `in {{ ('a', 'b') }}` is `in ('a', 'b')`, not `in a,b`", async () => {
    expect(await rendered(`select * from t where store in {{ ('bistek', "d'avó") }} and n in {{ (1,) }}`)).toBe(`select * from t where store in ('bistek', "d'avó") and n in (1,)`);
    expect(await rendered(`{% set ids = [1, 2] %}select {{ ids }} as l, '{{ {'a': none, 'b': true} }}' as d, {{ ids | join(', ') }} as j`)).toBe(
      `select [1, 2] as l, '{'a': None, 'b': True}' as d, 1, 2 as j`,
    );
  });

  it("a dict's items are (key, value) tuples, as Jinja prints them: dictsort, .items() and | items", async () => {
    expect(await rendered(`{% set d = {'b': 2, 'a': 'x'} %}{{ d | dictsort }}|{{ d.items() | list }}|{{ d | items | list }}|{{ (d | dictsort)[0] }}`)).toBe(
      `[('a', 'x'), ('b', 2)]|[('b', 2), ('a', 'x')]|[('b', 2), ('a', 'x')]|('a', 'x')`,
    );
    // Still pairs to unpack and index.
    expect(await rendered(`{% set d = {'b': 2, 'a': 1} %}{% for k, v in d | dictsort %}{{ k }}={{ v }} {% endfor %}{% for p in d.items() %}{{ p[0] }}{% endfor %}`)).toBe('a=1 b=2 ba');
  });
});

describe("Jinja's filters that nunjucks lacks", () => {
  it('map (attribute= or a filter), unique, tojson, min, max and items work as in Jinja ("filter not found: map")', async () => {
    expect(await rendered(`{{ [1, 2] | count }}|{{ 'abc' | count }}|{{ {'a': 1} | count }}`)).toBe('2|3|1');
    const cols = `{% set cols = [{'name': 'Store', 'type': 'VARCHAR'}, {'name': 'sku', 'type': 'VARCHAR'}, {'name': 'store', 'type': 'TEXT'}] %}`;
    expect(await rendered(`${cols}select {{ cols | map(attribute='name') | map('lower') | unique | join(', ') }}`)).toBe('select store, sku');
    expect(await rendered(`${cols}select '{{ cols | map(attribute='type') | unique | list | tojson }}' as j, {{ [3, 1, 2] | min }} as lo, {{ [3, 1, 2] | max }} as hi`)).toBe(
      `select '["VARCHAR","TEXT"]' as j, 1 as lo, 3 as hi`,
    );
    expect(await rendered(`select {% for k, v in {'a': 1, 'b': 2} | items %}{{ v }} as {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}`)).toBe('select 1 as a, 2 as b');
  });
});

describe('{% set %} inside a loop', () => {
  it('sets a name of the loop body, as in Jinja: the variable outside the loop keeps its value (nunjucks changed it)', async () => {
    expect(await rendered(`{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}select {{ x }} as x`)).toBe('select 1 as x');
    // Every iteration starts from the value outside, in an {% if %} too; namespace() is what carries a value across.
    expect(await rendered(`{% set t = 0 %}{% for i in [1, 2, 3] %}{% if i > 1 %}{% set t = t + i %}{% endif %}{{ t }},{% endfor %}{{ t }}`)).toBe('0,2,3,0');
    expect(await rendered(`{% set ns = namespace(t=0) %}{% for i in [1, 2] %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}`)).toBe('3');
    // A macro argument and an outer loop's name are scoped the same way; so is {% else %}.
    expect(await rendered(`{% macro m(x) %}{% for i in [5] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}{% endmacro %}{{ m(1) }}`)).toBe('51');
    expect(await rendered(`{% for a in [1, 2] %}{% for b in [3] %}{% set a = b %}{{ a }}{% endfor %}{{ a }}{% endfor %}`)).toBe('3132');
    expect(await rendered(`{% set x = 'a' %}{% for i in [] %}{% else %}{% set x = 'b' %}{{ x }}{% endfor %}{{ x }}`)).toBe('ba');
    // A name first set in the loop is gone after it; {% if %} is no scope (as in Jinja).
    expect(await rendered(`{% for i in [1] %}{% set y = 1 %}{% endfor %}{{ y }}`)).toMatch(/'y' is undefined/);
    expect(await rendered(`{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}`)).toBe('2');
  });
});

describe('tuple unpacking in {% set %}', () => {
  it('{% set a, b = 1, 2 %} and {% set a, b = pair %} unpack, as in Jinja (a parse error, and both names set to the whole pair)', async () => {
    expect(await rendered(`{% set a, b = 1, 2 %}select {{ a }} as a, {{ b }} as b`)).toBe('select 1 as a, 2 as b');
    expect(await rendered(`{% set a, b = ('x', 'y') %}select '{{ a }}' as a, '{{ b }}' as b`)).toBe("select 'x' as a, 'y' as b");
    expect(await rendered(`{% for p in {'k': 'v'}.items() %}{% set k, v = p %}{{ k }}={{ v }}{% endfor %}`)).toBe('k=v');
    // One name takes the tuple; the wrong number of values is an error with its line.
    expect(await rendered(`{% set x = 1, 2 %}{{ x }}`)).toBe('(1, 2)');
    expect(await rendered(`select 1\n{% set a, b = 1, 2, 3 %}`)).toMatch(/Jinja error at line 2: set: too many values to unpack \(expected 2, got 3\)/);
    expect(await rendered(`{% set a, b = 1 %}`)).toMatch(/Jinja error at line 1: set: cannot unpack 1 into 2 names/);
    // The two-name loop already unpacked.
    expect(await rendered(`{% for a, b in [(1, 2), (3, 4)] %}{{ a }}{{ b }};{% endfor %}`)).toBe('12;34');
  });
});

describe("Python's % formatting", () => {
  it("'%.2f' % value formats as in Python (JavaScript's % made it NaN), and so does the format filter (\"filter not found\")", async () => {
    expect(await rendered(`select {{ "%.2f" % 3.14159 }} as p, '{{ "%s_%s" % ('a', 'b') }}' as k, '{{ "%05.1f|%-4s|%x|%r|%+d|%%" % (3.14159, 'a', 255, 'q', 3) }}' as f`)).toBe(
      "select 3.14 as p, 'a_b' as k, '003.1|a   |ff|'q'|+3|%' as f",
    );
    expect(await rendered(`{{ "%(col)s > %(min)d" % {'col': 'price', 'min': 0} }}|{{ "%s" % none }}|{{ "%s" % [1, 'a'] }}`)).toBe("price > 0|None|[1, 'a']");
    expect(await rendered(`{{ '%s-%d' | format('a', 3) }}|{{ '%(x)s' | format(x=1) }}`)).toBe('a-3|1');
    // Numbers still take the remainder, with Python's sign (-7 % 3 is 2).
    expect(await rendered(`{{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }}`)).toBe('1 2 -2');
    expect(await rendered(`select 1\n{{ "%s %s" % ('a',) }}`)).toMatch(/Jinja error at line 2: not enough arguments for format string '%s %s'/);
    expect(await rendered(`{{ "%s" % ('a', 'b') }}`)).toMatch(/Jinja error at line 1: not all arguments converted during string formatting/);
  });
});

describe('none, true and false as Jinja prints them', () => {
  it('{{ none }} prints None (it was an error) and true/false print True/False (they printed true/false), in ~, string and join too', async () => {
    expect(await rendered(`{{ none }}|{{ None }}|{% set x = none %}{{ x }}|{{ var('x', none) }}|{{ true }}|{{ True }}|{{ false }}|{{ False }}`)).toBe('None|None|None|None|True|True|False|False');
    // Jinja's tests give booleans, which print the same way.
    expect(await rendered(`{{ 1 is defined }} {{ nope is defined }} {{ none is none }} {{ 1 is not none }} {{ 'a' is string }} {{ {'a': 1} is mapping }} {{ 1 is iterable }}`)).toBe(
      'True False True True True True False',
    );
    expect(await rendered(`{{ 'a' ~ 1 ~ none ~ true }}|{{ none | string }}|{{ true | string }}|{{ [1, none, true] | join(',') }}|{{ [{'n': 'x'}, {'n': 'y'}] | join(', ', attribute='n') }}`)).toBe(
      'a1NoneTrue|None|True|1,None,True|x, y',
    );
    // What is undefined is still an error naming it.
    expect(await rendered(`select\n{{ nope }}`)).toMatch(/Jinja error at line 2: 'nope' is undefined/);
  });
});

describe('selectattr and rejectattr', () => {
  it("pass the attribute to the test, as in Jinja: selectattr('type', 'equalto', 'int') kept every item with a type", async () => {
    const cols = `{% set cols = [{'name': 'id', 'type': 'int'}, {'name': 'nm', 'type': 'text'}, {'name': 'x', 'type': none}] %}`;
    expect(await rendered(`${cols}select {{ cols | selectattr('type', 'equalto', 'int') | map(attribute='name') | join(', ') }}`)).toBe('select id');
    expect(await rendered(`${cols}select {{ cols | rejectattr('type', 'equalto', 'int') | map(attribute='name') | join(', ') }}`)).toBe('select nm, x');
    // Without a test, the attribute's truth, as before.
    expect(await rendered(`${cols}{{ cols | selectattr('type') | map(attribute='name') | join(',') }}|{{ cols | rejectattr('type') | map(attribute='name') | join(',') }}`)).toBe('id,nm|x');
    expect(await rendered(`{{ [1] | selectattr('a', 'nope') | list }}`)).toMatch(/Jinja error at line 1: test not found: nope/);
  });
});

describe('whitespace control around {% set %} blocks', () => {
  it('{% set x -%} strips the whitespace after the tag, as in Jinja (it was kept: x began with a line break and the indent)', async () => {
    expect(await rendered(`{%- set cols -%}\n  id, name \n{%- endset -%}\nselect {{ cols }}`)).toBe('select id, name');
    expect(await rendered(`{% set x -%}\n  select 1\n{% endset %}[{{ x }}]`)).toBe('[select 1\n]');
    // Without the dash it is kept, as before.
    expect(await rendered(`{% set x %}\n  a\n{% endset %}[{{ x }}]`)).toBe('[\n  a\n]');
  });
});

describe("dbt's exceptions.raise_compiler_error", () => {
  it('fails the model with the message, the file and the line (it was "Unable to call exceptions[…]")', async () => {
    expect(await rendered(`select 1\n{{ exceptions.raise_compiler_error('bad thing: ' ~ 3) }}`)).toBe(
      'ERROR: model marts.m (models/marts/m.sql): Jinja error at line 2: Compilation Error: bad thing: 3',
    );
    expect(
      await rendered({
        'macros/chk.sql': "{% macro chk(x) %}{% if x < 0 %}{% do exceptions.raise_compiler_error('negative: ' ~ x) %}{% endif %}{{ x }}{% endmacro %}",
        'marts/m.sql': 'select {{ chk(-1) }}',
      }),
    ).toMatch(/^ERROR: model marts\.m \(models\/marts\/m\.sql\): Jinja error in macro chk at models\/macros\/chk\.sql.*: Compilation Error: negative: -1$/);
  });
});

describe("Jinja's tests that nunjucks lacks", () => {
  it('sequence, boolean, integer, float, true, false, in and none (by name, for select and selectattr) work ("test not found")', async () => {
    expect(
      await rendered(
        `{{ [1] is sequence }} {{ 1 is sequence }} {{ true is boolean }} {{ 1 is boolean }} {{ 3 is integer }} {{ 3.5 is integer }} {{ 3.5 is float }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 1 is in([1, 2]) }} {{ 3 is in([1]) }}`,
      ),
    ).toBe('True False True False True False True True False True True False');
    // A test's one argument without parentheses, as Jinja takes it ("expected variable end").
    expect(await rendered(`{{ 6 is divisibleby 3 }} {{ 4 is divisibleby 3 }} {{ none is sameas none }} {{ 'a' is eq 'a' }} {{ 1 is not gt 1 }}|{{ 1 if 6 is divisibleby 3 else 0 }}|{{ 6 is divisibleby(4) }}`)).toBe(
      'True False True True True|1|False',
    );
    expect(await rendered(`{{ [1, none, 2] | reject('none') | list }}|{{ [{'t': none}, {'t': 1}] | selectattr('t', 'none') | list | length }}|{{ [1, 2, 3] | select('in', [2, 3]) | list }}`)).toBe(
      '[1, 2]|1|[2, 3]',
    );
  });
});

describe('loop.cycle, loop.previtem and loop.nextitem', () => {
  it('work as in Jinja ("Unable to call loop[cycle]", "loop.previtem is undefined")', async () => {
    expect(await rendered(`{% for x in [1, 2, 3] %}{{ loop.cycle('odd', 'even') }} {% endfor %}`)).toBe('odd even odd');
    expect(await rendered(`{% for k, v in {'a': 1, 'b': 2}.items() %}{{ loop.cycle('x', 'y') }}{{ k }}{% endfor %}`)).toBe('xayb');
    expect(
      await rendered(`{% for x in [1, 2, 3] %}{% if loop.previtem is defined %}{{ loop.previtem }}{% endif %}<{{ x }}>{% if loop.nextitem is defined %}{{ loop.nextitem }}{% endif %};{% endfor %}`),
    ).toBe('<1>2;1<2>3;2<3>');
    // A loop filter counts the kept items only.
    expect(await rendered(`{% for x in [1, 2, 3] if x > 1 %}{{ loop.cycle('odd', 'even') }}{{ loop.previtem is defined }} {% endfor %}`)).toBe('oddFalse evenTrue');
  });
});

describe("Python's str.format", () => {
  it("'{} as {}'.format(a, b) formats as in Python (\"Unable to call …[format]\")", async () => {
    expect(await rendered(`select {{ 'cast({} as {})'.format('price', 'decimal(18,2)') }} as p, {{ "{col} is not null".format(col='sku') }} as n`)).toBe(
      'select cast(price as decimal(18,2)) as p, sku is not null as n',
    );
    expect(await rendered(`{{ '{0}_{1}_{0}'.format('a', 3) }}|{{ '{{{}}}'.format(1) }}|{{ '{:.2f}'.format(3.14159) }}|{{ '{:>5}|{:<4}|{:05d}|{:,}|{:+d}|{:.1%}'.format('ab', 'c', 42, 1234567, 3, 0.256) }}|{{ '{!r}'.format('q') }}|{{ '{}'.format(none) }}`)).toBe(
      "a_3_a|{1}|3.14|   ab|c   |00042|1,234,567|+3|25.6%|'q'|None",
    );
    expect(await rendered(`select 1\n{{ '{}{}'.format(1) }}`)).toMatch(/Jinja error at line 2: format\(\): replacement index 1 out of range for 1 arguments/);
  });
});

describe('text * n', () => {
  it("repeats the text or list, as in Python ('=' * 5 was NaN)", async () => {
    expect(await rendered(`select '{{ '=' * 5 }}' as rule, '{{ 3 * 'ab' }}' as r, '{{ [1, 2] * 2 }}' as l, {{ 2 * 3 }} as n, {{ 1.5 * 2 }} as f`)).toBe(
      "select '=====' as rule, 'ababab' as r, '[1, 2, 1, 2]' as l, 6 as n, 3 as f",
    );
  });
});

describe('dict()', () => {
  it('builds a dict from keywords, pairs or another dict, as in Jinja ("Unable to call dict")', async () => {
    expect(await rendered(`{{ dict(a=1) }}|{{ dict([('a', 1), ('b', 2)]) }}|{{ dict({'a': 1}, b=2) }}|{% set d = dict(x='y') %}{{ d.x }}|{{ dict() }}`)).toBe(
      "{'a': 1}|{'a': 1, 'b': 2}|{'a': 1, 'b': 2}|y|{}",
    );
    expect(await rendered(`select 1\n{{ dict(1) }}`)).toMatch(/Jinja error at line 2: dict\(\): cannot make a dict of 1/);
  });
});

describe("dbt's context: log()", () => {
  it("{{ log('msg', info=True) }} renders nothing and sends its message to the render's log (info, or debug without info=True)", async () => {
    const p = await project({ 'marts/m.sql': `{{ log('building ' ~ this, info=True) }}select 1 as x{{ log('quiet') }}` });
    const seen: [string, boolean][] = [];
    const sql = renderModel(p, p.nodes.get('marts.m')!, ctx({ thisRelation: '"marts"."m"', log: (message, info) => seen.push([message, info]) })).sql;
    expect(sql).toBe('select 1 as x');
    expect(seen).toEqual([
      ['building "marts"."m"', true],
      ['quiet', false],
    ]);
    expect(await rendered(`select 1\n{{ log('a', 'b') }}`)).toMatch(/Jinja error at line 2: log\(\) takes one message/);
  });

  it("a build writes a model's log() message to the lake's log once, however many times it renders the model", async () => {
    const { lake, root } = await projectLake({ 'marts/m.sql': `{{ log('hello from m', info=True) }}select 1 as x` });
    expect((await lake.build()).models[0]).toMatchObject({ status: 'success' });
    await lake.close();
    const lines = fs.readFileSync(path.join(root, 'logs', 'duckhouse.log'), 'utf8').split('\n').filter((l) => l.includes('hello from m'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', message: 'marts.m: hello from m' });
  });
});

describe("dbt's context: run_started_at", () => {
  it('is a UTC datetime with strftime, isoformat, date() and its fields, printed as Python prints it', async () => {
    const p = await project({
      'marts/m.sql': `select '{{ run_started_at.strftime('%Y-%m-%d') }}' as d, '{{ run_started_at }}' as s, '{{ run_started_at.isoformat() }}' as i, '{{ run_started_at.date() }}' as day, {{ run_started_at.year }} as y, '{{ run_started_at.strftime('%H:%M %j %a %b %%') }}' as f`,
    });
    const sql = renderModel(p, p.nodes.get('marts.m')!, ctx({ runStartedAt: new Date('2024-03-01T02:05:09.123Z') })).sql;
    expect(sql).toBe(`select '2024-03-01' as d, '2024-03-01 02:05:09.123000+00:00' as s, '2024-03-01T02:05:09.123000+00:00' as i, '2024-03-01' as day, 2024 as y, '02:05 061 Fri Mar %' as f`);
    expect(await rendered(`select 1\n{{ run_started_at.strftime('%Q') }}`)).toMatch(/Jinja error at line 2: strftime\(\): %Q is not a directive/);
  });

  it('a build renders it as the start of its run (as recorded in runs)', async () => {
    const { lake } = await projectLake({ 'marts/m.sql': `select '{{ run_started_at.isoformat() }}' as started` });
    const r = await lake.build();
    const [row] = await lake.query('select started from marts.m');
    const [run] = await lake.metrics.select(`select started_at from runs where run_id = $1`, [r.runId]);
    expect(new Date(String(row!.started)).getTime()).toBe(new Date(run!.started_at as string).getTime());
  });
});

describe("dbt's context duckhouse has no counterpart for", () => {
  it("target and modules are errors saying why and what to write instead, with their line; `{% if target.name == 'prod' %}` is no longer silently false", async () => {
    // The `if` rendered its else branch without a word: target was an undefined name.
    const target = await rendered(`select 1\n{% if target.name == 'prod' %}limit 10{% endif %}`);
    expect(target).toMatch(/^ERROR: model marts\.m \(models\/marts\/m\.sql\): Jinja error at line 2: target is not available in duckhouse: there are no dbt profiles or targets .*var\('target', 'dev'\)/);
    expect(await rendered(`select '{{ target.type }}'`)).toContain('target is not available in duckhouse');
    const modules = await rendered(`select 1\n\n{% set now = modules.datetime.datetime.now() %}`);
    expect(modules).toMatch(/Jinja error at line 3: modules is not available in duckhouse: .*run_started_at/);
    // A name of the model's own is still the model's.
    expect(await rendered(`{% set target = 'x' %}select '{{ target }}' as t`)).toBe(`select 'x' as t`);
  });

  it("dbt packages, the adapter, dbt's cross-database macros and run_query are errors saying what to write instead, with their line (they were `Unable to call dbt_utils[\"generate_surrogate_key\"], which is undefined or falsey`)", async () => {
    const cases: [string, RegExp][] = [
      [`select\n{{ dbt_utils.generate_surrogate_key(['a', 'b']) }} as k`, /line 2: dbt_utils is not available in duckhouse: dbt packages are not installed .*models\/macros\/.*md5\(concat_ws/],
      [`select {{ dbt.date_trunc('day', 'x') }}`, /line 1: dbt is not available in duckhouse: .*date_trunc\('day', x\)/],
      [`select {{ adapter.quote('a') }}`, /line 1: adapter is not available in duckhouse: there is no dbt adapter: quote a name with double quotes/],
      [`select 1\n{% if execute %}\n{% set r = run_query('select 1') %}\n{% endif %}`, /line 2: execute is not available in duckhouse: .*drop \{% if execute %\}/],
      [`{% set r = run_query('select max(d) from x') %}select 1`, /line 1: run_query is not available in duckhouse: a model cannot run queries while it renders/],
      [`select {{ flags.FULL_REFRESH }}`, /flags is not available in duckhouse: .*var\(\) or env_var\(\)/],
      [`select {{ graph.nodes | length }}`, /graph is not available in duckhouse/],
    ];
    for (const [sql, expected] of cases) expect(await rendered(sql)).toMatch(expected);
    // dbt's block tags: nunjucks' bare "unknown block tag: test" now says what to write instead.
    expect(await rendered(`{% test positive(model, column_name) %}select 1{% endtest %}select 1`)).toMatch(/line 1: unknown block tag: test: a generic test .* is defined in a file under models\/macros\//);
    expect(await rendered(`{% snapshot s %}select 1{% endsnapshot %}`)).toMatch(/unknown block tag: snapshot: snapshots are not supported: keep history with an incremental model/);
    // A macro of the project's own may still take such a name's place in its own namespace.
    expect(await rendered(`{% set flags = {'x': 1} %}select {{ flags.x }} as x`)).toBe('select 1 as x');
  });
});

describe("Python's truth: an empty list, dict or text is false", () => {
  it('{% if cols %}, not, and/or, inline if and loop filters read an empty list or dict as false, as in Jinja (JavaScript took [] and {} for true)', async () => {
    // `var('extra_cols', [])` is empty unless the build passes some: the branch must not run.
    expect(await rendered(`{% set cols = var('extra_cols', []) %}select 1 as id{% if cols %}, {{ cols | join(', ') }}{% endif %}`)).toBe('select 1 as id');
    expect(await rendered(`{% set d = {} %}select {% if d %}'full'{% elif not d %}'empty'{% endif %} as s`)).toBe(`select 'empty' as s`);
    expect(await rendered(`select {{ 1 if [] else 0 }} as a, {{ 1 if {'k': 1} else 0 }} as b, {{ 1 if [none] else 0 }} as c`)).toBe('select 0 as a, 1 as b, 1 as c');
    // and/or give one of their operands, as in Python: `cols or ['*']` is ['*'] when cols is empty.
    expect(await rendered(`{% set cols = [] %}select {{ (cols or ['*']) | join(', ') }} from t where {{ ([] and 'x') | length }} = 0`)).toBe('select * from t where 0 = 0');
    expect(await rendered(`select {% for l in [[], ['a'], {}] if l %}{{ l | length }}{% endfor %} as n`)).toBe('select 1 as n');
    // A macro whose output is empty is false too (nunjucks' SafeString object was true).
    expect(await rendered(`{% macro nothing() %}{% endmacro %}select {{ 'x' if nothing() else 'y' }} as v`)).toBe('select y as v');
    // select, reject, selectattr and rejectattr without a test keep the true items, as Jinja's do.
    expect(await rendered(`{% set specs = [{'name': 'a', 'cols': []}, {'name': 'b', 'cols': ['x']}] %}select '{{ specs | selectattr('cols') | map(attribute='name') | join }}{{ specs | rejectattr('cols') | map(attribute='name') | join }}' as s, {{ [[], ['y'], {}] | select | list }} as t, {{ [[], ['y']] | reject | list }} as u`)).toBe(
      `select 'ba' as s, [['y']] as t, [[]] as u`,
    );
    // What JavaScript and Python agree on is unchanged.
    expect(await rendered(`select {{ 1 if ['a'] else 0 }}, {{ 1 if 0 else 2 }}, {{ 1 if '' else 3 }}, {{ 1 if none else 4 }}, {{ 'x' and 'y' }}, {{ 0 or 5 }}`)).toBe('select 1, 2, 3, 4, y, 5');
  });
});

describe("keyword arguments of Jinja's filters", () => {
  it("sum(attribute=), round(precision=), replace(count=), indent(width=), batch(fill_with=), center(width=), max/min(attribute=), dictsort(by=, reverse=) and default(boolean=true) take them as Jinja does (they were dropped or read as the first argument: sum was NaN)", async () => {
    const cols = `{% set cols = [{'name': 'a', 'width': 2}, {'name': 'b', 'width': 5}] %}`;
    expect(await rendered(`${cols}select {{ cols | sum(attribute='width') }} as w, {{ [1, 2] | sum(start=10) }} as s`)).toBe('select 7 as w, 13 as s');
    expect(await rendered(`${cols}select '{{ (cols | max(attribute='width')).name }}' as widest, '{{ (cols | min(attribute='width')).name }}' as narrowest`)).toBe(`select 'b' as widest, 'a' as narrowest`);
    expect(await rendered(`select {{ 3.456 | round(precision=2) }} as r, '{{ 'aaa' | replace('a', 'b', count=2) }}' as t`)).toBe(`select 3.46 as r, 'bba' as t`);
    expect(await rendered(`select '{{ 'x' | center(width=5) }}' as c, {{ [1, 2, 3] | batch(2, fill_with='-') | list }} as b`)).toBe(`select '  x  ' as c, [[1, 2], [3, '-']] as b`);
    expect(await rendered(`select 1\n{{- 'a\nb' | indent(width=2) }}`)).toBe('select 1a\n  b');
    expect(await rendered(`select {{ {'b': 1, 'a': 2} | dictsort(by='value') }}, {{ {'a': 1, 'b': 2} | dictsort(reverse=true) }}`)).toBe(`select [('b', 1), ('a', 2)], [('b', 2), ('a', 1)]`);
    // default(…, true) replaces every false value, an empty list included.
    expect(await rendered(`select {{ [] | default(['*'], boolean=true) | join(', ') }} from t`)).toBe('select * from t');
    // A keyword the filter does not have is an error naming it, as in Jinja (it was dropped without a word).
    expect(await rendered(`select {{ [1, 2] | sum(attr='x') }}`)).toMatch(/^ERROR: .*line 1: .*sum\(\) .*attr/);
    // One given by position and by name too, naming the model's file and line.
    expect(await rendered(`select 1,\n{{ [1, 2] | sum('width', attribute='width') }}`)).toMatch(/^ERROR: model marts\.m \(models\/marts\/m\.sql\): .*line 2: .*sum\(\) got attribute twice, by position and by name/);
  });
});

describe('== and != as in Jinja', () => {
  it("compare lists, tuples and dicts by value and never take '1' for 1 (JavaScript compared lists by identity and text with numbers loosely); chained comparisons hold pairwise", async () => {
    // `{% if cols == [] %}` was never true: two lists were two objects.
    expect(await rendered(`{% set cols = var('cols', []) %}select {% if cols == [] %}*{% else %}{{ cols | join(', ') }}{% endif %} from t`)).toBe('select * from t');
    expect(await rendered(`select {{ {'a': [1, 2]} == {'a': [1, 2]} }}, {{ ('a', 1) != ('a', 1) }}, {{ [1, 2] == [2, 1] }}`)).toBe('select True, False, False');
    // A var given as text ("10") is not the number 10, as in dbt (JavaScript's == said it was).
    expect(await rendered(`{% set limit = '10' %}select {{ limit == 10 }}, {{ limit == '10' }}, {{ '' == 0 }}, {{ 1 == true }}, {{ 1 == 1.0 }}, {{ none == none }}`)).toBe(
      'select False, True, False, True, True, True',
    );
    expect(await rendered(`select {{ 3 > 2 > 1 }}, {{ 1 < 2 < 1 }}, {{ 1 <= 1 == 1 }}`)).toBe('select True, False, True');
  });
});

describe('the list filter', () => {
  it("gives a dict's keys, a tuple's items as a list and a copy of a list, as in Jinja (a dict gave {key, value} objects)", async () => {
    expect(await rendered(`{% set renames = {'sku_id': 'sku', 'store_id': 'store'} %}select {{ renames | list | join(', ') }} from t`)).toBe('select sku_id, store_id from t');
    expect(await rendered(`select {{ ('a', 'b') | list }}, {{ 'ab' | list }}`)).toBe(`select ['a', 'b'], ['a', 'b']`);
    // A copy: appending to it leaves the original as it was.
    expect(await rendered(`{% set a = [1] %}{% set b = a | list %}{% do b.append(2) %}select {{ a | length }}, {{ b | length }}`)).toBe('select 1, 2');
  });
});
