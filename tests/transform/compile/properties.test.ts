import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProperties } from '../../../src/transform/properties.js';
import { spawnHelper } from '../../helpers/child.js';
import { tempDir } from '../../helpers/temp-lake.js';

const yml = (extra = '') => `version: 2
models:
  - name: fct_orders
    description: One row per order
    columns:
      - name: order_id
        tests: [not_null, unique]
      - name: status
        tests:
          - accepted_values:
              values: ['paid', 'shipped']${extra}
`;

describe('property files parsed again', () => {
  it('give the same entries, each call its own copy', async () => {
    const first = await parseProperties(yml(), 'models/marts/_a.yml');
    expect(first[0]).toMatchObject({ name: 'fct_orders', description: 'One row per order', file: 'models/marts/_a.yml', line: 3 });
    expect(first[0]!.columns.map((c) => [c.name, c.tests.map((t) => t.line)])).toEqual([['order_id', [7, 7]], ['status', [10]]]);
    first[0]!.columns[0]!.tests.length = 0;
    (first[0]!.columns[1]!.tests[0]!.spec as { accepted_values: { values: string[] } }).accepted_values.values.push('tampered');
    const second = await parseProperties(yml(), 'models/marts/_a.yml');
    expect(second[0]!.columns[0]!.tests).toHaveLength(2);
    expect(second[0]!.columns[1]!.tests[0]!.spec).toEqual({ accepted_values: { values: ['paid', 'shipped'] } });
  });

  it('follow an edit, and name the file they were given', async () => {
    await parseProperties(yml(), 'models/marts/_b.yml');
    const edited = await parseProperties(yml("\n      - name: total\n        tests: [not_null]"), 'models/marts/_b.yml');
    expect(edited[0]!.columns.map((c) => c.name)).toEqual(['order_id', 'status', 'total']);
    expect((await parseProperties(yml(), 'models/staging/_c.yml'))[0]!.file).toBe('models/staging/_c.yml');
    await expect(parseProperties(`${yml()}  - name: [broken`, 'models/marts/_b.yml')).rejects.toThrow(/models\/marts\/_b\.yml line \d+/);
  });
});

describe('the YAML parser', () => {
  async function discoverInChild(models: string): Promise<{ before: boolean; yamlLoaded: boolean; nodes: string[]; tests: number }> {
    const child = spawnHelper('child-discover.ts', [models]);
    const exit = await child.exited;
    expect(exit.code, exit.stderr).toBe(0);
    return JSON.parse(child.lines.at(-1)!) as { before: boolean; yamlLoaded: boolean; nodes: string[]; tests: number };
  }

  it('is loaded only by a project that has property files', async () => {
    const models = path.join(tempDir(), 'models');
    fs.mkdirSync(path.join(models, 'marts'), { recursive: true });
    fs.writeFileSync(path.join(models, 'marts', 'fct_orders.sql'), 'select 1 as order_id');
    const without = await discoverInChild(models);
    expect(without).toEqual({ before: false, yamlLoaded: false, nodes: ['marts.fct_orders'], tests: 0 });
    fs.writeFileSync(path.join(models, 'marts', '_marts.yml'), yml());
    const withFile = await discoverInChild(models);
    expect(withFile).toMatchObject({ before: false, yamlLoaded: true, nodes: ['marts.fct_orders'] });
    expect(withFile.tests).toBe(3);
  }, 60_000);
});

describe("dbt's documentation-only properties", () => {
  it("a column's config: { meta, tags } (dbt 1.10) and top-level exposures are accepted; a column config that is not documentation is still an error naming the file", async () => {
    const text = `version: 2
models:
  - name: fct_orders
    columns:
      - name: order_id
        config: { meta: { pii: false }, tags: [keys] }
        tests: [not_null]
exposures:
  - name: weekly_dashboard
    type: dashboard
    owner: { name: Ana, email: ana@example.com }
    depends_on: ["ref('fct_orders')"]
`;
    const entries = await parseProperties(text, 'models/marts/_docs.yml');
    expect(entries.map((e) => [e.name, e.columns.map((c) => [c.name, c.tests.length])])).toEqual([['fct_orders', [['order_id', 1]]]]);
    await expect(parseProperties(text.replace('tags: [keys]', 'data_type: int'), 'models/marts/_docs.yml')).rejects.toThrow(/models\/marts\/_docs\.yml line \d+: unknown key "models\.0\.columns\.0\.config\.data_type"/);
  });
});
