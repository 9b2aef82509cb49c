import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUSY_WAIT, child, repo } from '../helpers/mid-batch.js';
import { tempDir } from '../helpers/temp-lake.js';

// Tests stop a child at an exact point (BUSY_WAIT) and let it go by writing a file. A child whose
// go never came used to carry on after 60 s as if let go: a test could pass without the child
// having waited where it says (or a loaded run's test fail later, far from the cause).
const WAITER = `
import fs from 'node:fs';
${BUSY_WAIT}
const [go, timeoutMillis] = process.argv.slice(2);
waitForGo(go, Number(timeoutMillis));
fs.writeSync(1, JSON.stringify({ carriedOn: true }) + '\\n');
`;

describe('BUSY_WAIT: a go that never comes', () => {
  it('ends the child with an error once its timeout is past, not carrying on', async () => {
    const base = tempDir('duckhouse-busy-wait-');
    const go = path.join(base, 'go');
    const waiter = child(base, 'waiter', WAITER, [go, '300'], 'WAITING');
    try {
      await waiter.reached;
      expect(await waiter.exited).toBe(70);
      expect(waiter.stderr()).toContain(`waitForGo: no go file ${go}: none within 300 ms`);
      expect(waiter.result).toThrow(); // no JSON line: it never carried on
    } finally {
      waiter.kill('SIGKILL');
    }
  }, 30_000);

  it('ends the child with an error once the process that started it is gone', async () => {
    const base = tempDir('duckhouse-busy-wait-');
    const go = path.join(base, 'go');
    const script = path.join(base, 'waiter.mts');
    fs.writeFileSync(script, WAITER);
    const err = path.join(base, 'waiter.err');
    // A parent that starts the waiter (its stderr to a file), says so once the waiter waits, and exits.
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `const { spawn } = require('node:child_process'), fs = require('node:fs');
         const [script, go, err] = process.argv.slice(1);
         const w = spawn(process.execPath, ['--import', 'tsx', script, go, '600000'], { cwd: ${JSON.stringify(repo)}, stdio: ['ignore', 'pipe', fs.openSync(err, 'w')] });
         w.stdout.on('data', (d) => { if (String(d).includes('WAITING')) { console.log(w.pid); process.exit(0); } });`,
        script,
        go,
        err,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await new Promise((resolve) => parent.on('exit', resolve))).toBe(0);
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    try {
      await expect.poll(() => fs.readFileSync(err, 'utf8'), { timeout: 20_000, interval: 50 }).toContain(`waitForGo: no go file ${go}: the test that started it is gone`);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already, as it should be
      }
    }
  }, 30_000);
});
