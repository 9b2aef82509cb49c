/**
 * CLI edge cases: large and multi-line results in the aligned table, CSV headers for empty
 * results, and `duckhouse runs --root <a file>` as a usage error like every other command.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli.js';
import { runCli } from '../helpers/cli.js';
import { tempProject } from '../helpers/temp-lake.js';

const run = runCli;

describe('formatTable', () => {
  it('formats 200,000 rows without overflowing the stack, widths from the widest cell', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => ({ n: i, s: i === 123_456 ? 'the widest' : 'x' }));
    const out = formatTable(rows);
    const lines = out.split('\n');
    expect(lines).toHaveLength(200_000 + 3);
    expect(lines[0]).toBe('n      │ s         ');
    expect(lines.at(-1)).toBe('(200000 rows)');
    expect(new Set(lines.slice(0, -1).map((l) => l.length)).size).toBe(1); // every line aligned
  });

  it('shows multi-line values (and headers) on one line, tabs as spaces and control characters escaped', () => {
    const out = formatTable([
      { 'two\nlines': 'a\nb', crlf: 'c\r\nd', tab: 'e\tf', esc: 'g\u001bh' },
      { 'two\nlines': 'x', crlf: 'y', tab: 'z', esc: 'w' },
    ]);
    const lines = out.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('two⏎lines │ crlf │ tab │ esc     ');
    expect(lines[2]).toBe('a⏎b       │ c⏎d  │ e f │ g\\u001bh');
    expect(new Set(lines.slice(0, -1).map((l) => l.length)).size).toBe(1);
  });

  it('still cuts cells wider than 60 characters and says "(no rows)" for none', () => {
    const out = formatTable([{ v: 'y'.repeat(100) }]);
    expect(out.split('\n')[2]).toBe(`${'y'.repeat(59)}…`);
    expect(formatTable([])).toBe('(no rows)');
  });
});

describe('duckhouse sql --csv', () => {
  it('prints the header line for a query with no rows (quoted as CSV), rows as before', () => {
    const dir = tempProject('duckhouse-cli-');
    const root = path.join(dir, 'data');
    const empty = run(dir, ['sql', 'select 1 as a, 2 as "b,c" where false;', '--csv', '--root', root]);
    expect(empty.code, empty.err).toBe(0);
    expect(empty.out).toBe('a,"b,c"\n');
    const cte = run(dir, ['sql', 'with t as (select 1 as n) select n from t where n > 5 -- none', '--csv', '--root', root]);
    expect(cte.code, cte.err).toBe(0);
    expect(cte.out).toBe('n\n');
    const some = run(dir, ['sql', `select 'a' as x, 'multi\nline' as y`, '--csv', '--root', root]);
    expect(some.code, some.err).toBe(0);
    expect(some.out).toBe('x,y\na,"multi\nline"\n');
    const json = run(dir, ['sql', 'select 1 as a where false', '--json', '--root', root]);
    expect(json.out).toBe('[]\n');
  }, 60_000);
});

describe('duckhouse sql: two columns of one name', () => {
  it('head the CSV and the table with the name the query gave both, as with no rows (was a,a:1, node-api\'s key for the second)', () => {
    const dir = tempProject('duckhouse-cli-');
    const q = 'select 1 as a, 2 as a';
    const csv = run(dir, ['sql', q, '--csv']);
    expect(csv.code, csv.err).toBe(0);
    expect(csv.out).toBe('a,a\n1,2\n');
    expect(run(dir, ['sql', `${q} where false`, '--csv']).out).toBe('a,a\n');
    expect(run(dir, ['sql', q]).out.split('\n')[0]).toBe('a │ a');
    // --json keeps distinct keys: an object cannot hold two of one name.
    expect(JSON.parse(run(dir, ['sql', q, '--json']).out)).toEqual([{ a: 1, 'a:1': 2 }]);
  }, 60_000);
});

describe('duckhouse runs --root', () => {
  it('a file as root is a usage error (exit 2), as for sql; so is a missing folder (below)', () => {
    const dir = tempProject('duckhouse-cli-');
    const file = path.join(dir, 'not-a-folder');
    fs.writeFileSync(file, 'x');
    const runs = run(dir, ['runs', '--root', file]);
    expect(runs.code).toBe(2);
    expect(runs.err).toContain(`option "root" ${JSON.stringify(file)} is a file, not a folder`);
    expect(runs.out).toBe('');
    const json = run(dir, ['runs', '--json', '--root', file]);
    expect(json.code).toBe(2);
    const sql = run(dir, ['sql', 'select 1', '--root', file]);
    expect(sql.code).toBe(2);
    expect(sql.err).toMatch(/is a file, not a folder/);
  }, 60_000);
});

describe('duckhouse runs --limit', () => {
  it('a bad value is a usage error naming the flag (was "runHistory: option \\"limit\\"…", an API option the user never typed)', () => {
    const dir = tempProject('duckhouse-cli-');
    for (const v of ['abc', '0', '1.5', '-2']) {
      const r = run(dir, ['runs', '-n', v]);
      expect(r.code, v).toBe(2);
      expect(r.err, v).toContain(`option '-n, --limit <n>' argument '${v}' is invalid`);
      expect(r.err, v).not.toContain('runHistory');
    }
    expect(run(dir, ['runs', '--limit', '3']).code).toBe(0);
  }, 60_000);
});

describe('a command that reads a lake, on a root folder that does not exist (a typo in --root)', () => {
  it('is a usage error (exit 2) naming the folder, and leaves nothing there; extract, build and run still create a lake', () => {
    const dir = tempProject('duckhouse-cli-');
    fs.mkdirSync(path.join(dir, 'models', 'marts'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'models', 'marts', 'm.sql'), 'select 1 as n');
    const typo = path.join(dir, 'dat');
    for (const args of [['sql', 'select 1 as x'], ['sql', 'select 1 as x', '--csv'], ['runs'], ['test'], ['lineage'], ['report'], ['export', 'marts.m', '--format', 'csv'], ['export-ddl', '--engine', 'trino'], ['compact'], ['prune', 'shop', '--older-than', '30d']]) {
      const r = run(dir, [...args, '--root', typo]);
      // Was exit 0 for sql, runs (an empty history) and export-ddl, with dat/{bronze,metrics,state,.tmp} and a runs.duckdb left behind.
      expect(r.code, `${args.join(' ')}: ${r.out}${r.err}`).toBe(2);
      expect(r.err, args.join(' ')).toContain(`no lake at ${typo}: the folder does not exist`);
      expect(fs.existsSync(typo), args.join(' ')).toBe(false);
    }
    // The default root (./data) of a project as cloned exists: reading it works.
    expect(run(dir, ['sql', 'select 1 as x', '--csv']).out).toBe('x\n1\n');
    const built = run(dir, ['build', '--root', typo]);
    expect(built.code, built.err).toBe(0);
    expect(fs.existsSync(path.join(typo, 'analytics.duckdb'))).toBe(true);
    expect(run(dir, ['sql', 'select n from marts.m', '--csv', '--root', typo]).out).toBe('n\n1\n');
  }, 120_000);
});

describe('duckhouse sql (interactive): history and errors', () => {
  it('keeps the statements in data/.sql_history with secrets redacted (the history lives under data/ too)', () => {
    const dir = tempProject('duckhouse-cli-');
    const root = path.join(dir, 'data');
    const r = run(dir, ['sql', '--root', root], "select 'https://api.example.com/x?access_token=tok-abcdef123456' as u;\n.quit\n");
    expect(r.code, r.err).toBe(0);
    const history = fs.readFileSync(path.join(root, '.sql_history'), 'utf8');
    expect(history).toContain("select 'https://api.example.com/x?access_token=[REDACTED]' as u");
    expect(history).not.toContain('tok-abcdef123456');
  }, 60_000);

  it("keeps a CREATE SECRET typed to read S3 from the shell without its secret values (SECRET 'x', SESSION_TOKEN 'y': no = or : to go by)", () => {
    const dir = tempProject('duckhouse-cli-');
    const root = path.join(dir, 'data');
    const statement = "CREATE SECRET lake_s3 (TYPE s3, KEY_ID 'AKIAEXAMPLE7', SECRET 'wJalrXUtnFEMI-K7MDENG', SESSION_TOKEN 'IQoJb3JpZ2luX2Vj-sess', REGION 'sa-east-1');";
    const r = run(dir, ['sql', '--root', root], `${statement}\n.quit\n`);
    const history = fs.readFileSync(path.join(root, '.sql_history'), 'utf8');
    expect(history).toContain("CREATE SECRET lake_s3 (TYPE s3, KEY_ID 'AKIAEXAMPLE7', SECRET '[REDACTED]', SESSION_TOKEN '[REDACTED]', REGION 'sa-east-1')");
    for (const secret of ['wJalrXUtnFEMI-K7MDENG', 'IQoJb3JpZ2luX2Vj-sess']) {
      expect(history).not.toContain(secret);
      expect(r.out + r.err).not.toContain(secret);
    }
  }, 60_000);

  it('prints an error quoting a token redacted, as `sql <query>` does (README: what the CLI prints is redacted)', () => {
    const dir = tempProject('duckhouse-cli-');
    const root = path.join(dir, 'data');
    const query = "select * from read_csv('/no/such/prices.csv?access_token=tok-abcdef123456');";
    const r = run(dir, ['sql', '--root', root], `${query}\n.quit\n`);
    // Piped in (no terminal): the error goes to stderr and the command exits 1, as DuckDB's shell does.
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/error: .*access_token=\[REDACTED\]/);
    expect(r.out + r.err).not.toContain('tok-abcdef123456');
    // The same query as an argument, for comparison: redacted already.
    const once = run(dir, ['sql', query, '--root', root]);
    expect(once.err).toContain('access_token=[REDACTED]');
    expect(once.out + once.err).not.toContain('tok-abcdef123456');
  }, 60_000);
});

describe('duckhouse sql (statements on a piped stdin)', () => {
  it('prints only the results: no banner, no "duckhouse> " prompts, no timings (as DuckDB\'s and sqlite\'s shells do without a terminal)', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = run(dir, ['sql', '--root', path.join(dir, 'data')], 'select 1 as a;\nselect 2\n  as b;\n');
    expect(r.code, r.err).toBe(0);
    // Was "analytics.duckdb (read-only). End statements…\nduckhouse> a\n…(1 row)\n281 ms\nduckhouse>       ...> b…"
    expect(r.out).toBe('a\n─\n1\n(1 row)\nb\n─\n2\n(1 row)\n');
  }, 60_000);

  it('goes on after a failing statement, prints its error on stderr and exits 1 (was exit 0 with the error among the results: a failing script passed in cron)', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = run(dir, ['sql', '--root', path.join(dir, 'data')], 'select 1 as a;\nselec 2;\n.nope\nselect 3 as c;\n');
    expect(r.code).toBe(1);
    expect(r.out).toBe('a\n─\n1\n(1 row)\nc\n─\n3\n(1 row)\n');
    expect(r.err).toMatch(/error: .*syntax error at or near "selec"/);
    expect(r.err).toMatch(/error: unknown command \.nope/);
  }, 60_000);

  it('runs a last statement without its ";" at the end of the input (was dropped without a word)', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = run(dir, ['sql', '--root', path.join(dir, 'data')], 'select 1 as a;\nselect 2 as b\n');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('a\n─\n1\n(1 row)\nb\n─\n2\n(1 row)\n');
  }, 60_000);
});

describe('duckhouse sql: a statement ends at a ";" outside quotes and comments, as in DuckDB\'s shell', () => {
  it('runs two statements of one line, one followed by a comment, a literal holding ";" and a line break, and passes over comments and stray ";" (each failed, exit 1)', () => {
    const dir = tempProject('duckhouse-cli-');
    const input = [
      '-- checks.sql',
      'select 1 as a; select 2 as b;',
      'select 3 as c; -- the third',
      "select 'x;",
      "y' as d;",
      ';',
      'select 4 as e;',
      '/* the end */',
      '',
    ].join('\n');
    const r = run(dir, ['sql', '--root', path.join(dir, 'data')], input);
    // Was: "expected one SQL statement, got 2" for the first two lines, "unterminated quoted string"
    // for the literal, '"sql" must be a non-empty string' for the ";" and "Error in native callback" for the last comment.
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const table = (name: string, value: string): string => `${name.padEnd(value.length)}\n${'─'.repeat(value.length)}\n${value}\n(1 row)\n`;
    expect(r.out).toBe(table('a', '1') + table('b', '2') + table('c', '3') + table('d', 'x;⏎y') + table('e', '4'));
  }, 60_000);
});

