/**
 * README (models that ship, mart_data_quality): "The score under minQualityScore (0.80) is a
 * min_quality_score test with the gates' severity." DESIGN: `lake.build()` → BuildResult (runs
 * tests); exit 1 for a failing error-severity test. The gate must not depend on whether the
 * build had something to rebuild.
 */
import { describe, expect, it } from 'vitest';
import { projectLake } from '../helpers/models.js';

const files = {
  'marts/m.sql': `select * from (values (1, null), (1, null), (1, null), (1, null), (2, 'a')) as t(id, label)`,
  'marts/_m.yml': `version: 2
models:
  - name: m
    columns:
      - name: id
        tests: [{ unique: { severity: warn } }]
      - name: label
        tests: [{ not_null: { severity: warn } }]
`,
};

const gate = (tests: { kind: string; status: string }[]) => tests.filter((t) => t.kind === 'min_quality_score').map((t) => t.status);

describe('the min_quality_score gate', () => {
  it('fails the same way in a build with changes, a build with nothing to rebuild, and lake.test()', async () => {
    const { lake } = await projectLake(files, { quality: { gateSeverity: 'error' } });
    const first = await lake.build();
    expect(first.models.map((m) => m.status)).toEqual(['success']);
    expect(gate(first.tests)).toEqual(['fail']);
    expect(first.status).toBe('partial');

    const second = await lake.build();
    expect(second.models.map((m) => m.status)).toEqual(['up-to-date']);
    // Nothing changed, the score is the same (still under 0.80, recorded in mart_data_quality):
    // the gate still fails, so the build is still partial and `duckhouse build` still exits 1.
    expect(gate(second.tests)).toEqual(['fail']);
    expect(second.status).toBe('partial');

    expect(gate(await lake.test())).toEqual(['fail']);
  });
});
