/**
 * Records a run's start in a metrics db, prints "started", and kills itself at once (SIGKILL):
 * whatever the process had not finished after startRun resolved (the detach) never happens.
 *   tsx child-start-run.ts <metrics file> <runId>
 */
import { MetricsDb } from '../../src/metrics/metrics-db.js';

const [file, runId] = process.argv.slice(2) as [string, string];
const metrics = new MetricsDb(file, 10_000);
await metrics.startRun(runId, 'extract', new Date());
process.stdout.write('started\n', () => process.kill(process.pid, 'SIGKILL'));
