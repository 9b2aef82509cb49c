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
});
