/**
 * The one module that imports winston. Everything else takes a `Logger`.
 * File: JSON lines in `<root>/logs/duckhouse.log`, rotated (10 MB × 30 by default).
 * Console: short readable lines; quiet under CI and tests unless asked.
 * Every line passes through redaction first.
 */
import path from 'node:path';
import fs from 'node:fs';
import winston from 'winston';
import { redact, redactString } from './redact.js';

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

const redactFormat = winston.format((info) => {
  const clean = redact({ ...info });
  for (const key of Object.keys(clean)) (info as Record<string, unknown>)[key] = clean[key];
  info.message = redactString(String(info.message));
  return info;
});

const consoleLine = winston.format.printf((info) => {
  const { level, message, timestamp, runId, source, dataset, model, ...rest } = info as Record<string, unknown>;
  const where = [runId, source && dataset ? `${source}/${dataset}` : source, model].filter(Boolean).join(' ');
  const extra = Object.keys(rest).filter((k) => typeof k === 'string' && !k.startsWith('Symbol'));
  const tail = extra.length > 0 ? ` ${JSON.stringify(Object.fromEntries(extra.map((k) => [k, rest[k]])))}` : '';
  return `${String(timestamp).slice(11, 19)} ${String(level).padEnd(5)} ${where ? `[${where}] ` : ''}${String(message)}${tail}`;
});

export function defaultConsole(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.CI && !process.env.VITEST;
}

export interface RootLogger extends Logger {
  /** Flushes the file transport; the logger must not be used afterwards. */
  close(): Promise<void>;
}

export function createLogger(options: LoggerOptions): RootLogger {
  const transports: winston.transport[] = [];
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
    transports.push(
      new winston.transports.Console({
        stderrLevels: ['error', 'warn', 'info', 'debug'],
        format: winston.format.combine(winston.format.timestamp(), redactFormat(), winston.format.colorize(), consoleLine),
      }),
    );
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  const root = winston.createLogger({ level: options.level, transports });
  let closed: Promise<void> | undefined;
  return {
    ...wrap(root),
    close() {
      closed ??= new Promise<void>((resolve) => {
        root.on('finish', () => resolve());
        root.end();
        setTimeout(resolve, 1000).unref();
      });
      return closed;
    },
  };
}

function wrap(w: winston.Logger): Logger {
  return {
    error: (m, meta) => void w.error(m, meta ?? {}),
    warn: (m, meta) => void w.warn(m, meta ?? {}),
    info: (m, meta) => void w.info(m, meta ?? {}),
    debug: (m, meta) => void w.debug(m, meta ?? {}),
    child: (meta) => wrap(w.child(meta)),
  };
}
