/**
 * Records that failed validation, with their reasons:
 * `<root>/quarantine/<source>/<dataset>/<runId>.ndjson`, one JSON object per line.
 * Lines are appended whole, one write per batch. Secrets are redacted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { redact } from '../redact.js';

export interface QuarantineReason {
  path: string;
  message: string;
  code?: string;
}

export interface QuarantineEntry {
  runId: string;
  source: string;
  dataset: string;
  /** 1-based position of the record in the source's stream. */
  position?: number;
  line?: number;
  url?: string;
  reasons: QuarantineReason[];
  record: unknown;
  at: string;
}

export class QuarantineWriter {
  readonly file: string;
  private lines: string[] = [];
  count = 0;

  constructor(root: string, source: string, dataset: string, runId: string) {
    this.file = path.join(root, 'quarantine', source, dataset, `${runId}.ndjson`);
  }

  add(entry: Omit<QuarantineEntry, 'at'>): void {
    this.lines.push(JSON.stringify(redact({ ...entry, at: new Date().toISOString() }), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    this.count += 1;
    if (this.lines.length >= 1000) this.flush();
  }

  flush(): void {
    if (this.lines.length === 0) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.appendFileSync(this.file, `${this.lines.join('\n')}\n`);
    this.lines = [];
  }
}
