/**
 * The CLI as cron and a shell use it: what reaches stdout (the README's cron line appends it to
 * data/logs/cron.log), exit codes for usage errors, pipes closed early, and `--var` values.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeFiles } from '../helpers/models.js';
import { tempProject } from '../helpers/temp-lake.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const index = path.join(repo, 'src', 'index.ts');

const TOKEN = 'APP_USR-5551234-cli-hunt-token';

/** A project with a good source, a source whose error quotes a URL with its access token, and two models. */
function project(): string {
  const dir = tempProject('cli-out-');
  writeFiles(path.join(dir, 'models'), {
    'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}`,
    'marts/by_store.sql': `select store, count(*) as n, '{{ var("tag", "none") }}' as tag from {{ ref('stg_prices') }} group by store`,
  });
  fs.writeFileSync(
    path.join(dir, 'duckhouse.config.mjs'),
    `import { defineSource, z } from ${JSON.stringify(index)};
export default {
  log: { console: false },
  sources: [
    defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }),
      extract: () => [[{ store: 'a', sku: '1', price: 1 }, { store: 'b', sku: '2', price: 2 }]] }),
    defineSource({ source: 'ml', dataset: 'orders', schema: z.object({ id: z.number() }),
      async *extract() { throw new Error('GET https://api.mercadolibre.com/orders/search?seller=1&access_token=${TOKEN} failed: 500'); } }),
  ],
};
`,
  );
  return dir;
}

