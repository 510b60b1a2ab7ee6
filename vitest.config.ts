import { defineConfig } from 'vitest/config';

// Unit and integration suites run 3 files at a time; the browser (e2e) suites run after them, one
// file at a time, so a 16-tile wall and a Chromium latency measurement never share the 2 cores
// with ffmpeg-heavy integration tests.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CI also writes a JSON report (STREAMGATE_REPORT); .ci/summary.mjs prints "N passed, N failed, N skipped"
    // from it and fails CI when any test or suite was skipped (a describe.skipIf for a missing tool).
    reporters: process.env.STREAMGATE_REPORT ? ['default', ['json', { outputFile: process.env.STREAMGATE_REPORT }]] : ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'core', include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
