import fs from 'node:fs';
import path from 'node:path';

/** One quarantined record, as the quarantine writer stores it. */
export interface QuarantineEntry {
  runId: string;
  position: number;
  record: Record<string, unknown>;
  reasons: { path: string; message: string; code: string }[];
  [more: string]: unknown;
}

/** The records a run sent to `data/quarantine/<source>/<dataset>/<runId>.ndjson` (none: []). */
export function quarantined(root: string, source: string, dataset: string, runId: string): QuarantineEntry[] {
  const file = path.join(root, 'quarantine', source, dataset, `${runId}.ndjson`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as QuarantineEntry) : [];
}
