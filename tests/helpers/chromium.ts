/**
 * Debian's Chromium for browser tests, driven by playwright-core (which never downloads a
 * browser of its own here). When `/usr/bin/chromium` is missing and we run as root, this installs
 * the Debian package once (`apt-get update && apt-get install -y chromium`) and says so on stderr.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, offline, sandbox-less headless run (containers run as root). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let pending: Promise<string | undefined> | undefined;

/**
 * The path of a usable Chromium, installing Debian's package when missing; `undefined` (with the
 * reason on stderr) only when the install itself failed. Concurrent callers share one install.
 * @example
 * const executablePath = await ensureChromium();
 * if (!executablePath) return; // skipped, the reason is on stderr
 */
export function ensureChromium(): Promise<string | undefined> {
  pending ??= install();
  return pending;
}

async function install(): Promise<string | undefined> {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`[chromium] ${CHROMIUM} is missing and we are not root: run "apt-get install -y chromium" to enable the browser tests\n`);
    return undefined;
  }
  process.stderr.write(`[chromium] ${CHROMIUM} is missing: installing Debian's package (apt-get update && apt-get install -y chromium)…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await run('apt-get', ['update'], env);
  const installed = update.code === 0 ? await run('apt-get', ['install', '-y', 'chromium'], env) : update;
  if (installed.code !== 0 || !fs.existsSync(CHROMIUM)) {
    process.stderr.write(`[chromium] install failed (exit ${installed.code}); browser tests are skipped. Last output:\n${installed.tail}\n`);
    return undefined;
  }
  process.stderr.write(`[chromium] installed ${CHROMIUM}\n`);
  return CHROMIUM;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => resolve({ code: -1, tail: error.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, tail: output }));
  });
}
