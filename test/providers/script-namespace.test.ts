// The private mount namespace a script provider's restore runs in: a mount listed before the namespace
// was made but gone when it is remounted read-only (podman's overlays come and go while other work runs)
// is no mount any more and is skipped; the script still runs.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { namespaceArgs } from '../../src/providers/script-namespace.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the restore namespace', () => {
  it('skips a listed mount that is no longer mounted, and runs the script', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-ns-'));
    dirs.push(dir);
    const gone = path.join(dir, 'was-a-mount');
    await execa('mkdir', [gone]);
    const run = await execa('unshare', namespaceArgs('/bin/true', [], [{ keep: '', point: gone }]), { reject: false });
    expect(run.exitCode, run.stderr).toBe(0);
  });
});
