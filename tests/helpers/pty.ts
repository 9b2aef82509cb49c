/**
 * The CLI on a real pseudo-terminal (Python's `pty`, on every machine of this project), as a user
 * at a terminal sees it: the raw bytes written, and a small screen model to read them as shown.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'src', 'cli.ts');
const tsx = pathToFileURL(path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

// Runs argv[4:] on a pty of argv[1] columns; types Ctrl-C once argv[2] (when not empty) has been
// written, or after argv[3] seconds; prints the bytes, then the exit status on stderr.
const DRIVER = `
import os, pty, sys, time, select, struct, fcntl, termios
cols = int(sys.argv[1]); marker = sys.argv[2].encode(); after = float(sys.argv[3]); cmd = sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, cols, 0, 0))
out = b''; t0 = time.time(); sent = False
while True:
    if not sent and ((marker and marker in out) or (after >= 0 and time.time() - t0 > after)):
        os.write(fd, b'\\x03'); sent = True
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try: d = os.read(fd, 65536)
        except OSError: break
        if not d: break
        out += d
    if time.time() - t0 > 50: os.kill(pid, 9); break
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.stderr.write(str(os.waitstatus_to_exitcode(st)))
`;

export interface PtyRun {
  /** Everything the terminal received (stdout and stderr alike). */
  raw: string;
  /** The exit code, or minus the signal that ended the process. */
  status: number;
}

export function runCliInPty(cwd: string, args: string[], options: { cols?: number; interruptOn?: string; interruptAfterSeconds?: number; env?: Record<string, string> } = {}): Promise<PtyRun> {
  // A terminal outside CI and outside vitest: where bars and the console log are on.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'CI' && k !== 'VITEST' && !k.startsWith('VITEST_')) env[k] = v;
  Object.assign(env, { TERM: 'xterm-256color' }, options.env ?? {});
  const argv = ['-c', DRIVER, String(options.cols ?? 100), options.interruptOn ?? '', String(options.interruptAfterSeconds ?? -1), process.execPath, '--import', tsx, cli, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('python3', argv, { cwd, env });
    let raw = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (raw += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', () => resolve({ raw, status: Number(err.trim().split('\n').pop()) }));
  });
}

export interface Screen {
  /** The lines as shown, trailing blanks trimmed (scrolled-off lines included). */
  lines: string[];
  cursorVisible: boolean;
  autowrap: boolean;
}

/** What a terminal of `cols` columns shows for `raw`: the control sequences cli-progress and winston write. */
export function screenOf(raw: string, cols: number): Screen {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  let cursorVisible = true;
  let autowrap = true;
  const line = (): string[] => (lines[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\x1b') {
      const m = /^\x1b\[(\??)([0-9;]*)([A-Za-z])/.exec(raw.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      const n = Number(m[2] || '0');
      const [priv, , cmd] = [m[1], m[2], m[3]];
      if (priv === '?' && m[2] === '25') cursorVisible = cmd === 'h';
      else if (priv === '?' && m[2] === '7') autowrap = cmd === 'h';
      else if (cmd === 'A') row = Math.max(0, row - Math.max(1, n));
      else if (cmd === 'B') row += Math.max(1, n);
      else if (cmd === 'G') col = Math.max(0, n - 1);
      else if (cmd === 'K') {
        const l = line();
        if (n === 0) l.length = Math.min(l.length, col);
        else if (n === 1) for (let c = 0; c <= col && c < l.length; c++) l[c] = ' ';
        else l.length = 0;
      } else if (cmd === 'J') {
        line().length = Math.min(line().length, col);
        lines.length = row + 1;
      }
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') row++;
    else if (ch >= ' ' || ch === '\t') {
      if (col >= cols) {
        if (autowrap) {
          row++;
          col = 0;
        } else col = cols - 1;
      }
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  return { lines: Array.from(lines, (l) => (l ?? []).join('').trimEnd()), cursorVisible, autowrap };
}
