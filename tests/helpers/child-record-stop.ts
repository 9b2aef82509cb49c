/**
 * Writes an extract's records to a metrics file as a run does while it goes on (its start, a
 * committed batch, a source's result), waits until those transactions are done (not until
 * anything else happens), prints `stopped` and stops itself (SIGSTOP), as a process descheduled
 * or busy between two batches would be. Its parent then sees whether the file was left locked.
 *   tsx child-record-stop.ts <metrics file>
 */
import { drained, fileQueueKey } from '../../src/db/file-queue.js';
import { MetricsDb } from '../../src/metrics/metrics-db.js';

const [file] = process.argv.slice(2) as [string];
const metrics = new MetricsDb(file, 10_000);
const runId = '20261207T120000000Z-stop01';
await metrics.startRun(runId, 'extract', new Date());
await metrics.recordSourceResult(runId, { source: 's', dataset: 'd', status: 'success', rows: 1, rejected: 0, files: 1, bytes: 10, requests: 1, retries: 0, durationMs: 5 });
await drained(fileQueueKey(file));
process.stdout.write('stopped\n');
process.kill(process.pid, 'SIGSTOP');
await metrics.finishRun(runId, { status: 'success', rows: 1 });
await metrics.close();
process.stdout.write('finished\n');
