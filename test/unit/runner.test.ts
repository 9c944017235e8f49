// The runner walks the phase table: fail-fast phases, always-phases, the closing phase by outcome, skips
// (exit 75), signals, timeouts, --target, dry runs and the environment each part gets. Parts are real
// scripts in a temp folder and in-process built-ins.
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { ACTIONS, type Action, type BuiltinFn, type PhaseName } from '../../src/lifecycle/phases.js';
import { assertSafeParts, planAction, runAction, type PhasePlan } from '../../src/lifecycle/runner.js';
import { newRunState, type RunContext } from '../../src/lifecycle/context.js';
import type { PartEntry } from '../../src/parts/discover.js';
import type { Logger } from '../../src/log/logger.js';
import { LifeboatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

interface Setup {
  dir: string;
  events: string;
  lines: string[];
  run: RunContext;
  controller: AbortController;
}

function logger(lines: string[], prefix = ''): Logger {
  const at = (level: string) => (m: string) => lines.push(`${level} ${prefix}${m}`);
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), child: (p: string) => logger(lines, `${p}: `) } as unknown as Logger;
}

async function setup(action: Action, options: Partial<RunContext['options']> = {}, timeouts = { part: 30, killAfter: 1 }): Promise<Setup> {
  const dir = await tmpDir();
  const lines: string[] = [];
  const controller = new AbortController();
  const stateDir = path.join(dir, 'state');
  mkdirSync(stateDir);
  const envFile = path.join(dir, 'handoff.env');
  writeFileSync(envFile, 'HANDED=over\n');
  const run = {
    root: { root: path.join(dir, 'root'), stateDir: dir, global: { repositories: {} } },
    module: { name: 'web', dir: path.join(dir, 'module'), stateDir, timeouts, umask: 0o22, envFile: path.join(dir, 'module', 'environment') },
    action,
    runId: 'r1',
    options: { dryRun: false, safetySnapshot: false, ...options },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BASE: 'base' },
    envFile,
    log: logger(lines),
    signal: controller.signal,
    state: newRunState(),
  } as unknown as RunContext;
  return { dir, events: path.join(dir, 'events'), lines, run, controller };
}

// A script part that records its phase/name, its request and selected variables, then runs `body`.
function filePart(s: Setup, phase: PhaseName, name: string, body = ''): PartEntry {
  const file = path.join(s.dir, `${phase}-${name}`);
  writeFileSync(file, `#!/bin/sh\nread request\necho "${phase}/${name} $request E=$LIFEBOAT_ERROR F=$LIFEBOAT_FAILED_PART C=$LIFEBOAT_EXIT_CODE P=$LIFEBOAT_PHASE H=$HANDED B=$BASE" >> ${s.events}\n${body}\n`);
  chmodSync(file, 0o755);
  return { phase, name, layer: 'module', path: file, status: 'run', replaces: [] };
}

function builtin(s: Setup, phase: PhaseName, name: string, fn: BuiltinFn): PartEntry {
  const record: BuiltinFn = async (ctx) => {
    appendFileSync(s.events, `${phase}/${name} builtin P=${ctx.env.LIFEBOAT_PHASE} part=${ctx.part} phase=${ctx.phase} request=${JSON.stringify(ctx.request)}\n`);
    return fn(ctx);
  };
  return { phase, name, layer: 'builtin', path: `/builtin/${name}`, status: 'run', replaces: [], builtin: { phase, name, does: '', load: async () => record } };
}

function plan(action: Action, parts: PartEntry[]): PhasePlan[] {
  return ACTIONS[action].map((step) => ({ step, parts: parts.filter((p) => p.phase === step.phase) }));
}

