// Discovery of a phase's parts over the built-in, root and module layers, on real files in a temp dir.
import { describe, expect, it } from 'vitest';
import { chmodSync, chownSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { discoverPhase as discoverWith, layerDirectories } from '../../src/parts/discover.js';
import { builtinsOf, type Action, type PhaseName } from '../../src/lifecycle/phases.js';

// The runner's call: the built-ins of the phase (of the action) from the lifecycle table.
const discoverPhase = (phase: PhaseName, dirs: Parameters<typeof discoverWith>[1], action?: Action) => discoverWith(phase, dirs, builtinsOf(phase, action), action);
import { PROJECT_DIR } from '../../src/config/paths.js';
import { tmpDir } from '../helpers/tmp.js';

function part(dir: string, name: string, text = '#!/bin/sh\n', mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}
const summary = (entries: ReturnType<typeof discoverPhase>) => entries.map((e) => [e.name, e.layer, e.status, e.reason]);

describe('layerDirectories', () => {
  it('root first, then the module; restore also reads actions/restore-module', () => {
    expect(layerDirectories('backup', { root: '/r' })).toEqual([{ layer: 'root', dir: '/r/hooks.d/backup' }]);
    expect(layerDirectories('backup', { root: '/r', moduleDir: '/m' })).toEqual([
      { layer: 'root', dir: '/r/hooks.d/backup' },
      { layer: 'module', dir: '/m/hooks.d/backup' },
    ]);
    expect(layerDirectories('restore', { root: '/r', moduleDir: '/m' })).toEqual([
      { layer: 'root', dir: '/r/hooks.d/restore' },
      { layer: 'module', dir: '/m/actions/restore-module' },
      { layer: 'module', dir: '/m/hooks.d/restore' },
    ]);
  });
});

describe('discoverPhase', () => {
  it('without folders gives the built-ins, with their paths in the project', () => {
    const entries = discoverPhase('pre-backup', { root: '/nonexistent-root' }, 'backup');
    expect(summary(entries)).toEqual([
      ['20dump_databases', 'builtin', 'run', undefined],
      ['30module_dump_state', 'builtin', 'run', undefined],
      ['40stop_service', 'builtin', 'run', undefined],
    ]);
    expect(entries[0]!.path).toBe(path.join(PROJECT_DIR, 'hooks.d', 'pre-backup', '20dump_databases'));
    expect(entries[0]!.builtin?.name).toBe('20dump_databases');
    expect(entries[0]!.phase).toBe('pre-backup');
    expect(entries[0]!.replaces).toEqual([]);
  });

  it('classifies files: runs, masks, skips, refuses; later layers replace earlier ones; byte order', async () => {
    const root = await tmpDir();
    const moduleDir = await tmpDir();
    const rootDir = path.join(root, 'hooks.d', 'pre-backup');
    const modDir = path.join(moduleDir, 'hooks.d', 'pre-backup');
    part(rootDir, '10root');
    part(rootDir, '15plain', '#!/bin/sh\n', 0o644);
    part(rootDir, 'B_upper');
    part(rootDir, 'a.sh'); // not a run-parts name
    part(rootDir, '20dump_databases', ''); // masks the built-in
    part(modDir, '10root'); // replaces the root's
    part(modDir, '16noexec', '#!/bin/sh\n', 0o644);
    part(modDir, '17group', '#!/bin/sh\n', 0o775);
    part(modDir, '18others', '#!/bin/sh\n', 0o757);
    const other = part(modDir, '19other');
    chownSync(other, 4242, 4242);
    mkdirSync(path.join(modDir, '21dir'));
    symlinkSync('/dev/null', path.join(modDir, '30module_dump_state'));
    symlinkSync('../nowhere', path.join(modDir, '31dangling'));
    execFileSync('mkfifo', [path.join(modDir, '32fifo')]);
    symlinkSync(path.join(rootDir, '10root'), path.join(modDir, '33link'));
    const foreignLink = path.join(modDir, '34foreign');
    symlinkSync(path.join(rootDir, '10root'), foreignLink);
    lchownSync(foreignLink, 4343, 4343);
    const entries = discoverPhase('pre-backup', { root, moduleDir }, 'backup');
    expect(summary(entries)).toEqual([
      ['10root', 'module', 'run', undefined],
      ['15plain', 'root', 'skipped', 'not executable (chmod +x to run it)'],
      ['16noexec', 'module', 'refused', `not executable; a module's own part must be: chmod +x ${path.join(modDir, '16noexec')} (or empty it to mask a part)`],
      ['17group', 'module', 'refused', 'writable by group (mode 0775); fix with chmod go-w or chown root'],
      ['18others', 'module', 'refused', 'writable by others (mode 0757); fix with chmod go-w or chown root'],
      ['19other', 'module', 'refused', 'owned by another user (uid 4242); fix with chmod go-w or chown root'],
      ['20dump_databases', 'root', 'masked', 'empty file'],
      ['30module_dump_state', 'module', 'masked', 'symlink to /dev/null'],
      ['31dangling', 'module', 'refused', "dangling symlink (its target ../nowhere does not exist); a module's own part must run: point it at the script, or remove it (a symlink to /dev/null masks a part)"],
      ['32fifo', 'module', 'skipped', 'not a regular file'],
      ['33link', 'module', 'run', undefined],
      ['34foreign', 'module', 'refused', 'a symlink owned by another user (uid 4343); fix with chown -h root'],
      ['40stop_service', 'builtin', 'run', undefined],
      ['B_upper', 'root', 'run', undefined],
    ]);
    const replaced = entries[0]!;
    expect(replaced.path).toBe(path.join(modDir, '10root'));
    expect(replaced.replaces.map((e) => [e.layer, e.path])).toEqual([['root', path.join(rootDir, '10root')]]);
    const masked = entries.find((e) => e.name === '20dump_databases')!;
    expect(masked.replaces.map((e) => e.layer)).toEqual(['builtin']);
    const twice = entries.find((e) => e.name === '30module_dump_state')!;
    expect(twice.replaces.map((e) => e.layer)).toEqual(['builtin']);
  });

  it('a dangling symlink is skipped in the root\'s hooks (a warning), refused in the module\'s own', async () => {
    const root = await tmpDir();
    const moduleDir = await tmpDir();
    mkdirSync(path.join(root, 'hooks.d', 'backup'), { recursive: true });
    mkdirSync(path.join(moduleDir, 'hooks.d', 'backup'), { recursive: true });
    symlinkSync('/nonexistent/part', path.join(root, 'hooks.d', 'backup', '10gone'));
    symlinkSync('/nonexistent/other', path.join(moduleDir, 'hooks.d', 'backup', '11gone'));
    expect(summary(discoverPhase('backup', { root, moduleDir }, 'backup')).filter(([name]) => String(name).endsWith('gone'))).toEqual([
      ['10gone', 'root', 'skipped', 'dangling symlink'],
      ['11gone', 'module', 'refused', "dangling symlink (its target /nonexistent/other does not exist); a module's own part must run: point it at the script, or remove it (a symlink to /dev/null masks a part)"],
    ]);
  });

  it('a restore reads the module\'s actions/restore-module, overridden by its hooks.d/restore', async () => {
    const root = await tmpDir();
    const moduleDir = await tmpDir();
    part(path.join(moduleDir, 'actions', 'restore-module'), '50ns8');
    part(path.join(moduleDir, 'actions', 'restore-module'), '60both');
    part(path.join(moduleDir, 'hooks.d', 'restore'), '60both');
    const entries = discoverPhase('restore', { root, moduleDir }, 'restore');
    expect(entries.map((e) => [e.name, e.path])).toEqual([
      ['10restore_module', path.join(PROJECT_DIR, 'hooks.d', 'restore', '10restore_module')],
      ['30restore_databases', path.join(PROJECT_DIR, 'hooks.d', 'restore', '30restore_databases')],
      ['50ns8', path.join(moduleDir, 'actions', 'restore-module', '50ns8')],
      ['60both', path.join(moduleDir, 'hooks.d', 'restore', '60both')],
    ]);
    expect(entries[3]!.replaces.map((e) => e.path)).toEqual([path.join(moduleDir, 'actions', 'restore-module', '60both')]);
  });

  it('a moved built-in in an old post-* folder is taken into finally, with a note; it never runs in post-*', async () => {
    const root = await tmpDir();
    const moduleDir = await tmpDir();
    const oldFile = part(path.join(moduleDir, 'hooks.d', 'post-backup'), '90start_service');
    part(path.join(moduleDir, 'hooks.d', 'post-backup'), '95other');
    part(path.join(root, 'hooks.d', 'post-restore'), '80remove_dumps');
    const finallyBackup = discoverPhase('finally', { root, moduleDir }, 'backup');
    expect(summary(finallyBackup)).toEqual([
      ['70module_cleanup_state', 'builtin', 'run', undefined],
      ['80remove_dumps', 'builtin', 'run', undefined],
      ['90start_service', 'module', 'run', undefined],
      ['95finish_uploads', 'builtin', 'run', undefined],
    ]);
    const moved = finallyBackup[2]!;
    expect(moved.path).toBe(oldFile);
    expect(moved.note).toBe(`post-backup/90start_service now belongs to finally/ (it runs after a failure too); it was taken there: move ${oldFile} to hooks.d/finally/`);
    expect(moved.replaces.map((e) => e.layer)).toEqual(['builtin']);
    expect(finallyBackup[0]!.note).toBeUndefined();
    expect(summary(discoverPhase('post-backup', { root, moduleDir }, 'backup'))).toEqual([
      ['60retention', 'builtin', 'run', undefined],
      ['95other', 'module', 'run', undefined],
    ]);
    // Without an action, or for another action, nothing is taken from the old folders.
    expect(discoverPhase('finally', { root, moduleDir }).find((e) => e.name === '90start_service')!.layer).toBe('builtin');
    expect(summary(discoverPhase('finally', { root, moduleDir }, 'restore'))).toEqual([['90start_service', 'builtin', 'run', undefined]]);
    expect(summary(discoverPhase('finally', { root, moduleDir }, 'verify'))).toEqual([]);
  });

  it('a moved name that is a directory or a dangling link in the old folder is ignored or skipped', async () => {
    const root = await tmpDir();
    const moduleDir = await tmpDir();
    mkdirSync(path.join(moduleDir, 'hooks.d', 'post-backup', '90start_service'), { recursive: true });
    symlinkSync('/nowhere', path.join(moduleDir, 'hooks.d', 'post-backup', '80remove_dumps'));
    const entries = discoverPhase('finally', { root, moduleDir }, 'backup');
    expect(summary(entries)).toEqual([
      ['70module_cleanup_state', 'builtin', 'run', undefined],
      ['80remove_dumps', 'module', 'refused', "dangling symlink (its target /nowhere does not exist); a module's own part must run: point it at the script, or remove it (a symlink to /dev/null masks a part)"],
      ['90start_service', 'builtin', 'run', undefined],
      ['95finish_uploads', 'builtin', 'run', undefined],
    ]);
  });
});
