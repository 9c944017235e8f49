// kill -9 of Lifeboat alone during a borg backup with two streamed dumps (two PostgreSQL databases). Each
// dump reaches borg through a named pipe that Lifeboat opens for writing once borg opens it
// (plugins/borg/fifo.ts); with Lifeboat dead nobody would open the second pipe, and borg used to wait for
// ever holding the repository lock (every later backup then failed after borg's 120 s lock wait). borg of a
// streamed backup now dies with Lifeboat (setpriv --pdeathsig, src/process/runner.ts):
//  - no borg process of the killed run is left (polled, a few seconds at most);
//  - nothing was committed, so no archive holds a cut dump;
//  - the repository lock is free (or stale, which borg removes): `borg list --lock-wait 10` succeeds, and
//    the next backup succeeds with both dumps complete (pg_restore reads them to the end).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { makeRoot, lifeboat, type TestRoot } from '../helpers/root.js';
import { spawnLifeboat, waitGroupGone } from '../helpers/kill.js';
import { createPostgres, dropPostgres, PG, uniqueName } from '../helpers/databases.js';

const PASSWORD = 'kill-nine-borg-streams';
// Each database holds this much padding; Lifeboat is killed once the first pg_dump has written KILL_AFTER_BYTES.
const PAD_MIB = 32;
const KILL_AFTER_BYTES = 4 << 20;
const databases = [`lbk9s_a_${uniqueName()}`, `lbk9s_b_${uniqueName()}`];

beforeAll(() => {
  for (const name of databases) createPostgres(name, PAD_MIB);
}, 120_000);

afterAll(() => {
  for (const name of databases) dropPostgres(name);
});