const events = (s: Setup) => {
  try {
    return readFileSync(s.events, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
};
const order = (s: Setup) => events(s).map((line) => line.split(' ')[0]);

describe('runAction', () => {
  it('runs every phase in order when all goes well, then on-success', async () => {
    const s = await setup('backup');
    const parts = [
      filePart(s, 'pre-backup', '10a'),
      builtin(s, 'backup', '50snap', async () => undefined),
      filePart(s, 'post-backup', '10c'),
      filePart(s, 'finally', '10d'),
      filePart(s, 'on-success', '10e'),
      filePart(s, 'on-failure', '10f'),
    ];
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toEqual({ ok: true, skipped: false, interrupted: null });
    expect(order(s)).toEqual(['pre-backup/10a', 'backup/50snap', 'post-backup/10c', 'finally/10d', 'on-success/10e']);
    const first = events(s)[0]!;
    expect(first).toBe('pre-backup/10a {"module":"web","action":"backup","phase":"pre-backup","snapshot":null,"repository":null,"target":"/","dryRun":false} E= F= C= P=pre-backup H=over B=base');
    expect(events(s)[1]).toBe('backup/50snap builtin P=backup part=50snap phase=backup request={"module":"web","action":"backup","phase":"backup","snapshot":null,"repository":null,"target":"/","dryRun":false}');
    expect(s.run.state.failedPart).toBeUndefined();
    expect(s.run.state.error).toBeUndefined();
    expect(s.lines.filter((l) => l.startsWith('debug 10a: '))).toEqual(['debug 10a: starting (module)', expect.stringMatching(/^debug 10a: finished in \d+ ms$/)]);
    expect(s.lines).toContain('debug 50snap: starting (builtin)');
  });

  it('a failing part stops its phase and the fail-fast ones; finally and on-failure run and are told why', async () => {
    const s = await setup('backup', { snapshot: 'snap1', repositories: ['only'] });
    const parts = [
      filePart(s, 'pre-backup', '10a', 'exit 3'),
      filePart(s, 'pre-backup', '20b'),
      filePart(s, 'backup', '10c'),
      filePart(s, 'finally', '10d', 'exit 4'),
      filePart(s, 'finally', '20e'),
      filePart(s, 'on-success', '10f'),
      filePart(s, 'on-failure', '10g'),
      filePart(s, 'on-failure', '20h'),
    ];
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toEqual({ ok: false, skipped: false, interrupted: null, failedPart: 'pre-backup/10a', error: 'exited with status 3', code: 'PART_FAILED', exitCode: 3 });
    expect(order(s)).toEqual(['pre-backup/10a', 'finally/10d', 'finally/20e', 'on-failure/10g', 'on-failure/20h']);
    expect(events(s)[3]).toBe('on-failure/10g {"module":"web","action":"backup","phase":"on-failure","snapshot":"snap1","repository":"only","target":"/","dryRun":false} E=exited with status 3 F=pre-backup/10a C=3 P=on-failure H=over B=base');
    expect(events(s)[1]).toContain(' E= F= C= P=finally');
    expect(s.run.state).toMatchObject({ failedPart: 'pre-backup/10a', error: 'exited with status 3' });
    expect(s.lines).toContain('error 10a: exited with status 3');
    expect(s.lines).toContain('error 10d: exited with status 4');
  });

  it('a failure in finally fails the action and picks on-failure', async () => {
    const s = await setup('verify');
    const parts = [filePart(s, 'verify', '10a'), filePart(s, 'finally', '10b', 'kill -KILL $$'), filePart(s, 'on-success', '10c'), filePart(s, 'on-failure', '10d')];
    const outcome = await runAction(s.run, plan('verify', parts));
    expect(outcome).toMatchObject({ ok: false, failedPart: 'finally/10b', error: 'killed by SIGKILL', exitCode: 128 });
    expect(order(s)).toEqual(['verify/10a', 'finally/10b', 'on-failure/10d']);
    expect(events(s)[2]).toContain('C=128');
  });

  it('exit 75 skips the rest of the fail-fast phases without failing', async () => {
    const s = await setup('backup');
    const parts = [filePart(s, 'pre-backup', '10a', 'exit 75'), filePart(s, 'pre-backup', '20b'), filePart(s, 'backup', '10c'), filePart(s, 'finally', '10d'), filePart(s, 'on-success', '10e'), filePart(s, 'on-failure', '10f')];
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toEqual({ ok: true, skipped: true, interrupted: null });
    expect(s.run.state.skipped).toBe(true);
    expect(order(s)).toEqual(['pre-backup/10a', 'finally/10d', 'on-success/10e']);
    expect(s.lines).toContain('info 10a: asked to skip the rest of backup for module web (exit 75)');
  });

  it('a built-in that returns skip, one that throws, one that times out, one that ignores its abort', async () => {
    const s = await setup('backup', {}, { part: 1, killAfter: 0 });
    const parts = [
      builtin(s, 'pre-backup', '10skip', async () => 'skip'),
      builtin(s, 'finally', '20throw', async () => {
        throw new Error('boom');
      }),
      builtin(s, 'finally', '30slow', (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))))),
      builtin(s, 'finally', '40stuck', () => new Promise(() => {})),
      builtin(s, 'finally', '50late', (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(undefined)))),
    ];
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toMatchObject({ ok: false, skipped: true, failedPart: 'finally/20throw', error: 'boom', exitCode: 1 });
    expect(s.lines).toContain('error 30slow: timed out after 1s (timeouts.part): aborted');
    expect(s.lines).toContain('error 40stuck: timed out after 1s (timeouts.part): did not stop after being aborted');
    expect(s.lines).toContain('error 50late: timed out after 1s (timeouts.part)');
  }, 60_000);

  it('a built-in in a phase that stops at the first failure gets timeouts.part too (the run can still be interrupted)', async () => {
    const s = await setup('backup', {}, { part: 1, killAfter: 0 });
    let safetyNet: NodeJS.Timeout | undefined;
    const parts = [
      // waits for its abort; the 20 s net only keeps a missing timeout from hanging the test (it then passes as ok)
      builtin(s, 'pre-backup', '10hang', (ctx) => new Promise((resolve, reject) => {
        safetyNet = setTimeout(() => resolve(undefined), 20_000);
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')));
      })),
      filePart(s, 'backup', '10b'),
      filePart(s, 'finally', '10c'),
    ];
    const outcome = await runAction(s.run, plan('backup', parts));
    clearTimeout(safetyNet);
    expect(s.controller.signal.aborted).toBe(false);
    expect(outcome).toMatchObject({ ok: false, failedPart: 'pre-backup/10hang', exitCode: 124 });
    expect(outcome.error).toBe('timed out after 1s (timeouts.part): aborted');
    expect(order(s)).toEqual(['pre-backup/10hang', 'finally/10c']);
  }, 60_000);

  it('a part file that times out, and one that cannot run', async () => {
    const s = await setup('backup', {}, { part: 1, killAfter: 1 });
    const noShebang = path.join(s.dir, 'plain');
    writeFileSync(noShebang, 'echo\n');
    chmodSync(noShebang, 0o755);
    const parts = [filePart(s, 'finally', '10slow', 'exec sleep 30'), { phase: 'finally' as const, name: '20plain', layer: 'root' as const, path: noShebang, status: 'run' as const, replaces: [] }];
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toMatchObject({ ok: false, failedPart: 'finally/10slow', error: 'timed out after 1s (timeouts.part) and was killed', exitCode: 124 });
    expect(s.lines).toContain(`error 20plain: cannot execute ${noShebang}: Exec format error (ENOEXEC): it has no #! line and is not a binary; add a first line such as #!/bin/sh`);
  }, 60_000);

  it('masked, skipped and refused entries do not run; skipped ones are warned about; notes are logged', async () => {
    const s = await setup('backup');
    const masked = { ...filePart(s, 'pre-backup', '10m'), status: 'masked' as const, reason: 'empty file' };
    const skipped = { ...filePart(s, 'pre-backup', '20s'), status: 'skipped' as const, reason: 'dangling symlink' };
    const noted = { ...filePart(s, 'finally', '30n'), note: 'moved here' };
    const outcome = await runAction(s.run, plan('backup', [masked, skipped, noted]));
    expect(outcome.ok).toBe(true);
    expect(order(s)).toEqual(['finally/30n']);
    expect(s.lines).toContain(`warn pre-backup/20s: skipped: dangling symlink (${skipped.path})`);
    expect(s.lines).toContain('warn moved here');
    expect(s.lines.filter((l) => l.includes('10m'))).toEqual([]);
  });

  it('refuses to start when a part is refused, naming each file', async () => {
    const s = await setup('backup');
    const refused = { ...filePart(s, 'pre-backup', '10r'), status: 'refused' as const, reason: 'writable by others (mode 0757)' };
    const second = { ...filePart(s, 'finally', '20r'), status: 'refused' as const, reason: 'r2' };
    let error: unknown;
    try {
      await runAction(s.run, plan('backup', [refused, filePart(s, 'pre-backup', '20ok'), second]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as LifeboatError).code).toBe('UNSAFE_PERMISSIONS');
    expect((error as LifeboatError).problems).toEqual([`${refused.path}: refused: writable by others (mode 0757)`, `${second.path}: refused: r2`]);
    expect(order(s)).toEqual([]);
    expect(() => assertSafeParts(plan('backup', [filePart(s, 'pre-backup', '30ok')]))).not.toThrow();
  });

  it('a signal stops the running fail-fast part; the always-phases still run whole', async () => {
    const s = await setup('backup');
    const waiting = filePart(s, 'pre-backup', '10wait', `echo waiting; exec sleep 30`);
    const parts = [waiting, filePart(s, 'backup', '10b'), filePart(s, 'finally', '10c'), filePart(s, 'on-failure', '10d'), filePart(s, 'on-success', '10e')];
    s.run.log = logger(s.lines);
    const origInfo = s.run.log.child;
    s.run.log.child = (p: string) => {
      const child = origInfo(p);
      const info = child.info;
      child.info = (m: string) => {
        info(m);
        if (m === 'waiting') s.controller.abort('SIGTERM');
      };
      return child;
    };
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toMatchObject({ ok: false, interrupted: 'SIGTERM', failedPart: 'pre-backup/10wait', error: 'interrupted by SIGTERM' });
    expect(order(s)).toEqual(['pre-backup/10wait', 'finally/10c', 'on-failure/10d']);
    expect(s.lines).toContain('warn received SIGTERM: stopping the running part; the always-phases still run');
  }, 60_000);

  it('a signal that arrived before the start runs only the always-phases', async () => {
    const s = await setup('backup');
    s.controller.abort('SIGINT');
    const outcome = await runAction(s.run, plan('backup', [filePart(s, 'pre-backup', '10a'), filePart(s, 'finally', '10b'), filePart(s, 'on-failure', '10c')]));
    expect(outcome).toMatchObject({ ok: false, interrupted: 'SIGINT', failedPart: 'interrupted', error: 'interrupted by SIGINT' });
    expect(order(s)).toEqual(['finally/10b', 'on-failure/10c']);
  });

  it('a dry run logs the part files and runs only built-ins', async () => {
    const s = await setup('backup', { dryRun: true });
    const file = filePart(s, 'pre-backup', '10a');
    const outcome = await runAction(s.run, plan('backup', [file, builtin(s, 'backup', '50b', async () => undefined)]));
    expect(outcome.ok).toBe(true);
    expect(order(s)).toEqual(['backup/50b']);
    expect(events(s)[0]).toContain('"dryRun":true');
    expect(s.lines).toContain(`info 10a: dry run: would run ${file.path}`);
  });

  it('a restore with --target runs only the built-ins of its restore phases', async () => {
    const s = await setup('restore', { target: '/tmp/elsewhere' });
    const parts = [
      filePart(s, 'pre-restore', '10own'),
      builtin(s, 'restore', '10restore_module', async () => undefined),
      filePart(s, 'restore', '20own'),
      filePart(s, 'post-restore', '10own'),
      filePart(s, 'finally', '10fin'),
      filePart(s, 'on-success', '10ok'),
    ];
    const outcome = await runAction(s.run, plan('restore', parts));
    expect(outcome.ok).toBe(true);
    expect(order(s)).toEqual(['restore/10restore_module', 'finally/10fin', 'on-success/10ok']);
    expect(events(s)[0]).toBe('restore/10restore_module builtin P=restore part=10restore_module phase=restore request={"module":"web","action":"restore","phase":"restore","snapshot":null,"repository":null,"target":"/tmp/elsewhere","dryRun":false,"path":null,"environment":{}}');
    expect(events(s)[1]).toContain('"target":"/tmp/elsewhere","dryRun":false,"path":null,"environment":{}}');
    expect(s.lines).toContain('info pre-restore/10own: not run: a --target restore runs only the built-in parts of its restore phases (a module\'s own steps act on the live service and databases)');
    const inPlace = await setup('restore', { target: '/' });
    await runAction(inPlace.run, plan('restore', [filePart(inPlace, 'pre-restore', '10own'), filePart(inPlace, 'post-restore', '20own')]));
    expect(order(inPlace)).toEqual(['pre-restore/10own', 'post-restore/20own']);
    const noTarget = await setup('restore');
    await runAction(noTarget.run, plan('restore', [filePart(noTarget, 'pre-restore', '10own')]));
    expect(order(noTarget)).toEqual(['pre-restore/10own']);
    const backup = await setup('backup', { target: '/tmp/x' });
    await runAction(backup.run, plan('backup', [filePart(backup, 'pre-backup', '10own')]));
    expect(order(backup)).toEqual(['pre-backup/10own']);
  });

  it('marks the module restored only after 10restore_module succeeded in the restore phase', async () => {
    const restored = (s: Setup) => s.run.state.moduleRestored;
    const ok = await setup('restore');
    await runAction(ok.run, plan('restore', [builtin(ok, 'restore', '10restore_module', async () => undefined)]));
    expect(restored(ok)).toBe(true);
    const failed = await setup('restore');
    await runAction(failed.run, plan('restore', [builtin(failed, 'restore', '10restore_module', async () => {
      throw new Error('no');
    })]));
    expect(restored(failed)).toBeUndefined();
    const other = await setup('restore');
    await runAction(other.run, plan('restore', [builtin(other, 'restore', '30restore_databases', async () => undefined), builtin(other, 'pre-restore', '10restore_module', async () => undefined)]));
    expect(restored(other)).toBeUndefined();
  });

  it('reads the environment afresh before each part; a failed read fails the action but cleanups still run', async () => {
    const s = await setup('backup');
    let reads = 0;
    s.run.readEnv = () => {
      reads++;
      if (reads === 2) throw new Error('env file vanished');
      return { PATH: process.env.PATH ?? '/usr/bin:/bin', BASE: `read${reads}` };
    };
    const parts = [filePart(s, 'pre-backup', '10a'), filePart(s, 'pre-backup', '20b'), filePart(s, 'finally', '10c'), filePart(s, 'on-failure', '10d')];
    const outcome = await runAction(s.run, plan('backup', parts));
    expect(outcome).toMatchObject({ ok: false, failedPart: 'pre-backup/20b', error: 'cannot read the environment before this part: env file vanished' });
    expect(order(s)).toEqual(['pre-backup/10a', 'finally/10c', 'on-failure/10d']);
    expect(events(s)[0]).toContain('B=read1');
    expect(events(s)[1]).toContain('B=read3');
    const again = await setup('backup');
    let n = 0;
    again.run.readEnv = () => {
      n++;
      if (n === 2) throw new Error('gone again');
      return { PATH: process.env.PATH ?? '/usr/bin:/bin', BASE: `r${n}` };
    };
    const kept = await runAction(again.run, plan('backup', [filePart(again, 'finally', '10a'), filePart(again, 'finally', '20b'), filePart(again, 'on-failure', '10c')]));
    expect(kept).toMatchObject({ ok: false, failedPart: 'finally/20b' });
    expect(order(again)).toEqual(['finally/10a', 'finally/20b', 'on-failure/10c']);
    expect(events(again)[1]).toContain('B=r1');
  });
});

