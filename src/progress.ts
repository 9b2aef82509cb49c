/**
 * Progress bars for long work: one line per task on a terminal (cli-progress), nothing under CI,
 * on a dumb terminal or when stderr is not a terminal — there the logger's one summary line per source suffices.
 */
import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';

export interface ProgressSnapshot {
  rows: number;
  rejected?: number;
  pages?: number;
  requests?: number;
  retries?: number;
  /** Time since the task started, when it started before its first snapshot (a source's first page). */
  elapsedMs?: number;
  /** Known total, when there is one (models to build): the bar then counts models, not rows. */
  total?: number;
}

export interface Progress {
  update(task: string, snapshot: ProgressSnapshot): void;
  done(task: string): void;
  stop(): void;
}

const silent: Progress = { update() {}, done() {}, stop() {} };

/**
 * Whether stderr is a terminal that shows escape codes: a dumb one (TERM=dumb: an editor's shell
 * buffer) cannot move the cursor to redraw a bar, nor show colors.
 */
export function stderrIsTerminal(): boolean {
  return Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb';
}

export function progressEnabled(option: boolean | undefined): boolean {
  if (option !== undefined) return option;
  return stderrIsTerminal() && !process.env.CI && !process.env.VITEST;
}

/** The bars on the terminal now, if any: console log lines are written above them. */
let drawing: { log(text: string): void } | undefined;

/**
 * Writes console text (the logger's readable lines) to stderr. While bars are shown it goes above
 * them: written after a bar, it would be glued to it, and cut at the terminal's width (the bars
 * turn line wrapping off), until the next redraw draws over it.
 */
export function writeConsole(text: string): void {
  if (drawing) drawing.log(text);
  else process.stderr.write(text);
}

export function createProgress(enabled: boolean): Progress {
  if (!enabled) return silent;
  let multi: cliProgressTypes.MultiBar | undefined;
  let self: { log(text: string): void } | undefined;
  const stop = (): void => {
    if (!multi) return;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    multi.stop();
    multi = undefined;
    if (drawing === self) drawing = undefined;
  };
  // Ctrl-C while bars are shown: the cursor and line wrapping they turned off are turned back on,
  // then the signal does what it would have done (ends the process, unless someone else listens).
  function onSignal(signal: NodeJS.Signals): void {
    stop();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  }
  // Created with the first bar: work that shows none (a build with nothing to do) writes nothing,
  // where stopping a display never drawn would write its escape codes and a blank line.
  const display = (): cliProgressTypes.MultiBar => {
    if (multi) return multi;
    // Loaded only when a bar is shown: CI and scripts never pay for it.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes;
    const shown = new cliProgress.MultiBar(
      {
        stream: process.stderr,
        clearOnComplete: false,
        hideCursor: true,
        // A bar is drawn again though unchanged: a log line written above it has cleared it.
        forceRedraw: true,
        fps: 5,
        format: ' {task} |{bar}| {counts}',
        barsize: 20,
      },
      cliProgress.Presets.shades_grey,
    );
    multi = shown;
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    self = {
      // Drawn at once, from the line of the first bar: what is below is cleared, the text written
      // with line wrapping on (a long line is not cut), then the bars again under it.
      log(text) {
        shown.log(`\x1b[0J\x1b[?7h${text}\x1b[?7l`);
        shown.update();
      },
    };
    // `progress: true` with stderr redirected: cli-progress draws nothing there, nor do log lines go through it.
    if (process.stderr.isTTY) drawing = self;
    return shown;
  };
  const bars = new Map<string, { bar: cliProgressTypes.SingleBar; started: number }>();
  return {
    update(task, s) {
      let entry = bars.get(task);
      if (!entry) {
        entry = { bar: display().create(s.total ?? 0, 0, {}), started: performance.now() };
        bars.set(task, entry);
      }
      // Over the task's own time: from the first snapshot, one slow page would show as thousands of rows/s.
      const seconds = Math.max(0.001, (s.elapsedMs ?? performance.now() - entry.started) / 1000);
      // Without a known total the bar shows activity, not completion.
      if (!s.total) entry.bar.setTotal(Math.max(s.rows, 1) * 1.0001);
      entry.bar.update(s.rows, {
        task: task.padEnd(24).slice(0, 32),
        counts: s.total
          ? `${s.rows}/${s.total} models`
          : `${s.rows} rows  ${Math.round(s.rows / seconds)}/s  rejected ${s.rejected ?? 0}  pages ${s.pages ?? 0}  retries ${s.retries ?? 0}`,
      });
    },
    done(task) {
      const entry = bars.get(task);
      if (entry) entry.bar.setTotal(entry.bar.getProgress() > 0 ? (entry.bar as unknown as { value: number }).value : 1);
    },
    stop,
  };
}
