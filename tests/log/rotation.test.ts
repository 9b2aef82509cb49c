/**
 * The log file's rotation: the size limit holds line by line, and no line is lost on the way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/temp-lake.js';

describe('log file rotation', () => {
  it('a burst of lines past the limit rotates as it is written: no file over maxSize, the newest lines kept in order', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'duckhouse.log');
    const logger = createLogger({ level: 'info', file, console: false, maxSizeBytes: 2000, maxFiles: 3 });
    for (let i = 0; i < 200; i++) logger.info(`line ${i} ${'x'.repeat(50)}`);
    await logger.close();
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('duckhouse')).sort();
    expect(files).toEqual(['duckhouse.log', 'duckhouse1.log', 'duckhouse2.log']);
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size, f).toBeLessThanOrEqual(2000);
    // Newest file last in order: duckhouse2 (oldest kept) → duckhouse1 → duckhouse.log.
    const lines = ['duckhouse2.log', 'duckhouse1.log', 'duckhouse.log'].flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').filter(Boolean)).map((l) => Number(/line (\d+)/.exec(JSON.parse(l).message)![1]));
    // Before: every file empty (winston's File transport lost the lines logged while it opened the file).
    expect(lines.at(-1)).toBe(199);
    expect(lines).toEqual(Array.from({ length: lines.length }, (_, i) => 200 - lines.length + i));
    expect(lines.length).toBeGreaterThan(30); // three files of ~13 lines of ~150 bytes
  });

  it('later processes append to the file and rotate once their lines would pass the limit, losing none', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'duckhouse.log');
    // Before: each logger sized the file once, at open: duckhouse1.log ended at 3,070 bytes.
    for (let run = 0; run < 3; run++) {
      const logger = createLogger({ level: 'info', file, console: false, maxSizeBytes: 2000, maxFiles: 3 });
      for (let i = 0; i < 15; i++) logger.info(`run ${run} line ${i} ${'x'.repeat(20)}`);
      await logger.close();
    }
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('duckhouse')).sort();
    for (const f of files) expect(fs.statSync(path.join(dir, f)).size, f).toBeLessThanOrEqual(2000);
    const all = files.flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').filter(Boolean));
    expect(all).toHaveLength(45);
  });
});
