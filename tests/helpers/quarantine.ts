import fs from 'node:fs';
import path from 'node:path';

/** The records a run sent to `data/quarantine/<source>/<dataset>/<runId>.ndjson` (none: []). */
export function quarantined(root: string, source: string, dataset: string, runId: string): Record<string, unknown>[] {
  const file = path.join(root, 'quarantine', source, dataset, `${runId}.ndjson`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
}
