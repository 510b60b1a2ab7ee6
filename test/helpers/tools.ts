import { execFileSync } from 'node:child_process';

const cache = new Map<string, boolean>();

/** True when `cmd` runs; used to skip (loudly) suites whose tool is missing. CI installs them all. */
export function hasTool(cmd: string, args: string[] = ['-version']): boolean {
  let ok = cache.get(cmd);
  if (ok === undefined) {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
      ok = true;
    } catch {
      ok = false;
    }
    cache.set(cmd, ok);
    if (!ok) {
      process.stderr.write(`\n*** SKIPPING tests that need '${cmd}': it is not installed here (.ci/run installs it) ***\n\n`);
    }
  }
  return ok;
}