describe('planAction', () => {
  it('discovers every phase and refuses an unsafe module script that a built-in runs', async () => {
    const dir = await tmpDir();
    const moduleDir = path.join(dir, 'module');
    mkdirSync(path.join(moduleDir, 'bin'), { recursive: true });
    const bin = path.join(moduleDir, 'bin', 'module-dump-state');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o757);
    const run = { root: { root: path.join(dir, 'root') }, module: { dir: moduleDir }, action: 'backup' } as unknown as RunContext;
    const phases = planAction(run);
    expect(phases.map((p) => p.step.phase)).toEqual(['pre-backup', 'backup', 'post-backup', 'finally', 'on-success', 'on-failure']);
    const dump = phases[0]!.parts.find((p) => p.name === '30module_dump_state')!;
    expect(dump).toMatchObject({ status: 'refused', path: bin, reason: 'writable by others (mode 0757); fix with chmod go-w or chown root' });
    expect(phases[3]!.parts.find((p) => p.name === '70module_cleanup_state')!.status).toBe('run');
    expect(phases[0]!.parts.find((p) => p.name === '20dump_databases')!.status).toBe('run');
    expect(() => assertSafeParts(phases)).toThrow(`${bin}: refused: writable by others (mode 0757); fix with chmod go-w or chown root`);
    chmodSync(bin, 0o755);
    expect(planAction(run)[0]!.parts.find((p) => p.name === '30module_dump_state')).toMatchObject({ status: 'run', layer: 'builtin' });
    const cleanup = path.join(moduleDir, 'bin', 'module-cleanup-state');
    writeFileSync(cleanup, '');
    chmodSync(cleanup, 0o775);
    expect(planAction(run)[3]!.parts.find((p) => p.name === '70module_cleanup_state')).toMatchObject({ status: 'refused', path: cleanup });
  });
});
