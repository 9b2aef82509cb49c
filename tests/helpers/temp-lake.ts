import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { Lakehouse, type OpenOptions } from '../../src/index.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A fresh temp folder, removed after the test. */
export function tempDir(prefix = 'duckhouse-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A temp project folder as a clone has it, with its (empty) `data/`: commands that read a lake refuse a root that does not exist. */
export function tempProject(prefix = 'duckhouse-test-'): string {
  const dir = tempDir(prefix);
  fs.mkdirSync(path.join(dir, 'data'));
  return dir;
}

/** Opens a lake in a temp folder, with an empty models/ unless `models` is given (closed after the test). Logs go to the lake's file only. */
export async function tempLake(options: OpenOptions = {}): Promise<Lakehouse> {
  const dir = options.root ?? tempDir();
  if (!options.models) fs.mkdirSync(path.join(dir, 'models'), { recursive: true });
  const lake = await Lakehouse.open({ log: { console: false }, models: path.join(dir, 'models'), ...options, root: options.root ?? path.join(dir, 'data') });
  cleanups.push(() => lake.close());
  return lake;
}

/** Every file under `dir`, relative, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

export function registerCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}
