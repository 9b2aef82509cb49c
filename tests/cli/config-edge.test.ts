/** Config files the CLI must refuse clearly, or load as written. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir, tempProject } from '../helpers/temp-lake.js';
import { writeFiles } from '../helpers/models.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const index = path.join(repo, 'src', 'index.ts');
const source = `defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }), async *extract() { yield [{ sku: 'a' }]; } })`;

describe('duckhouse.config and the CLI', () => {
  it('run: `sources` that is not an array is a config error (exit 2), not a silent run with no extract (exit 0)', () => {
    const dir = tempDir('hunt-cfg-');
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { sources: ${source}, log: { console: false } };\n`,
    );
    fs.mkdirSync(path.join(dir, 'models'));
    const r = runCli(dir, ['run']);
    // Observed: exit 0, "run …: success", nothing extracted (no data/bronze).
    expect(fs.existsSync(path.join(dir, 'data', 'bronze', 'shop')) || r.code !== 0, `${r.out}\n${r.err}`).toBe(true);
    expect(r.code).toBe(2);
  }, 60_000);

  it('a .ts config with a named export next to its default export loads like the same .mjs config', () => {
    const body = `import { defineSource, z } from ${JSON.stringify(index)};\nexport const prices = ${source};\nexport default { sources: [prices], log: { console: false } };\n`;
    const results = ['mjs', 'ts'].map((ext) => {
      const dir = tempDir('hunt-cfg-');
      fs.writeFileSync(path.join(dir, `duckhouse.config.${ext}`), body);
      return runCli(dir, ['extract']);
    });
    expect(results[0]!.code, results[0]!.err).toBe(0); // .mjs: shop/prices: success
    // Observed for .ts: exit 2, `duckhouse: Lakehouse.open: unknown option "default", "prices"`.
    expect(results[1]!.err).not.toMatch(/unknown option "default"/);
    expect(results[1]!.code, results[1]!.err).toBe(0);
  }, 60_000);

  it('extract <name>: a `sources` entry that is not a list of sources is a config error (exit 2), not a TypeError (exit 1)', () => {
    const cases = [`{ prices: ${source} }`, `[${source}, undefined]`];
    for (const list of cases) {
      const dir = tempDir('hunt-cfg-');
      fs.writeFileSync(path.join(dir, 'duckhouse.config.mjs'), `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { sources: ${list}, log: { console: false } };\n`);
      const r = runCli(dir, ['extract', 'shop']);
      // Observed: exit 1, "duckhouse: all.filter is not a function" / "Cannot read properties of undefined (reading 'source')".
      expect(r.err).not.toMatch(/is not a function|Cannot read properties/);
      expect(r.code, r.err).toBe(2);
    }
  }, 60_000);

  it('run --select <unknown model>: the usage error comes before any extract (nothing extracted, no partial run recorded)', () => {
    const dir = tempDir('hunt-cfg-');
    fs.writeFileSync(path.join(dir, 'duckhouse.config.mjs'), `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { sources: [${source}], models: ${JSON.stringify(path.join(repo, 'models'))}, log: { console: false } };\n`);
    const r = runCli(dir, ['run', '--select', 'fct_prices_dayly']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/matches no enabled model/);
    // Observed: the whole extract ran first (data/bronze/shop exists) and `runs` records the run as "partial".
    expect(fs.existsSync(path.join(dir, 'data', 'bronze', 'shop'))).toBe(false);
    const runs = runCli(dir, ['runs', '--json']);
    expect(JSON.parse(runs.out).filter((x: { kind: string }) => x.kind === 'run').map((x: { status: string }) => x.status)).not.toContain('partial');
  }, 60_000);
});

// Config files whose default export is not the options object: used or refused clearly, never silently ignored.
describe('duckhouse.config exporting a promise', () => {
  it('`export default Promise.resolve({ root, sources })`: its options are used, or it is a config error (exit 2) — not a run on the default root', () => {
    const dir = tempDir('duckhouse-cfg-promise-');
    fs.mkdirSync(path.join(dir, 'models'));
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};\nexport default Promise.resolve({ root: 'lake', sources: [${source}], log: { console: false } });\n`,
    );
    const r = runCli(dir, ['run']);
    // Before: exit 0, "run …: success": the promise's options (root, sources) were dropped without a word,
    // a lake is created under ./data (the default root) and nothing is extracted.
    const honoured = r.code === 0 && fs.existsSync(path.join(dir, 'lake', 'bronze', 'shop', 'prices'));
    const refused = r.code === 2 && /duckhouse\.config\.mjs/.test(r.err);
    expect(honoured || refused, `exit ${r.code}\n${r.out}\n${r.err}`).toBe(true);
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
  }, 60_000);

  it('`runs` with that config reads the history of its root, or refuses it (exit 2) — not the default root\'s', () => {
    const dir = tempDir('duckhouse-cfg-promise-');
    fs.writeFileSync(path.join(dir, 'duckhouse.config.mjs'), `export default Promise.resolve({ root: 'lake' });\n`);
    // Its root is a file: honoured, the config is refused as `Lakehouse.open` refuses such a root
    // (exit 2); refused as a promise, exit 2 as well. Either way, not the history of ./data.
    fs.writeFileSync(path.join(dir, 'lake'), 'not a folder');
    const r = runCli(dir, ['runs', '--json']);
    // Before: exit 0, `[]`: the history of ./data, the config's root ignored.
    expect(r.code, `${r.out}\n${r.err}`).toBe(2);
  }, 60_000);

  it('`export default null`: the config error names the config file', () => {
    const dir = tempDir('duckhouse-cfg-null-');
    fs.writeFileSync(path.join(dir, 'duckhouse.config.mjs'), `export default null;\n`);
    const r = runCli(dir, ['runs']);
    expect(r.code).toBe(2);
    // Before: `duckhouse: Lakehouse.open: unknown option "default"` (no file, and an option nobody wrote).
    expect(r.err).toMatch(/duckhouse\.config\.mjs/);
  }, 60_000);
});

describe('a config using top-level await', () => {
  const body = `import { defineSource, z } from ${JSON.stringify(index)};\nconst log = await Promise.resolve({ console: false });\nexport default { sources: [${source}], log };\n`;

  it('loads as duckhouse.config.mts, found by default like the .ts one', () => {
    const dir = tempDir('duckhouse-cfg-tla-');
    fs.writeFileSync(path.join(dir, 'duckhouse.config.mts'), body);
    const r = runCli(dir, ['extract']);
    expect(r.code, r.err).toBe(0);
    expect(fs.existsSync(path.join(dir, 'data', 'bronze', 'shop', 'prices'))).toBe(true);
  }, 60_000);

  it('as a .ts file outside an ESM package: exit 2, naming the file and how to make it a module', () => {
    const dir = tempDir('duckhouse-cfg-tla-');
    fs.writeFileSync(path.join(dir, 'duckhouse.config.ts'), body);
    const r = runCli(dir, ['extract']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/duckhouse\.config\.ts: .*[Tt]op-level await/s);
    expect(r.err).toMatch(/duckhouse\.config\.mts.*"type": "module"/);
  }, 60_000);
});

describe('compact --target-mb', () => {
  it('refuses a value that is not a positive number with exit 2, even when bronze is empty', () => {
    const dir = tempDir('duckhouse-cfg-compact-');
    for (const bad of ['abc', '0', '-5']) {
      const r = runCli(dir, ['compact', '--target-mb', bad]);
      expect(r.code, `${bad}: ${r.out}\n${r.err}`).toBe(2);
      expect(r.err).toMatch(/--target-mb must be a positive number/);
    }
  }, 60_000);
});

describe('a config file under a name the CLI does not read', () => {
  it('duckhouse.config.cjs / .cts / .json is a usage error (exit 2) naming it, not a command run on the defaults', () => {
    for (const [ext, body] of [['cjs', `module.exports = { root: 'lake' };`], ['cts', `export default { root: 'lake' };`], ['json', `{ "root": "lake" }`]] as const) {
      const dir = tempDir('duckhouse-cfg-ext-');
      fs.writeFileSync(path.join(dir, `duckhouse.config.${ext}`), body);
      const r = runCli(dir, ['sql', 'select 1 as x', '--csv']);
      // Before: exit 0 and a new lake in ./data: the file was never looked at.
      expect(fs.existsSync(path.join(dir, 'data')), ext).toBe(false);
      expect(r.code, `${ext}: ${r.out}\n${r.err}`).toBe(2);
      expect(r.err).toContain(`duckhouse.config.${ext} is not a config file duckhouse reads`);
    }
    const copy = tempProject('duckhouse-cfg-ext-');
    fs.writeFileSync(path.join(copy, 'duckhouse.config.ts.bak'), `export default { root: 'lake' };`);
    expect(runCli(copy, ['sql', 'select 1 as x', '--csv']).code).toBe(0);
  }, 90_000);
});

describe('duckhouse -c <config> from another working directory (cron without cd)', () => {
  it("resolves the config's relative root and models, and the default ones, against the config's folder", () => {
    for (const paths of [`root: 'lake', models: 'models', `, '']) {
      const dir = tempDir('duckhouse-cfg-cwd-');
      writeFiles(path.join(dir, 'models'), { 'staging/stg_prices.sql': `select sku from {{ source('shop', 'prices') }}` });
      fs.writeFileSync(path.join(dir, 'duckhouse.config.mjs'), `import { defineSource, z } from ${JSON.stringify(index)};\nexport default { ${paths}sources: [${source}], log: { console: false } };\n`);
      const lake = path.join(dir, paths ? 'lake' : 'data');
      const elsewhere = tempDir('duckhouse-cfg-cwd-');
      const config = path.join(dir, 'duckhouse.config.mjs');
      const r = runCli(elsewhere, ['-c', config, 'run']);
      expect(r.code, `${r.out}\n${r.err}`).toBe(0);
      // Before: exit 0, "success", a new lake in the working directory and nothing built (its
      // models folder looked for there too: a warning in that lake's log file only).
      expect(fs.readdirSync(elsewhere)).toEqual([]);
      expect(fs.existsSync(path.join(lake, 'bronze', 'shop', 'prices'))).toBe(true);
      expect(r.out).toMatch(/build {3}staging\.stg_prices: success/);
      const runs = runCli(elsewhere, ['-c', config, 'runs', '--json']);
      expect(JSON.parse(runs.out).map((x: { kind: string }) => x.kind).sort()).toEqual(['build', 'extract', 'run']);
    }
  }, 120_000);
});
