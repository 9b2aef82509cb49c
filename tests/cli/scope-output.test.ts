/**
 * Two stores of one dataset (`partitionBy: { store }`): README, Alerts — "a source is its dataset and
 * its constant partition values … alerted on as `shop/orders (store=a)`", `SourceResult.scope`.
 * What `extract` and `run` print (all a cron log holds) must say which store failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const index = path.join(repo, 'src', 'index.ts');

function project(): string {
  const dir = tempDir('duckhouse-cli-scope-');
  fs.writeFileSync(
    path.join(dir, 'duckhouse.config.mjs'),
    `import { defineSource, z } from ${JSON.stringify(index)};
const orders = (store, fail) => defineSource({ source: 'shop', dataset: 'orders', partitionBy: { store }, schema: z.object({ id: z.number() }),
  async *extract() { if (fail) throw new Error('HTTP 503 from the store API'); yield [{ id: 1 }]; } });
export default { sources: [orders('a', true), orders('b', false)], log: { console: false } };
`,
  );
  return dir;
}

describe('extract and run output of a dataset split by store', () => {
  it('extract: the failed line names its store (store=a), the successful one its own', () => {
    const r = runCli(project(), ['extract']);
    expect(r.code, r.err).toBe(1);
    const lines = r.out.split('\n').filter((l) => l.startsWith('shop/orders'));
    expect(lines).toHaveLength(2);
    // Before: `shop/orders: failed, 0 rows … — HTTP 503 …` and `shop/orders: success, 1 rows …`: which store?
    expect(lines.find((l) => /failed/.test(l))).toMatch(/store=a/);
    expect(lines.find((l) => /success/.test(l))).toMatch(/store=b/);
  }, 60_000);

  it('run: the same for the pipeline\'s extract lines', () => {
    const dir = project();
    fs.mkdirSync(path.join(dir, 'models'));
    const r = runCli(dir, ['run']);
    expect(r.code, r.err).toBe(1);
    const failed = r.out.split('\n').find((l) => l.startsWith('extract shop/orders') && /failed/.test(l));
    expect(failed).toMatch(/store=a/);
  }, 60_000);
});
