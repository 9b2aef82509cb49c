import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const logModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'log.ts');

/** Logs through a logger in a fresh process and says whether winston was loaded. */
function winstonLoaded(options: string): boolean {
  const script = `
    import { createRequire } from 'node:module';
    import { createLogger } from ${JSON.stringify(logModule)};
    const logger = createLogger({ level: 'debug', maxSizeBytes: 1e6, maxFiles: 1, ${options} });
    logger.info('one line');
    logger.child({ runId: 'r' }).error('another');
    await logger.close();
    const cache = createRequire(import.meta.url).cache;
    console.log(JSON.stringify(Object.keys(cache).some((k) => k.includes('/winston/'))));`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, VITEST: 'true' } });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as boolean;
}

describe('a logger with nowhere to write', () => {
  it('never loads winston, while one with a console does (the check can tell)', () => {
    expect(winstonLoaded(`file: false, console: false`)).toBe(false);
    expect(winstonLoaded(`file: false, console: true`)).toBe(true);
  });
});
