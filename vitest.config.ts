import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/bench/**', 'tests/reliability/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // DuckDB is multi-threaded already; two workers on two cores keep memory and time sane.
    pool: 'forks',
    maxWorkers: 2,
  },
});
