/**
 * DESIGN, Defaults: "quality gates | null share ≤ 20%, duplicate share ≤ 5%, quality score ≥ 80%,
 * extraction success ≥ 95% — below a gate is a `warn` test unless set to `error`". The lake's
 * `quality.gateSeverity` sets it for every gate, the extraction success gate included.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { defineSource, z } from '../../src/index.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

let fail = false;
const flaky = defineSource({
  source: 'obs',
  dataset: 'flaky',
  schema: z.object({ id: z.number() }),
  async *extract() {
    if (fail) throw new Error('upstream answered 503');
    yield [{ id: 1 }, { id: 2 }];
  },
});

describe('the extraction success gate', () => {
  it('takes the gates\' severity: under 95% with gateSeverity "error" is an error, not a warn', async () => {
    const dir = tempDir();
    const lake = await tempLake({ root: path.join(dir, 'data'), quality: { gateSeverity: 'error' } });
    fail = false;
    expect((await lake.extract([flaky])).status).toBe('success');
    fail = true;
    const second = await lake.extract([flaky]);
    expect(second.status).toBe('failed');
    const gate = second.alerts?.find((a) => a.kind === 'extraction_success');
    expect(gate).toBeDefined(); // 1 of 2 extracts succeeded: 50 % < 95 %
    expect(gate!.severity).toBe('error');
    const stored = (await lake.alerts()).find((a) => a.kind === 'extraction_success');
    expect(stored?.severity).toBe('error');
  });
});
