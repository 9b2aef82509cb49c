/**
 * duckhouse as a clone of its repository: `npm install` runs `prepare` (`npm run build`), and the
 * README's commands (`npx duckhouse sql …`, `npx duckhouse export …` after `npm run demo`) run its bin.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('a clone of the repository', () => {
  it('`npm run build` leaves the bin executable, as `npx duckhouse` runs it', () => {
    // A copy of what the build reads, so this test does not rewrite the checkout's dist/.
    const dir = tempDir('duckhouse-clone-');
    for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) fs.copyFileSync(path.join(repo, file), path.join(dir, file));
    fs.cpSync(path.join(repo, 'src'), path.join(dir, 'src'), { recursive: true });
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const build = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    // What npx runs: the bin's file itself, through its `#!/usr/bin/env node` line.
    const bin = path.join(dir, (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.duckhouse!);
    const help = spawnSync(bin, ['--help'], { cwd: dir, encoding: 'utf8' });
    // Observed: EACCES (`sh: 1: duckhouse: Permission denied`, exit 127, from `npx duckhouse` once the clone was
    // built again after npx's first run): tsc writes dist/cli.js 0644, and npm makes a bin executable only when
    // it links it, not when `prepare` rebuilds it.
    expect(help.error).toBeUndefined();
    expect(help.status, help.stdout + help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: duckhouse /);
  }, 180_000);
});
