/**
 * The opt-in raw archive: every response body of a source, redacted, as gzip NDJSON under
 * `<root>/raw/<source>/<dataset>/year=YYYY/month=MM/day=DD/<runId>-<n>.ndjson.gz`, the day each
 * response arrived in the lake's time zone (a run past midnight starts a new file).
 * Files are written in the process's private temp folder and renamed into place when whole,
 * so a reader never sees half a file; a killed run leaves only temp files, cleaned at next open.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { once } from 'node:events';
import { dateParts } from '../../bronze/partition.js';
import { processTmpDirName } from '../../bronze/recover.js';
import { currentProcess } from '../../metrics/process-identity.js';
import { redact, redactString } from '../../redact.js';
import { stringifyJsonExact } from '../json-exact.js';
import type { HttpResponse } from './client.js';

/** Uncompressed bytes after which the archive starts a new file. */
const ROLL_BYTES = 256 * 1024 * 1024;

export interface RawArchiveOptions {
  root: string;
  source: string;
  dataset: string;
  runId: string;
  timezone: string;
  /** The clock responses are stamped and filed by (epoch ms); default `Date.now`. */
  now?: () => number;
}

export class RawArchive {
  private file: { gzip: zlib.Gzip; out: fs.WriteStream; tmp: string; final: string; bytes: number; day: string } | undefined;
  /**
   * File numbers are the process's, not the archive's: two sources of one run writing one dataset
   * (a connector's stores) must not write the same `<runId>-<n>` (a run lives in one process).
   */
  private static fileNo = 0;
  /** Final paths of the files written so far. */
  readonly files: string[] = [];

  constructor(private readonly o: RawArchiveOptions) {}

  /** Appends one response. Resolves once the line is accepted (respecting backpressure). */
  async add(response: HttpResponse<unknown>): Promise<void> {
    const at = new Date(this.o.now?.() ?? Date.now());
    const line = `${stringifyJsonExact({
      at: at.toISOString(),
      url: redactString(response.url),
      status: response.status,
      headers: redact(response.headers),
      body: redact(response.body),
    })}\n`;
    // A run going on past midnight (the lake's) files the later responses under their own day, as
    // bronze does its rows: a folder deleted as old holds no response of a day still kept.
    const { year, month, day } = dateParts(at, this.o.timezone);
    if (this.file && this.file.day !== `${year}-${month}-${day}`) await this.finish();
    const file = this.file ?? this.open(year, month, day);
    file.bytes += line.length;
    if (!file.gzip.write(line)) await once(file.gzip, 'drain');
    if (file.bytes >= ROLL_BYTES) await this.finish();
  }

  /** Finishes the current file and renames it into place. Idempotent. */
  async close(): Promise<void> {
    await this.finish();
  }

  /** Drops the current file unfinished (the run failed before anything was archived properly). */
  discard(): void {
    if (!this.file) return;
    this.file.gzip.destroy();
    this.file.out.destroy();
    fs.rmSync(this.file.tmp, { force: true });
    this.file = undefined;
  }

  private open(year: string, month: string, day: string): NonNullable<RawArchive['file']> {
    RawArchive.fileNo += 1;
    const name = `${this.o.runId}-${RawArchive.fileNo}.ndjson.gz`;
    const final = path.join(this.o.root, 'raw', this.o.source, this.o.dataset, `year=${year}`, `month=${month}`, `day=${day}`, name);
    const me = currentProcess();
    const tmpDir = path.join(this.o.root, '.tmp', processTmpDirName(me.pid, me.procStart), 'raw');
    fs.mkdirSync(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${this.o.source}.${this.o.dataset}.${name}`);
    const gzip = zlib.createGzip();
    const out = fs.createWriteStream(tmp);
    gzip.pipe(out);
    this.file = { gzip, out, tmp, final, bytes: 0, day: `${year}-${month}-${day}` };
    return this.file;
  }

  private async finish(): Promise<void> {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    const closed = once(file.out, 'close');
    file.gzip.end();
    await closed;
    fs.mkdirSync(path.dirname(file.final), { recursive: true });
    fs.renameSync(file.tmp, file.final);
    this.files.push(file.final);
  }
}
