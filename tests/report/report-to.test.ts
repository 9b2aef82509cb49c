/** `lake.report({ to })` whose target cannot be written: it fails, and leaves nothing behind. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

describe('report --to an existing folder', () => {
  it('fails without leaving its temporary page next to the folder', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    const target = path.join(dir, 'reports');
    fs.mkdirSync(target);
    await expect(lake.report({ to: target })).rejects.toThrow(/reports/);
    // Before, `reports.<pid>.<random>.tmp`, the whole page (~50 KB), stayed in `dir` after the
    // EISDIR of the rename; each retry left another one.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});

describe('report --to a name at the file system\'s limit', () => {
  it('writes it, leaving no temporary file (was REPORT_WRITE_FAILED: ENAMETOOLONG, the temp file <name>.<pid>.<random>.tmp being too long)', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    // 255 bytes, the most a file name may hold here (ext4, tmpfs, overlayfs).
    const name = `${'r'.repeat(250)}.html`;
    const written = await lake.report({ to: path.join(dir, name) });
    expect(written.path).toBe(path.join(dir, name));
    expect(fs.readFileSync(path.join(dir, name), 'utf8')).toMatch(/^<!doctype html>/i);
    expect(fs.readdirSync(dir).sort()).toEqual(['data', name]);
  }, 60_000);
});

describe('report --to a path under a file', () => {
  it('is a ConfigError naming the option and the file, before the page is drawn (was a bare "EEXIST: file already exists, mkdir")', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    fs.writeFileSync(path.join(dir, 'notes'), 'x');
    const error = (await lake.report({ to: path.join(dir, 'notes', 'r.html') }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(`lake.report: option "to" ${JSON.stringify(path.join(dir, 'notes', 'r.html'))} lies under ${JSON.stringify(path.join(dir, 'notes'))}, which is a file`);
    const folder = (await lake.report({ to: dir }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(folder.code).toBe('CONFIG_INVALID');
    expect(folder.message).toMatch(/^lake\.report: option "to" .* is a folder: name the file to write/);
  }, 60_000);
});

describe("report --to one of the lake's own files", () => {
  it('is a ConfigError naming it, and the warehouse and the run history still open (the page replaced them)', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    await lake.build();
    for (const own of [lake.paths.analytics, path.join(lake.paths.root, 'metrics', 'runs.duckdb'), path.join(lake.paths.state, 'r.html')]) {
      const before = fs.existsSync(own) ? fs.readFileSync(own) : undefined;
      const error = (await lake.report({ to: own }).catch((e: unknown) => e)) as Error & { code?: string };
      expect(error.code, own).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(/^lake\.report: option "to" .* is one of the lake's own files/);
      expect(error.message).toContain(path.join(lake.paths.root, 'report.html'));
      expect(fs.existsSync(own) ? fs.readFileSync(own) : undefined).toEqual(before);
    }
    expect((await lake.query('select 1 as one'))[0]).toEqual({ one: 1 });
    expect((await lake.runs({ limit: 1 })).length).toBe(1);
  }, 60_000);
});

describe('report --to one of the files the lake writes at its root', () => {
  it('is a ConfigError naming it, and they are untouched (the page replaced lineage.json, lineage.mmd, the SQL prompt\'s history, a raw archive or the catalog\'s recorded root); its own report.html it writes', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    await lake.build();
    fs.writeFileSync(path.join(lake.paths.root, '.sql_history'), 'select 1;\n');
    // What a publish writes beside the catalog (this lake has no models: its build publishes none).
    fs.writeFileSync(`${lake.paths.analytics}.root`, lake.paths.root);
    const raw = path.join(lake.paths.root, 'raw', 'shop', 'orders', 'year=2026', 'month=01', 'day=10', 'r-1.ndjson.gz');
    fs.mkdirSync(path.dirname(raw), { recursive: true });
    fs.writeFileSync(raw, 'archived');
    for (const own of [...['lineage.json', 'lineage.mmd', '.sql_history', 'analytics.duckdb.root'].map((f) => path.join(lake.paths.root, f)), raw]) {
      const before = fs.readFileSync(own);
      const error = (await lake.report({ to: own }).catch((e: unknown) => e)) as Error & { code?: string };
      expect(error.code, own).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(/^lake\.report: option "to" .* is one of the lake's own files/);
      expect(fs.readFileSync(own)).toEqual(before);
    }
    const page = path.join(lake.paths.root, 'report.html');
    expect((await lake.report({ to: page })).path).toBe(page);
  }, 60_000);
});

describe('report --to a place that cannot be written', () => {
  it('fails naming the page it was asked for, not its temporary file (was "ENOENT: no such file or directory, open \'/proc/r.html.<pid>.<random>.tmp\'")', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    // /proc takes no new files, whoever asks (chmod does not stop root, who runs CI).
    const target = '/proc/duckhouse-report.html';
    const error = (await lake.report({ to: target }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('REPORT_WRITE_FAILED');
    expect(error.message).toMatch(/^lake\.report: could not write "\/proc\/duckhouse-report\.html" \(option "to"\): /);
    expect(error.message).not.toMatch(/\.tmp/);
  }, 60_000);
});

describe('report with a blank to or title', () => {
  it('is a ConfigError naming the option (a to of spaces wrote a file named "   " in the working folder, a title of spaces an untitled page)', async () => {
    const dir = tempDir('duckhouse-report-to-');
    const lake = await tempLake({ root: path.join(dir, 'data') });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const option of ['to', 'title'] as const) {
        const error = (await lake.report({ [option]: '   ' }).catch((e: unknown) => e)) as Error & { code?: string };
        expect(error.code, option).toBe('CONFIG_INVALID');
        expect(error.message).toMatch(new RegExp(`^lake\\.report: option "${option}" `));
      }
      expect(fs.readdirSync(dir).sort()).toEqual(['data']);
      expect(fs.existsSync(path.join(dir, 'data', 'report.html'))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  }, 60_000);
});