describe('duckhouse CLI output', () => {
  it('run: a build that throws after the extract (an env_var unset under cron) exits 1 as the partial run it records, with the extract printed', () => {
    const dir = tempProject('cli-out-');
    writeFiles(path.join(dir, 'models'), {
      'staging/stg_prices.sql': `select store, '{{ env_var("HUNT_UNSET_REGION") }}' as region from {{ source('shop', 'prices') }}`,
    });
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { log: { console: false }, sources: [defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string() }), extract: () => [[{ store: 'a' }]] })] };\n`,
    );
    const r = runCli(dir, ['run']);
    const recorded = JSON.parse(runCli(dir, ['runs', '--json']).out).find((x: { kind: string }) => x.kind === 'run');
    expect(recorded.status).toBe('partial');
    // Before: exit 2 (a usage error) and nothing on stdout: the extract that ran, and the run's id
    // and status, went unsaid.
    expect(r.code, `${r.out}\n${r.err}`).toBe(1);
    expect(r.out).toMatch(/extract shop\/prices: success, 1 rows/);
    expect(r.out).toContain(`run ${recorded.run_id}: partial`);
    expect(r.err).toMatch(/env_var\('HUNT_UNSET_REGION'\) is not set/);
    expect(runCli(dir, ['build']).code).toBe(2); // nothing extracted: the model is the user's to fix
  }, 90_000);

  it('run prints the build\'s warnings (a test not run) and a skipped model\'s cause, as build does: cron has no console log', () => {
    const dir = tempProject('cli-out-');
    writeFiles(path.join(dir, 'models'), {
      'staging/stg_prices.sql': `select store from {{ source('shop', 'prices') }}`,
      'staging/stg_never.sql': `select sku from {{ source('shop', 'never') }}`,
      'staging/_staging.yml': `version: 2\nmodels:\n  - name: stg_never\n    columns:\n      - name: sku\n        tests: [not_null]\n`,
    });
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { log: { console: false }, sources: [defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string() }), extract: () => [[{ store: 'a' }]] })] };\n`,
    );
    const r = runCli(dir, ['run']);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    // Before: "build   staging.stg_never: skipped", without its cause, and nothing about the test
    // that was not run (`duckhouse build` printed both).
    expect(r.out).toMatch(/build {3}staging\.stg_never: skipped — source shop\.never has never been extracted/);
    expect(r.out).toMatch(/warning: test not_null_stg_never_sku not run: staging\.stg_never was not built/);
    fs.rmSync(path.join(dir, 'models'), { recursive: true });
    const extractOnly = runCli(dir, ['run']);
    expect(extractOnly.code, extractOnly.err).toBe(0);
    expect(extractOnly.out).toMatch(/warning: models folder .*models does not exist: nothing built/);
    // Once: it is one of the run's warnings, which the command prints.
    expect(extractOnly.out.match(/does not exist: nothing built/g)).toHaveLength(1);
  }, 90_000);

  it('test prints the tests it did not run (their model was not built) and counts them in its summary: cron has no console log', () => {
    const dir = tempProject('cli-out-');
    writeFiles(path.join(dir, 'models'), {
      'staging/stg_prices.sql': `select store from {{ source('shop', 'prices') }}`,
      'staging/stg_never.sql': `select sku from {{ source('shop', 'never') }}`,
      'staging/_staging.yml': `version: 2\nmodels:\n  - name: stg_prices\n    columns:\n      - name: store\n        tests: [not_null]\n  - name: stg_never\n    columns:\n      - name: sku\n        tests: [not_null]\n`,
    });
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { log: { console: false }, sources: [defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string() }), extract: () => [[{ store: 'a' }]] })] };\n`,
    );
    expect(runCli(dir, ['run']).code).toBe(0);
    const r = runCli(dir, ['test']);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    // Was "tests: 1/1 passed" alone: the test of stg_never went unsaid but in the log.
    expect(r.out).toMatch(/warning: test not_null_stg_never_sku not run: staging\.stg_never is neither selected nor built yet/);
    expect(r.out).toMatch(/^tests: 1\/1 passed, 1 not run$/m);
  }, 90_000);

  it('extract and run never print a secret on stdout (cron appends stdout to data/logs/cron.log)', () => {
    const dir = project();
    const extract = runCli(dir, ['extract']);
    expect(extract.code).toBe(1); // partial
    expect(extract.out).toMatch(/ml\/orders: failed/);
    // Observed: "ml/orders: failed, 0 rows, … — GET …?seller=1&access_token=APP_USR-5551234-cli-hunt-token failed: 500"
    expect(extract.out).not.toContain(TOKEN);
    const run = runCli(dir, ['run']);
    expect(run.code).toBe(1);
    // The alert lines of the same run are redacted already; the extract line is not.
    expect(run.out).toMatch(/alert\s+\[error\] source_failed ml\/orders: .*access_token=\[REDACTED\]/);
    expect(run.out).not.toContain(TOKEN);
  }, 90_000);

  it('`duckhouse` with no command is a usage error (exit 2), not a success', () => {
    const dir = tempProject('cli-out-');
    const r = runCli(dir, []);
    expect(r.err).toMatch(/Usage: duckhouse/);
    // Observed: exit 0 (commander's "help shown because of an error" is mapped to success).
    expect(r.code).toBe(2);
    // --help and `help` stay 0.
    expect(runCli(dir, ['--help']).code).toBe(0);
    expect(runCli(dir, ['help']).code).toBe(0);
  }, 60_000);

  it('sql: a statement refused as not read-only, or one that does not parse, is a usage error (exit 2) like two statements', () => {
    const dir = tempProject('cli-out-');
    const root = path.join(dir, 'data');
    const two = runCli(dir, ['sql', 'select 1; select 2', '--root', root]);
    expect(two.code).toBe(2);
    const write = runCli(dir, ['sql', 'create table t (a int)', '--root', root]);
    expect(write.err).toMatch(/read-only/);
    // Observed: exit 1, the code README gives to "a failed or partial run, or a failing error-severity test".
    expect(write.code).toBe(2);
    const typo = runCli(dir, ['sql', 'selec 1', '--root', root]);
    expect(typo.err).toMatch(/syntax error/);
    expect(typo.code).toBe(2);
    const ownDatabase = runCli(dir, ['sql', `select size from read_blob('${path.join(root, 'metrics', 'runs.duckdb')}')`, '--root', root]);
    expect(ownDatabase.err).toMatch(/the lake's own database/);
    expect(ownDatabase.code).toBe(2);
  }, 60_000);

  it('sql --csv piped into `head` ends quietly, without an unhandled EPIPE stack trace', async () => {
    const dir = tempProject('cli-out-');
    const tsx = pathToFileURL(path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const child = spawn(process.execPath, ['--import', tsx, path.join(repo, 'src', 'cli.ts'), 'sql', `select range as n, repeat('x', 40) as s from range(300000)`, '--csv', '--root', path.join(dir, 'data')], {
      cwd: dir,
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // As `| head -1` does: read the first chunk, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    // Observed: "Error: write EPIPE … Emitted 'error' event on Socket instance" and exit 1.
    expect(err).not.toMatch(/Unhandled 'error' event|EPIPE/);
    expect(code).toBe(0);
  }, 60_000);

  it('build --var id=<20 digits> passes the value as typed, not rounded to a double', () => {
    const dir = project();
    expect(runCli(dir, ['extract', 'shop']).code).toBe(0);
    const b = runCli(dir, ['build', '--var', 'tag=12345678901234567890']);
    expect(b.code, b.err).toBe(0);
    const out = runCli(dir, ['sql', 'select distinct tag from marts.by_store', '--csv']);
    // Observed: "tag\n12345678901234567000\n" (JSON.parse of the value loses the last digits).
    expect(out.out).toBe('tag\n12345678901234567890\n');
  }, 90_000);

  it('extract prints its sources\' warnings (redacted) and the alerts it raised, as run does: cron has no console log', () => {
    const dir = tempProject('cli-out-');
    writeFiles(path.join(dir, 'models'), { 'staging/stg_prices.sql': `select store from {{ source('shop', 'prices') }}` });
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};
export default {
  log: { console: false },
  sources: [
    defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string() }),
      async *extract(ctx) { ctx.warn('page 2 came back short'); ctx.warn('slow: https://api.example/p?access_token=${TOKEN}&page=2'); ctx.warn('shop/prices: named as HTTP sources name theirs'); yield [{ store: 'a' }]; } }),
    defineSource({ source: 'ml', dataset: 'orders', schema: z.object({ id: z.number() }), async *extract() { throw new Error('upstream said 500'); } }),
  ],
};
`,
    );
    const r = runCli(dir, ['extract']);
    expect(r.code, r.err).toBe(1);
    // Before: only the sources' lines and the run's; the warnings and alerts were in the log alone.
    expect(r.out).toMatch(/^warning: shop\/prices: page 2 came back short$/m);
    expect(r.out).toMatch(/^warning: shop\/prices: slow: https:\/\/api\.example\/p\?access_token=\[REDACTED\]&page=2$/m);
    expect(r.out).toMatch(/^warning: shop\/prices: named as HTTP sources name theirs$/m); // not twice
    expect(r.out).toMatch(/^alert {3}\[error\] source_failed ml\/orders: .*upstream said 500/m);
    expect(r.out).not.toContain(TOKEN);
    const run = runCli(dir, ['run']);
    expect(run.out).toMatch(/^warning: shop\/prices: page 2 came back short$/m);
    expect(run.out).not.toContain(TOKEN);
  }, 90_000);
});
