/**
 * A second process running an httpSource into a lake, for tests that need real processes:
 * two processes sharing an OAuth token store, and a run killed with SIGKILL then resumed.
 * The test builds the same source in-process with `childSource(config)`, so both sides agree.
 *
 * Run: `node --import tsx tests/helpers/http-child.ts '<json ChildConfig>'`; prints the
 * ExtractResult as JSON on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lakehouse, z, type Source } from '../../src/index.js';
import { httpSource } from '../../src/extract/http-source.js';
import { pageNumberPaginator } from '../../src/extract/http/paginators.js';

export interface ChildConfig {
  root: string;
  dataset: string;
  /** Page-number route serving `{ data, meta }` (see faulty-server `pages.pageNumber`). */
  url: string;
  flushRows?: number;
  /** Incremental on `id` via `since_id`. */
  incremental?: boolean;
  oauth?: { tokenUrl: string; clientId: string; clientSecret: string; refreshToken?: string; skewMillis?: number };
  archiveRaw?: boolean;
}

const schema = z.object({ id: z.number().int(), name: z.string(), price: z.number() });

export function childSource(config: ChildConfig): Source {
  return httpSource({
    source: 'child',
    dataset: config.dataset,
    url: config.url,
    paginate: pageNumberPaginator({ totalPagesPath: 'meta.total_pages' }),
    items: 'data',
    schema,
    limits: { backoffBaseMillis: 5, backoffMaxMillis: 50, requestsPerSecond: 10_000, burst: 1000, ...(config.flushRows ? { flushRows: config.flushRows } : {}) },
    ...(config.incremental ? { incremental: { cursorField: 'id', param: 'since_id' } } : {}),
    ...(config.oauth ? { auth: { type: 'oauth2' as const, store: 'shared', ...config.oauth } } : {}),
    ...(config.archiveRaw ? { archiveRaw: true } : {}),
  });
}

const here = fileURLToPath(import.meta.url);

/** Starts the child; its stdout (the result JSON) is collected by `finished`. */
export function spawnChild(config: ChildConfig): { child: ChildProcess; finished: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', here, JSON.stringify(config)], {
    cwd: path.resolve(path.dirname(here), '../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VITEST: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const finished = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, finished };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as ChildConfig;
  const lake = await Lakehouse.open({ root: config.root, log: { console: false } });
  try {
    const result = await lake.extract([childSource(config)]);
    process.stdout.write(JSON.stringify(result));
  } finally {
    await lake.close();
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
