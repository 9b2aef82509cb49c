/** Config files whose default export is not the options object: refused clearly, never silently ignored. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const index = path.join(repo, 'src', 'index.ts');
const source = `defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }), async *extract() { yield [{ sku: 'a' }]; } })`;

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
