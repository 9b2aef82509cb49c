/**
 * The one module that imports winston. Everything else takes a `Logger`.
 * File: JSON lines in `<root>/logs/duckhouse.log`, rotated as it grows (10 MB × 30 by default).
 * Console: short readable lines; quiet under CI and tests unless asked.
 * Every line passes through redaction first.
 */
import path from 'node:path';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type winstonTypes from 'winston';
import { Writable } from 'node:stream';
import { redact, redactString } from './redact.js';
import { stderrIsTerminal, writeConsole } from './progress.js';
import { sourceLabel } from './results.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  /** A logger whose lines all carry `meta` (e.g. `{ runId, source }`). */
  child(meta: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  /** JSON-lines file; `false` for none. */
  file: string | false;
  /** Console output; default: on for a terminal, off under CI or vitest. */
  console: boolean;
  maxSizeBytes: number;
  maxFiles: number;
}

function formats(winston: typeof winstonTypes) {
  const redactFormat = winston.format((info) => {
    const clean = redact({ ...info });
    for (const key of Object.keys(clean)) (info as Record<string, unknown>)[key] = clean[key];
    info.message = redactString(String(info.message));
    return info;
  });

  const consoleLine = winston.format.printf((info) => {
    const { level, message, timestamp, runId, source, dataset, scope, model, ...rest } = info as Record<string, unknown>;
    const where = [runId, source && dataset ? sourceLabel(source, dataset, scope) : source, model].filter(Boolean).join(' ');
    const extra = Object.keys(rest).filter((k) => typeof k === 'string' && !k.startsWith('Symbol'));
    // A BIGINT (a count DuckDB returned) as the file writes it, a string: JSON.stringify throws on one.
    const tail = extra.length > 0 ? ` ${JSON.stringify(Object.fromEntries(extra.map((k) => [k, rest[k]])), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}` : '';
    // Padded by the level's own name: colorize() wraps `level` in escape codes a terminal does not show.
    const name = String((info as Record<symbol, unknown>)[Symbol.for('level')] ?? level);
    return `${String(timestamp).slice(11, 19)} ${String(level)}${' '.repeat(Math.max(0, 5 - name.length))} ${where ? `[${where}] ` : ''}${String(message)}${tail}`;
  });

  return { redactFormat, consoleLine };
}

/**
 * Colored levels only where they show as colors: not into a file (`2>> cron.log` with the console
 * on), not on a dumb terminal, not under NO_COLOR (no-color.org: set and not empty).
 */
function consoleColors(): boolean {
  return stderrIsTerminal() && !process.env.NO_COLOR;
}

export function defaultConsole(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.CI && !process.env.VITEST;
}

export interface RootLogger extends Logger {
  /** Flushes the file transport; the logger must not be used afterwards. */
  close(): Promise<void>;
}

/**
 * Creates the logger. winston is loaded on the first line logged, so a process that logs nothing
 * (a quick `duckhouse runs`) never pays for it; with neither a file nor the console it is never loaded.
 */
export function createLogger(options: LoggerOptions): RootLogger {
  // Nowhere to write: no winston at all (it costs ~25 ms to load, on the first line logged).
  if (!options.file && !options.console) return { ...silent, close: () => Promise.resolve() };
  let root: winstonTypes.Logger | undefined;
  let sink: RotatingFile | undefined;
  const ensure = (): winstonTypes.Logger => {
    if (root) return root;
    const winston = createRequire(import.meta.url)('winston') as typeof winstonTypes;
    const { redactFormat, consoleLine } = formats(winston);
    const transports: winstonTypes.transport[] = [];
    if (options.file) {
      fs.mkdirSync(path.dirname(options.file), { recursive: true });
      const file = new RotatingFile(options.file, options.maxSizeBytes, options.maxFiles);
      sink = file;
      const stream = textSink((text) => file.write(text));
      transports.push(new winston.transports.Stream({ stream, eol: '\n', format: winston.format.combine(winston.format.timestamp(), redactFormat(), winston.format.json()) }));
    }
    if (options.console) {
      // Every level to stderr, through the progress display: a line must not land on a bar.
      const stream = textSink(writeConsole);
      transports.push(
        new winston.transports.Stream({
          stream,
          format: winston.format.combine(winston.format.timestamp(), redactFormat(), ...(consoleColors() ? [winston.format.colorize()] : []), consoleLine),
        }),
      );
    }
    if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
    root = winston.createLogger({ level: options.level, transports });
    return root;
  };
  let closed: Promise<void> | undefined;
  return {
    ...lazy(ensure, {}),
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (!root) return resolve();
        const done = (): void => {
          sink?.close();
          resolve();
        };
        root.on('finish', done);
        root.end();
        setTimeout(done, 1000).unref();
      });
      return closed;
    },
  };
}

