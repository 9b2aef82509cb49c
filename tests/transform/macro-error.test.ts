/**
 * README "Transform: models": "a Jinja error … stop[s] the build before anything is written,
 * naming the file". An error raised inside a macro of models/macros/ while a model renders.
 */
import { describe, expect, it } from 'vitest';
import { projectLake } from '../helpers/models.js';

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
});
