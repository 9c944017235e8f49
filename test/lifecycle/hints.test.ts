// A failing part's fix survives the run: the LifeboatError's hint of a built-in that fails reaches
// `backup --json` (modules[].hint), the journal's end record (`hint`) and the log, through the built CLI
// with a real restic.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

interface EndRecord {
  type: string;
  result?: string;
  failedPart?: string;
  error?: string;
  hint?: string;
  code?: string;
}

function endRecords(t: TestRoot): EndRecord[] {
  return readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as EndRecord)
    .filter((record) => record.type === 'end');
}

// A module m with one folder on a restic repository whose password is in `pass`.
function resticRoot(): { t: TestRoot; pass: string } {
  const t = makeRoot();
  const pass = path.join(t.dir, 'restic.pass');
  writeFileSync(pass, 'first password\n', { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'repo')}, passwordFile: ${pass} }\n`);
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'f.txt'), 'x\n');
  t.module('m', { folders: [data] });
  return { t, pass };
}

describe('a failing part keeps its hint', () => {
  it('restic refuses the password: backup --json and the journal carry the fix', async ({ onTestFinished }) => {
    const { t, pass } = resticRoot();
    onTestFinished(() => t.cleanup());
    const first = await lifeboat(t, ['backup', 'm', '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    // The repository exists now; another password does not open it.
    writeFileSync(pass, 'another password\n', { mode: 0o600 });
    const failed = await lifeboat(t, ['backup', 'm', '--json']);
    expect(failed.exitCode, failed.stderr).toBe(1);
    const module = (JSON.parse(failed.stdout) as { modules: Array<Record<string, unknown>> }).modules[0]!;
    expect(module.failedPart).toBe('backup/50snapshot');
    expect(module.error).toMatch(/^snapshot failed in 1 repository\(ies\): local: restic repository "local" of module m: restic \w+ failed \(exit 1\): Fatal: wrong password/);
    expect(module.hint).toBe('check the password of repository "local"');
    expect(module.code).toBe('PART_FAILED');
    const end = endRecords(t).at(-1)!;
    expect(end).toMatchObject({ result: 'failure', failedPart: 'backup/50snapshot', hint: 'check the password of repository "local"', code: 'PART_FAILED' });
    expect(failed.stderr).toContain('[m] error: hint: check the password of repository "local"');
  });

  it('a module folder that does not exist: the hint names the file to fix; a success records none', async ({ onTestFinished }) => {
    const { t } = resticRoot();
    onTestFinished(() => t.cleanup());
    const missing = path.join(t.dir, 'gone');
    t.module('m', { folders: [missing] });
    const failed = await lifeboat(t, ['backup', 'm', '--json']);
    expect(failed.exitCode, failed.stderr).toBe(1);
    const module = (JSON.parse(failed.stdout) as { modules: Array<Record<string, unknown>> }).modules[0]!;
    const file = path.join(t.root, 'modules', 'm', 'module.yaml');
    expect(module.hint).toBe(`create it, or remove it from folders: in ${file}`);
    expect(endRecords(t).at(-1)!.hint).toBe(`create it, or remove it from folders: in ${file}`);
    // Once the folder is there the run succeeds, and neither the output nor the journal has a hint.
    mkdirSync(missing);
    const ok = await lifeboat(t, ['backup', 'm', '--json']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { modules: Array<Record<string, unknown>> }).modules[0]).not.toHaveProperty('hint');
    expect((JSON.parse(ok.stdout) as { modules: Array<Record<string, unknown>> }).modules[0]).not.toHaveProperty('code');
    expect(endRecords(t).at(-1)).not.toHaveProperty('hint');
    expect(endRecords(t).at(-1)).not.toHaveProperty('code');
  });

  it('a module\'s own part exits non-zero: --json and the journal carry code PART_FAILED and no hint', async ({ onTestFinished }) => {
    const { t } = resticRoot();
    onTestFinished(() => t.cleanup());
    t.part('pre-backup', '40fail', '#!/bin/sh\nexit 7\n', 'm');
    const failed = await lifeboat(t, ['backup', 'm', '--json']);
    expect(failed.exitCode, failed.stderr).toBe(1);
    const module = (JSON.parse(failed.stdout) as { modules: Array<Record<string, unknown>> }).modules[0]!;
    expect(module).toMatchObject({ failedPart: 'pre-backup/40fail', error: 'exited with status 7', code: 'PART_FAILED' });
    expect(module).not.toHaveProperty('hint');
    expect(endRecords(t).at(-1)).toMatchObject({ result: 'failure', failedPart: 'pre-backup/40fail', code: 'PART_FAILED' });
  });
});
