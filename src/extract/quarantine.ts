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
 * Cuts the quarantine files of dead runs (`<quarantineDir>/<source>/<dataset>/<runId>.ndjson`) back
 * to their last whole line: a kill stops the kernel's copy of a big append part way, and a file
 * ending in part of a line fails every NDJSON reader of the folder. Those lines belong to a batch
 * never committed (a batch's rejections are appended before it commits). Each file cut, or that
 * could not be, is told to `warn`: a file left as it was must not fail the open.
 */
export function cutTornQuarantine(quarantineDir: string, runIds: readonly string[], warn: (message: string) => void): void {
  if (runIds.length === 0) return;
  for (const source of subfolders(quarantineDir)) {
    for (const dataset of subfolders(path.join(quarantineDir, source))) {
      for (const runId of runIds) {
        const file = path.join(quarantineDir, source, dataset, `${runId}.ndjson`);
        try {
          if (cutToLastLine(file)) warn(`cut the last line of quarantine file ${file}, left part-written by a killed run`);
        } catch (error) {
          warn(`quarantine file ${file} of a killed run may end in part of a line, and could not be cut back: ${errorMessage(error)}`);
        }
      }
    }
  }
}

function subfolders(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Truncates `file` after its last newline; false when it ends with one (or is not there). */
function cutToLastLine(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const chunk = Buffer.alloc(Math.min(size, 1 << 16));
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      fs.readSync(fd, chunk, 0, end - start, start);
      const nl = chunk.subarray(0, end - start).lastIndexOf(0x0a);
      if (nl >= 0) {
        if (start + nl + 1 === size) return false;
        fs.ftruncateSync(fd, start + nl + 1);
        return true;
      }
      end = start;
    }
    if (size === 0) return false;
    fs.ftruncateSync(fd, 0);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

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
