import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach } from 'vitest';
import { qualified } from '../../../src/db/quote.js';
import { discoverProject, type DiscoverOptions, type Project } from '../../../src/transform/project.js';
import type { RenderContext } from '../../../src/transform/render.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

/** Writes `files` (paths relative to models/) under a fresh temp folder; returns the models dir. */
export function writeModels(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-compile-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const models = path.join(dir, 'models');
  fs.mkdirSync(models);
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(models, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return models;
}

export async function project(files: Record<string, string>, options?: DiscoverOptions): Promise<Project> {
  return discoverProject(writeModels(files), options);
}

/** The error a promise or function throws (fails the test when it does not). */
export async function caught(run: () => unknown): Promise<Error & { code?: string }> {
  try {
    await run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error, none was thrown');
}

export const relationOf = (id: string): string => qualified(...(id.split('.') as [string, string]));

export function ctx(overrides: Partial<RenderContext> = {}): RenderContext {
  return {
    relation: relationOf,
    sourceRelation: (source, dataset, opts) => `bronze(${source}/${dataset}${opts.asOfRun ? `@${opts.asOfRun}` : ''})`,
    isIncremental: false,
    thisRelation: '"x"."this"',
    vars: {},
    env: {},
    rejectMode: { kind: 'keep' },
    ...overrides,
  };
}

/** An in-memory DuckDB, closed after the test. */
export async function memoryDb(): Promise<{ all: (sql: string) => Promise<Record<string, unknown>[]>; run: (sql: string) => Promise<void> }> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn: DuckDBConnection = await instance.connect();
  cleanups.push(() => {
    conn.closeSync();
    instance.closeSync();
  });
  return {
    all: async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[],
    run: async (sql) => {
      await conn.run(sql);
    },
  };
}
