/**
 * Under a file-size limit (`ulimit -f`, a disk that fills up) of exactly 9 MiB: a quarantine
 * writer given two 9 MiB lines (two writes) flushes, gets the first in and fails on the second;
 * the file is moved aside (room again), and the flush is retried. Prints both errors' codes.
 * A first line shorter than 9 MiB (`firstKib`) makes the second write fail part-way through.
 *   bash -c 'ulimit -f 9216; exec node --import tsx child-quarantine-limit.ts <root> [firstKib]'
 */
import fs from 'node:fs';
import { QuarantineWriter } from '../../src/extract/quarantine.js';

const [root, firstKib = '9216'] = process.argv.slice(2) as [string, string?];
const writer = new QuarantineWriter(root, 'q', 'big', 'run1');
const sizes = [Number(firstKib) * 1024, 9 * 1024 * 1024];
const at = new Date().toISOString();
const base = JSON.stringify({ runId: 'run1', source: 'q', dataset: 'big', position: 1, reasons: [], record: '', at }).length;
const codes: unknown[] = [];
const attempt = (fn: () => void): void => {
  try {
    fn();
    codes.push(null);
  } catch (error) {
    codes.push(((error as Error).cause as NodeJS.ErrnoException).code);
  }
};
const add = (position: number): void => writer.add({ runId: 'run1', source: 'q', dataset: 'big', position, reasons: [], record: 'x'.repeat(sizes[position - 1]! - 1 - base) });
add(1);
attempt(() => add(2)); // past 16 M characters: add flushes
fs.renameSync(writer.file, `${writer.file}.1`);
attempt(() => writer.flush());
process.stdout.write(`${JSON.stringify({ codes })}\n`);
