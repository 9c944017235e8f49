// Tools the operations tests need: a missing one fails the test under LIFEBOAT_STRICT_TESTS=1 (CI) and
// is reported as a skip otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';

// The absolute path of a tool on PATH, or undefined.
export function findTool(name: string): string | undefined {
  if (name.startsWith('/')) return existsSync(name) ? name : undefined;
  try {
    return execFileSync('sh', ['-c', `command -v "$1"`, 'sh', name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

// Fails (strict) or skips the running test when the tool is missing.
export function requireTool(name: string, ctx?: { skip: (note?: string) => void }): string {
  const found = findTool(name);
  if (found) return found;
  if (process.env.LIFEBOAT_STRICT_TESTS === '1' || !ctx) expect.fail(`${name} is not installed; .ci/run installs it (LIFEBOAT_STRICT_TESTS=1 makes this a failure)`);
  ctx!.skip(`${name} is not installed`);
  return '';
}
