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
    // A failed test runs once more: real browsers, encoders and GStreamer on 2 busy cores fail a
    // timing now and then (a camera stand-in abort, a spoilt bandwidth probe), and one such failure
    // would sink a whole CI run. A broken feature fails both tries. Every test that passed only on
    // its retry is named with its first error at the end (test/helpers/flaky-reporter.ts) and
    // counted on the summary's last line: a flake to fix, not a pass to forget.
    retry: 1,
    // CI also writes a JSON report (STREAMGATE_REPORT); .ci/summary.mjs prints "N passed, N failed, N skipped"
    // from it and fails CI when any test or suite was skipped (a describe.skipIf for a missing tool).
    reporters: [
      'default',
      './test/helpers/flaky-reporter.ts',
      ...(process.env.STREAMGATE_REPORT ? [['json', { outputFile: process.env.STREAMGATE_REPORT }] as [string, object]] : []),
    ],
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
