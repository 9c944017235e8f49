// kill -9 during backup, with borg: the loop of kill9-backup.test.ts against a borg repository. Lifeboat is
// SIGKILLed at random moments (alone, leaving borg to finish or die as an orphan, or with its whole
// process group). After each kill the next backup succeeds (borg's lock of a dead process is no obstacle),
// the service runs, no Lifeboat lock is left, `borg check` passes; at the end every archive holds exactly
// one generation of the data (never a mix, never partial, no checkpoint archive).
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { backupKillLoop, FILES, folders, ITERATIONS, SEED, t } from './kill9-fixture.js';

let borgEnv: Record<string, string>;

// The shared fixture sets up restic; this file points the module's repository at borg instead.
beforeAll(() => {
  const passwordFile = path.join(t.dir, 'borg.pass');
  writeFileSync(passwordFile, 'kill-nine-borg-password\n', { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: borg, url: ${path.join(t.dir, 'borg-repo')}, passwordFile: ${passwordFile} }\n`);
  borgEnv = { BORG_REPO: path.join(t.dir, 'borg-repo', 'm'), BORG_PASSCOMMAND: `cat ${passwordFile}`, BORG_BASE_DIR: path.join(t.dir, 'borg-base') };
});

// What borg's lock files hold, for the message of a failed iteration.
function borgLocks(): string {
  const repo = borgEnv.BORG_REPO;
  const exclusive = path.join(repo, 'lock.exclusive');
  const roster = path.join(repo, 'lock.roster');
  return JSON.stringify({ exclusive: existsSync(exclusive) ? readdirSync(exclusive) : null, roster: existsSync(roster) ? readFileSync(roster, 'utf8') : null });
}

function borg(args: string[]) {
  return execa('borg', args, { env: borgEnv, reject: false });
}

describe('kill -9 with borg', () => {
  it(`during backup, ${ITERATIONS} times (seed ${SEED})`, { timeout: 900_000 }, async () => {
    const check = async (where: string, i: number) => {
      if (i % 5 !== 0 && i !== ITERATIONS) return;
      const result = await borg(['check']);
      expect(result.exitCode, `${where}: borg check: ${result.stderr}`).toBe(0);
    };
    const killed = await backupKillLoop(check, () => `\nborg locks: ${borgLocks()}`);
    console.log(`kill -9 during borg backup, seed ${SEED}: ${killed} of ${ITERATIONS} runs killed before they finished`);
    // Every archive holds exactly one generation of every file; none is partial, none a checkpoint.
    const archives = (JSON.parse((await borg(['list', '--json'])).stdout) as { archives: Array<{ name: string }> }).archives.map((a) => a.name);
    expect(archives.length).toBeGreaterThanOrEqual(ITERATIONS + 2);
    expect(archives.filter((name) => name.includes('.checkpoint'))).toEqual([]);
    for (const archive of archives) {
      const listed = await borg(['list', '--format', '{type} {size} {path}{NL}', `::${archive}`]);
      expect(listed.exitCode, listed.stderr).toBe(0);
      const files = listed.stdout
        .split('\n')
        .map((line) => line.split(' '))
        .filter(([type, , file]) => type === '-' && folders.some((f) => `/${file}`.startsWith(`${f}/`)));
      expect(files, `archive ${archive}`).toHaveLength(FILES * folders.length);
      expect(new Set(files.map(([, size]) => size)).size, `archive ${archive} mixes generations`).toBe(1);
    }
  });
});
