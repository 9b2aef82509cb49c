/**
 * A process reading a bronze dataset through `lake.bronze` in a loop (as a build would list it),
 * recording the row count of every read. Prints `ready` after the first read; on SIGTERM prints
 * `{ reads, counts, errors }` and exits.
 * Usage: child-bronze-reader.ts <root> <source/dataset> <millis>
 */
import { Lakehouse } from '../../src/index.js';

const [root, dataset, millis] = process.argv.slice(2) as [string, string, string];
const lake = await Lakehouse.open({ root, log: { console: false }, progress: false });
const counts: number[] = [];
const errors: string[] = [];
let stop = false;
const finish = async (): Promise<void> => {
  stop = true;
};
process.on('SIGTERM', () => void finish());
const until = Date.now() + Number(millis);
while (!stop && Date.now() < until) {
  try {
    counts.push((await lake.bronze(dataset)).length);
  } catch (error) {
    if (errors.length < 5) errors.push((error as Error).message);
  }
  if (counts.length + errors.length === 1) process.stdout.write('ready\n');
}
await lake.close();
process.stdout.write(`${JSON.stringify({ reads: counts.length, counts: [...new Set(counts)], errors })}\n`);
process.exit(0);
