/**
 * Names every test that failed and then passed on its retry (vitest `retry: 1`), with the first
 * error, at the end of the run; with STREAMGATE_REPORT set it also writes them next to the JSON
 * report (`<report>.flaky.json`), and .ci/summary.mjs prints the count on its last line. A retry
 * that passes is a flake to fix, not a success to forget.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

export default class FlakyReporter implements Reporter {
  private readonly flaky: { test: string; firstError: string }[] = [];

  onTestCaseResult(test: TestCase): void {
    if (!test.diagnostic()?.flaky) return;
    const error = test.result().errors?.[0];
    this.flaky.push({
      test: `${relative(process.cwd(), test.module.moduleId)} > ${test.fullName}`,
      firstError: (error?.message ?? String(error)).split('\n')[0]!.slice(0, 300),
    });
  }

  onTestRunEnd(): void {
    const report = process.env.STREAMGATE_REPORT;
    if (report) writeFileSync(`${report}.flaky.json`, JSON.stringify(this.flaky, null, 2));
    if (this.flaky.length === 0) return;
    const lines = this.flaky.map((f) => `  ${f.test}\n    first try: ${f.firstError}`);
    process.stdout.write(`\n*** ${this.flaky.length} test(s) failed once and passed on the retry (flaky):\n${lines.join('\n')}\n***\n\n`);
  }
}
