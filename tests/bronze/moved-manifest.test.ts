/**
 * Commit manifests read back at the root the recovering process opened (see resolveManifest):
 * one an earlier version wrote (absolute paths) in a lake folder copied or moved since, and ones
 * naming files outside their place, which are refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { Lakehouse } from '../../src/index.js';
import { compactedFileName, schemaFile } from '../../src/transform/source-relation.js';
import { expectCommittedBronze, treeDigest } from '../helpers/lake-checks.js';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

const RUN_ID = '20260305T150000000Z-a0b1c2';

interface Parts {
  root: string;
  staged: string;
  target: string;
  schema: string;
  batch: object;
}

/**
 * A lake at `root` whose extract (pid 2^22 + 1: dead) was killed past its batch's commit point,
 * before any rename: a staged Parquet file of 7 rows, and the manifest `manifest(staged, target,
 * schemaFile)` (absolute paths in, as an earlier version wrote them) returns, as its file holds it.
 */
async function killedMidCommit(root: string, manifest: (m: Parts) => object): Promise<{ dead: string; staged: string; target: string; manifestFile: string }> {
  await (await Lakehouse.open({ root, log: { console: false } })).close();
  const dead = path.join(root, '.tmp', 'p4194305-1');
  const staged = path.join(dead, `${RUN_ID}-rec-items-1`, 'k=v', 'part_0.parquet');
  fs.mkdirSync(path.dirname(staged), { recursive: true });
  fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (SELECT range AS id FROM range(7)) TO '${staged}' (FORMAT parquet)`);
  c.closeSync();
  db.closeSync();
  const target = path.join(root, 'bronze', 'rec', 'items', 'k=v', 'year=2026', 'month=03', 'day=05', `${RUN_ID}-1.parquet`);
  const batch = { runId: RUN_ID, source: 'rec', dataset: 'items', batchNo: 1, rows: 7, rejected: 0, files: [{ path: path.relative(root, target), partition: { k: 'v' }, rows: 7, bytes: fs.statSync(staged).size }] };
  const manifestFile = path.join(dead, `${RUN_ID}-rec-items-1.commit.json`);
  fs.writeFileSync(manifestFile, JSON.stringify(manifest({ root, staged, target, schema: schemaFile(root, 'rec', 'items'), batch })));
  return { dead, staged, target, manifestFile };
}

const schemaText = JSON.stringify({ runId: RUN_ID, columns: [{ name: 'id', type: 'BIGINT' }] });

describe("an earlier version's manifest (absolute paths) in a lake folder moved or copied since", () => {
  for (const how of ['moved', 'copied'] as const) {
    it(`is rolled forward under the new root (${how}); the old folder is not touched`, async () => {
      const base = tempDir();
      const old = path.join(base, 'old', 'data');
      await killedMidCommit(old, ({ staged, target, schema, batch }) => ({ batch, moves: [{ from: staged, to: target }], schema: { file: schema, text: schemaText } }));
      const root = path.join(base, 'new', 'data');
      fs.mkdirSync(path.dirname(root));
      if (how === 'moved') fs.renameSync(old, root);
      else fs.cpSync(old, root, { recursive: true });
      const oldDigest = treeDigest(path.join(base, 'old'));

      const lake = await Lakehouse.open({ root, log: { console: false } });
      try {
        expect(await expectCommittedBronze(lake)).toEqual({ files: 1, rows: 7 });
        expect(fs.readFileSync(schemaFile(root, 'rec', 'items'), 'utf8')).toBe(schemaText);
      } finally {
        await lake.close();
      }
      expect(treeDigest(path.join(base, 'old')), 'the old folder, byte for byte').toEqual(oldDigest);
    });
  }
});

describe('a manifest naming a file outside its place', () => {
  const cases: [string, (m: Parts) => object, string][] = [
    ['a target climbing out of the root (..)', ({ staged, batch }) => ({ batch, moves: [{ from: staged, to: '../outside/r-1.parquet' }] }), 'moves[0].to'],
    ['a target in another folder (absolute)', ({ root, staged, batch }) => ({ batch, moves: [{ from: staged, to: path.join(root, '..', 'outside', 'r-1.parquet') }] }), 'moves[0].to'],
    ['a target in the root but outside bronze/', ({ staged, batch }) => ({ batch, moves: [{ from: staged, to: 'metrics/runs.duckdb' }] }), 'moves[0].to'],
    ['a source outside the folder of the process that wrote it', ({ root, target, batch }) => ({ batch, moves: [{ from: path.join(root, '..', 'outside', 'victim.parquet'), to: path.relative(root, target) }] }), 'moves[0].from'],
    ['a recorded file outside bronze/', ({ staged, target, batch }) => ({ batch: { ...batch, files: [{ path: '../outside/r-1.parquet', partition: { k: 'v' }, rows: 7, bytes: 1 }] }, moves: [{ from: staged, to: target }] }), 'batch.files[0].path'],
    ['a schema file outside state/schemas/', ({ staged, target, batch }) => ({ batch, moves: [{ from: staged, to: target }], schema: { file: '../outside/schema.json', text: schemaText } }), 'schema.file'],
  ];
  for (const [what, manifest, field] of cases) {
    it(`is refused, naming the manifest, and nothing is moved or recorded: ${what}`, async () => {
      const base = tempDir();
      const root = path.join(base, 'data');
      const outside = path.join(base, 'outside');
      fs.mkdirSync(outside);
      fs.writeFileSync(path.join(outside, 'victim.parquet'), 'not to be moved');
      const { staged, manifestFile } = await killedMidCommit(root, manifest);
      const before = treeDigest(base, (rel) => rel.startsWith(`data${path.sep}logs${path.sep}`));
      expect(before.size).toBeGreaterThan(0);

      // A version that took a relative path as relative to the working folder acts there: inside `base`, seen below.
      const cwd = process.cwd();
      fs.mkdirSync(path.join(base, 'cwd', 'here'), { recursive: true });
      process.chdir(path.join(base, 'cwd', 'here'));
      const opened = await Lakehouse.open({ root, log: { console: false } }).then(
        (lake) => lake.close().then(() => undefined),
        (error: unknown) => error,
      ).finally(() => process.chdir(cwd));
      expect(opened).toMatchObject({ code: 'MANIFEST_INVALID' });
      const message = (opened as Error).message;
      expect(message).toContain(manifestFile);
      expect(message).toContain(field);

      expect(treeDigest(base, (rel) => rel.startsWith(`data${path.sep}logs${path.sep}`)), 'every file as it was').toEqual(before);
      expect(fs.existsSync(staged)).toBe(true);
      expect(listFiles(path.join(root, 'bronze'))).toEqual([]);
    });
  }
});

describe("a compaction manifest of an earlier version (its root and absolute outputs) in a lake folder copied since", () => {
  /** A lake at `root` whose compaction (a dead process's) renamed an output into bronze, never switched in. */
  async function killedBeforeSwitch(root: string, outputs: (output: string) => string[]): Promise<{ output: string; manifestFile: string }> {
    await (await Lakehouse.open({ root, log: { console: false } })).close();
    const dead = path.join(root, '.tmp', 'p4194305-1');
    fs.mkdirSync(dead, { recursive: true });
    fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ host: os.hostname(), pid: 4194305, procStart: '1' }));
    const output = path.join(root, 'bronze', 'rec', 'items', 'k=v', 'year=2026', 'month=03', 'day=05', compactedFileName(RUN_ID, '20260305T160000000Z-c0ffee', 1));
    fs.mkdirSync(path.dirname(output), { recursive: true });
    fs.writeFileSync(output, 'an output never switched in');
    const manifestFile = path.join(dead, 'compact-20260305T160000000Z-c0ffee.json');
    fs.writeFileSync(manifestFile, JSON.stringify({ kind: 'compact', runId: '20260305T160000000Z-c0ffee', root, outputs: outputs(output) }));
    return { output, manifestFile };
  }

  it('has its outputs removed under the new root; the old copy is not touched', async () => {
    const base = tempDir();
    const old = path.join(base, 'old', 'data');
    const { output } = await killedBeforeSwitch(old, (o) => [o]);
    const root = path.join(base, 'new', 'data');
    fs.mkdirSync(path.dirname(root));
    fs.cpSync(old, root, { recursive: true });
    const oldDigest = treeDigest(path.join(base, 'old'));

    await (await Lakehouse.open({ root, log: { console: false } })).close();
    expect(listFiles(path.join(root, 'bronze'))).toEqual([]);
    expect(fs.existsSync(output), 'the old copy keeps its output').toBe(true);
    expect(treeDigest(path.join(base, 'old')), 'the old folder, byte for byte').toEqual(oldDigest);
  });

  it('naming an output outside bronze/ is refused, naming the manifest, and no output is removed', async () => {
    const base = tempDir();
    const root = path.join(base, 'data');
    const victim = path.join(base, compactedFileName(RUN_ID, '20260305T160000000Z-c0ffee', 2));
    fs.writeFileSync(victim, 'not to be removed');
    const { output, manifestFile } = await killedBeforeSwitch(root, (o) => [o, victim]);

    const opened = await Lakehouse.open({ root, log: { console: false } }).then(
      (lake) => lake.close().then(() => undefined),
      (error: unknown) => error,
    );
    expect(opened).toMatchObject({ code: 'MANIFEST_INVALID' });
    expect((opened as Error).message).toContain(manifestFile);
    expect((opened as Error).message).toContain('outputs[1]');
    expect(fs.existsSync(victim)).toBe(true);
    expect(fs.existsSync(output), 'not even the output inside it').toBe(true);
    expect(fs.existsSync(manifestFile)).toBe(true);
  });
});
