import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CI also writes a JSON report (STREAMGATE_REPORT) and prints a plain "N passed, N failed" line from it.
    reporters: process.env.STREAMGATE_REPORT ? ['default', ['json', { outputFile: process.env.STREAMGATE_REPORT }]] : ['default'],
  },
});
