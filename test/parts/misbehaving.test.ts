// Parts that misbehave cannot hang or crash the run: a background process left holding the part's output,
// a daemon in its own session, a part that never ends, a 700 MB line, a FOLDERS longer than the kernel allows.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { killIfCommand } from '../helpers/service.js';

let t: TestRoot;
afterEach(() => {
  // The orphans the parts left behind wrote their pid; they must not outlive the test.
  for (const name of ['orphan.pid', 'daemon.pid']) {
    const file = path.join(t.dir, name);
    if (!existsSync(file)) continue;
    killIfCommand(Number(readFileSync(file, 'utf8').trim()), ['sleep', '3600']);
  }
  t.cleanup();
});

// Whether a process runs (signal 0 checks without signalling; a zombie does not count).
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

// A module "web" with one data folder; extra keys go into its module.yaml.
function webModule(extra: Record<string, unknown> = {}): void {
  t = makeRoot();
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'hello\n');
  t.module('web', { folders: [data], ...extra });
}

describe('a part that leaves a background process holding its output', () => {
  it('`sleep 3600 &`: the run goes on when the part exits', async () => {
    webModule();
    t.part('pre-backup', '40orphan', `#!/bin/sh\nsleep 3600 &\necho $! > "${t.dir}/orphan.pid"\necho started\n`, 'web');
    t.part('pre-backup', '41next', '#!/bin/sh\necho next ran\n', 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain('[web/40orphan] started');
    expect(run.stderr).toContain('[web/40orphan] warn: exited, but a background process it started still holds its output open; what it writes from now on is discarded (redirect the output of daemons a part starts, e.g. >/dev/null 2>&1, or to a log file)');
    expect(run.stderr).toContain('[web/41next] next ran');
    expect(run.stdout).toMatch(/^backup web: ok local:/m);
  });

  it('`setsid daemon &` in its own session: the run goes on too', async () => {
    webModule();
    t.part('pre-backup', '40daemon', `#!/bin/sh\nsetsid sh -c 'echo $$ > "${t.dir}/daemon.pid"; exec sleep 3600' &\necho launched\n`, 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain('[web/40daemon] launched');
    expect(run.stderr).toContain('[web/40daemon] warn: exited, but a background process it started still holds its output open');
  });

  it('a daemon the part started keeps running, writing to its output, after Lifeboat has exited', async () => {
    webModule();
    const go = path.join(t.dir, 'go');
    const wrote = path.join(t.dir, 'wrote');
    // It writes nothing until the test says so (Lifeboat is gone by then), then 30 lines, then waits.
    const daemon = path.join(t.dir, 'daemon.sh');
    writeFileSync(daemon, `echo $$ > '${t.dir}/daemon.pid'\nwhile [ ! -e '${go}' ]; do sleep 0.1; done\ni=0\nwhile [ $i -lt 30 ]; do echo tick $i; echo tock $i >&2; i=$((i+1)); done\ntouch '${wrote}'\nexec sleep 3600\n`);
    t.part('pre-backup', '40daemon', `#!/bin/sh\nsetsid /bin/sh '${daemon}' &\necho launched\n`, 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain('[web/40daemon] warn: exited, but a background process it started still holds its output open; what it writes from now on is discarded');
    const pid = Number(readFileSync(path.join(t.dir, 'daemon.pid'), 'utf8').trim());
    writeFileSync(go, '');
    // Without a reader its first write would kill it (SIGPIPE) and `wrote` would never appear.
    for (let tries = 0; !existsSync(wrote); tries++) {
      expect(isAlive(pid), 'the daemon died writing its output').toBe(true);
      expect(tries).toBeLessThan(600);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(isAlive(pid)).toBe(true);
  }, 120_000);

  it('timeouts.part holds when the part waits for a daemon in another session', async () => {
    webModule({ timeouts: { part: 1, killAfter: 1 } });
    t.part('pre-backup', '40wait', `#!/bin/sh\nsetsid sh -c 'echo $$ > "${t.dir}/daemon.pid"; exec sleep 3600' &\nwait\n`, 'web');
    const run = await lifeboat(t, ['backup', 'web', '--json']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('[web/40wait] warn: timed out after 1s; sending SIGTERM to its process group');
    expect(JSON.parse(run.stdout).modules[0]).toMatchObject({ module: 'web', ok: false, failedPart: 'pre-backup/40wait' });
  });
});

describe('output that is too big', () => {
  it('cuts one 700 MB output line with a note instead of crashing', async () => {
    webModule();
    t.part('pre-backup', '40flood', "#!/bin/sh\nhead -c 700000000 /dev/zero | tr '\\0' a\necho\necho after the flood\n", 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode, run.stderr.slice(-2000)).toBe(0);
    const line = run.stderr.split('\n').find((l) => l.startsWith('[web/40flood] aaa'))!;
    expect(line).toBe(`[web/40flood] ${'a'.repeat(65536)} [… line cut: ${700000000 - 65536} more bytes dropped; a line is kept up to 65536 bytes]`);
    expect(run.stderr).toContain('[web/40flood] after the flood\n');
  });
});

describe('FOLDERS longer than the kernel allows', () => {
  it('is left out with a warning naming the limit and FOLDERS_FILE, which lists every folder', async () => {
    const folders = Array.from({ length: 400 }, (_, i) => `/srv/${'f'.repeat(400)}/${i}`);
    webModule();
    t.module('web', { folders });
    t.part('pre-backup', '40count', '#!/bin/sh\necho "FOLDERS=${FOLDERS:-unset} lines=$(wc -l < "$FOLDERS_FILE") first=$(head -n 1 "$FOLDERS_FILE" | cut -c 1-10)"\nexit 75\n', 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode, run.stderr).toBe(0);
    const size = Buffer.byteLength(`FOLDERS=${folders.join(':')}`) + 1;
    expect(run.stderr).toMatch(
      new RegExp(`\\[web/40count\\] warn: FOLDERS is not set for this part: it is ${size} bytes, longer than the kernel's limit of 131072 bytes for one environment variable \\(MAX_ARG_STRLEN\\); read the folders from FOLDERS_FILE \\(/\\S+\\.folders\\) instead`),
    );
    expect(run.stderr).toContain('[web/40count] FOLDERS=unset lines=400 first=/srv/fffff');
  });

  it('an environment over the kernel\'s total limit (each variable within its own) fails the part with the limit named', async () => {
    webModule();
    // 24 variables of 100 KB: each under MAX_ARG_STRLEN, together over ARG_MAX (2 MiB with an 8 MiB stack)
    t.write('modules/web/environment', Array.from({ length: 24 }, (_, i) => `BIG_${i}=${'v'.repeat(100_000)}\n`).join(''));
    const part = t.part('pre-backup', '40big', '#!/bin/sh\necho ran\n', 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`cannot execute ${part}: its environment is larger than the kernel allows (E2BIG, ARG_MAX: see getconf ARG_MAX); pass long values in files instead`);
    expect(run.stderr).not.toContain('[web/40big] ran');
  });

  it('a part that starts like an ELF binary but is cut short is refused (not run by /bin/sh)', async () => {
    webModule();
    const part = t.part('pre-backup', '40cut', '', 'web');
    // the first 40 bytes of a real binary: a copy that stopped early
    writeFileSync(part, readFileSync('/bin/true').subarray(0, 40), { mode: 0o755 });
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`cannot execute ${part}: Exec format error (ENOEXEC): it starts like an ELF binary but its header is cut short or damaged (40 bytes read); reinstall or copy it again`);
    expect(run.stderr).not.toContain('not found');
  });

  it('FOLDERS_FILE is set for every part, one folder a line', async () => {
    webModule();
    t.part('pre-backup', '40list', '#!/bin/sh\ncat "$FOLDERS_FILE"\n', 'web');
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain(`[web/40list] ${path.join(t.dir, 'data')}\n`);
  });
});
