import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFiles, tempDir } from '../helpers/temp-lake.js';

// Tests poll listFiles while a child process writes and removes temp files (the secrets test waits
// for a batch's commit manifest under data/.tmp/). A file or folder removed between the listing and
// its stat must not fail the poll: CI failed once on exactly that (ENOENT, stat '…/.duckhouse.….tmp').
describe('listFiles polled while another process creates and removes files', () => {
  it('never throws and lists only files', async () => {
    const dir = tempDir('duckhouse-listfiles-');
    fs.writeFileSync(path.join(dir, 'kept.txt'), 'x');
    const churn = `
      const fs = require('node:fs'), path = require('node:path');
      const dir = process.argv[1];
      const end = Date.now() + 1500;
      let i = 0;
      while (Date.now() < end) {
        const sub = path.join(dir, 'p' + (i % 7));
        fs.mkdirSync(sub, { recursive: true });
        const f = path.join(sub, 'f' + i + '.tmp');
        fs.writeFileSync(f, 'y');
        fs.rmSync(f);
        if (i % 3 === 0) fs.rmSync(sub, { recursive: true, force: true });
        i++;
      }
    `;
    const child = spawn(process.execPath, ['-e', churn, dir], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let polls = 0;
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      const files = listFiles(dir);
      expect(files).toContain('kept.txt');
      polls++;
      await new Promise((r) => setImmediate(r));
    }
    expect(polls).toBeGreaterThan(50);
    expect(listFiles(dir)).toEqual(['kept.txt']);
  }, 30_000);
});
