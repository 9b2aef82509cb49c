/**
 * The one module that imports winston. Everything else takes a `Logger`.
 * File: JSON lines in `<root>/logs/duckhouse.log`, rotated (10 MB × 30 by default).
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
    const tail = extra.length > 0 ? ` ${JSON.stringify(Object.fromEntries(extra.map((k) => [k, rest[k]])))}` : '';
    return `${String(timestamp).slice(11, 19)} ${String(level).padEnd(5)} ${where ? `[${where}] ` : ''}${String(message)}${tail}`;
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
  const ensure = (): winstonTypes.Logger => {
    if (root) return root;
    const winston = createRequire(import.meta.url)('winston') as typeof winstonTypes;
    const { redactFormat, consoleLine } = formats(winston);
    const transports: winstonTypes.transport[] = [];
    if (options.file) {
      fs.mkdirSync(path.dirname(options.file), { recursive: true });
      transports.push(
        new winston.transports.File({
          filename: options.file,
          maxsize: options.maxSizeBytes,
          maxFiles: options.maxFiles,
          tailable: true,
          format: winston.format.combine(winston.format.timestamp(), redactFormat(), winston.format.json()),
        }),
      );
    }
    if (options.console) {
      // Every level to stderr, through the progress display: a line must not land on a bar.
      const stream = new Writable({
        write(chunk: Buffer | string, _encoding, done) {
          writeConsole(String(chunk));
          done();
        },
      });
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
        root.on('finish', () => resolve());
        root.end();
        setTimeout(resolve, 1000).unref();
      });
      return closed;
    },
  };
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