/** A stream handing each chunk, as text, to `write` (synchronous: nothing waits in memory). */
function textSink(write: (text: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      write(String(chunk));
      done();
    },
  });
}

/**
 * The log file, rotated as it is written (tailable: `duckhouse.log` is the newest, then
 * `duckhouse1.log`, `duckhouse2.log` …, `maxFiles` in all). winston's File transport sized the
 * file only once it had opened it, asynchronously: the lines of a burst logged meanwhile were lost
 * or took the file past its limit. Here each line is appended synchronously and counted, so the
 * limit holds line by line and nothing waits in memory when the process exits.
 */
class RotatingFile {
  private fd: number | undefined;
  private size = 0;
  private failed = false;

  constructor(
    private readonly file: string,
    private readonly maxSizeBytes: number,
    private readonly maxFiles: number,
  ) {}

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    try {
      if (this.fd === undefined) this.open();
      if (this.size > 0 && this.size + bytes > this.maxSizeBytes) {
        // Another process may have rotated it already: then its fresh file is the one to fill.
        if (this.renamedAway()) this.reopen();
        else this.rotate();
      }
      fs.writeSync(this.fd!, line);
      this.size += bytes;
    } catch (error) {
      // A log that cannot be written must not stop the run it describes: said once, on stderr.
      if (!this.failed) process.stderr.write(`duckhouse: log file ${this.file} cannot be written: ${(error as Error).message}\n`);
      this.failed = true;
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    this.fd = fs.openSync(this.file, 'a');
    this.size = fs.fstatSync(this.fd).size;
  }

  private reopen(): void {
    this.close();
    this.open();
  }

  private renamedAway(): boolean {
    const now = fs.statSync(this.file, { throwIfNoEntry: false });
    return now === undefined || now.ino !== fs.fstatSync(this.fd!).ino;
  }

  private rotate(): void {
    this.close();
    const { dir, name, ext } = path.parse(this.file);
    const nth = (n: number): string => path.join(dir, `${name}${n}${ext}`);
    if (this.maxFiles <= 1) fs.rmSync(this.file, { force: true });
    else {
      fs.rmSync(nth(this.maxFiles - 1), { force: true });
      for (let n = this.maxFiles - 2; n >= 1; n--) if (fs.existsSync(nth(n))) fs.renameSync(nth(n), nth(n + 1));
      fs.renameSync(this.file, nth(1));
    }
    this.open();
  }
}

const silent: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, child: () => silent };

function lazy(root: () => winstonTypes.Logger, meta: Record<string, unknown>): Logger {
  let target: winstonTypes.Logger | undefined;
  const get = (): winstonTypes.Logger => (target ??= Object.keys(meta).length > 0 ? root().child(meta) : root());
  return {
    error: (m, extra) => void get().error(m, extra ?? {}),
    warn: (m, extra) => void get().warn(m, extra ?? {}),
    info: (m, extra) => void get().info(m, extra ?? {}),
    debug: (m, extra) => void get().debug(m, extra ?? {}),
    child: (more) => lazy(get, more),
  };
}
