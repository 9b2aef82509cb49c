/**
 * Records that failed validation, with their reasons:
 * `<root>/quarantine/<source>/<dataset>/<runId>.ndjson`, one JSON object per line.
 * Lines are appended whole, a write per 1,000 lines or 16 M characters. Secrets are redacted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, SourceError } from '../errors.js';
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
  /** The input file of a file source's record, and its 1-based line there (where it starts). */
  file?: string;
  line?: number;
  url?: string;
  reasons: QuarantineReason[];
  record: unknown;
  at: string;
}

export class QuarantineWriter {
  readonly file: string;
  private lines: string[] = [];
  /** Characters in `lines`: a flush at FLUSH_CHARS keeps memory bounded and each write under V8's string limit. */
  private chars = 0;
  count = 0;

  constructor(root: string, source: string, dataset: string, runId: string) {
    this.file = path.join(root, 'quarantine', source, dataset, `${runId}.ndjson`);
  }

  add(entry: Omit<QuarantineEntry, 'at'>): void {
    const line = (e: Omit<QuarantineEntry, 'at'>): string => JSON.stringify(redact({ ...e, at: new Date().toISOString() }), jsonValue);
    try {
      this.lines.push(line(entry));
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // A record nested thousands of levels deep overflows JSON.stringify: keep it cut, and say so.
      const reason = { path: '', message: `record nested deeper than ${KEPT_DEPTH} levels: stored cut at that depth` };
      this.lines.push(line({ ...entry, record: cutDeep(entry.record, KEPT_DEPTH), reasons: [...entry.reasons, reason] }));
    }
    this.count += 1;
    this.chars += this.lines[this.lines.length - 1]!.length + 1;
    if (this.lines.length >= 1000 || this.chars >= FLUSH_CHARS) this.flush();
  }

  /** Throws a SourceError naming the file when it cannot be written (the lines stay buffered). */
  flush(): void {
    try {
      this.write();
    } catch (error) {
      throw new SourceError('QUARANTINE_WRITE', `quarantine file ${this.file} could not be written: ${errorMessage(error)}`, { cause: error });
    }
  }

  private write(): void {
    if (this.lines.length === 0) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // Whole lines, in writes of at most ~FLUSH_CHARS (one line longer than that is a write of its own).
    // Each write's lines leave the buffer as soon as they are in the file: when a later write
    // fails, a retried flush appends only what is still missing, not those lines a second time.
    while (this.lines.length > 0) {
      let end = 0;
      let size = 0;
      while (end < this.lines.length && (end === 0 || size + this.lines[end]!.length + 1 <= FLUSH_CHARS)) size += this.lines[end++]!.length + 1;
      const before = fs.existsSync(this.file) ? fs.statSync(this.file).size : 0;
      try {
        fs.appendFileSync(this.file, `${this.lines.slice(0, end).join('\n')}\n`);
      } catch (error) {
        // A write cut short (a full disk) leaves part of a line: take it back, so the file holds
        // whole lines only and a retry writes those lines whole.
        try {
          fs.truncateSync(this.file, before);
        } catch {
          // Left cut; the error thrown names the file.
        }
        throw error;
      }
      this.lines = this.lines.slice(end);
      this.chars -= size;
    }
  }
}

const FLUSH_CHARS = 16 * 1024 * 1024;

/**
 * Values JSON has no form for, as text: a bigint's digits, and NaN and ±Infinity as `"NaN"`,
 * `"Infinity"`, `"-Infinity"` (JSON.stringify writes null, and the record rejected for holding
 * one would show a null instead).
 */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

const KEPT_DEPTH = 64;

/** A copy of `value` with whatever lies deeper than `depth` levels replaced by a marker. */
function cutDeep(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth === 0) return '[cut]';
  if (Array.isArray(value)) return value.map((v) => cutDeep(v, depth - 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutDeep(v, depth - 1)]));
}
