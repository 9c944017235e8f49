// Temporary directories for one test, removed when the test finishes (set LIFEBOAT_KEEP_TMP=1 to keep them).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

// Makes a fresh directory under the system temp dir; call it inside a test.
export async function tmpDir(prefix = 'lifeboat-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  onTestFinished(async () => {
    if (!process.env.LIFEBOAT_KEEP_TMP) await rm(dir, { recursive: true, force: true });
  });
  return dir;
}
