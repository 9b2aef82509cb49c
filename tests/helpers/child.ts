import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Child {
  process: ChildProcess;
  lines: string[];
  /** Resolves when a stdout line satisfies `predicate`. */
  waitFor(predicate: (line: string) => boolean, timeoutMillis?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Runs a TypeScript helper script from tests/helpers in a child Node process (through tsx). */
export function spawnHelper(script: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VITEST: 'true' },
  });
  const lines: string[] = [];
  let stderr = '';
  const waiters: { predicate: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let buffer = '';
  child.stdout!.on('data', (data: Buffer) => {
    buffer += data.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    // 'close' (the pipes drained), not 'exit': Node may emit 'exit' before the last output is read.
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    process: child,
    lines,
    exited,
    waitFor(predicate, timeoutMillis = 30_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for child output; stderr: ${stderr}`)), timeoutMillis);
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`child exited before the expected output; stderr: ${stderr}`));
        });
      });
    },
  };
}
