/**
 * The CLI on a real terminal (a pseudo-terminal, outside CI): progress bars, the console log
 * beside them, and the terminal as they leave it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFiles } from '../helpers/models.js';
import { runCliInPty, screenOf } from '../helpers/pty.js';
import { tempDir } from '../helpers/temp-lake.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const index = path.join(repo, 'src', 'index.ts');

/** A source of `pages` pages of 500 rows, 250 ms apart, that warns once per page after the first. */
function project(pages: number): string {
  const dir = tempDir('tty-');
  writeFiles(path.join(dir, 'models'), { 'staging/stg_prices.sql': `select store, sku, price from {{ source('shop', 'prices') }}` });
  fs.writeFileSync(
    path.join(dir, 'duckhouse.config.mjs'),
    `import { defineSource, z } from ${JSON.stringify(index)};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export default {
  limits: { flushRows: 500 },
  sources: [defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ store: z.string(), sku: z.string(), price: z.number() }),
    async *extract(ctx) {
      for (let p = 0; p < ${pages}; p++) {
        await sleep(250);
        if (p > 0) ctx.warn('slow page ' + p);
        yield Array.from({ length: 500 }, (_, i) => ({ store: 'a', sku: p + '-' + i, price: i }));
      }
    } })],
};
`,
  );
  return dir;
}

const COLS = 100;

