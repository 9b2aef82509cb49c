import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-lake.js';
import { writeFiles } from '../helpers/models.js';
import { writeCliConfig, zoneFarFromMidnight } from '../helpers/cli.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'src', 'cli.ts');
// Resolved from the repo: the command runs in a temp folder without node_modules.
const tsx = pathToFileURL(path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

function run(cwd: string, args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, cli, ...args], { cwd, encoding: 'utf8', input, env: { ...process.env, CI: 'true' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function project(extra: Record<string, string> = {}, options: Record<string, unknown> = {}): string {
  const dir = tempDir('duckhouse-cli-');
  writeFiles(path.join(dir, 'models'), {
    'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
    'marts/by_store.sql': `select store, count(*) as n from {{ ref('stg_prices') }} group by store`,
    'marts/_marts.yml': `version: 2\nmodels:\n  - name: by_store\n    columns:\n      - name: store\n        tests: [unique, not_null]\n`,
    ...extra,
  });
  writeCliConfig(dir, `defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }),
    extract: () => [[{ store: 'a', sku: '1', price: 1 }, { store: 'b', sku: '2', price: 2 }, { store: 'a', sku: 'x', price: 'bad' }]] })`, options);
  return dir;
}

describe('duckhouse CLI', () => {
  it('run, runs, sql --csv/--json, export, lineage: exit 0 and useful output', () => {
    const dir = project();
    const r = run(dir, ['run']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/extract shop\/prices: success, 2 rows, 1 rejected/);
    expect(r.out).toMatch(/tests: 3\/3 passed/); // 2 YAML tests + the quality gate of marts.by_store
    const runs = run(dir, ['runs', '--json']);
    expect(runs.code).toBe(0);
    expect(JSON.parse(runs.out).map((x: { kind: string }) => x.kind).sort()).toEqual(['build', 'extract', 'run']);
    expect(run(dir, ['sql', 'select store, n from marts.by_store order by store', '--csv']).out).toBe('store,n\na,1\nb,1\n');
    expect(JSON.parse(run(dir, ['sql', 'select 40 + 2 as answer', '--json']).out)).toEqual([{ answer: 42 }]);
    const exported = run(dir, ['export', 'marts.by_store', '--format', 'csv', '--to', path.join(dir, 'out.csv')]);
    expect(exported.code, exported.err).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out.csv'), 'utf8').trim().split('\n').sort()).toEqual(['a,1', 'b,1', 'store,n']);
    expect(run(dir, ['lineage']).out).toMatch(/graph LR/);
    const interactive = run(dir, ['sql'], '.tables\nselect count(*) as n\nfrom marts.by_store;\n.quit\n');
    expect(interactive.out).toMatch(/by_store/);
    expect(interactive.out).toMatch(/\n2\s*\n/);
  }, 90_000);

  it('exit 1 for a failing error-severity test or a failed model; exit 2 for usage and config errors', () => {
    const dir = project({ 'marts/_more.yml': `version: 2\nmodels:\n  - name: stg_prices\n    columns:\n      - name: store\n        tests: [{ accepted_values: { values: [a] } }]\n` });
    expect(run(dir, ['extract']).code).toBe(0);
    const build = run(dir, ['build']);
    expect(build.code).toBe(1);
    expect(build.out).toMatch(/test fail\s+accepted_values_stg_prices_store/);
    expect(run(dir, ['test', '--select', 'by_store']).code).toBe(0);
    // dbt's --exclude: the failing test left out by its name, or with the model it is defined on.
    const test = run(dir, ['test', '--exclude', 'accepted_values_stg_prices_store__a']);
    expect(test.code, test.out + test.err).toBe(0);
    expect(test.out).not.toMatch(/accepted_values_stg_prices_store/);
    const excluded = run(dir, ['build', '--exclude', 'stg_prices']);
    expect(excluded.code, excluded.out + excluded.err).toBe(0);
    expect(excluded.out).toMatch(/marts\.by_store/);
    expect(excluded.out).not.toMatch(/staging\.stg_prices|accepted_values_stg_prices_store/);
    const nothing = run(dir, ['build', '--select', 'by_store', '--exclude', 'layer:marts']);
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain('select "by_store" less exclude "layer:marts" leaves no model or seed');
    expect(run(dir, ['bogus']).code).toBe(2);
    expect(run(dir, ['export', 'marts.by_store']).code).toBe(2); // --format is mandatory
    const unknown = run(dir, ['extract', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown source "nope"; known: shop\/prices/);
    const typo = run(dir, ['export', 'marts.by_stor', '--format', 'csv']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/did you mean marts.by_store/);
    const badLimit = run(dir, ['runs', '-n', 'abc']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.err).toContain(`option '-n, --limit <n>' argument 'abc' is invalid. must be a positive whole number.`);
    fs.writeFileSync(path.join(dir, 'duckhouse.config.ts'), `export default { roots: 'x' };`);
    const bad = run(dir, ['runs']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown option "roots"/);
    expect(run(dir, ['--help']).code).toBe(0);
    expect(run(dir, ['build', '--help']).out).toMatch(/--select/);
  }, 180_000);

  it('compact and prune bronze, record both runs, and refuse unknown datasets and bad dates with exit 2', () => {
    // Three extracts, seconds apart, must land in one day= partition for one compaction output.
    const dir = project({}, { timezone: zoneFarFromMidnight() });
    for (let i = 0; i < 3; i += 1) expect(run(dir, ['extract']).code).toBe(0);
    const compact = run(dir, ['compact']);
    expect(compact.code, compact.err).toBe(0);
    expect(compact.out).toMatch(/compact shop\/prices: 3 files → 1 in 1 partitions, 6 rows/);
    expect(run(dir, ['compact', 'shop']).out).toMatch(/0 files → 0/);
    const dry = run(dir, ['prune', 'shop/prices', '--older-than', '3000-01-01', '--dry-run']);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/would prune shop\/prices before 3000-01-01: 1 files, 6 rows/);
    expect(dry.out).toMatch(/year=\d{4}\/month=\d{2}\/day=\d{2}/);
    const young = run(dir, ['prune', 'shop', '--older-than', '30d']);
    expect(young.code, young.err).toBe(0);
    expect(young.out).toMatch(/pruned shop\/prices before \d{4}-\d{2}-\d{2}: 0 files/);
    const kinds = JSON.parse(run(dir, ['runs', '--json']).out).map((x: { kind: string; status: string }) => `${x.kind}:${x.status}`);
    expect(kinds.filter((k: string) => k.startsWith('compact'))).toEqual(['compact:success', 'compact:success']);
    expect(kinds.filter((k: string) => k.startsWith('prune'))).toEqual(['prune:success']);
    const unknown = run(dir, ['compact', 'nope/x']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no bronze dataset "nope\/x"; bronze has: shop\/prices/);
    expect(run(dir, ['prune', 'shop']).code).toBe(2); // --older-than is required
    const badDate = run(dir, ['prune', 'shop', '--older-than', 'last week']);
    expect(badDate.code).toBe(2);
    expect(badDate.err).toMatch(/option "olderThan"/);
    expect(run(dir, ['build']).code).toBe(0);
    expect(run(dir, ['sql', 'select count(*) as n from staging.stg_prices', '--csv']).out).toBe('n\n6\n');
    // Thirteen CLI processes one after another: 40–85 s in a full CI run, past 120 s on a loaded machine.
  }, 240_000);
});
