/**
 * Passwords the README says never reach a log line: the one in a URL's user info
 * (`https://user:password@host/…`, which got sends as Basic auth), and a passphrase with spaces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { httpSource } from '../../src/extract/http-source.js';
import { redactString } from '../../src/redact.js';
import { FAST_LIMITS, sendJson, startFaultyServer } from '../helpers/faulty-server.js';
import { registerCleanup, tempLake } from '../helpers/temp-lake.js';

const PASSWORD = 's3cr3tPassw0rd';

/** Every file under `dir` whose bytes contain `needle`, relative. */
function filesHolding(dir: string, needle: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => {
    const p = path.join(dir, f);
    return fs.statSync(p).isFile() && fs.readFileSync(p).includes(needle);
  });
}

describe('a password in a source URL (user info)', () => {
  it('is redacted from the SourceResult error, the log file, runs.duckdb and the stored result', async () => {
    const server = await startFaultyServer({ '/feed': (_req, res) => sendJson(res, 404, { error: 'no such feed' }) });
    registerCleanup(() => server.close());
    const lake = await tempLake();
    const url = `${server.url.replace('http://', `http://alice:${PASSWORD}@`)}/feed`;
    const result = await lake.extract(httpSource({ source: 'feed', dataset: 'items', url, schema: z.object({ id: z.number() }), limits: FAST_LIMITS }));
    const error = result.sources[0]!.error ?? '';
    expect(error).toMatch(/404/);
    // The failure quotes the URL: in the result (the CLI's stdout, so cron.log), the JSON log,
    // runs.duckdb and results/…json it must read `http://alice:[REDACTED]@…`.
    expect(error).not.toContain(PASSWORD);
    await lake.close();
    expect(filesHolding(lake.paths.root, PASSWORD)).toEqual([]);
  }, 60_000);
});

describe('redactString: a password value with spaces', () => {
  it('scrubs the whole passphrase in JSON text and in a quoted key=value, not only its first word', () => {
    const json = redactString('{"user": "bob", "password": "correct horse battery staple"}');
    expect(json).not.toMatch(/horse|battery|staple/);
    const quoted = redactString("connect failed: host=db user=bob password='correct horse'");
    expect(quoted).not.toMatch(/correct|horse/);
    expect(json).toBe('{"user": "bob", "password": "[REDACTED]"}');
    expect(quoted).toBe("connect failed: host=db user=bob password='[REDACTED]'");
    // A URL's user name stays; only its password goes. SQL casts of secret-named columns stay.
    expect(redactString('GET https://alice:pw123456@api.example.com/x failed')).toBe('GET https://alice:[REDACTED]@api.example.com/x failed');
    expect(redactString('select refresh_token::VARCHAR from t')).toBe('select refresh_token::VARCHAR from t');
  });
});
