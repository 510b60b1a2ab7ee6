// Reads vitest's JSON report (STREAMGATE_REPORT) and prints "N passed, N failed, N skipped".
// CI fails on a failed test, on no passed test, and on any skipped test: every skip in this suite
// is a describe.skipIf for a missing tool (ffmpeg, Chromium, GStreamer), and .ci/run installs them,
// so a skip means a suite silently did not run. The message names each skipped suite and file.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.argv[2] ?? '.vitest-report.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const skippedStates = new Set(['pending', 'skipped', 'todo']);
/** "file > suite" -> number of skipped tests in it. */
const skippedSuites = new Map();
for (const result of report.testResults ?? []) {
  const name = relative(process.cwd(), result.name ?? '');
  const tests = result.assertionResults ?? [];
  // A file that never ran its tests (a skipped file) reports no assertions.
  if (tests.length === 0 && skippedStates.has(result.status)) skippedSuites.set(`${name} (whole file)`, 0);
  for (const test of tests) {
    if (!skippedStates.has(test.status)) continue;
    const key = `${name} > ${test.ancestorTitles?.[0] ?? test.title}`;
    skippedSuites.set(key, (skippedSuites.get(key) ?? 0) + 1);
  }
}
const skipped = report.numPendingTests + report.numTodoTests;
// Tests that failed once and passed on vitest's retry (test/helpers/flaky-reporter.ts writes them).
let flaky = [];
try {
  flaky = JSON.parse(readFileSync(`${file}.flaky.json`, 'utf8'));
} catch {
  // no retries recorded
}
for (const f of flaky) console.log(`flaky (passed on the retry): ${f.test}\n  first try: ${f.firstError}`);
console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped${flaky.length ? `, ${flaky.length} passed only on the retry` : ''}`);
let failed = report.numFailedTests > 0 || report.numPassedTests === 0;
if (skipped > 0 || skippedSuites.size > 0) {
  failed = true;
  console.log(`CI fails: ${skipped} tests were skipped (a tool they need is missing; .ci/run installs ffmpeg, chromium and GStreamer):`);
  for (const [suite, count] of skippedSuites) console.log(`  skipped: ${suite}${count ? ` (${count} tests)` : ''}`);
}
process.exit(failed ? 1 : 0);
