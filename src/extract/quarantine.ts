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
    const line = (e: Omit<QuarantineEntry, 'at'>): string =>
      JSON.stringify(redact({ ...e, at: new Date().toISOString() }), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    try {
      this.lines.push(line(entry));
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // A record nested thousands of levels deep overflows JSON.stringify: keep it cut, and say so.
      const reason = { path: '', message: `record nested deeper than ${KEPT_DEPTH} levels: stored cut at that depth` };
      this.lines.push(line({ ...entry, record: cutDeep(entry.record, KEPT_DEPTH), reasons: [...entry.reasons, reason] }));
    }
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

const KEPT_DEPTH = 64;

/** A copy of `value` with whatever lies deeper than `depth` levels replaced by a marker. */
function cutDeep(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth === 0) return '[cut]';
  if (Array.isArray(value)) return value.map((v) => cutDeep(v, depth - 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutDeep(v, depth - 1)]));
}
