/** SQL text helpers shared by model rendering and data tests. */

/**
 * The SQL without what follows its last token: whitespace, `;` and comments. The engine wraps a
 * model (`COPY (…) TO`, `SELECT * FROM (…)`): a trailing `-- note` would comment out the closing
 * parenthesis, and `select 1; -- done` would leave a `;` inside it. Strings, quoted names and
 * comments are skipped as DuckDB reads them, so a `;` or `--` inside a string is kept.
 */
export function trimSqlTail(sql: string): string {
  let end = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i + 2);
      i = nl === -1 ? n : nl + 1;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === "'" || c === '"') {
      // A quoted string or name; the quote doubled inside it is an escape. E'…' also takes \'.
      const backslash = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/[A-Za-z0-9_]/.test(sql[i - 2]!));
      let j = i + 1;
      while (j < n) {
        if (backslash && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j += 1;
      }
      i = Math.min(j + 1, n);
      end = i;
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64))![0];
      const close = sql.indexOf(tag, i + tag.length);
      i = close === -1 ? n : close + tag.length;
      end = i;
    } else {
      i += 1;
      if (c !== ';' && !/\s/.test(c)) end = i;
    }
  }
  return sql.slice(0, end);
}