describe('the CLI on a terminal', () => {
  it('log lines written while a bar is shown stand on lines of their own, whole, with the bar under them', async () => {
    const dir = project(5);
    const r = await runCliInPty(dir, ['extract'], { cols: COLS });
    expect(r.status, r.raw).toBe(0);
    const screen = screenOf(r.raw, COLS);
    const text = screen.lines.join('\n');
    // Before: each warning was written after the bar's text, with line wrapping off (the bars turn
    // it off): on screen, squeezed into the bar line's last column, then drawn over.
    for (let p = 1; p < 5; p++) expect(screen.lines, text).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d warn\\s+\\[\\S+ shop/prices\\] slow page ${p}$`)));
    for (const l of screen.lines) expect(/\|[█░]+\|/.test(l) && /\d\d:\d\d:\d\d (info|warn)/.test(l), text).toBe(false);
    // The bar stays, with the result's count.
    expect(screen.lines, text).toContainEqual(expect.stringMatching(/^ shop\/prices +\|█+\| 2500 rows /));
    expect(screen.lines, text).toContain('shop/prices: success, 2500 rows, 0 rejected, 5 files');
  }, 60_000);

  it('Ctrl-C while a bar is shown gives the terminal back as it was: cursor shown, line wrapping on', async () => {
    const dir = project(20);
    const r = await runCliInPty(dir, ['extract'], { cols: COLS, interruptOn: 'slow page 2' });
    // The CLI handles it (closes the lake, exit 130): the bars' handler restores the terminal
    // without ending the process. (Before the CLI handled signals: ended by the signal, -2.)
    expect(r.status, r.raw).toBe(130);
    expect(r.raw).toMatch(/\x1b\[\?25l/);
    const screen = screenOf(r.raw, COLS);
    expect(screen.cursorVisible, JSON.stringify(r.raw.slice(-300))).toBe(true);
    expect(screen.autowrap, JSON.stringify(r.raw.slice(-300))).toBe(true);
    // Its notice on a line of its own, whole, and the source's result after it (longer than a line of the screen).
    const text = screen.lines.join('\n');
    expect(screen.lines, text).toContain('duckhouse: SIGINT received: stopping and recording the run (Ctrl-C again to quit at once)');
    expect(r.raw).toMatch(/\nshop\/prices: partial, \d+ rows, 0 rejected, \d+ files — lake: the lakehouse is closed \(interrupted by SIGINT\)\r\n/);
  }, 60_000);

  it('a build with nothing to do shows no bar: no escape codes, no blank line on stderr', async () => {
    const dir = project(1);
    expect((await runCliInPty(dir, ['run'], { cols: COLS })).status).toBe(0);
    const r = await runCliInPty(dir, ['build'], { cols: COLS });
    expect(r.status, r.raw).toBe(0);
    expect(r.raw).toContain('up-to-date staging.stg_prices');
    expect(r.raw).not.toMatch(/\x1b\[\?(25|7)[hl]/);
    expect(r.raw).not.toMatch(/\r\n\r\n/);
  }, 60_000);

  it('the bar of a build counts models, not rows', async () => {
    const dir = project(1);
    const r = await runCliInPty(dir, ['run'], { cols: COLS });
    expect(r.status, r.raw).toBe(0);
    const bar = screenOf(r.raw, COLS).lines.filter((l) => l.startsWith(' build '));
    expect(bar, r.raw).toEqual([expect.stringMatching(/\| 1\/1 models$/)]);
  }, 60_000);

  it('two stores of one dataset (constant partitions) have a bar each, with their own counts', async () => {
    const dir = tempDir('tty-');
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const store = (name, pages, rows) => defineSource({ source: 'shop', dataset: 'prices', partitionBy: { store: name }, schema: z.object({ sku: z.string() }),
  async *extract() { for (let p = 0; p < pages; p++) { await sleep(250); yield Array.from({ length: rows }, (_, i) => ({ sku: p + '-' + i })); } } });
export default { limits: { flushRows: 100 }, sources: [store('a', 3, 500), store('b', 2, 300)] };
`,
    );
    const r = await runCliInPty(dir, ['extract'], { cols: COLS });
    expect(r.status, r.raw).toBe(0);
    const lines = screenOf(r.raw, COLS).lines;
    expect(lines).toContain('shop/prices (store=a): success, 1500 rows, 0 rejected, 3 files');
    expect(lines).toContain('shop/prices (store=b): success, 600 rows, 0 rejected, 2 files');
    // The console's lines name the store too.
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d info +\[\S+ shop\/prices \(store=b\)\] extracted 600 rows /));
    // Before: one bar for both, showing whichever store reported last.
    // In the order the stores first reported: they run side by side.
    const bars = lines.filter((l) => /\|[█░]+\|/.test(l)).sort();
    expect(bars, lines.join('\n')).toEqual([expect.stringMatching(/^ shop\/prices \(store=a\) +\|█+\| 1500 rows /), expect.stringMatching(/^ shop\/prices \(store=b\) +\|█+\| 600 rows /)]);
  }, 60_000);

  it('the rate on a bar is over the source\'s time, not from its first batch (one slow page is not 500000 rows/s)', async () => {
    const dir = tempDir('tty-');
    fs.writeFileSync(
      path.join(dir, 'duckhouse.config.mjs'),
      `import { defineSource, z } from ${JSON.stringify(index)};
export default { sources: [defineSource({ source: 'shop', dataset: 'prices', schema: z.object({ sku: z.string() }),
  async *extract() { await new Promise((r) => setTimeout(r, 800)); yield Array.from({ length: 500 }, (_, i) => ({ sku: String(i) })); } })] };
`,
    );
    const r = await runCliInPty(dir, ['extract'], { cols: COLS });
    expect(r.status, r.raw).toBe(0);
    const bar = screenOf(r.raw, COLS).lines.find((l) => l.startsWith(' shop/prices '));
    const rate = Number(/ 500 rows +(\d+)\/s/.exec(bar ?? '')?.[1]);
    // 500 rows in at least 0.8 s: at most 625 rows/s.
    expect(rate, bar).toBeGreaterThan(0);
    expect(rate, bar).toBeLessThanOrEqual(625);
  }, 60_000);

  it('the coloured level column is as wide as the plain one: every message starts in the same column', async () => {
    const dir = project(2);
    const r = await runCliInPty(dir, ['extract'], { cols: COLS });
    expect(r.status, r.raw).toBe(0);
    expect(r.raw).toMatch(/\x1b\[3\dmwarn\x1b\[39m/); // the level is coloured
    const text = screenOf(r.raw, COLS).lines.join('\n');
    const logLines = text.split('\n').filter((l) => /^\d\d:\d\d:\d\d [a-z]/.test(l));
    expect(logLines.some((l) => l.includes(' info ')) && logLines.some((l) => l.includes(' warn ')), text).toBe(true);
    // "HH:MM:SS " and the level padded to 5: messages start in column 15.
    // Before: "10:00:00 info [run …]", one column left of the plain log's "info  [run …]" (the
    // colour codes were counted in the padding).
    for (const l of logLines) expect(l, text).toMatch(/^\d\d:\d\d:\d\d (info |warn |error) \S/);
  }, 60_000);
});
