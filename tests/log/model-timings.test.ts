/** README, Logs: "JSON lines in data/logs/duckhouse.log … with runId, source, model and timings": a built model's line has its durationMs. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectLake } from '../helpers/models.js';

describe('the log file of a build', () => {
  it('the line of each built model carries its model and its time (durationMs), as a source\'s line does', async () => {
    const { lake, root } = await projectLake({ 'marts/a.sql': `select 1 as id`, 'marts/b.sql': `select id from {{ ref('a') }}` });
    const build = await lake.build();
    expect(build.models.map((m) => m.status)).toEqual(['success', 'success']);
    await lake.close();
    const lines = fs.readFileSync(path.join(root, 'logs', 'duckhouse.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const modelLines = lines.filter((l) => l.model === 'marts.a' || l.model === 'marts.b');
    expect(modelLines.map((l) => l.model).sort()).toEqual(['marts.a', 'marts.b']);
    // The ModelResult's durationMs is on the model's log line too, as an extracted source's is.
    for (const l of modelLines) expect(typeof l.durationMs, JSON.stringify(l)).toBe('number');
  }, 60_000);

  it('a build with nothing to rebuild still has a line for each up-to-date model, with its durationMs', async () => {
    const { lake, root } = await projectLake({ 'marts/a.sql': `select 1 as id`, 'marts/b.sql': `select id from {{ ref('a') }}` });
    await lake.build();
    const second = await lake.build();
    expect(second.models.map((m) => m.status)).toEqual(['up-to-date', 'up-to-date']);
    await lake.close();
    const lines = fs.readFileSync(path.join(root, 'logs', 'duckhouse.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Before: only the build's summary line (every model up to date skips the catalog work).
    const mine = lines.filter((l) => l.runId === second.runId && typeof l.model === 'string');
    expect(mine.map((l) => l.model).sort()).toEqual(['marts.a', 'marts.b']);
    for (const l of mine) expect(typeof l.durationMs, JSON.stringify(l)).toBe('number');
  }, 60_000);
});
