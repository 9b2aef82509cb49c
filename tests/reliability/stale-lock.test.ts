/**
 * the cross-process lock file (src/extract/file-lock.ts) guarding cursors, crawl frontiers,
 * OAuth token stores and compaction. DESIGN (State): "written tmp-then-rename under a
 * cross-process lock file, so two processes never use the same cursor or refresh token at once";
 * README: `lockTimeoutMillis` is "how long to wait for another process's lock".
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lakehouse } from '../../src/index.js';
import { counterSource } from '../helpers/synthetic-source.js';
import { tempDir } from '../helpers/temp-lake.js';
import { acquireLock } from '../../src/extract/file-lock.js';
import { currentProcess } from '../../src/metrics/process-identity.js';

const source = counterSource('inc', 10);

describe('a lock file its holder never finished writing', () => {
  it('an empty cursor lock left by a process killed between creating and writing it (10 minutes ago) does not block the source forever', async () => {
    const root = path.join(tempDir(), 'data');
    const lock = path.join(root, 'state', 'cursors', 'inc.items.json.lock');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    // acquireLock creates the file with O_EXCL, then writes its owner: a SIGKILL (or ENOSPC on the
    // write) in between leaves it empty, with no pid anybody could check.
    fs.writeFileSync(lock, '');
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(lock, tenMinutesAgo, tenMinutesAgo);

    const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 3_000 });
    try {
      const first = await lake.extract(source);
      expect(first.sources.map((s) => [s.status, s.error])).toEqual([['success', undefined]]);
      // Not once: every later run too (nobody ever removes the file).
      const second = await lake.extract(source);
      expect(second.sources.map((s) => [s.status, s.error])).toEqual([['success', undefined]]);
    } finally {
      await lake.close();
    }
  }, 30_000);
});

import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Contends for `rounds` locks (each left behind by a dead process), one round every `spacing` ms from `startAt`; says DOUBLE when it holds a lock another process holds too. */
const CONTENDER = `
import fs from 'node:fs';
import { acquireLock } from ${JSON.stringify(path.join(repo, 'src', 'extract', 'file-lock.ts'))};
const [dir, startAt, rounds, spacing] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number, number];
let doubles = 0;
for (let r = 0; r < rounds; r++) {
  while (Date.now() < startAt + r * spacing) await new Promise((res) => setTimeout(res, 1));
  const lock = await acquireLock(dir + '/target-' + r, { timeoutMillis: 20_000 });
  try {
    const fd = fs.openSync(dir + '/holder-' + r, 'wx');
    fs.closeSync(fd);
    await new Promise((res) => setTimeout(res, 15));
    fs.rmSync(dir + '/holder-' + r);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    doubles += 1;
  } finally {
    lock.release();
  }
}
console.log(JSON.stringify({ doubles }));
`;

describe('taking over the lock of a dead process', () => {
  it('when several live processes find the same stale lock at once, exactly one of them holds it at a time', async () => {
    const dir = tempDir('duckhouse-stale-lock-');
    const ROUNDS = 12;
    // Each round's lock was left by a process that died (pid 2^22 + 1 cannot exist on Linux).
    for (let r = 0; r < ROUNDS; r++) fs.writeFileSync(path.join(dir, `target-${r}.lock`), JSON.stringify({ host: os.hostname(), pid: 4_194_305, procStart: '1' }));
    const script = path.join(dir, 'contender.mts');
    fs.writeFileSync(script, CONTENDER);
    const startAt = Date.now() + 6_000;
    const outs = await Promise.all(
      Array.from({ length: 6 }, () => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(startAt), String(ROUNDS), '400'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
      }),
    );
    for (const o of outs) expect(o.code, o.stderr).toBe(0);
    const doubles = outs.reduce((s, o) => s + (JSON.parse(o.stdout.trim()) as { doubles: number }).doubles, 0);
    expect(doubles, 'times a process held a lock another process held too').toBe(0);
  }, 60_000);
});

describe('a lock held on another host', () => {
  it('is left alone, and the error says which host holds it and that this one cannot check it', async () => {
    const root = path.join(tempDir(), 'data');
    const lock = path.join(root, 'state', 'cursors', 'inc.items.json.lock');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    // The same lake on a shared volume, or this machine before its container was recreated.
    fs.writeFileSync(lock, JSON.stringify({ host: 'old-container-7f3a', pid: 1, procStart: '42' }));
    const lake = await Lakehouse.open({ root, log: { console: false }, lockTimeoutMillis: 300 });
    try {
      const run = await lake.extract(source);
      expect(run.sources[0]!.status).toBe('failed');
      expect(run.sources[0]!.error).toMatch(/pid 1 on host old-container-7f3a, which this one cannot check: delete the lock file if that process is gone\); lock file .*inc\.items\.json\.lock/);
      expect(fs.existsSync(lock)).toBe(true);
    } finally {
      await lake.close();
    }
  });
});

describe('a lock on a file whose name is as long as a cursor name may be (230 characters)', () => {
  it('is taken, taken over from a dead holder and released, leaving no temp file (its temp name no longer grows with the name)', async () => {
    const dir = tempDir();
    const target = path.join(dir, `${'s'.repeat(225)}.json`);
    const first = await acquireLock(target, { timeoutMillis: 2_000 });
    expect(fs.existsSync(`${target}.lock`)).toBe(true);
    first.release();
    // A lock whose holder is gone (this pid, another start): taken over under the `.takeover` guard.
    fs.writeFileSync(`${target}.lock`, JSON.stringify({ ...currentProcess(), procStart: 'a process long gone' }));
    const second = await acquireLock(target, { timeoutMillis: 2_000 });
    expect(JSON.parse(fs.readFileSync(`${target}.lock`, 'utf8'))).toEqual(currentProcess());
    second.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

