/**
 * README "Transform: models": "a Jinja error … stop[s] the build before anything is written,
 * naming the file". An error raised inside a macro of models/macros/ while a model renders.
 */
import { describe, expect, it } from 'vitest';
import { projectLake } from '../helpers/models.js';
import { caught, project } from './compile/helpers.js';

describe('a runtime Jinja error inside a macro called by a model', () => {
  it('names the macro file (the line it gives is a line of that file, not of the one-line model)', async () => {
    const { lake } = await projectLake({
      'macros/util.sql': `{% macro ident(x) %}{{ x }}{% endmacro %}



{% macro cents(col) %}
({{ col }} * {{ multiplier }}){% endmacro %}`,
      'trusted/m.sql': `select {{ cents('a') }} as x`,
    });
    const err = await lake.build().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    // m.sql has one line; line 6 is in models/macros/util.sql, inside macro cents.
    expect(err!.message).toMatch(/model trusted\.m \(models\/trusted\/m\.sql\): Jinja error in macro cents at models\/macros\/util\.sql line 6: /);
  });

  it('a call that fails in the macro gives its line in the macro file (it gave the line of the model calling the macro)', async () => {
    const message = async (macro: string) => (await caught(() => project({ 'macros/chk.sql': macro, 'marts/m.sql': 'select {{ chk(-1) }}' }))).message;
    expect(await message('{% macro chk(x) %}\n{% if x < 0 %}{{ nope(x) }}{% endif %}{% endmacro %}')).toBe(
      'model marts.m (models/marts/m.sql): Jinja error in macro chk at models/macros/chk.sql line 2: Unable to call `nope`, which is undefined or falsey',
    );
    expect(await message("{% macro chk(x) %}\n\n{% do exceptions.raise_compiler_error('negative: ' ~ x) %}{% endmacro %}")).toBe(
      'model marts.m (models/marts/m.sql): Jinja error in macro chk at models/macros/chk.sql line 3: Compilation Error: negative: -1',
    );
    // In the model, a failing call keeps the model's line.
    expect((await caught(() => project({ 'marts/m.sql': 'select 1\n\n{{ nope() }}' }))).message).toBe(
      'model marts.m (models/marts/m.sql): Jinja error at line 3: Unable to call `nope`, which is undefined or falsey',
    );
  });
});