// The live processes of a group: pid, program name, command line, bytes written, wait channel.
function groupProcesses(pgid: number): Array<{ pid: number; comm: string; cmdline: string; written: number; wchan: string }> {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid || fields[0] === 'Z' || fields[0] === 'X') continue;
      found.push({
        pid: Number(entry),
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim(),
        written: Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${entry}/io`, 'utf8'))?.[1] ?? 0),
        wchan: readFileSync(`/proc/${entry}/wchan`, 'utf8'),
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const isBorg = (p: { cmdline: string }) => /(^|\/)borg create /.test(p.cmdline) || / borg create /.test(p.cmdline);

// Polls until no borg process is left in the group; fails after `ms` naming what is still there.
async function waitBorgGone(pgid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const borgs = groupProcesses(pgid).filter(isBorg);
    if (borgs.length === 0) return;
    if (Date.now() > deadline) throw new Error(`borg outlived Lifeboat: ${borgs.map((p) => `${p.pid} (${p.wchan}) ${p.cmdline.slice(0, 80)}`).join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('kill -9 of Lifeboat alone during a borg backup with two streamed PostgreSQL dumps', () => {
  it('borg dies with Lifeboat, commits nothing, and the next backup succeeds', { timeout: 300_000 }, async () => {
    const t: TestRoot = makeRoot({ repositories: {} });
    try {
      const passwordFile = path.join(t.dir, 'pass');
      writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const repoRoot = path.join(t.dir, 'repo');
      t.write('lifeboat.yaml', `repositories:\n  local: { provider: borg, url: ${repoRoot}, passwordFile: ${passwordFile} }\n`);
      const data = path.join(t.dir, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'note.txt'), 'a small file beside the dumps\n');
      t.module('m', { folders: [data], databases: databases.map((database) => ({ postgres: { database, ...PG } })) });
      const repo = path.join(repoRoot, 'm');
      const borg = (args: string[], encoding: 'utf8' | 'buffer' = 'utf8', input?: Buffer) =>
        execa('borg', args, { env: { BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: path.join(t.stateDir, 'borg') }, encoding, reject: false, input });

      const child = spawnLifeboat(t, ['backup', 'm']);
      const pgid = child.pid!;
      let ended = false;
      void child.then(() => (ended = true));
      // The first dump is under way (borg reads its pipe; the second pipe is not open yet).
      for (;;) {
        const processes = groupProcesses(pgid);
        const dump = processes.find((p) => p.comm === 'pg_dump' && p.written >= KILL_AFTER_BYTES);
        if (dump) {
          expect(processes.filter((p) => p.comm === 'pg_dump'), 'one dump at a time').toHaveLength(1);
          break;
        }
        if (ended) throw new Error(`the backup ended before the first dump was under way: ${(await child).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGKILL');
      const result = await child;
      expect(result.signal, result.stderr).toBe('SIGKILL');
      // borg went with Lifeboat; the dump it was reading ends on the broken pipe.
      await waitBorgGone(pgid, 10_000);
      await waitGroupGone(pgid, 30_000);

      // Nothing was committed (no archive, no checkpoint), and the lock is free or stale (borg removes a
      // lock of a dead process of this host after its first wait; a live holder would time out).
      const listed = await borg(['list', '--lock-wait', '10', '--consider-checkpoints', '--json', repo]);
      expect(listed.exitCode, String(listed.stderr)).toBe(0);
      expect((JSON.parse(String(listed.stdout)) as { archives: unknown[] }).archives).toEqual([]);

      // The next backup succeeds and its archive holds both dumps, each read to its end by pg_restore.
      const again = await lifeboat(t, ['backup', 'm']);
      expect(again.exitCode, again.stderr).toBe(0);
      const archives = (JSON.parse(String((await borg(['list', '--json', repo])).stdout)) as { archives: Array<{ name: string }> }).archives;
      expect(archives).toHaveLength(1);
      const files = String((await borg(['list', '--short', `${repo}::${archives[0].name}`])).stdout)
        .split('\n')
        .filter((file) => file.includes('/databases/') && file.includes('lbk9s_'));
      expect(files).toHaveLength(2);
      for (const file of files) {
        const dump = await borg(['extract', '--stdout', `${repo}::${archives[0].name}`, file], 'buffer');
        expect(dump.exitCode, String(dump.stderr)).toBe(0);
        const read = await execa('pg_restore', ['--file', '/dev/null'], { input: Buffer.from(dump.stdout as unknown as Uint8Array), reject: false });
        expect(read.exitCode, `${file}: ${read.stderr}`).toBe(0);
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('a borg repository lock another borg holds', () => {
  it('check and snapshots say so, naming the lock file, instead of blaming the url or password', { timeout: 60_000 }, async () => {
    const t: TestRoot = makeRoot({ repositories: {} });
    try {
      const passwordFile = path.join(t.dir, 'pass');
      writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const lock = path.join(t.dir, 'repo', 'm', 'lock.exclusive');
      t.write('lifeboat.yaml', `repositories:\n  local: { provider: borg, url: ${path.join(t.dir, 'repo')}, passwordFile: ${passwordFile} }\n`);
      t.module('m', { folders: [t.dir] });
      // borg's own words at the end of its lock wait (120 s for real: a stand-in says them at once).
      const shim = path.join(t.dir, 'shim');
      mkdirSync(shim);
      writeFileSync(path.join(shim, 'borg'), `#!/bin/sh\necho 'Failed to create/acquire the lock ${lock} (timeout).' >&2\nexit 2\n`);
      chmodSync(path.join(shim, 'borg'), 0o755);
      const env = { PATH: `${shim}:${process.env.PATH}` };
      const said = `borg repository "local" of module m: borg list failed: another borg process holds the repository lock ${lock} (waited 120 s)`;
      const hint = 'wait for that borg to end, or stop it (ps -C borg -o pid,args); a lock of a borg that no longer runs on this host is removed by borg itself, else run `borg break-lock` once no borg uses the repository';
      const check = await lifeboat(t, ['check'], { env });
      expect(check.exitCode, check.stderr).not.toBe(0);
      const line = `${check.stdout}${check.stderr}`.split('\n').find((l) => l.startsWith('FAIL') && l.includes('repository local'));
      expect(line).toMatch(new RegExp(`cannot be opened: ${said.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; ${hint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      expect(line).not.toContain('check its url');
      const list = await lifeboat(t, ['snapshots', 'm'], { env });
      expect(list.exitCode).not.toBe(0);
      expect(list.stderr).toContain(`lifeboat: ${said}\nlifeboat: hint: ${hint}`);
    } finally {
      t.cleanup();
    }
  });
});
