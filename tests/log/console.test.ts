/** The console log's readable lines: plain text where colors would be garbage (a file, a dumb terminal, NO_COLOR). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCliInPty } from '../helpers/pty.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const logModule = path.join(repo, 'src', 'log.ts');
const index = path.join(repo, 'src', 'index.ts');

/** What a console logger writes to stderr, in a child process whose stderr is a pipe. */
function consoleLines(env: Record<string, string | undefined> = {}): string {
  const script = `
    import { createLogger } from ${JSON.stringify(logModule)};
    const logger = createLogger({ level: 'info', file: false, console: true, maxSizeBytes: 1e6, maxFiles: 1 });
    logger.child({ runId: 'r1' }).warn('a warning');
    logger.error('an error');
    await logger.close();`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (out.status !== 0) throw new Error(out.stderr);
  return out.stderr;
}

describe('the console log', () => {
  it('has no color codes when stderr is not a terminal (`2>> cron.log` with log.console on)', () => {
    const err = consoleLines();
    expect(err).toMatch(/^\d\d:\d\d:\d\d warn +\[r1\] a warning$/m);
    expect(err).toMatch(/^\d\d:\d\d:\d\d error +an error$/m);
    expect(err).not.toContain('\x1b[');
  });

  it('has no color codes on a terminal with NO_COLOR set, nor on a dumb terminal (where no bar is drawn either)', async () => {
    for (const env of [{ NO_COLOR: '1' }, { TERM: 'dumb' }] as Record<string, string>[]) {
      const dir = tempDir('tty-color-');
      fs.writeFileSync(
        path.join(dir, 'duckhouse.config.mjs'),
        `import { defineSource, z } from ${JSON.stringify(index)};
export default { sources: [defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }),
  async *extract() { await new Promise((r) => setTimeout(r, 400)); yield [{ sku: 'a' }]; await new Promise((r) => setTimeout(r, 400)); yield [{ sku: 'b' }]; } })] };
`,
      );
      const r = await runCliInPty(dir, ['extract'], { env });
      expect(r.status, r.raw).toBe(0);
      expect(r.raw, JSON.stringify(env)).toMatch(/^\d\d:\d\d:\d\d info +\[\S+\] extract started: shop\/prices\r$/m);
      // NO_COLOR: bars still (they are not colors), but no color codes; TERM=dumb: no escape codes at all.
      expect(r.raw, `${JSON.stringify(env)}: ${JSON.stringify(r.raw)}`).not.toMatch(env.TERM === 'dumb' ? /\x1b\[/ : /\x1b\[[0-9;]*m/);
    }
  }, 60_000);

  it('with `progress: true` but stderr redirected, log lines go to it plain, not through the bars', () => {
    const script = `
      import { Lakehouse, defineSource, z } from ${JSON.stringify(index)};
      const lake = await Lakehouse.open({ root: ${JSON.stringify(path.join(tempDir('forced-'), 'data'))}, progress: true, log: { console: true, file: false } });
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      await lake.extract([defineSource({ source: 's', dataset: 'd', schema: z.object({ a: z.number() }),
        async *extract(ctx) { for (let i = 0; i < 3; i++) { await sleep(50); ctx.warn('slow ' + i); yield [{ a: i }]; } } })]);
      await lake.close();`;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    for (let i = 0; i < 3; i++) expect(out.stderr).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d warn +\\[\\S+ s/d\\] slow ${i}$`, 'm'));
    expect(out.stderr).not.toContain('\x1b[');
  }, 60_000);

  it('prints a BIGINT in a line\'s fields (a count DuckDB returned) as the file does, instead of failing the source that logged it', () => {
    const script = `
      import { Lakehouse, defineSource, z } from ${JSON.stringify(index)};
      const lake = await Lakehouse.open({ root: ${JSON.stringify(path.join(tempDir('bigint-'), 'data'))}, log: { console: true } });
      const r = await lake.extract([defineSource({ source: 's', dataset: 'd', schema: z.object({ a: z.number() }),
        async *extract(ctx) { ctx.logger.info('pages counted', { pages: 12345678901234567890n }); yield [{ a: 1 }]; } })]);
      console.log(JSON.stringify(r.sources.map((x) => [x.status, x.error ?? null])));
      await lake.close();`;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    // Before: [["failed","Do not know how to serialize a BigInt"]] with the console on (a terminal), a success under cron.
    expect(out.stdout.trim()).toBe('[["success",null]]');
    expect(out.stderr).toMatch(/^\d\d:\d\d:\d\d info +\[\S+ s\/d\] pages counted \{"pages":"12345678901234567890"\}$/m);
  }, 60_000);
});
