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

/**
 * Every file under `dir`, relative, sorted. Safe to poll while another process writes there: an entry
 * (file or folder) removed between the listing and its stat is simply not listed — it is not there.
 */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR';
  const walk = (rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if (gone(e)) return;
      throw e;
    }
    for (const entry of entries) {
      const child = rel === '' ? entry.name : path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
      else if (entry.isSymbolicLink()) {
        // As before (statSync follows links): a link to a file counts as a file.
        const st = fs.statSync(path.join(dir, child), { throwIfNoEntry: false });
        if (st?.isFile()) out.push(child);
      }
    }
  };
  walk('');
  return out.sort();
}

export function registerCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}
