import { defineConfig } from 'vitest/config';

/**
 * The full reliability suites (`npm run test:reliability`): the same files `npm test` runs as a
 * fast subset, at the scale of the issue (RELIABILITY_FULL=1: 20 crash trials, 10 builds under a
 * reader, bigger fault runs). Replay a run's random choices with RELIABILITY_SEED=<seed it printed>.
 */
export default defineConfig({
  test: {
    include: ['tests/reliability/**/*.test.ts'],
    env: { RELIABILITY_FULL: '1' },
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