describe('duckhouse sql "EXPLAIN …"', () => {
  it('prints the plan as DuckDB draws it, on its lines (was one table cell cut at 60 characters, its lines joined by ⏎)', () => {
    const dir = tempProject('duckhouse-cli-');
    const r = run(dir, ['sql', 'EXPLAIN select 1 as a', '--root', path.join(dir, 'data')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('⏎');
    expect(r.out).toMatch(/^physical_plan\n┌─+┐\n│ +PROJECTION +│\n/);
    expect(r.out).toMatch(/│ +DUMMY_SCAN +│\n└─+┘\n$/);
    // --csv keeps its two columns.
    expect(run(dir, ['sql', 'EXPLAIN select 1 as a', '--csv', '--root', path.join(dir, 'data')]).out).toMatch(/^explain_key,explain_value\nphysical_plan,"┌/);
  }, 60_000);
});

describe('duckhouse test --var', () => {
  it('passes model variables to the tests, as build does (lake.test takes vars; the CLI had no way to give them)', () => {
    const dir = tempProject('duckhouse-cli-');
    fs.mkdirSync(path.join(dir, 'models', 'marts'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'models', 'assertions'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'models', 'marts', 'm.sql'), 'select 5 as n');
    fs.writeFileSync(path.join(dir, 'models', 'assertions', 'too_big.sql'), "select * from {{ ref('m') }} where n > {{ var('max_n', 100) }}");
    const args = ['--root', path.join(dir, 'data'), '--models', path.join(dir, 'models')];
    const built = run(dir, ['build', ...args]);
    expect(built.code, built.err + built.out).toBe(0);
    const plain = run(dir, ['test', ...args]);
    expect(plain.code, plain.err + plain.out).toBe(0);
    const strict = run(dir, ['test', '--var', 'max_n=1', ...args]);
    expect(strict.code, strict.err + strict.out).toBe(1);
    expect(strict.out).toMatch(/too_big/);
    expect(run(dir, ['test', '--var', 'nokey', ...args]).code).toBe(2);
  }, 60_000);
});

describe('report and export with an empty --to or --title (an unset shell variable: --to "$OUT")', () => {
  it('are usage errors naming the option, writing nothing; they wrote the default file under the default title', () => {
    const dir = tempProject('duckhouse-cli-');
    fs.mkdirSync(path.join(dir, 'models', 'marts'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'models', 'marts', 'm.sql'), 'select 1 as n');
    expect(run(dir, ['build']).code).toBe(0);
    for (const [args, option] of [[['report', '--to', ''], 'to'], [['report', '--title', ''], 'title'], [['export', 'marts.m', '--format', 'csv', '--to', ''], 'to']] as const) {
      const r = run(dir, [...args]);
      expect(r.code, `${args.join(' ')}: ${r.out}${r.err}`).toBe(2);
      expect(r.err, args.join(' ')).toContain(`option "${option}"`);
    }
    expect(fs.existsSync(path.join(dir, 'data', 'report.html'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'data', 'exports'))).toBe(false);
  }, 120_000);
});
