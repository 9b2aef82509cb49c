import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // tests/reliability runs here as a fast subset (a few trials); `npm run test:reliability`
    // runs the same files at full scale (vitest.reliability.config.ts).
    exclude: ['tests/bench/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // DuckDB is multi-threaded already; two workers on two cores keep memory and time sane.
    pool: 'forks',
    maxWorkers: 2,
  },
});
