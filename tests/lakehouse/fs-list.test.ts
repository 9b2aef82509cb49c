import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listTree } from '../../src/fs-list.js';
import { tempDir } from '../helpers/temp-lake.js';

describe('listTree', () => {
  it('lists every file under a folder, relative, through nested partition folders, without the folders', () => {
    const dir = tempDir();
    const files = ['a.parquet', path.join('store=x', 'year=2026', 'day=01', 'r-1.parquet'), path.join('store=x', 'year=2026', 'day=02', 'r-2.parquet'), path.join('store=y', 'notes.txt')];
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), 'x');
    }
    fs.mkdirSync(path.join(dir, 'empty', 'deeper'), { recursive: true });
    expect(listTree(dir).sort()).toEqual([...files].sort());
    expect(listTree(dir).sort()).toEqual((fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort());
  });

  it('lists a link as an entry and does not follow a linked folder', () => {
    const dir = tempDir();
    const outside = tempDir();
    fs.writeFileSync(path.join(outside, 'elsewhere.parquet'), 'x');
    fs.mkdirSync(path.join(dir, 'p=1'));
    fs.writeFileSync(path.join(dir, 'p=1', 'f.parquet'), 'x');
    fs.symlinkSync(outside, path.join(dir, 'linked'));
    expect(listTree(dir).sort()).toEqual(['linked', path.join('p=1', 'f.parquet')]);
  });

  it('throws for a folder that does not exist', () => {
    expect(() => listTree(path.join(tempDir(), 'missing'))).toThrow(/ENOENT/);
  });
});
