/**
 * A child process running one lake operation, for tests that SIGKILL it at arbitrary moments
 * (tests/reliability/kill-anywhere.test.ts). Usage: child-ops.ts '<json OpsConfig>'.
 * Prints `{"started":op}` once the lake is open (the kill delay counts from there) and
 * `{"result":…}` when the operation returned.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Lakehouse, csvSource, jsonSource, type AnySource } from '../../src/index.js';
import { spawnHelper, type Child } from './child.js';
import { childSource } from './http-child.js';

export type Op = 'csv' | 'json' | 'http' | 'build' | 'compact' | 'prune';

export interface OpsConfig {
  root: string;
  models: string;
  op: Op;
  /** csv / json: the glob of the files; http: the page-number URL (incremental on `since_id`). */
  input?: string;
  /** http: the dataset (a fresh one per trial, so its cursor starts at 0). */
  dataset?: string;
  flushRows?: number;
  /** compact / prune: the dataset (`source/dataset`). */
  target?: string;
  targetFileMb?: number;
  olderThan?: string;
  /** The lake's `retainSupersededMinutes` (0: compact and prune delete what they removed at once). */
  retainSupersededMinutes?: number;
  /**
   * Kill this process (SIGKILL, from itself) right after the operation's n-th file rename or
   * removal (`fs.renameSync`, `fs.rmSync`, `fs.unlinkSync`): the steps of every commit protocol,
   * so a kill lands exactly between two of them. Without it, the process prints how many there were.
   */
  killAfterFileOp?: number;
  /** Kill this process right after it first removes a file whose path contains this text. */
  killAfterRemoving?: string;
  /** Kill this process right after it first opens a file whose path contains this text (before it writes to it). */
  killAfterOpening?: string;
  /** Count file operations from before `Lakehouse.open` (its recovery of dead processes included), not from the operation's start. */
  countFromOpen?: boolean;
}

/** The source an extract op runs (the test builds the same one to re-run it in-process). */
export function opsSource(config: OpsConfig): AnySource {
  const limits = config.flushRows ? { flushRows: config.flushRows } : {};
  if (config.op === 'csv') return csvSource({ source: 'files', dataset: 'orders', glob: config.input!, limits });
  if (config.op === 'json') return jsonSource({ source: 'files', dataset: 'events', glob: config.input!, limits });
  return childSource({ root: config.root, dataset: config.dataset!, url: config.input!, incremental: true, ...(config.flushRows ? { flushRows: config.flushRows } : {}) });
}

/** Runs `config.op` on an open lake; returns its result. */
export async function runOp(lake: Lakehouse, config: OpsConfig): Promise<{ status: string; runId: string }> {
  const [source, dataset] = (config.target ?? '/').split('/') as [string, string];
  switch (config.op) {
    case 'build':
      return lake.build();
    case 'compact':
      return lake.compact({ source, dataset, ...(config.targetFileMb ? { targetFileMb: config.targetFileMb } : {}) });
    case 'prune':
      return lake.prune({ source, dataset, olderThan: config.olderThan! });
    default:
      return lake.extract([opsSource(config)]);
  }
}

export function spawnOp(config: OpsConfig): Child {
  return spawnHelper('child-ops.ts', [JSON.stringify(config)]);
}

/**
 * Counts renames and removals from now on; SIGKILLs this process right after the `killAfter`-th,
 * or right after the first removal of a file whose path contains `removing`, or the first open of
 * one whose path contains `opening`.
 */
function countFileOps(killAfter: number | undefined, removing: string | undefined, opening: string | undefined): () => number {
  let n = 0;
  const counted = <A extends [unknown, ...unknown[]], R>(op: (...args: A) => R, removes: boolean) =>
    (...args: A): R => {
      const existed = removes && removing !== undefined && String(args[0]).includes(removing) && fs.existsSync(String(args[0]));
      const out = op(...args);
      if (++n === killAfter || existed) process.kill(process.pid, 'SIGKILL');
      return out;
    };
  fs.renameSync = counted(fs.renameSync, false);
  fs.rmSync = counted(fs.rmSync, true);
  fs.unlinkSync = counted(fs.unlinkSync, true);
  if (opening !== undefined) {
    const openSync = fs.openSync;
    fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
      const fd = openSync(...args);
      if (String(args[0]).includes(opening)) process.kill(process.pid, 'SIGKILL');
      return fd;
    }) as typeof fs.openSync;
  }
  return () => n;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as OpsConfig;
  const early = config.countFromOpen ? countFileOps(config.killAfterFileOp, config.killAfterRemoving, config.killAfterOpening) : undefined;
  const lake = await Lakehouse.open({ root: config.root, models: config.models, log: { console: false }, progress: false, retainSupersededMinutes: config.retainSupersededMinutes ?? 60 });
  try {
    process.stdout.write(`${JSON.stringify({ started: config.op })}\n`);
    const fileOps = early ?? countFileOps(config.killAfterFileOp, config.killAfterRemoving, config.killAfterOpening);
    const result = await runOp(lake, config);
    process.stdout.write(`${JSON.stringify({ result: { status: result.status, runId: result.runId }, fileOps: fileOps() })}\n`);
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
