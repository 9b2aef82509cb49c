/**
 * How many statements a user wrote: the `;`-separated parts with something besides blanks and
 * comments, outside strings, quoted names, dollar quotes and comments. DuckDB's own count can be
 * higher: it expands a PIVOT without an IN list into a CREATE TYPE and the SELECT.
 *
 * Meant for refusing: when the text ends inside a quote or a comment it returns Infinity, so a
 * lexing difference from DuckDB's can make one statement look like more, never the reverse.
 */
export function userStatementCount(sql: string): number {
  const { statements, rest, open } = scanStatements(sql);
  if (open) return Infinity;
  return statements.length + (rest === '' ? 0 : 1);
}

/**
 * The statements of `text` that a `;` outside quotes and comments ends (without it, trimmed; those
 * of nothing but blanks and comments left out), and what follows the last one as it is: a statement
 * still being written, or '' when that is only blanks and comments. A shell reads its input so, line by
 * line, as DuckDB's does: `select 1; select 2;` is two statements, `select 'a;` is one not ended.
 */
export function splitStatements(text: string): { statements: string[]; rest: string } {
  const { statements, rest } = scanStatements(text);
  return { statements, rest };
}

/** `splitStatements`, and whether the text ends inside a quote or a comment (`rest` is then that text on). */
function scanStatements(sql: string): { statements: string[]; rest: string; open: boolean } {
  const statements: string[] = [];
  let start = 0;
  let content = false;
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    let end: number;
    if (ch === ';') {
      if (content) statements.push(sql.slice(start, i).trim());
      start = i + 1;
      content = false;
      i++;
      continue;
    } else if (/\s/.test(ch)) {
      i++;
      continue;
    } else if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    } else if (ch === '/' && next === '*') {
      end = blockCommentEnd(sql, i);
      if (end === -1) return { statements, rest: sql.slice(start), open: true };
      i = end;
      continue;
    } else if (ch === "'" || ch === '"') {
      // E'…' strings take backslash escapes; doubled quotes escape in all of them.
      end = quotedEnd(sql, i, ch, ch === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? ''));
    } else if (ch === '$' && DOLLAR_QUOTE.test(sql.slice(i))) {
      const tag = DOLLAR_QUOTE.exec(sql.slice(i))![0];
      const close = sql.indexOf(tag, i + tag.length);
      end = close === -1 ? -1 : close + tag.length;
    } else {
      content = true;
      i++;
      continue;
    }
    if (end === -1) return { statements, rest: sql.slice(start), open: true };
    content = true;
    i = end;
  }
  return { statements, rest: content ? sql.slice(start) : '', open: false };
}

/** The index after the quote that closes the one at `start`, or -1. */
function quotedEnd(sql: string, start: number, quote: string, backslashes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (backslashes && sql[i] === '\\') i++;
    else if (sql[i] === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i++;
    }
  }
  return -1;
}

/** The index after the `*\/` closing the comment at `start` (comments nest), or -1. */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i++;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

const DOLLAR_QUOTE = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/;
/** Functions whose text argument DuckDB runs as SQL: a literal inside their call is looked into. */
const RUNS_TEXT = new Set(['query', 'query_table']);

/**
 * The first of `names` (lower case) the SQL calls, as `name(`, `"name" (` or `schema.name /* c *\/ (`,
 * or undefined. Comments, quoted names and string literals are not calls: `select 'checkpoint(' as s`
 * calls nothing. A literal inside `query(…)` / `query_table(…)` is SQL DuckDB runs, and is looked
 * into the same way. Meant for refusing: from a quote or comment the text does not close, the rest
 * is searched as plain text.
 */
export function functionCalled(sql: string, names: readonly string[]): string | undefined {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const textual = (text: string): string | undefined => {
    const m = new RegExp(`(?<![\\w$])"?(${[...wanted].join('|')})"?(?:\\s|/\\*[\\s\\S]*?\\*/|--[^\\n]*\\n)*\\(`, 'i').exec(text);
    return m ? m[1]!.toLowerCase() : undefined;
  };
  let lastName: string | undefined; // the name just before, when nothing but blanks and comments follow it
  const runsText: boolean[] = []; // per open parenthesis: inside a call that runs its text
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (ch === '/' && next === '*') {
      const end = blockCommentEnd(sql, i);
      if (end === -1) return textual(sql.slice(i));
      i = end;
    } else if (ch === '"') {
      const end = quotedEnd(sql, i, '"', false);
      if (end === -1) return textual(sql.slice(i));
      lastName = sql.slice(i + 1, end - 1).replace(/""/g, '"').toLowerCase();
      i = end;
    } else if (ch === "'" || (ch === '$' && DOLLAR_QUOTE.test(sql.slice(i)))) {
      let end: number;
      let text: string;
      if (ch === "'") {
        const backslashes = /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
        end = quotedEnd(sql, i, "'", backslashes);
        text = end === -1 ? '' : sql.slice(i + 1, end - 1).replace(/''/g, "'");
      } else {
        const tag = DOLLAR_QUOTE.exec(sql.slice(i))![0];
        const close = sql.indexOf(tag, i + tag.length);
        end = close === -1 ? -1 : close + tag.length;
        text = end === -1 ? '' : sql.slice(i + tag.length, close);
      }
      if (end === -1) return textual(sql.slice(i));
      if (runsText.includes(true)) {
        const inner = functionCalled(text, names);
        if (inner) return inner;
      }
      lastName = undefined;
      i = end;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      const word = /^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/.exec(sql.slice(i))![0];
      // `x.name` and `name` alike: only the last part of a qualified name is the function's.
      lastName = word.toLowerCase();
      i += word.length;
    } else if (ch === '(') {
      if (lastName !== undefined && wanted.has(lastName)) return lastName;
      runsText.push(lastName !== undefined && RUNS_TEXT.has(lastName));
      lastName = undefined;
      i++;
    } else if (ch === ')') {
      runsText.pop();
      lastName = undefined;
      i++;
    } else if (ch === '.') {
      i++; // keeps `lastName` unset by the next part
    } else {
      lastName = undefined;
      i++;
    }
  }
  return undefined;
}

/**
 * The text of every string literal in the SQL ('…', E'…', $tag$…$tag$), and of the literals inside
 * those (SQL that `query('…')` runs), in order. Comments and quoted names are not literals. Meant
 * for refusing: from a quote or comment the text does not close, the rest is one more literal.
 */
export function stringLiterals(sql: string): string[] {
  const found: string[] = [];
  const add = (text: string): void => {
    found.push(text);
    if (/['$]/.test(text)) found.push(...stringLiterals(text));
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (ch === '/' && next === '*') {
      const end = blockCommentEnd(sql, i);
      if (end === -1) {
        add(sql.slice(i));
        break;
      }
      i = end;
    } else if (ch === '"') {
      const end = quotedEnd(sql, i, '"', false);
      if (end === -1) break;
      i = end;
    } else if (ch === "'") {
      const backslashes = /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
      const end = quotedEnd(sql, i, "'", backslashes);
      if (end === -1) {
        add(sql.slice(i + 1));
        break;
      }
      const text = sql.slice(i + 1, end - 1).replace(/''/g, "'");
      add(backslashes ? text.replace(/\\(.)/g, '$1') : text);
      i = end;
    } else if (ch === '$' && DOLLAR_QUOTE.test(sql.slice(i))) {
      const tag = DOLLAR_QUOTE.exec(sql.slice(i))![0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close === -1) {
        add(sql.slice(i + tag.length));
        break;
      }
      add(sql.slice(i + tag.length, close));
      i = close + tag.length;
    } else {
      i++;
    }
  }
  return found;
}
