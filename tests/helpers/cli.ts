/** Runs the CLI from source (`src/cli.ts` through tsx) in a child process, as a user would. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'src', 'cli.ts');
const tsx = pathToFileURL(path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/**
 * Writes `dir/duckhouse.config.ts` importing `defineSource` and `z` from this checkout's source,
 * with the console log off, `sources` (TypeScript text of the array's items) and any other
 * `options` of Lakehouse.open.
 */
export function writeCliConfig(dir: string, sources: string, options: Record<string, unknown> = {}): void {
  const index = path.join(repo, 'src', 'index.ts').replaceAll('\\', '/');
  const more = Object.entries(options).map(([k, v]) => `  ${k}: ${JSON.stringify(v)},\n`).join('');
  fs.writeFileSync(path.join(dir, 'duckhouse.config.ts'), `import { defineSource, z } from '${index}';\nexport default {\n  log: { console: false },\n${more}  sources: [${sources}],\n};\n`);
}

/**
 * A lake time zone whose midnight is 11 hours away or more now: CLI commands run seconds apart
 * write their extracts into one `day=` partition (either side of midnight, two).
 */
export function zoneFarFromMidnight(now = new Date()): string {
  const ahead = (((12 - now.getUTCHours()) % 24) + 24) % 24;
  const hours = ahead > 12 ? ahead - 24 : ahead;
  // Etc/GMT names count the other way: Etc/GMT-3 is UTC+3.
  return hours === 0 ? 'Etc/GMT' : `Etc/GMT${hours > 0 ? '-' : '+'}${Math.abs(hours)}`;
}

export function runCli(cwd: string, args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, cli, ...args], { cwd, encoding: 'utf8', input, env: { ...process.env, CI: 'true' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export interface CliChild {
  /** Resolves once stdout or stderr shows `text` (rejects if the CLI exits first). */
  shows(text: string | RegExp): Promise<void>;
  /** Resolves with the exit code (null when a signal ended it) and that signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  out(): string;
  err(): string;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Runs the CLI as `runCli` does, in the background: for a test that signals it while it works.
 * `via`: a command that runs it (`['timeout', '600']`), in a process group of its own.
 */
export function spawnCli(cwd: string, args: string[], options: { via?: string[] } = {}): CliChild {
  const [command, ...rest] = [...(options.via ?? []), process.execPath, '--import', tsx, cli, ...args] as [string, ...string[]];
  const proc = spawn(command, rest, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' }, detached: options.via !== undefined });
  let out = '';
  let err = '';
  const waiting: { text: string | RegExp; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiting]) {
      const both = out + err;
      if (typeof w.text === 'string' ? both.includes(w.text) : w.text.test(both)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stdout.setEncoding('utf8').on('data', (d: string) => ((out += d), check()));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => ((err += d), check()));
  // 'close' (the pipes drained), not 'exit': Node may emit 'exit' before the last output is read,
  // and `shows` would then give up on text that was on its way.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  return {
    shows: (text) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ text, resolve });
        check();
        void exited.then((e) => reject(new Error(`the CLI exited (${JSON.stringify(e)}) before showing ${String(text)}:\n${out}\n${err}`)));
      }),
    exited,
    out: () => out,
    err: () => err,
    kill: (signal) => void proc.kill(signal),
  };
}
